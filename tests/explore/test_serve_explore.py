"""``explore`` with serving points: each point's goodput is what ``serve`` gives for its
layout, the search ranks by it, and settings that cannot go together are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from wafersim.config import ConfigError
from wafersim.explore.api import explore
from wafersim.serving.api import serve

MODEL = str(Path(__file__).resolve().parents[1] / "data" / "tiny-llama.toml")
SERVE = {"rate": 400, "requests": 200, "prompt": "uniform:32:256", "output": "uniform:4:32",
         "slo": "ttft=2ms,tpot=1ms"}


def test_points_are_ranked_by_the_goodput_serve_gives_them():
    result = explore("mini-wafer", MODEL, space={"wafers": [1], "mapping.cores": ["", "8x8"],
                                                  "serve.max_running": [1, 8]},
                     objective="goodput", constraints=[], method="grid", budget=4, serve=SERVE)
    assert result.cost.evaluated == 4 and result.fixed["serve.rate"] == 400
    goodputs = [p.metrics["goodput_requests_per_s"] for p in result.best]
    assert goodputs == sorted(goodputs, reverse=True) and len(set(goodputs)) > 1
    best = result.best[0]
    direct = serve("mini-wafer", MODEL, arrivals="poisson:400", requests=200, prompt="uniform:32:256",
                   output="uniform:4:32", slo="ttft=2ms,tpot=1ms", wafers=1,
                   mapping={"cores": best.params["mapping.cores"]},
                   scheduler={"max_running": best.params["serve.max_running"]})
    assert best.metrics["goodput_requests_per_s"] == pytest.approx(direct.summary["goodput_requests_per_s"], rel=1e-12)


@pytest.mark.parametrize("space,serve_settings,key", [
    ({"wafers": [1], "serve.rate": [1, 2]}, None, "serve.rate"),
    ({"wafers": [1], "batch": [1, 2]}, SERVE, "batch"),
    ({"wafers": [1], "serve.max_running": [1, 0]}, SERVE, "max_running"),
    ({"wafers": [1]}, {**SERVE, "colour": "red"}, "colour"),
])
def test_serving_settings_that_cannot_run_are_refused(space, serve_settings, key):
    with pytest.raises(ConfigError, match=key.split(".")[-1]):
        explore("mini-wafer", MODEL, space=space, objective="goodput", budget=2, serve=serve_settings)
