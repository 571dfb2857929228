"""Flag types, flag groups and the handling of ``--set``, ``-o`` and ``--json`` that the
``wafersim`` subcommands share (``run``, ``compare``, ``validate``, ``noc-sweep``, ``explore``)."""

from __future__ import annotations

import argparse
import json
from typing import Any, Sequence

from .atomic import check_output_path
from .config import ConfigError, InputError, parse_override
from .engines import registry as engines
from .nearest import nearest
from .workload.scenario import MAXIMUM

__all__ = ["FLAG_MAX", "int_in", "int_or", "mesh_size", "float_list", "positive", "non_negative", "probability", "rate", "float_in", "workload_args", "speculative_args",
           "split_sets", "typed", "check_out", "dumps"]

#: Largest integer a flag takes; the scenario sets tighter bounds per key (workload.scenario.MAXIMUM).
FLAG_MAX = 2**31 - 1
#: most requests per second --request-rate takes: the scenario's own limit
REQUEST_RATE_MAX = MAXIMUM["request_rate"]


def int_in(low: int, high: int, expected: str, word: str | None = None):
    """An argparse type: an integer from ``low`` to ``high`` written in ASCII digits, or
    ``word`` when one is given; ``expected`` names it in the error."""
    def parse(text: str) -> int | str:
        if word is not None and text == word:
            return word
        try:
            if not text.isascii():
                raise ValueError
            value = int(text) if len(text) <= 20 else 2**63
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text[:40]!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text[:40]!r}")
        if value > high:
            raise argparse.ArgumentTypeError(f"expected {expected}; {text[:40]!r} is above {high}")
        return value
    parse.__name__ = expected
    return parse


def int_or(word: str | None):
    """An argparse type: a positive integer, or ``word`` when one is given."""
    return int_in(1, FLAG_MAX, "a positive integer" + (f" or '{word}'" if word else ""), word)


positive = int_or(None)


def non_negative(text: str) -> int:
    """An argparse type: 0 or a positive integer."""
    return 0 if text.strip() == "0" else positive(text)


non_negative.__name__ = "a non-negative integer"


def float_in(low: float, high: float, expected: str):
    """An argparse type: a number from ``low`` to ``high``; ``expected`` names it in the error."""
    def parse(text: str) -> float:
        try:
            value = float(text) if len(text) <= 40 else float("nan")
        except ValueError:
            value = float("nan")
        if not low <= value <= high:        # NaN fails too
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text[:40]!r}")
        return value
    parse.__name__ = expected
    return parse


probability = float_in(0.0, 1.0, "a probability from 0 to 1")
rate = float_in(0.0, REQUEST_RATE_MAX, f"requests per second, 0 to {REQUEST_RATE_MAX:g}")


def mesh_size(text: str) -> tuple[int, int]:
    """An argparse type: ROWSxCOLS, read as ``--cores`` is (:func:`~wafersim.mapping.options.parse_cores`)."""
    from .mapping.options import parse_cores
    try:
        rows, cols = parse_cores(text) if text not in ("", "all") else (0, 0)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None
    if rows < 1:
        raise argparse.ArgumentTypeError(f"expected ROWSxCOLS such as '16x16'; got {text[:40]!r}")
    return rows, cols


mesh_size.__name__ = "ROWSxCOLS"


def float_list(low: float, high: float, expected: str, most: int):
    """An argparse type: comma-separated numbers, each from ``low`` to ``high``, at least one
    and at most ``most``."""
    one = float_in(low, high, expected)

    def parse(text: str) -> list[float]:
        items = [t.strip() for t in text.split(",", most)]
        if len(items) > most:
            raise argparse.ArgumentTypeError(f"expected at most {most} comma-separated values")
        if not all(items):
            raise argparse.ArgumentTypeError(f"expected comma-separated values, each {expected}; got {text[:40]!r}")
        return [one(t) for t in items]
    parse.__name__ = f"comma-separated values, each {expected}"
    return parse


def workload_args(g: argparse._ArgumentGroup, fidelity_help: str) -> None:
    """``--prompt``, ``--output``, ``--dtype``, ``--kv-dtype``, ``--layers`` and ``--fidelity``."""
    g.add_argument("--prompt", type=positive, default=2048, help="prompt tokens per sequence (default 2048)")
    g.add_argument("--output", type=positive, default=128, help="generated tokens per sequence (default 128)")
    g.add_argument("--dtype", default=None, help="weight format of every tensor group: bf16, fp16, fp8, int8, int4, "
                   "nvfp4, mxfp4, fp8_b128 (default: the model's checkpoint formats)")
    g.add_argument("--kv-dtype", default=None, help="KV-cache format (default: same as --dtype)")
    g.add_argument("--layers", type=positive, default=None, help="simulate only the first N decoder layers")
    g.add_argument("--fidelity", choices=engines.fidelities(), default="analytic", help=fidelity_help)
    g.add_argument("--request-rate", type=rate, default=0.0, metavar="R",
                   help="requests arriving per second while the batch decodes: each one's prefill stalls the decode "
                        "(online serving under load; default 0: a static batch)")


def precision_args(g: argparse._ArgumentGroup, compare: bool = False) -> None:
    """``--precision`` (and, in ``compare``, ``--precision-a``/``--precision-b``)."""
    from .workload.precision import NAMED
    g.add_argument("--precision", default=None, metavar="P",
                   help=f"weights, matmuls and KV cache: {', '.join(NAMED)} (fp4 = nvfp4; 4-bit formats keep an fp8 "
                        "KV cache) or W/C/KV, e.g. mxfp4/bf16/bf16; a format the hardware cannot multiply in is "
                        "refused" + ("; both sides (default: the model's weights with 16-bit matmuls on both)"
                                     if compare else " (default: the model's weights, multiplied in their own format "
                                                     "where the hardware has it, else bf16)"))
    if compare:
        for side in ("a", "b"):
            g.add_argument(f"--precision-{side}", default=None, metavar="P",
                           help=f"precision of side {side.upper()} alone (breaks parity, and says so)")


def precision_keys(ns: argparse.Namespace, side: str | None = None) -> dict[str, str]:
    """Scenario keys of ``--precision`` (of one side in ``compare``); {} when none is given.
    Refuses it beside ``--dtype``/``--kv-dtype``."""
    from .workload.precision import parse_precision
    flag, text = "precision", getattr(ns, "precision", None)
    if side and getattr(ns, f"precision_{side}", None):
        flag, text = f"precision-{side}", getattr(ns, f"precision_{side}")
    if text is None:
        return {}
    if ns.dtype or ns.kv_dtype:
        raise ConfigError("command line", flag, "sets the weight and KV formats itself; give --precision or "
                                                "--dtype/--kv-dtype, not both")
    try:
        return parse_precision(text)
    except ValueError as exc:
        raise ConfigError("command line", flag, str(exc)) from None


def speculative_args(g: argparse._ArgumentGroup) -> None:
    """``--speculative``, ``--acceptance`` and ``--draft``."""
    g.add_argument("--speculative", type=non_negative, default=0, metavar="K",
                   help="tokens a draft proposes per decode step, verified by the model in one pass (default 0: off)")
    g.add_argument("--acceptance", type=probability, default=None, metavar="A",
                   help="probability that a proposed token is accepted, 0 to 1 (needed with --speculative)")
    g.add_argument("--draft", default=None, metavar="MODEL",
                   help="draft model preset or path (default: self-speculation, the model proposes in its own pass)")


#: ``--set`` targets besides the system's, on both sides of ``compare`` or on one
TARGETS = ("model", "mapping", "runtime")
#: ``--set`` shorthands: ``deployment.KEY`` is ``system.deployment.KEY`` (power and price)
SHORTHANDS = {"deployment": ("system", "deployment.")}


def _target(key: str, heads: Sequence[str], sides: Sequence[str]) -> tuple[str, str]:
    """The target of a ``--set`` key and the key within it.  A side (``a.``/``b.``) takes every
    form the command takes without one: ``a.system.K``, ``a.model.K``, ``a.mapping.K``,
    ``a.runtime.K``, ``a.deployment.K``, and ``a.K`` for a system key; its targets are
    ``a`` (its system), ``a.model``, ``a.mapping`` and ``a.runtime``."""
    head, _, rest = key.partition(".")
    if head in sides and rest:
        sub, _, inner = rest.partition(".")
        if sub == "system" and inner:
            return head, inner
        if sub in TARGETS and inner:
            return f"{head}.{sub}", inner
        return head, rest
    if head in SHORTHANDS and rest and "system" in heads:
        target, prefix = SHORTHANDS[head]
        return target, prefix + rest
    if head in heads and rest:
        return head, rest
    forms = [*heads, *(h for h in SHORTHANDS if "system" in heads), *sides]
    allowed = ", ".join(f"{s}.<key>" for s in forms)
    near = [] if head in forms else nearest(head, forms)
    hint = f"did you mean {' or '.join(f'{f}.{rest}' for f in near)}?" if near and rest else ""
    raise ConfigError("--set", key, f"{hint + ' ' if hint else ''}expected one of {allowed}"
                      + (f" ({'/'.join(sides)}.<any of these> for one side)" if sides else ""))


def split_sets(items: Sequence[str], sides: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``--set`` overrides by target (each of ``sides``, then ``model``, ``mapping`` and
    ``runtime``; for a side ``a`` of ``compare`` also ``a.model``, ``a.mapping`` and
    ``a.runtime``, see :func:`_target`); ``out["typed"]`` maps each (target, key) to what
    the user typed."""
    one_side = [s for s in sides if s != "system"]
    heads = [*(s for s in sides if s == "system"), *TARGETS]
    out: dict[str, dict[str, Any]] = {s: {} for s in (*sides, *TARGETS)}
    out.update({f"{s}.{t}": {} for s in one_side for t in TARGETS})
    typed: dict[tuple[str, str], str] = {}
    for item in items:
        key, value = parse_override(item)
        head, rest = _target(key, heads, one_side)
        out[head][rest] = value
        typed[(head, rest)] = item
    out["typed"] = typed
    return out


def typed(sets: dict, *heads: str) -> dict[str, str]:
    """What the user typed for each key of the targets ``heads`` of :func:`split_sets`."""
    return {rest: text for (head, rest), text in sets["typed"].items() if head in heads}


def check_out(ns: argparse.Namespace) -> None:
    """Check ``-o`` (and ``--force``) before any simulation runs."""
    if getattr(ns, "out", None) is not None:
        check_output_path(ns.out, overwrite=ns.force)


def dumps(obj: object) -> str:
    """Strict JSON (no NaN or Infinity, which strict parsers reject)."""
    try:
        return json.dumps(obj, indent=2, allow_nan=False)
    except ValueError:
        raise InputError("the result holds a number that is not finite; refusing to print it as JSON") from None
