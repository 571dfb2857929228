"""The command line called in-process, as the bad-input tests call it."""

from __future__ import annotations

import contextlib
import io

from wafersim.cli import main


def cli(*args: str) -> tuple[int, str, str]:
    """Exit status, standard output and standard error of ``wafersim ARGS``."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(list(args))
        except SystemExit as exc:
            rc = exc.code
    return rc, out.getvalue(), err.getvalue()


def refused(*args: str, match: str = "") -> str:
    """Standard error of ``wafersim ARGS``, which must be refused as bad input: status 2, one
    error line, no traceback and no internal error; ``match`` must appear in it."""
    rc, _, err = cli(*args)
    assert rc == 2, (args, rc, err)
    lines = err.strip().splitlines()
    assert lines and "error" in lines[-1] and "Traceback" not in err and "internal" not in err, err
    assert match in err, err
    return err
