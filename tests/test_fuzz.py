"""Hostile input never crashes, hangs or lies (issue 13).

Hypothesis builds hostile command lines (flags, ``--set`` values, preset names, output
paths), hostile TOML files, damaged results files and hostile Python API calls, and
runs each in-process through :func:`wafersim.cli.main` or :func:`wafersim.simulate`.
Every case must end with:

* exit status 0 or 2 (argparse's usage errors are 2 too), never an exception out of
  ``main`` nor the internal-error status 70;
* on 0 with ``--json``: strict JSON whose summary numbers are finite and not negative;
* within :data:`CASE_SECONDS` (a SIGALRM stops a case that runs longer);
* no file left behind but the one asked for, and that one only on success.

Size: ``WAFERSIM_FUZZ_EXAMPLES`` cases in all (default 1000, under a minute on one
CI core), shared among the tests by their weights.  A long local run::

    WAFERSIM_FUZZ_EXAMPLES=10000 python -m pytest -q -m slow tests/test_fuzz.py
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import math
import os
import signal
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow          # about a minute of cases: CI runs them after the other tests

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import wafersim  # noqa: E402
from wafersim.cli import main  # noqa: E402
from wafersim.config import WafersimError  # noqa: E402

TOTAL = int(os.environ.get("WAFERSIM_FUZZ_EXAMPLES", "1000"))
CASE_SECONDS = float(os.environ.get("WAFERSIM_FUZZ_CASE_SECONDS", "30"))
WEIGHTS = {"cli": 0.18, "set": 0.14, "scaled": 0.20, "big": 0.08, "toml": 0.12, "hdf5": 0.13, "api": 0.08,
           "out": 0.07, "noc": 0.03, "spec": 0.03, "explore": 0.02, "collection": 0.03}
DATA = Path(__file__).parent / "data"
STATS: dict[str, int] = {}


@pytest.fixture(scope="module", autouse=True)
def report_cases(request):
    """Print how many cases ran and how they ended once this file's tests are done, in
    whatever order they ran."""
    yield
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        print(f"\nfuzz: {STATS.get('cases', 0)} cases run; command lines ended: "
              + ", ".join(f"{k} {v}" for k, v in sorted(STATS.items()) if k != "cases"))


def _examples(kind: str) -> int:
    return max(10, int(TOTAL * WEIGHTS[kind]))


#: the same cases every run (the suite is deterministic); WAFERSIM_FUZZ_RANDOM=1 draws new ones
#: for an exploratory run.  Fixed cases matter for damaged files in particular: libhdf5 itself
#: can abort on some flipped bytes (see the README), which no reader can catch.
DERANDOMIZE = not os.environ.get("WAFERSIM_FUZZ_RANDOM")


def _settings(kind: str):
    return settings(max_examples=_examples(kind), deadline=None, database=None,
                    derandomize=DERANDOMIZE,
                    suppress_health_check=list(HealthCheck), print_blob=True)


class Hang(Exception):
    pass


@contextlib.contextmanager
def _bounded(seconds: float = CASE_SECONDS):
    """Fail a case that runs longer than ``seconds`` (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def alarm(signum, frame):
        raise Hang(f"case ran past {seconds} s")
    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _strict_json(text: str):
    def bad(token):
        raise AssertionError(f"non-strict JSON constant {token}")
    return json.loads(text, parse_constant=bad)


def _check_numbers(summary: dict, where: str) -> None:
    for key, value in summary.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        assert math.isfinite(value), f"{where}: {key} = {value}"
        assert value >= 0, f"{where}: {key} = {value} is negative"
    for key in ("tpot_s", "tokens_per_s", "tokens_per_s_per_user"):
        if key in summary:
            assert summary[key] > 0, f"{where}: {key} = {summary[key]}"


def run_cli(args: list[str], out_dir: Path | None = None, expect_file: Path | None = None) -> tuple[int, str, str]:
    """Run ``wafersim ARGS`` in-process and check the invariants; returns (status, stdout, stderr)."""
    before = set(os.listdir(out_dir)) if out_dir is not None else set()
    out, err = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    with _bounded(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(args)
        except SystemExit as exc:          # argparse: usage errors and --help
            rc = exc.code if isinstance(exc.code, int) else 2
    elapsed = time.perf_counter() - start
    stdout, stderr = out.getvalue(), err.getvalue()
    STATS["cases"] = STATS.get("cases", 0) + 1
    STATS[f"rc{rc}"] = STATS.get(f"rc{rc}", 0) + 1
    assert rc in (0, 2), f"wafersim {args!r} exited {rc}: {stderr[-500:]}"
    assert "Traceback" not in stderr, stderr
    if rc == 2:
        assert stderr.strip(), f"wafersim {args!r} exited 2 without saying why"
        last = stderr.strip().splitlines()[-1]
        assert last.startswith("wafersim") and "error" in last, stderr
    if rc == 0 and "--json" in args and args[0] in ("run", "compare"):
        data = _strict_json(stdout)
        for side in ([data] if args[0] == "run" else [data["a"], data["b"]]):
            _check_numbers(side["summary"] if "summary" in side else side, " ".join(args))
    if out_dir is not None:
        after = set(os.listdir(out_dir))
        new = after - before
        allowed = {expect_file.name} if (expect_file is not None and rc == 0) else set()
        assert new <= allowed, f"files left behind: {sorted(new - allowed)} (rc {rc})"
        if expect_file is not None and rc == 0:
            assert expect_file.name in after
    assert elapsed < CASE_SECONDS
    return rc, stdout, stderr


# ---- strategies -----------------------------------------------------------------------

SYSTEMS = ["wse3", "mini-wafer", "dgx-h100", "pcie-8x-l40s", "gb200-nvl72", "dgx-a100"]
MODELS = ["llama-3.1-8b", str(DATA / "tiny-llama.toml"), "mixtral-8x7b", "llama-3.1-70b"]

hostile_text = st.one_of(
    st.sampled_from(["", " ", "nan", "inf", "-inf", "-1", "0", "1e308", "-0", "1e-320", "9223372036854775808",
                     "18446744073709551617", "max", "auto", "all", "x", "1x", "x1", "0x0", "1x1", "1x1176",
                     "99999999x99999999", "4.5", "1_000", "0x10", "[1, 2]", "{a = 1}", "1979-05-27",
                     "true", "'48 KiB'", '"1e400 B"', "\x00", "é", "a" * 300, "../../etc/passwd", "\n"]),
    st.text(max_size=20),
    st.integers(min_value=-2**70, max_value=2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)
small_int = st.one_of(st.integers(min_value=1, max_value=9).map(str), hostile_text)


def _flag_values():
    return {
        "--batch": st.one_of(st.sampled_from(["1", "2", "8", "max"]), small_int),
        "--prompt": st.one_of(st.sampled_from(["16", "2048", "65536", "200000"]), small_int),
        "--output": st.one_of(st.sampled_from(["1", "128", "4096"]), small_int),
        "--dtype": st.one_of(st.sampled_from(["bf16", "fp16", "fp8", "int8", "int4"]), hostile_text),
        "--kv-dtype": st.one_of(st.sampled_from(["bf16", "fp8", "int4"]), hostile_text),
        "--layers": st.one_of(st.sampled_from(["1", "2", "4", "32", "100"]), small_int),
        "--fidelity": st.one_of(st.just("analytic"), hostile_text),
        "--wafers": st.one_of(st.sampled_from(["1", "2", "4", "auto", "64", "65"]), small_int),
        "--placement": st.sampled_from(["pipelined", "sequential", "streaming", "bogus"]),
        "--cores": st.one_of(st.sampled_from(["1x1176", "2x2", "1x1", "756x1176", "757x1", "16x16", "all", ""]),
                             hostile_text),
        "--tp": st.one_of(st.sampled_from(["1", "2", "8", "auto", "64", "3"]), small_int),
        "--pp": st.one_of(st.sampled_from(["1", "2", "4"]), small_int),
        "--ep": st.one_of(st.sampled_from(["1", "2", "8"]), small_int),
        "--speculative": st.one_of(st.sampled_from(["0", "1", "4", "64", "65"]), small_int),
        "--acceptance": st.one_of(st.sampled_from(["0", "0.7", "1", "1.5"]), hostile_text),
        "--draft": st.one_of(st.sampled_from(["llama-3.2-1b", "gpt-j-6b", "nope"]), hostile_text),
        "--runtime": st.one_of(st.sampled_from(["typical", "best-known", "ideal", "waferllm", "trtllm", "bogus",
                                                "runtimes/ideal.toml", "meshes/wse3.toml"]), hostile_text),
    }


@st.composite
def flags(draw, with_fidelity: bool = False) -> list[str]:
    values = _flag_values()
    names = draw(st.lists(st.sampled_from(sorted(values)), max_size=4, unique=True))
    out: list[str] = []
    for name in names:
        if name == "--fidelity" and not with_fidelity:
            continue
        out += [name, draw(values[name])]
    if draw(st.booleans()):
        out.append("--json")
    return out


def _spec_keys(spec, prefix: str = "") -> list[str]:
    keys = []
    for f in dataclasses.fields(spec):
        if not f.init:
            continue
        value = getattr(spec, f.name)
        if dataclasses.is_dataclass(value):
            keys += _spec_keys(value, f"{prefix}{f.name}.")
        else:
            keys.append(f"{prefix}{f.name}")
    return keys


SYSTEM_KEYS = sorted(set(_spec_keys(wafersim.load_system("wse3")) + _spec_keys(wafersim.load_system("dgx-h100"))))
MODEL_KEYS = _spec_keys(wafersim.load_model("llama-3.1-8b"))
# keys that only make runs slow without making them more hostile are kept small
SLOW_KEYS = {"interconnect.nodes", "interconnect.gpus_per_node", "mesh.cores_x", "mesh.cores_y"}

set_value = st.one_of(
    hostile_text,
    st.integers(min_value=-2**70, max_value=2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True).map(repr),
    st.sampled_from(['"48 KiB"', '"1.1 GHz"', '"3.35 TB/s"', '"0.25 pJ/bit"', '"700 W"', '"1e400 GHz"',
                     '"-5 KiB"', '"5 parsecs"', "0.5", "1.0", "2", "64", "1e-9", "1e30", "false",
                     "[]", "{}", "[[1]]", '"wafer"', '"gpu"', '"model"', "1979-05-27T07:32:00Z",
                     "07:32:00", '"' + "b" * 5000 + '"']),
)


@st.composite
def set_args(draw) -> list[str]:
    out = []
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        target = draw(st.sampled_from(["system", "model", "mapping", "runtime", "bogus", ""]))
        if target in ("system", "runtime"):
            key = draw(st.one_of(st.sampled_from(SYSTEM_KEYS), st.text(max_size=12)))
        elif target == "model":
            key = draw(st.one_of(st.sampled_from(MODEL_KEYS), st.text(max_size=12)))
        elif target == "mapping":
            key = draw(st.sampled_from(["placement", "cores", "region", "bogus", ""]))
        else:
            key = draw(st.text(max_size=12))
        value = draw(set_value)
        if key in SLOW_KEYS and draw(st.booleans()):
            value = draw(st.sampled_from(["1", "2", "4", "8", "16", "0", "-1", "1e9", "nan"]))
        sep = draw(st.sampled_from(["=", "=", "=", " = ", "", "=="]))
        out += ["--set", f"{target}.{key}{sep}{value}" if target else f"{key}{sep}{value}"]
    return out


# ---- the tests ------------------------------------------------------------------------

@_settings("cli")
@given(command=st.sampled_from(["run", "run", "run", "compare"]),
       system=st.one_of(st.sampled_from(SYSTEMS), hostile_text),
       model=st.one_of(st.sampled_from(MODELS), hostile_text),
       extra=flags())
def test_hostile_command_lines(command, system, model, extra):
    if command == "compare":
        run_cli(["compare", system, "dgx-h100", model, *extra])
    else:
        run_cli(["run", system, model, *extra])


@_settings("set")
@given(system=st.sampled_from(SYSTEMS), model=st.sampled_from(MODELS), sets=set_args(), extra=flags())
def test_hostile_set_values(system, model, sets, extra):
    run_cli(["run", system, model, *sets, *extra])


@_settings("out")
@given(kind=st.sampled_from(["plain", "dir", "missing_parent", "under_file", "long", "proc", "fifo", "existing",
                             "dotdot", "trailing_slash", "nul", "empty", "weird"]),
       name=st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="/\x00"),
                    min_size=1, max_size=30),
       extra=st.sampled_from([[], ["--json"], ["--set", "model.num_layers=nan"], ["--batch", "max"]]))
def test_hostile_output_paths(tmp_path_factory, kind, name, extra):
    folder = tmp_path_factory.mktemp("out")
    (folder / "file").write_text("x")
    target, expect = folder / "out.h5", None
    if kind == "plain":
        target = expect = folder / "out.h5"
    elif kind == "weird":
        target = expect = folder / (name if name not in (".", "..") else "dot")
    elif kind == "dir":
        target = folder
    elif kind == "missing_parent":
        target = folder / "a" / "b" / "out.h5"
    elif kind == "under_file":
        target = folder / "file" / "out.h5"
    elif kind == "long":
        target = folder / ("y" * 300 + ".h5")
    elif kind == "proc":
        target = Path("/proc/wafersim-fuzz.h5")
    elif kind == "fifo":
        target = folder / "fifo.h5"
        os.mkfifo(target)
    elif kind == "existing":
        target = expect = folder / "file"
    elif kind == "dotdot":
        target = folder / ".."
    args = ["run", "mini-wafer", str(DATA / "tiny-llama.toml"), *extra, "-o"]
    text = {"trailing_slash": str(folder) + "/", "nul": str(folder / "a\x00b"), "empty": ""}.get(kind, str(target))
    rc, _, _ = run_cli([*args, text], out_dir=folder, expect_file=expect)
    if kind in ("dir", "missing_parent", "under_file", "long", "proc", "fifo", "dotdot", "trailing_slash", "nul",
                "empty"):
        assert rc == 2, kind
    if kind == "missing_parent":
        assert not (folder / "a").exists()


def _numeric_fields(spec, prefix: str = "") -> dict[str, tuple[float, str]]:
    out = {}
    for f in dataclasses.fields(spec):
        if not f.init:
            continue
        value = getattr(spec, f.name)
        if dataclasses.is_dataclass(value):
            out.update(_numeric_fields(value, f"{prefix}{f.name}."))
        elif f.metadata.get("kind") in ("quantity", "number", "integer"):
            out[f"{prefix}{f.name}"] = (value, f.metadata["kind"])
    return out


_NUMERIC = {name: _numeric_fields(wafersim.load_system(name)) for name in SYSTEMS}
_MODEL_NUMERIC = _numeric_fields(wafersim.load_model("llama-3.1-8b"))


@st.composite
def scaled_sets(draw, system: str) -> list[str]:
    """Legitimate-looking values far from the preset's: each picked field scaled by 10**k."""
    out = []
    for target, table in (("system", _NUMERIC[system]), ("model", _MODEL_NUMERIC)):
        keys = draw(st.lists(st.sampled_from(sorted(table)), max_size=3, unique=True))
        for key in keys:
            value, kind = table[key]
            if key in SLOW_KEYS:
                new = draw(st.sampled_from([1, 2, 3, 4, 8]))
            elif kind == "integer":
                new = draw(st.one_of(st.integers(min_value=0, max_value=8),
                                     st.integers(min_value=0, max_value=max(1, int(value) * 4)),
                                     st.sampled_from([2**14, 2**16, 2**20, 2**31 - 1])))
            else:
                base = value if value else 1.0
                new = base * 10.0 ** draw(st.one_of(st.integers(min_value=-2, max_value=2),
                                                    st.integers(min_value=-9, max_value=9)))
                if draw(st.booleans()):
                    new = draw(st.sampled_from([0.0, 1.0, 0.999, 1e-6, value]))
            out += ["--set", f"{target}.{key}={new!r}"]
    return out


@st.composite
def valid_flags(draw, wafer: bool) -> list[str]:
    out = ["--batch", draw(st.sampled_from(["1", "2", "8", "max"])),
           "--prompt", draw(st.sampled_from(["16", "512", "2048"])),
           "--output", draw(st.sampled_from(["1", "16", "128"]))]
    if wafer:
        out += ["--wafers", draw(st.sampled_from(["1", "2", "auto"])),
                "--placement", draw(st.sampled_from(["pipelined", "sequential", "streaming"]))]
    else:
        out += ["--tp", draw(st.sampled_from(["1", "2", "auto"]))]
    if draw(st.booleans()):
        out += ["--dtype", draw(st.sampled_from(["bf16", "fp8", "int4"]))]
    return out


@_settings("scaled")
@given(data=st.data(), system=st.sampled_from(SYSTEMS), model=st.sampled_from(MODELS))
def test_scaled_preset_values(data, system, model):
    sets = data.draw(scaled_sets(system))
    extra = data.draw(valid_flags(wafersim.load_system(system).kind == "wafer"))
    run_cli(["run", system, model, *sets, *extra, "--json"])


_POW2 = st.integers(min_value=0, max_value=24).map(lambda k: str(2**k))


@_settings("big")
@given(system=st.sampled_from(["mini-wafer", "wse3", "dgx-h100", "pcie-8x-l40s"]),
       fidelity=st.sampled_from(["analytic", "analytic", "flow"]),
       batch=st.one_of(st.just("max"), _POW2), prompt=_POW2, output=st.integers(min_value=0, max_value=12),
       context=st.integers(min_value=12, max_value=24), kv_heads=st.sampled_from([1, 2, 4]),
       head_dim=st.integers(min_value=4, max_value=16), memory=st.integers(min_value=-3, max_value=14))
def test_big_jobs(system, fidelity, batch, prompt, output, context, kv_heads, head_dim, memory):
    """Jobs near every bound at once: batch, context, KV width and memory sizes in powers of two and ten."""
    wafer = wafersim.load_system(system).kind == "wafer"
    if fidelity == "flow" and system != "mini-wafer":
        fidelity = "analytic"
    mem_key = "system.core.sram_bytes" if wafer else "system.gpu.hbm_bytes"
    base = 48 * 1024 if wafer else 80e9
    run_cli(["run", system, str(DATA / "tiny-llama.toml"), "--fidelity", fidelity, "--batch", batch,
             "--prompt", prompt, "--output", str(2**output), "--set", f"model.max_context={2**context}",
             "--set", f"model.num_kv_heads={kv_heads}", "--set", f"model.head_dim={2**head_dim}",
             "--set", f"{mem_key}={base * 10.0**memory!r}", "--json"])


def test_flow_fidelity_on_small_wafer_with_hostile_sets(tmp_path):
    """The flow engine, on the small wafer only (a flow run on a WSE-3 takes seconds)."""
    @settings(max_examples=max(5, _examples("set") // 5), deadline=None, database=None,
              derandomize=DERANDOMIZE, suppress_health_check=list(HealthCheck))
    @given(sets=set_args(), extra=flags())
    def case(sets, extra):
        run_cli(["run", "mini-wafer", str(DATA / "tiny-llama.toml"), "--fidelity", "flow", *sets, *extra])
    case()


_PRESET_TEXT = {name: wafersim.presets.find_preset(name, "meshes").read_text() for name in ("wse3", "dgx-h100")}
_MODEL_TEXT = (DATA / "tiny-llama.toml").read_text()


@st.composite
def toml_files(draw) -> bytes:
    base = draw(st.sampled_from([*_PRESET_TEXT.values(), _MODEL_TEXT, 'base = "wse3"\n', 'base = "llama-3.1-8b"\n']))
    lines = base.splitlines()
    for _ in range(draw(st.integers(min_value=0, max_value=4))):
        action = draw(st.sampled_from(["drop", "replace", "insert", "duplicate"]))
        if not lines:
            break
        i = draw(st.integers(min_value=0, max_value=len(lines) - 1))
        if action == "drop":
            del lines[i]
        elif action == "replace" and "=" in lines[i]:
            key = lines[i].split("=", 1)[0]
            lines[i] = f"{key}= {draw(set_value)}"
        elif action == "insert":
            lines.insert(i, draw(st.sampled_from([
                "[core]", "[bogus]", "x = 1", "when = 1979-05-27", 'base = "wse3"', 'base = "dgx-h100"',
                'base = "nope"', 'base = "../../../../etc/passwd"', 'kind = "gpu"', 'kind = "model"',
                "a = " + "[" * 40 + "]" * 40, "a = " + "[" * 3000 + "]" * 3000, "a = {b = {c = {d = 1}}}",
                'name = "' + "n" * 10000 + '"'])))
        else:
            lines.insert(i, lines[i])
    data = "\n".join(lines).encode("utf-8")
    damage = draw(st.sampled_from(["none", "none", "bytes", "truncate", "latin1", "nul"]))
    if damage == "bytes":
        pos = draw(st.integers(min_value=0, max_value=max(len(data) - 1, 0)))
        data = data[:pos] + draw(st.binary(min_size=1, max_size=8)) + data[pos:]
    elif damage == "truncate":
        data = data[:draw(st.integers(min_value=0, max_value=len(data)))]
    elif damage == "latin1":
        data = data + "\n# caf\u00e9\n".encode("latin-1")
    elif damage == "nul":
        data = data + b"\x00"
    return data


@_settings("toml")
@given(content=toml_files(), as_model=st.booleans(), sets=st.one_of(st.just([]), set_args()))
def test_hostile_toml_files(tmp_path_factory, content, as_model, sets):
    folder = tmp_path_factory.mktemp("toml")
    path = folder / "hostile.toml"
    path.write_bytes(content)
    if as_model:
        run_cli(["run", "wse3", str(path), *sets])
    else:
        run_cli(["run", str(path), "llama-3.1-8b", *sets])


@pytest.fixture(scope="module")
def good_result(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("good") / "good.h5"
    assert main(["run", "mini-wafer", str(DATA / "tiny-llama.toml"), "--fidelity", "flow", "-o", str(path)]) == 0
    return path.read_bytes()


def _damage_with_h5py(path: Path, how: str, value) -> None:
    import h5py
    import numpy as np
    with h5py.File(path, "r+") as f:
        runs = f["runs"]
        run = runs[next(iter(runs))]
        if how == "attr":
            name = ["summary", "config", "notes", "system"][value % 4]
            bad = [b"\xff\xfe", "{", "[]", "null", '{"ttft_s": "x"}', '{"tpot_s": NaN}', 5, np.arange(3),
                   json.dumps({"system": 1}), json.dumps({**json.loads(run.attrs["summary"]), "tpot_s": -1}),
                   json.dumps({**json.loads(run.attrs["summary"]), "notes": [1]}),
                   json.dumps({"provenance": {"system": {"bases": 3}}}), "[" * 5000][value % 13]
            try:
                run.attrs[name] = bad
            except (TypeError, ValueError):
                run.attrs[name] = str(bad)
        elif how == "delete":
            victims = ["runs", "summary", f"runs/{run.name.rsplit('/', 1)[-1]}/component",
                       f"runs/{run.name.rsplit('/', 1)[-1]}/decode_components_s"]
            victim = victims[value % len(victims)]
            if victim in f:
                del f[victim]
        elif how == "format":
            f.attrs["format"] = ["nope", b"wafersim-results", 3, "wafersim-results"][value % 4]
            f.attrs["format-version"] = ["x", 99, -5, 2.5, np.arange(2)][value % 5]
        elif how == "retype":
            name = [k for k in run if k not in ("component",)][value % max(1, len(run) - 1)]
            del run[name]
            run.create_dataset(name, data="not numbers")
        elif how == "runs_dataset":
            del f["runs"]
            f.create_dataset("runs", data=np.arange(4))


def _damaged_bytes(data: bytes, how: str, value: int) -> bytes:
    """A file's bytes cut short, with one byte flipped, or none (else as they are)."""
    if how == "truncate":
        return data[:value % len(data)]
    if how == "flip":
        pos = value % len(data)
        return data[:pos] + bytes([data[pos] ^ 0xFF]) + data[pos + 1:]
    return b"" if how == "empty" else data


@_settings("hdf5")
@given(how=st.sampled_from(["truncate", "flip", "attr", "delete", "format", "retype", "runs_dataset", "empty"]),
       value=st.integers(min_value=0, max_value=10**6), command=st.sampled_from(["show", "read_run"]))
def test_damaged_results_files(tmp_path_factory, good_result, how, value, command):
    folder = tmp_path_factory.mktemp("h5")
    path = folder / "damaged.h5"
    path.write_bytes(_damaged_bytes(good_result, how, value))
    if how in ("attr", "delete", "format", "retype", "runs_dataset"):
        _damage_with_h5py(path, how, value)
        if value % 2:                 # signed again: the checks behind the checksum see the damage
            from wafersim.results.integrity import stamp
            stamp(path)
    if command == "show":
        run_cli(["show", str(path)])
    else:
        STATS["cases"] = STATS.get("cases", 0) + 1
        with _bounded():
            try:
                run = wafersim.read_run(path)
            except WafersimError:
                return
            _check_numbers(dict(run.summary), "read_run")


@_settings("api")
@given(system=st.one_of(st.sampled_from(["wse3", "dgx-h100"]), st.none(), st.integers(), st.just([]),
                        st.just(wafersim.load_model("llama-3.1-8b"))),
       model=st.one_of(st.just("llama-3.1-8b"), st.none(), st.integers(), st.text(max_size=5)),
       mapping=st.one_of(st.none(), st.just(5), st.just({"placement": "bogus"}), st.just({1: 2}),
                         st.just({"cores": "1x1176"}), st.just("pipelined")),
       scenario=st.dictionaries(st.sampled_from(["batch", "prompt_tokens", "output_tokens", "dtype", "wafers",
                                                 "tp", "pp", "ep", "layers", "fidelity", "bogus"]),
                                st.one_of(st.integers(min_value=-2**70, max_value=2**70), st.floats(),
                                          st.sampled_from(["max", "auto", "flow", "analytic", "bf16"]),
                                          st.none(), st.just([1])), max_size=3))
def test_hostile_api_calls(system, model, mapping, scenario):
    STATS["cases"] = STATS.get("cases", 0) + 1
    with _bounded():
        try:
            result = wafersim.simulate(system, model, mapping=mapping, **scenario)
        except WafersimError:
            return
    _check_numbers(dict(result.summary), "simulate")


def _noc_values():
    return {
        "--mesh": st.one_of(st.sampled_from(["2x2", "4x4", "3x5", "8x8", "0x0", "8", "", "\uff18x\uff18", "1x1"]),
                            hostile_text),
        "--rates": st.one_of(st.sampled_from(["0.1", "0.05,0.3", ",", "0", "1e-300", "4", "5", "0.1,nan"]),
                             hostile_text),
        "--cycles": st.one_of(st.sampled_from(["50", "200", "0"]), small_int),
        "--warmup": st.one_of(st.sampled_from(["0", "10", "300"]), small_int),
        "--vcs": st.one_of(st.sampled_from(["1", "2", "16", "17", "-1"]), small_int),
        "--buffer": st.one_of(st.sampled_from(["1", "8", "1025"]), small_int),
        "--packet": st.one_of(st.sampled_from(["1", "4", "16"]), small_int),
        "--seed": st.one_of(st.sampled_from(["0", "-1", "9223372036854775808"]), small_int),
        "--pattern": st.sampled_from(["uniform", "transpose", "bit_complement", "hotspot", "neighbour", "zigzag"]),
        "--system": st.one_of(st.sampled_from(["mini-wafer", "wse3", "dgx-h100", "nope"]), hostile_text),
    }


@_settings("noc")
@given(data=st.data())
def test_hostile_noc_sweep_flags(data, monkeypatch_module):
    """Every flag of noc-sweep, hostile or not; the work bound is lowered to about a second
    so that a legal but long sweep is refused (as it would be above the real bound)."""
    values = _noc_values()
    names = data.draw(st.lists(st.sampled_from(sorted(values)), max_size=4, unique=True))
    args = ["noc-sweep", "--cycles", "100", "--rates", "0.1"]
    for name in names:
        args += [name, data.draw(values[name])]
    run_cli(args)


@pytest.fixture(scope="module")
def monkeypatch_module():
    from wafersim.engines import cost
    mp = pytest.MonkeyPatch()
    mp.setattr(cost, "WORK_MAX", 2e6)
    yield mp
    mp.undo()


_SPEC_VALUES = st.one_of(st.sampled_from(['"wse3"', '"dgx-h100"', '["wse3", 5]', "[1, 2]", "[3]", "[100000]",
                                          "{ start = 1, stop = 4, step = 1 }", "{ start = 1, stop = 1e9, step = 1 }",
                                          "{ zip = { prompt = [1, 2], output = [3] } }", "1" * 5000, "[]", "true",
                                          '"1e400 B"', "[-1]", "nan"]),
                         hostile_text.map(lambda t: json.dumps(t)))


@_settings("spec")
@given(top=st.sampled_from(["system", "model", "description", "bogus"]),
       key=st.sampled_from(["batch", "tp", "gpus", "prompt", "prompt_tokens", "system", "model", "wafers",
                            "mapping.cores", "system.core.sram_bytes", "fidelity", "bogus"]),
       section=st.sampled_from(["axes", "scenario", "set"]), value=_SPEC_VALUES, top_value=_SPEC_VALUES)
def test_hostile_sweep_specs_under_check(tmp_path_factory, top, key, section, value, top_value):
    folder = tmp_path_factory.mktemp("spec")
    text = f'system = "dgx-h100"\nmodel = "llama-3.1-8b"\n{top} = {top_value}\n[{section}]\n"{key}" = {value}\n'
    spec = folder / "s.toml"
    spec.write_text(text)
    run_cli(["sweep", str(spec), "--check", "-o", str(folder / "s.h5")], out_dir=folder, expect_file=None)


@_settings("explore")
@given(axis=st.sampled_from(["tp=3", "tp=1,2", "batch=1:4:x2", "mapping.cores=16x16", "bogus=1", "batch=", "tp=0"]),
       rule=st.sampled_from(["ttft_s<=-1", "ttft_s<=2 s", "devices<=0", "power_w>=1e30", "nope<=1", "fits_on_chip"]),
       basis=st.sampled_from(["fit", "equal-cost", "equal-power", "equal-devices"]),
       system=st.sampled_from(["dgx-h100", "mini-wafer", "pcie-8x-l40s"]))
def test_hostile_explore_and_compare_bases(axis, rule, basis, system):
    run_cli(["explore", system, "llama-3.1-8b", "--axis", axis, "--constraint", rule, "--budget", "4", "--json"])
    run_cli(["compare", system, "dgx-h100", "llama-3.1-8b", "--basis", basis, "--layers", "1", "--json"])


@pytest.fixture(scope="module")
def good_collection(tmp_path_factory) -> Path:
    from wafersim.sweep.run import run_sweep
    from wafersim.sweep.spec import parse_spec
    path = tmp_path_factory.mktemp("good") / "sweep.h5"
    run_sweep(parse_spec('system = "dgx-h100"\nmodel = "llama-3.1-8b"\n[axes]\nbatch = [1, 2]\n', "s.toml"), path,
              jobs=1)
    return path


@_settings("collection")
@given(how=st.sampled_from(["truncate", "flip", "version", "nan", "delete", "empty"]),
       value=st.integers(min_value=0, max_value=10**6), resign=st.booleans(),
       reader=st.sampled_from(["show", "read_collection", "open_dataset", "summary_digest"]))
def test_damaged_collections_through_every_reader(tmp_path_factory, good_collection, how, value, resign, reader):
    """A sweep collection damaged or edited is a WafersimError in every reader, never a raw
    h5py or xarray error; an edit signed again is read or refused on what it holds."""
    import h5py
    import numpy as np
    folder = tmp_path_factory.mktemp("coll")
    path = folder / "damaged.h5"
    path.write_bytes(_damaged_bytes(good_collection.read_bytes(), how, value))
    if how in ("version", "nan", "delete"):
        with h5py.File(path, "r+") as f:
            if how == "version":
                f.attrs["format-version"] = [99, "x", -1][value % 3]
            elif how == "nan":
                ds = f["summary"][sorted(f["summary"])[value % len(f["summary"])]]
                if ds.dtype.kind == "f":
                    ds[...] = np.nan
            elif "summary" in f:
                del f["summary"]
        if resign:
            from wafersim.results.integrity import stamp
            stamp(path)
    if reader == "show":
        run_cli(["show", str(path)])
        return
    from wafersim import sweep
    STATS["cases"] = STATS.get("cases", 0) + 1
    with _bounded():
        try:
            getattr(sweep, reader)(path)
        except WafersimError:
            pass
        except ImportError:
            pytest.skip("xarray is not installed")


def test_specs_cannot_be_replaced_into_invalid_ones():
    from wafersim.config import ConfigError
    system = wafersim.load_system("wse3")
    for field, value in (("sram_bytes", float("nan")), ("sram_bytes", -1.0), ("clock_hz", 2.0**80),
                         ("flops_per_cycle_16bit", 1e-320), ("reserved_sram_fraction", 0.99)):
        with pytest.raises(ConfigError):
            dataclasses.replace(system.core, **{field: value})
    with pytest.raises(ConfigError):
        dataclasses.replace(system, core="not a core")
    with pytest.raises(ConfigError):
        wafersim.MappingOptions(placement="bogus")
    model = wafersim.load_model("llama-3.1-8b")
    with pytest.raises(ConfigError):
        dataclasses.replace(model, head_dim=10**12)
    assert dataclasses.replace(model, num_layers=2).num_layers == 2

