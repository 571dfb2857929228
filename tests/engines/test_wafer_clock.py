"""The wafer's calibrated constants are cycles: the core clock scales every on-chip time.

WaferLLM's per-layer tables, which the constants are fitted on, are cycle counts its code
converts to time at 1.1 GHz; a chip at another clock takes the same cycles, so halving
``core.clock_hz`` (``--set system.core.clock_hz=...``) halves the throughput of a job that
fits on chip (nothing spills, one wafer: no edge I/O or wafer-to-wafer links, which are
bytes per second and do not scale) and doubles its time to first token.
"""

from __future__ import annotations

import pytest

import wafersim
from tests.specs import simulate_one
from wafersim.validation.wafer_fit import ROWS_CLOCK_HZ

SCENARIO = dict(prompt_tokens=512, output_tokens=64)


@pytest.mark.parametrize("fidelity", ["analytic", "flow"])
def test_halving_the_clock_halves_throughput_of_a_job_that_fits(fidelity):
    clock = wafersim.load_system("wse3").core.clock_hz
    runs = [simulate_one(wafersim.load_system("wse3", {"core.clock_hz": f}), "llama-3.1-8b", fidelity=fidelity,
                         **SCENARIO).summary for f in (clock, clock / 2)]
    full, half = runs
    assert full["spilled_bytes"] == 0 and full["devices"] == 1            # the job fits on one chip
    assert half["tokens_per_s_per_user"] / full["tokens_per_s_per_user"] == pytest.approx(0.5, rel=0.05)
    assert half["tokens_per_s"] / full["tokens_per_s"] == pytest.approx(0.5, rel=0.05)
    assert half["ttft_s"] / full["ttft_s"] == pytest.approx(2.0, rel=0.05)


def test_the_fit_runs_the_rows_at_the_clock_they_were_converted_with():
    """validate runs WaferLLM's rows on wse2 at its preset clock: that must be the 1.1 GHz the
    rows' cycles were converted with, or the fitted cycles would not be the rows' cycles."""
    from wafersim.validation.wafer_fit import fit_wafer
    assert wafersim.load_system("wse2").core.clock_hz == ROWS_CLOCK_HZ
    with pytest.raises(ValueError, match="clock"):
        fit_wafer(base={"core.clock_hz": 0.85e9})
