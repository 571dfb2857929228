"""Flag types and flag groups the ``wafersim`` subcommands share (``run``, ``compare``, ``explore``)."""

from __future__ import annotations

import argparse

from .engines import registry as engines

__all__ = ["FLAG_MAX", "int_or", "positive", "workload_args"]

#: Largest integer a flag takes; the scenario sets tighter bounds per key (workload.scenario.MAXIMUM).
FLAG_MAX = 2**31 - 1


def int_or(word: str | None):
    """An argparse type: a positive integer, or ``word`` when one is given."""
    expected = "a positive integer" + (f" or '{word}'" if word else "")

    def parse(text: str) -> int | str:
        if word is not None and text == word:
            return word
        try:
            value = int(text) if len(text) <= 20 else 2**63
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text[:40]!r}") from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text[:40]!r}")
        if value > FLAG_MAX:
            raise argparse.ArgumentTypeError(f"expected {expected}; {text[:40]!r} is above {FLAG_MAX}")
        return value
    parse.__name__ = expected
    return parse


positive = int_or(None)


def workload_args(g: argparse._ArgumentGroup, fidelity_help: str) -> None:
    """``--prompt``, ``--output``, ``--dtype``, ``--kv-dtype``, ``--layers`` and ``--fidelity``."""
    g.add_argument("--prompt", type=positive, default=2048, help="prompt tokens per sequence (default 2048)")
    g.add_argument("--output", type=positive, default=128, help="generated tokens per sequence (default 128)")
    g.add_argument("--dtype", default=None, help="weight format: bf16, fp16, fp8, int8, int4 (default: the model's)")
    g.add_argument("--kv-dtype", default=None, help="KV-cache format (default: same as --dtype)")
    g.add_argument("--layers", type=positive, default=None, help="simulate only the first N decoder layers")
    g.add_argument("--fidelity", choices=engines.fidelities(), default="analytic", help=fidelity_help)
