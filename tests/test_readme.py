"""The README's Python example runs as written."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_python_blocks_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})


def test_readme_opens_with_install_and_test_commands():
    text = README.read_text()
    first = re.search(r"```bash\n(.*?)```", text, re.S).group(1).strip().splitlines()
    assert first[0].startswith("pip install") and "wafersim" in first[0]
    assert "pytest" in first[1]


def test_python_cliff_example_is_past_the_cliff(tmp_path, monkeypatch):
    """The block that writes cliff.h5 runs a job that spills (the context no longer fits on chip)."""
    monkeypatch.chdir(tmp_path)
    block = next(b for b in re.findall(r"```python\n(.*?)```", README.read_text(), re.S) if "cliff.h5" in b)
    names: dict = {}
    exec(compile(block, "README.md", "exec"), names)
    s = names["result"].summary
    assert not s["fits_on_chip"] and s["spilled_bytes"] > 0 and s["devices"] == 1


def test_analytic_speed_claim_is_the_recorded_benchmark():
    """The README's speed figures are those benchmarks/bench_targets.py and bench_explore.py recorded."""
    import json
    results = README.parent / "benchmarks" / "results"
    text = " ".join(README.read_text().split())
    m = re.search(r"analytic engine takes ([\d.]+) ms a run at batch 1 and ([\d.]+) ms at `--batch max` \(medians "
                  r"over (\d+) preset pairs [^)]*worst ([\d.]+) ms: `python benchmarks/bench_targets.py`", text)
    assert m, "the README states the analytic engine's time per run with its benchmark"
    fig = json.loads((results / "targets.json").read_text())["figures"]
    worst = max(fig["analytic_batch1_worst_s"], fig["analytic_batch_max_worst_s"])
    assert m.groups() == (f"{fig['analytic_batch1_median_s'] * 1e3:.2f}", f"{fig['analytic_batch_max_median_s'] * 1e3:.2f}",
                          str(fig["analytic_pairs"]), f"{worst * 1e3:.2f}")
    m = re.search(r"a search ([\d.]+) to ([\d.]+) ms a point \(`benchmarks/results/explore.json`\)", text)
    assert m
    per_point = [v["median_seconds"] / v["evaluations"] for c in json.loads((results / "explore.json").read_text())["cases"]
                 for v in c["methods"].values()]
    assert (m.group(1), m.group(2)) == (f"{min(per_point) * 1e3:.1f}", f"{max(per_point) * 1e3:.1f}")
