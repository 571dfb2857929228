"""The step table against the engine it was built from, and the simulation against the
analytic --request-rate estimate at low load."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import wafersim
from wafersim.engines.arrivals import prefill_busy_s
from wafersim.runner import prepare
from wafersim.serving.api import serve
from wafersim.serving.deployment import deploy

MODEL = "llama-3.2-1b"
CONTEXT = 1024


def _direct(system: str):
    prep = prepare(system, MODEL, batch=1, prompt_tokens=CONTEXT - 1, output_tokens=1)
    sc = prep.sized.scenario

    def decode(b, c):
        s = dataclasses.replace(sc, batch=b, prompt_tokens=max(c - 1, 1), output_tokens=1)
        return prep.engine.simulate(prep.system, prep.model, s, prep.mapping).summary.tpot_s

    def prefill(n):
        s = dataclasses.replace(sc, batch=1, prompt_tokens=n, output_tokens=1)
        return prefill_busy_s(prep.engine.simulate(prep.system, prep.model, s, prep.mapping), prep.system)
    return decode, prefill


@pytest.mark.parametrize("system", ["wse3", pytest.param("dgx-h100", marks=pytest.mark.slow)])
def test_step_table_agrees_with_the_engine(system):
    """Off the table's points: decode steps within 1 % (P90 of random batches and contexts),
    prefills within 1 % (median), and no bias: the mean signed error of decode and of prefill
    within 1 %, so that a run's summed step times are the engine's.  A GPU's times are a
    sawtooth (tiles fill waves over the SMs) that linear interpolation smooths, and between
    rows above the table's exact ones a batch may cross a step of the engine: single points
    there are off by a few per cent (docs/models.md, "Serving")."""
    dep = deploy(system, MODEL, max_context=CONTEXT, max_running=40)
    decode, prefill = _direct(system)
    rng = np.random.default_rng(0)
    dec_err, pf_err = [], []
    for _ in range(120):
        b = int(rng.integers(1, 41))
        c = int(rng.integers(2, min(CONTEXT, dep.kv_tokens // b) + 1))
        dec_err.append(dep.table.decode(b, c) / decode(b, c) - 1)
        n = int(rng.integers(1, CONTEXT))
        pf_err.append(dep.table.prefill(n) / prefill(n) - 1)
    dec_err, pf_err = np.array(dec_err), np.array(pf_err)
    assert np.quantile(np.abs(dec_err), 0.9) < 0.01
    assert abs(dec_err.mean()) < 0.01 and abs(pf_err.mean()) < 0.01
    assert np.median(np.abs(pf_err)) < 0.01


def test_low_load_matches_the_analytic_request_rate_estimate():
    """At 5 % load, one request rarely meets another: the simulated mean TTFT is the analytic
    estimate's (batch-1 prefill, half a decode step, the M/D/1 wait) and the mean TPOT its
    batch-1 step, each within 5 %."""
    rate = 0.05 / wafersim.simulate("dgx-h100", MODEL, batch=1, prompt_tokens=512, output_tokens=64).summary.ttft_s
    analytic = wafersim.simulate("dgx-h100", MODEL, batch=1, prompt_tokens=512, output_tokens=64,
                                 request_rate=rate).summary
    sim = serve("dgx-h100", MODEL, arrivals=f"poisson:{rate}", requests=3000, prompt="512", output="64",
                scheduler={"max_running": 16}).summary
    assert sim["ttft_s"]["mean"] == pytest.approx(analytic.ttft_s, rel=0.05)
    assert sim["tpot_s"]["mean"] == pytest.approx(analytic.tpot_s, rel=0.05)
