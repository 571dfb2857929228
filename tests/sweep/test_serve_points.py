"""A sweep whose points are serving simulations (a spec's ``[serve]`` table): the collection
holds each point's percentiles and goodput, the same figures ``serve`` gives for the point."""

from __future__ import annotations

import numpy as np
import pytest

from wafersim.cli import main
from wafersim.config import ConfigError
from wafersim.serving.api import serve
from wafersim.sweep import read_collection
from wafersim.sweep.points import plan
from wafersim.sweep.spec import parse_spec

from .helpers import DATA

MODEL = str(DATA / "tiny-llama.toml")
SERVE = f"""
system = "mini-wafer"
model = "{MODEL}"
[serve]
requests = 200
prompt = "uniform:32:256"
output = "uniform:4:32"
slo = "ttft=50ms,tpot=5ms"
max_running = 8
[axes]
"serve.rate" = [10, 1000]
"serve.policy" = ["fcfs", "priority"]
"""


def test_serve_points_hold_the_figures_serve_gives(tmp_path, capsys):
    spec = tmp_path / "serve.toml"
    spec.write_text(SERVE)
    out = tmp_path / "s.h5"
    assert main(["sweep", str(spec), "-o", str(out), "-j", "1"]) == 0
    assert "4 ran, 0 failed" in capsys.readouterr().out
    c = read_collection(out)
    assert c.variables["serve.rate"].units == "1/s"
    direct = serve("mini-wafer", MODEL, arrivals="poisson:1000", requests=200, prompt="uniform:32:256",
                   output="uniform:4:32", slo="ttft=50ms,tpot=5ms", scheduler={"max_running": 8}).summary
    for name, value in (("goodput_requests_per_s", direct["goodput_requests_per_s"]),
                        ("ttft_s_p90", direct["ttft_s"]["p90"]), ("tpot_s_p99", direct["tpot_s"]["p99"]),
                        ("slo_attainment", direct["slo_attainment"]), ("serve_requests", 200)):
        assert c.variables[name].data[1, 0] == pytest.approx(value, rel=1e-12)
    # every request here carries priority 0: the two queue orders serve alike
    assert np.array_equal(c.variables["e2e_s_p50"].data[:, 0], c.variables["e2e_s_p50"].data[:, 1])
    assert np.all(c.variables["throughput_requests_per_s"].data[1] > c.variables["throughput_requests_per_s"].data[0])


HEAD = SERVE.split("[axes]")[0]


@pytest.mark.parametrize("text,key", [
    ("[scenario]\nbatch = 4\n" + SERVE, "batch"),
    (HEAD.replace("[serve]\n", "[serve]\nrate_limit = 3\n") + "[axes]\n\"serve.rate\" = [1, 2]", "rate_limit"),
    (HEAD + "[axes]\n\"serve.speed\" = [1, 2]", "serve.speed"),
])
def test_a_serve_spec_refuses_keys_it_cannot_take(text, key):
    with pytest.raises(ConfigError, match=key):
        parse_spec(text)


@pytest.mark.parametrize("axis,value", [('"serve.rate"', '[10, -1]'), ('"serve.block_tokens"', '[16, 0]'),
                                        ('"serve.slo"', '["ttft=1s", "ttft=soon"]'),
                                        ('"serve.prefill"', '["1", "2"]')])
def test_a_bad_serve_value_is_blamed_on_its_axis(axis, value):
    with pytest.raises(ConfigError) as err:
        head = HEAD.replace('slo = "ttft=50ms,tpot=5ms"\n', "")
        plan(parse_spec(f"{head}[axes]\n{axis} = {value}\n", "s.toml"))
    assert "axis" in str(err.value) and axis.strip('"') in str(err.value)
