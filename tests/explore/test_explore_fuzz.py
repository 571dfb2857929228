"""Hostile ``wafersim explore`` command lines end in a result or a one-line error, never a crash or a hang."""

from __future__ import annotations

import json
import math
import os

import pytest

pytestmark = pytest.mark.slow          # fuzz: CI runs it after the other tests

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tests.test_fuzz import MODELS, SYSTEMS, TOTAL, hostile_text, run_cli  # noqa: E402
from wafersim.explore.goals import OBJECTIVES  # noqa: E402
from wafersim.explore.space import axis_keys  # noqa: E402

values = st.one_of(hostile_text, st.sampled_from(["1,2,4", "1:8", "1:4096:x2", "1:2147483647:x2", "64x64,",
                                                  "pipelined,streaming", "max", "auto", "3", "1,1"]))
axes = st.lists(st.builds(lambda k, v: ["--axis", f"{k}={v}"], st.one_of(st.sampled_from(axis_keys()), hostile_text),
                          values), max_size=3)
goals = st.one_of(st.just([]), st.builds(lambda o: ["--objective", o],
                                         st.one_of(st.sampled_from([*OBJECTIVES, "max:tokens_per_s", "min:x"]),
                                                   hostile_text)))
rules = st.lists(st.builds(lambda r: ["--constraint", r],
                           st.one_of(st.sampled_from(["ttft_s<=2 s", "devices<=8", "power_w<=1 W",
                                                      "tokens_per_s_per_user>=1e9", "fits_on_chip"]), hostile_text)),
                 max_size=2)
search = st.builds(lambda b, s, m: ["--budget", b, "--seed", s, "--method", m],
                   st.sampled_from(["1", "7", "30", "0", "-3", "x"]), st.sampled_from(["0", "5", "-1", "99999999999"]),
                   st.sampled_from(["local", "grid", "random", "annealing"]))


#: share of WAFERSIM_FUZZ_EXAMPLES these cases take (50 of the default 1000)
SHARE = 0.05


@settings(max_examples=max(10, int(TOTAL * SHARE)), deadline=None, database=None, derandomize=not os.environ.get("WAFERSIM_FUZZ_RANDOM"),
          suppress_health_check=list(HealthCheck), print_blob=True)
@given(system=st.sampled_from(SYSTEMS), model=st.sampled_from(MODELS), axes=axes, goals=goals, rules=rules,
       search=search, extra=st.sampled_from([[], ["--json"], ["--allow-spill"], ["--pareto", "tpot,per-kw"],
                                             ["--max-power", "inf"], ["--layers", "2"]]))
def test_hostile_explore_command_lines(system, model, axes, goals, rules, search, extra):
    args = ["explore", system, model, *[a for pair in axes for a in pair], *goals,
            *[a for pair in rules for a in pair], *search, *extra]
    rc, out, _ = run_cli(args)
    if rc == 0 and "--json" in args:
        data = json.loads(out, parse_constant=lambda token: pytest.fail(f"non-strict JSON {token}"))
        assert data["cost"]["evaluated"] == len(data["points"]) <= data["cost"]["budget"]
        for p in data["points"]:
            for v in p["metrics"].values():
                assert not isinstance(v, float) or math.isfinite(v)
