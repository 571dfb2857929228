"""explore() against a plain loop over simulate, on spaces small enough to run whole."""

import pytest

import wafersim
from wafersim.config import ConfigError
from wafersim.explore import explore
from wafersim.explore.pareto import pareto_front

WAFER_SPACE = {"wafers": [3, 4, 5], "mapping.placement": ["pipelined", "sequential"],
               "mapping.region": ["", "128x128"], "batch": [1, 8, 64]}
GPU_SPACE = {"tp": [2, 4, 8], "pp": [1, 2], "batch": [1, 16, 256]}


def loop_reference(system, model, space, key, maximize, **rules):
    """Every point run by hand; the best that fits and meets ``rules`` (key -> upper bound)."""
    import itertools
    best = None
    keys = list(space)
    for values in itertools.product(*space.values()):
        params = dict(zip(keys, values))
        mapping = {k.removeprefix("mapping."): v for k, v in params.items() if k.startswith("mapping.")}
        scenario = {k: v for k, v in params.items() if not k.startswith("mapping.")}
        s = wafersim.simulate(system, model, mapping=mapping or None, **scenario).summary
        if not s["fits_on_chip"] or any(s[k] > bound for k, bound in rules.items()):
            continue
        if best is None or (s[key] > best[1] if maximize else s[key] < best[1]):
            best = (params, s[key])
    return best


@pytest.mark.parametrize("system,space", [("wse3", WAFER_SPACE), ("dgx-h100", GPU_SPACE)])
@pytest.mark.parametrize("goal,key,maximize", [("per-device", "tokens_per_s_per_device", True),
                                               ("tpot", "tpot_s", False)])
def test_whole_space_matches_a_loop_over_simulate(system, space, goal, key, maximize):
    e = explore(system, "llama-3.1-70b", space=space, objective=goal, budget=1000)
    params, value = loop_reference(system, "llama-3.1-70b", space, key, maximize)
    assert e.cost.evaluated == e.cost.space_size == len(e.points)
    assert e.best[0].ok and e.best[0].metrics[key] == value
    assert e.best[0].params == params          # ties go to the first point in grid order in both
    assert e.runs[e.best[0].index].summary[key] == value


def test_every_point_is_the_run_simulate_gives_for_its_values():
    e = explore("wse3", "llama-3.1-70b", space=WAFER_SPACE, budget=1000, constraints=[])
    seen = set()
    for p in e.points:
        mapping = {k.removeprefix("mapping."): v for k, v in p.params.items() if k.startswith("mapping.")}
        scenario = {k: v for k, v in p.params.items() if not k.startswith("mapping.")}
        s = wafersim.simulate("wse3", "llama-3.1-70b", mapping=mapping, **scenario).summary
        assert p.metrics["tpot_s"] == s["tpot_s"] and p.metrics["batch"] == s["batch"] == p.params["batch"]
        assert p.metrics["devices"] == p.params["wafers"]
        seen.add(s["tpot_s"])
    assert len(seen) > len(e.points) // 2           # the axes, mapping ones too, change the answer


def test_a_ttft_bound_is_respected_and_changes_the_answer():
    free = explore("dgx-h100", "llama-3.1-70b", space=GPU_SPACE, objective="per-device", budget=1000)
    bound = explore("dgx-h100", "llama-3.1-70b", space=GPU_SPACE, objective="per-device", budget=1000,
                    constraints=["fits_on_chip", "ttft_s<=2 s"])
    assert free.best[0].metrics["ttft_s"] > 2.0
    assert all(p.metrics["ttft_s"] <= 2.0 for p in bound.points if p.ok)
    assert any(p.status == "violates" and "ttft_s" in p.message for p in bound.points)
    assert bound.best[0].params == loop_reference("dgx-h100", "llama-3.1-70b", GPU_SPACE,
                                                  "tokens_per_s_per_device", True, ttft_s=2.0)[0]


def test_front_is_the_front_of_the_feasible_points():
    e = explore("wse3", "llama-3.1-70b", space=WAFER_SPACE, budget=1000)
    ok = [p for p in e.points if p.ok]
    xs = [p.metrics["tokens_per_s_per_user"] for p in ok]
    ys = [p.metrics["tokens_per_s_per_device"] for p in ok]
    assert [p.order for p in e.front] == [ok[i].order for i in pareto_front(xs, ys)]
    assert e.front and all(p.ok for p in e.front)


def test_refused_layouts_are_recorded_not_raised():
    e = explore("dgx-h100", "llama-3.1-70b", space={"tp": [8], "pp": [1, 64], "batch": [1]}, budget=10)
    refused = [p for p in e.points if p.status == "refused"]
    assert len(refused) == 1 and refused[0].params["pp"] == 64 and "max_nodes" in refused[0].message
    assert refused[0].metrics == {} and e.cost.refused == 1 and e.best[0].params["pp"] == 1


def test_a_tensor_parallelism_no_point_could_take_is_refused_before_the_search():
    with pytest.raises(wafersim.ConfigError, match="tp = 3 cannot split the 64 attention heads"):
        explore("dgx-h100", "llama-3.1-70b", space={"tp": [3, 8], "batch": [1]}, budget=10)


def test_replicas_multiply_totals_not_per_user_figures():
    e = explore("dgx-h100", "llama-3.1-70b", space={"tp": [8], "replicas": [1, 3]}, objective="throughput")
    one, three = sorted(e.points, key=lambda p: p.params["replicas"])
    assert three.metrics["devices"] == 3 * one.metrics["devices"]
    assert three.metrics["tokens_per_s"] == pytest.approx(3 * one.metrics["tokens_per_s"])
    assert three.metrics["tokens_per_s_per_user"] == one.metrics["tokens_per_s_per_user"]
    assert e.best[0] is three


def test_same_seed_same_search():
    a = explore("wse3", "llama-3.1-70b", budget=40, seed=5)
    b = explore("wse3", "llama-3.1-70b", budget=40, seed=5)
    assert [(p.params, p.status, p.metrics) for p in a.points] == [(p.params, p.status, p.metrics) for p in b.points]
    assert a.cost.evaluated == 40 < a.space.size


def test_default_spaces_hold_the_layouts_the_issue_names():
    wafer = explore("wse3", "llama-3.1-70b", budget=5)
    assert set(wafer.space.keys) == {"wafers", "mapping.placement", "mapping.order", "mapping.kv", "mapping.region",
                                     "mapping.cores", "batch"}
    gpu = explore("dgx-h100", "llama-3.1-70b", budget=5)
    assert set(gpu.space.keys) == {"tp", "pp", "ep", "batch"}
    moe = explore("dgx-h100", "mixtral-8x7b", budget=5)
    assert len(moe.space.axes[moe.space.keys.index("ep")]) > 1


def test_a_fixed_key_leaves_the_default_space():
    e = explore("wse3", "llama-3.1-70b", budget=5, batch=4, mapping={"placement": "pipelined"})
    assert "batch" not in e.space.keys and "mapping.placement" not in e.space.keys
    assert all(p.metrics["batch"] == 4 for p in e.points if p.metrics)


@pytest.mark.parametrize("system,kwargs,words", [
    ("wse3", {"space": {"tp": [2]}}, "GPU systems"),
    ("dgx-h100", {"space": {"mapping.region": ["64x64"]}}, "wafers"),
    ("dgx-h100", {"space": {"wafers": [2]}}, "wafer systems"),
    ("dgx-h100", {"space": {"batch": [1]}, "batch": 2}, "give it once"),
    ("wse3", {"budget": 0}, "budget"),
    ("wse3", {"pareto": ["per-user"]}, "two objectives"),
    ("wse3", {"method": "annealing"}, "method"),
    ("wse3", {"colour": 3}, "scenario keys"),
    ("dgx-h100", {"space": {"tp": [8]}, "fidelity": "flow"}, "no 'flow' engine"),
    ("wse3", {"space": {"mapping.region": ["", "big"]}}, "region"),
    ("wse3", {"space": {"mapping.placement": ["scattered"]}}, "placement"),
    ("wse3", {"space": {"dtype": ["bf16", "fp9"]}}, "dtype"),
    ("wse3", {"space": {"batch": [1]}, "mapping": {"cores": "lots"}}, "cores"),
])
def test_bad_requests_are_config_errors(system, kwargs, words):
    with pytest.raises(ConfigError) as info:
        explore(system, "llama-3.1-70b", **kwargs)
    assert words in str(info.value)


def test_progress_is_called_once_per_point_with_the_most_points_to_come():
    calls = []
    e = explore("dgx-h100", "llama-3.1-70b", space=GPU_SPACE, budget=7, progress=lambda p, n: calls.append((p, n)))
    assert [p for p, _ in calls] == list(e.points) and {n for _, n in calls} == {7}
