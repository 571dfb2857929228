"""The engine registry: a toy engine registered here runs through the CLI's run and compare,
and the registry refuses what it has no engine for."""

from __future__ import annotations

import json

import pytest

import wafersim
from wafersim.cli import main
from wafersim.config import ConfigError
from wafersim.engines import registry
from wafersim.engines.assembly import MemoryUse, assemble
from wafersim.engines.capacity import Capacity
from wafersim.results.phase import PhaseTime

TOY_STEP_S = 1e-3          # the toy decodes every token in a millisecond
TOY_TTFT_S = 5e-3
TOY_BATCH_LIMIT = 6        # and holds at most six sequences per wafer


class ToyCapacity(Capacity):
    def fits(self, batch, devices):
        return batch <= TOY_BATCH_LIMIT * devices

    def holds_weights(self, batch, devices):
        return True

    def device_range(self, batch):
        return 1, 4


class Toy:
    """A whole engine in a few lines: fixed times, a fixed capacity."""

    def capacity(self, system, model, scenario, mapping):
        return ToyCapacity()

    def simulate(self, system, model, scenario, mapping):
        memory = MemoryUse(fits=True, weight_bytes=1.0, kv_bytes=2.0, spilled_bytes=0.0,
                           spill_capacity_bytes=0.0, spill_memory="nowhere")
        return assemble(system=system, model=model, kind=system.kind, fidelity="toy", scenario=scenario,
                        devices=scenario.wafers, prefill=PhaseTime(TOY_TTFT_S, {"toy": TOY_TTFT_S}),
                        decode=PhaseTime(TOY_STEP_S, {"toy": TOY_STEP_S}), memory=memory,
                        step_energy_j={"static": 2.0 * scenario.batch}, decode_layer_s=TOY_STEP_S / scenario.layers,
                        prefill_layer_s=TOY_TTFT_S / scenario.layers, notes=["toy engine"], mapping=mapping)


@pytest.fixture
def toy():
    with registry.registered(registry.EngineEntry("wafer", "toy", "a toy for tests", Toy)) as entry:
        yield entry


def test_toy_engine_runs_through_the_cli(toy, capsys):
    assert main(["run", "wse3", "llama-3.1-8b", "--fidelity", "toy", "--batch", "max", "--wafers", "2",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["fidelity"] == "toy" and out["tpot_s"] == TOY_STEP_S
    assert out["batch"] == 2 * TOY_BATCH_LIMIT                 # sizing asked the toy's capacity
    assert out["tokens_per_s"] == 2 * TOY_BATCH_LIMIT / TOY_STEP_S
    assert out["energy_per_token_j"] == 2.0
    assert "toy engine" in out["notes"]


def test_toy_engine_in_compare_runs_the_wafer_side_only(toy, capsys):
    assert main(["compare", "wse3", "dgx-h100", "llama-3.1-8b", "--fidelity", "toy", "--batch", "7",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["a"]["fidelity"] == "toy" and out["a"]["devices"] == 2    # wafers auto: 7 > 6 needs two
    assert out["b"]["fidelity"] == "analytic"                          # GPUs have no toy engine
    assert out["ratio"]["tpot_s"] == TOY_STEP_S / out["b"]["tpot_s"]


def test_the_toy_is_gone_after_the_block(toy):
    assert "toy" in registry.fidelities("wafer")
    registry.unregister("wafer", "toy")
    assert "toy" not in registry.fidelities("wafer")


def test_the_default_table():
    assert registry.fidelities("wafer") == ("analytic", "flow", "cycle")
    assert registry.fidelities("gpu") == ("analytic",)
    assert registry.kinds() == ("wafer", "gpu")


def test_unknown_fidelity_names_the_choices():
    with pytest.raises(ConfigError, match="gpu systems have no 'flow' engine; expected one of analytic"):
        wafersim.simulate("dgx-h100", "llama-3.1-8b", fidelity="flow")
    with pytest.raises(ConfigError, match="expected one of analytic, flow, cycle"):
        wafersim.simulate("wse3", "llama-3.1-8b", fidelity="packet")


def test_a_second_engine_for_the_same_slot_is_refused(toy):
    with pytest.raises(ValueError, match="registered already"):
        registry.register(registry.EngineEntry("wafer", "toy", "again", Toy))


def test_a_registry_of_ones_own(capsys):
    """simulate(registry=...) runs from a private table, leaving the default untouched."""
    mine = registry.Registry((registry.EngineEntry("wafer", "toy", "mine", Toy),))
    r = wafersim.simulate("wse3", "llama-3.1-8b", fidelity="toy", registry=mine, batch=3)
    assert r.summary["tpot_s"] == TOY_STEP_S and r.summary["devices"] == 1
    assert "toy" not in registry.fidelities()
