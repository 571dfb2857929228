"""The cycle engine through the registry, and the flow model cross-validated against it."""

from __future__ import annotations

import pytest

import wafersim
from wafersim import MappingOptions, Scenario
from wafersim.engines import registry
from wafersim.engines.cycle import network_times


def test_registered_and_runs_the_flow_engines_program():
    assert registry.get("wafer", "cycle").engine().simulate
    kw = dict(layers=1, mapping={"cores": "16x16"}, prompt_tokens=16, output_tokens=8)
    cyc = wafersim.simulate("wse2", "llama-3.1-8b", fidelity="cycle", **kw)
    flo = wafersim.simulate("wse2", "llama-3.1-8b", fidelity="flow", **kw)
    assert cyc.summary["fidelity"] == "cycle"
    c, f = cyc.decode.components, flo.decode.components
    # same program, same compute and memory; the network only takes longer (ports, contention)
    for key in ("compute", "sram_bandwidth", "mesh_latency"):
        assert c[key] == pytest.approx(f[key], rel=1e-9), key
    assert c["mesh_bandwidth"] >= f["mesh_bandwidth"]
    assert cyc.summary["tpot_s"] == pytest.approx(flo.summary["tpot_s"], rel=0.1)
    assert cyc.arrays["link_load_bytes"].data.sum() == pytest.approx(flo.arrays["link_load_bytes"].data.sum())


@pytest.mark.parametrize("cores,layers,placement", [("16x16", 1, "sequential"), ("32x32", 2, "pipelined")])
def test_flow_agrees_with_cycle_once_core_ports_count(cores, layers, placement):
    """Every stage of a decode step (row broadcasts, column reductions), the hand-off between
    layers and the spill stream through edge I/O: the flow model with the cores' ports
    counted (one flit a cycle in and out of each core) is within 10 % of the cycle
    simulation.  The plain flow model is within 10 % wherever the ports do not bind; where
    they do (reductions whose two chains end at one core) the cycle time is the port bound."""
    system, model = wafersim.load_system("wse2"), wafersim.load_model("llama-3.1-8b")
    rows = network_times(system, model, Scenario(layers=layers, batch=1).resolved(model),
                         MappingOptions(cores=cores, placement=placement))
    names = {r["stage"] for r in rows}
    assert {"mlp_up.broadcast", "mlp_up.reduce", "edge_io"} <= names
    assert ("handoff" in names) == (placement == "pipelined")
    for r in rows:
        assert r["cycle_s"] == pytest.approx(r["flow_ports_s"], rel=0.1), r
        if r["flow_ports_s"] <= r["flow_s"] * 1.001:
            assert r["cycle_s"] == pytest.approx(r["flow_s"], rel=0.1), r
    assert any(r["cycle_s"] > 1.3 * r["flow_s"] for r in rows if r["stage"].endswith(".reduce"))


def test_oversized_stage_extrapolates_to_the_exact_stream_time():
    """A stage too big to simulate whole is run at two reduced sizes and extrapolated: for
    streams whose exact cycle time is known (hops + flits for a lone unicast; flits x 2 + hops
    for two streams sharing their first link) it lands within 1 %."""
    from wafersim.dataflow.transfers import Transfers
    from wafersim.engines import flow
    from wafersim.engines.cycle import CycleTimer
    from wafersim.mapping.placement import place
    system, model = wafersim.load_system("mini-wafer"), wafersim.load_model("llama-3.1-8b")
    sc = Scenario(layers=1, batch=1).resolved(model)
    mesh = flow.physical_mesh(system)
    timer = CycleTimer(system, mesh, place(system, model, sc, MappingOptions(), 1, 1), sc.dtype, keep_links=False)
    timer.max_flit_hops = 2e4
    flits = 200_000
    lone = timer._network_cycles(Transfers.unicast([3], [0], [3], [15], 4.0 * flits))
    assert lone[0] == pytest.approx(15 + flits, rel=0.01)
    shared = timer._network_cycles(Transfers.unicast([3, 3], [0, 0], [3, 10], [15, 12], [4.0 * flits] * 2))
    assert shared.max() == pytest.approx(2 * flits + 15, rel=0.01)
    assert timer.notes and timer.router_cycles < 1e6


def test_each_stage_differs_from_flow_by_exactly_the_network_time():
    """A stage takes max(compute, SRAM) + network + tree steps in both engines; only the network term
    differs: the cycle engine's last delivery against the flow model's busiest link + longest path.
    So, stage by stage, cycle - flow equals the two network times' difference (one region: --layers 1)."""
    kw = dict(layers=1, mapping={"cores": "16x16"}, prompt_tokens=16, output_tokens=8)
    cyc = wafersim.simulate("wse2", "llama-3.1-8b", fidelity="cycle", **kw)
    flo = wafersim.simulate("wse2", "llama-3.1-8b", fidelity="flow", **kw)
    names = cyc.arrays["decode_stage_s"].labels["stage"]
    c_stage, f_stage = cyc.arrays["decode_stage_s"].data[0], flo.arrays["decode_stage_s"].data[0]
    m = wafersim.load_model("llama-3.1-8b")
    sc = Scenario(layers=1, prompt_tokens=16, output_tokens=8).resolved(m)
    rows = {r["stage"]: r for r in network_times(wafersim.load_system("wse2"), m, sc, MappingOptions(cores="16x16"))}
    checked = 0
    for i, name in enumerate(names):
        row = rows.get(name)
        expected = (row["cycle_s"] - row["flow_s"]) if row else 0.0
        assert c_stage[i] - f_stage[i] == pytest.approx(expected, rel=1e-9, abs=1e-15), name
        checked += row is not None
    assert checked >= 7
