"""``wafersim sweep`` on the command line, and ``-o`` refusing to replace a file without --force."""

from __future__ import annotations

import subprocess
import sys

import pytest

from wafersim.cli import main
from wafersim.sweep import read_collection

from .helpers import ROOT, SMALL


@pytest.fixture
def spec(tmp_path):
    path = tmp_path / "small.toml"
    path.write_text(SMALL)
    return path


def test_sweep_writes_refuses_then_forces(spec, tmp_path, capsys):
    out = tmp_path / "s.h5"
    assert main(["sweep", str(spec), "-o", str(out), "-j", "1"]) == 0
    printed = capsys.readouterr().out
    assert "12 points (system.core.sram_bytes 3 x wafers 4): 12 ran, 3 failed" in printed
    assert read_collection(out).attrs["points"] == 12
    assert main(["sweep", str(spec), "-o", str(out), "-j", "1"]) == 2
    assert "exists; --force to replace it" in capsys.readouterr().err
    assert main(["sweep", str(spec), "-o", str(out), "-j", "1", "--force"]) == 0
    assert main(["sweep", str(spec), "-o", str(out), "--resume"]) == 0
    assert "0 ran, 12 already done" in capsys.readouterr().out


def test_check_runs_nothing(spec, tmp_path, capsys):
    assert main(["sweep", str(spec), "-o", str(tmp_path / "s.h5"), "--check"]) == 0
    assert "12 points" in capsys.readouterr().out and not (tmp_path / "s.h5").exists()


def test_invalid_spec_is_one_error_line(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text(SMALL.replace('"64 KiB"', '"lots"'))
    assert main(["sweep", str(bad), "-o", str(tmp_path / "s.h5")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"wafersim: error: {bad}, axis 'system.core.sram_bytes' = 'lots'")
    assert not (tmp_path / "s.h5").exists()


def test_help_describes_the_spec():
    out = subprocess.run([sys.executable, "-m", "wafersim", "sweep", "--help"], capture_output=True, text=True,
                         cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0
    for word in ("--resume", "--scheduler", "[axes]", "zip", "factor", "journal"):
        assert word in out.stdout


@pytest.mark.parametrize("argv", [["run", "mini-wafer", "llama-3.1-8b", "--layers", "1"],
                                  ["compare", "mini-wafer", "dgx-h100", "llama-3.1-8b", "--layers", "1"],
                                  ["noc-sweep", "--mesh", "4x4", "--rates", "0.1", "--cycles", "200",
                                   "--warmup", "50"]])
def test_o_refuses_an_existing_file_unless_force(argv, tmp_path, capsys):
    out = tmp_path / "r.h5"
    out.write_bytes(b"precious")
    assert main([*argv, "-o", str(out)]) == 2
    assert "exists; pass --force to replace it" in capsys.readouterr().err
    assert out.read_bytes() == b"precious"
    if argv[0] != "noc-sweep":            # (its --force run would compile the cycle kernels: slow, and not the point)
        assert main([*argv, "-o", str(out), "--force"]) == 0
        assert out.read_bytes() != b"precious"


BLOCK = "import sys\nfor m in ('xarray', 'dask', 'distributed', 'pandas', 'h5netcdf'):\n    sys.modules[m] = None\n"


def test_run_and_sweep_work_without_the_optional_packages(spec, tmp_path):
    """The sweep extras (xarray, pandas, h5netcdf, dask) are optional: writing a collection needs
    h5py only, and asking for Dask without it is a clear error."""
    code = BLOCK + (f"from wafersim.cli import main\n"
                    f"assert main(['run', 'mini-wafer', 'llama-3.1-8b', '--layers', '1']) == 0\n"
                    f"assert main(['sweep', {str(spec)!r}, '-o', {str(tmp_path / 'a.h5')!r}, '-j', '1']) == 0\n"
                    f"assert main(['sweep', {str(spec)!r}, '-o', {str(tmp_path / 'b.h5')!r}, "
                    f"'--scheduler', 'local']) == 2\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert "needs dask and distributed; install them with: pip install 'dask[distributed]' (or pip install -e '.[dask]'" in out.stderr
    assert (tmp_path / "a.h5").is_file() and sorted(p.name for p in tmp_path.iterdir()) == ["a.h5", "small.toml"]


@pytest.mark.slow
def test_readme_sweep_commands_run(tmp_path, monkeypatch, capsys):
    """The README's `wafersim sweep` lines, run as written (outputs in a temporary folder)."""
    import re
    import shlex
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Sweeps", 1)[1].split("\n## ", 1)[0]
    lines = [ln.split("#")[0].strip() for block in re.findall(r"```bash\n(.*?)```", section, re.S)
             for ln in block.splitlines()]
    sweeps = [shlex.split(ln) for ln in lines if ln.startswith("wafersim sweep")]
    assert len(sweeps) >= 3
    monkeypatch.chdir(ROOT)
    for argv in sweeps:
        argv[argv.index("-o") + 1] = str(tmp_path / argv[argv.index("-o") + 1])
        assert main(argv[1:]) == 0, argv
    assert "results written to" in capsys.readouterr().out
    plots = [shlex.split(ln) for ln in lines if ln.startswith("python tools/plot_sweep.py")]
    if plots:
        from ..plotting import load_tool, need_matplotlib
        need_matplotlib()
        tool = load_tool("plot_sweep")
        for argv in plots:
            argv[2] = str(tmp_path / argv[2])
            assert tool.main([*argv[2:], "-o", str(tmp_path / "p.png")]) == 0


def test_show_on_a_sweep_summarises_it_and_says_how_to_open_it(spec, tmp_path, capsys):
    out = tmp_path / "s.h5"
    assert main(["sweep", str(spec), "-o", str(out), "-j", "1", "--no-arrays"]) == 0
    capsys.readouterr()
    assert main(["show", str(out)]) == 0
    text = capsys.readouterr().out
    assert "12 points (system.core.sram_bytes 3 x wafers 4): 9 ran, 3 failed" in text
    assert "system.core.sram_bytes [B]: 32768, 49152, 65536" in text and "wafers: 1, 2, 4, 8" in text
    assert "group='summary'" in text and "failed, e.g.: " in text
