"""What sweeps reuse instead of rebuilding: specs loaded by name, their result dictionaries,
memory plans in sizing searches; each reuse checked against building afresh."""

from __future__ import annotations

import dataclasses
import os

import pytest

import wafersim
from wafersim import MappingOptions, Scenario
from wafersim.config import to_dict
from wafersim.engines.capacity import MAX_SEARCH
from wafersim.engines.wafer_memory import WaferCapacity, WaferMemory
from wafersim.presets import list_presets


def test_a_preset_loaded_again_is_the_same_spec():
    assert wafersim.load_system("wse3") is wafersim.load_system("wse3")
    assert wafersim.load_model("llama-3.1-8b") is wafersim.load_model("llama-3.1-8b")
    with_set = wafersim.load_system("wse3", {"core.clock_hz": "1 GHz"})
    assert with_set is not wafersim.load_system("wse3", {"core.clock_hz": "1 GHz"})
    assert with_set.core.clock_hz == 1e9 and wafersim.load_system("wse3").core.clock_hz != 1e9


def test_an_edited_preset_or_base_is_read_again(tmp_path):
    base = tmp_path / "mybase.toml"
    top = tmp_path / "mine.toml"
    base.write_text((wafersim.presets.find_preset("wse3", "meshes")).read_text())
    top.write_text('base = "mybase.toml"\nname = "mine"\n')
    first = wafersim.load_system(top)
    assert wafersim.load_system(top) is first
    base.write_text(base.read_text())                                  # the same text in a new version
    st_ = base.stat()
    os.utime(base, ns=(st_.st_atime_ns, st_.st_mtime_ns + 10**9))
    again = wafersim.load_system(top)
    assert again is not first and again == first                      # read again, same content
    top.write_text('base = "mybase.toml"\nname = "mine"\n[core]\nclock_hz = "1 GHz"\n')
    os.utime(top, ns=(st_.st_atime_ns, st_.st_mtime_ns + 2 * 10**9))
    assert wafersim.load_system(top).core.clock_hz == 1e9


def test_an_edited_runtime_profile_is_read_again(tmp_path):
    profile = tmp_path / "mine.toml"
    text = wafersim.presets.find_preset("typical", "runtimes").read_text()
    profile.write_text(text.replace('name = "typical"', 'name = "mine"'))
    first = wafersim.load_system("dgx-h100", runtime=str(profile))
    assert wafersim.load_system("dgx-h100", runtime=str(profile)) is first
    assert wafersim.load_system("dgx-h100") is not first                  # another runtime, another spec
    profile.write_text(text.replace('name = "typical"', 'name = "mine"').replace("memory = 0.70", "memory = 0.5"))
    st_ = profile.stat()
    os.utime(profile, ns=(st_.st_atime_ns, st_.st_mtime_ns + 10**9))
    again = wafersim.load_system("dgx-h100", runtime=str(profile))
    assert again is not first and again.efficiency.memory == 0.5 != first.efficiency.memory


def test_result_dictionaries_are_built_once_per_spec():
    system, model = wafersim.load_system("wse3"), wafersim.load_model("llama-3.1-8b")
    one, two = wafersim.simulate(system, model), wafersim.simulate(system, model, batch=2)
    assert one.config["system"] is two.config["system"] and one.config["model"] is two.config["model"]
    assert one.config["system"] == to_dict(system) and one.config["model"] == to_dict(model)
    other = dataclasses.replace(system, name="wse3-copy")
    assert wafersim.simulate(other, model).config["system"]["name"] == "wse3-copy"


def _doubling_search(fits) -> int:
    """The search sizing used before the guess: double from 2, then bisect."""
    if not fits(1):
        return 1
    lo, hi = 1, 2
    while fits(hi) and hi < MAX_SEARCH:
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo


WAFERS = [n for n in list_presets("meshes") if wafersim.load_system(n).kind == "wafer"]


@pytest.mark.parametrize("system", WAFERS)
@pytest.mark.parametrize("placement", ["pipelined", "sequential"])
def test_batch_max_from_the_guess_is_the_doubling_searchs(system, placement):
    """Every wafer preset and model: the galloping search from the memory estimate finds
    the batch the plain doubling search finds, asking each candidate once."""
    spec = wafersim.load_system(system)
    for name in list_presets("workloads"):
        model = wafersim.load_model(name)
        sc = Scenario(batch="max", prompt_tokens=min(2048, model.max_context // 2)).resolved(model)
        mem = WaferMemory(spec, model, sc, MappingOptions(placement=placement))
        cap = WaferCapacity(mem)
        start, limit = cap.device_range(1)
        for devices in sorted({start, min(start + 1, limit)}):
            asked = []
            plan = mem.memory_plan

            def counted(batch, wafers, plan=plan, asked=asked):
                asked.append(batch)
                return plan(batch, wafers)
            mem.memory_plan = counted
            got = cap.largest_batch(devices)
            mem.memory_plan = plan
            assert got == _doubling_search(lambda b: cap.fits(b, devices)), (name, devices)
            assert len(asked) == len(set(asked)), f"{name}: a candidate was asked twice"
