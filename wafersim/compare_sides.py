"""The two sides of ``compare``: what each one runs with, and names that tell them apart.

``--set KEY=V`` reaches both sides; ``--set a.KEY=V`` / ``b.KEY=V`` one side, with
the same keys (``a.system.K``, ``a.model.K``, ``a.mapping.K``, ``a.runtime.K``,
``a.deployment.K``, and ``a.K`` for a system key, see
:func:`wafersim.cli_args.split_sets`).  A side with overrides of its own is
labelled with them, so two sides of one preset are told apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .cli_args import TARGETS, precision_keys, typed
from .config import ConfigError
from .presets import _check_setting, load_model, load_system

__all__ = ["Side", "sides", "labels", "named", "compare_json", "side_precision", "parity"]

#: the two sides, as ``--set`` names them
SIDES = ("a", "b")


@dataclass(frozen=True)
class Side:
    """One side of a comparison: its preset as typed, the overrides it runs with (those of
    both sides, then its own), its model, and its own overrides as ``target.key=value``."""
    key: str
    system: str
    system_sets: dict[str, Any]
    system_typed: dict[str, str]
    model: Any
    mapping_sets: dict[str, Any]
    runtime_sets: dict[str, Any]
    changed: tuple[str, ...] = field(default=())


def _own(sets: dict, key: str) -> list[str]:
    """A side's own overrides, as ``system.core.sram_bytes=96 KiB``: the target, the key and
    the value as typed."""
    out = []
    for (head, rest), text in sets["typed"].items():
        side, _, target = head.partition(".")
        if side == key:
            out.append(f"{target or 'system'}.{rest}={text.partition('=')[2].strip()}")
    return out


def sides(ns: Any, sets: dict, model: Any) -> dict[str, Side]:
    """Side ``a`` (``ns.system_a``) and side ``b`` (``ns.system_b``); ``model`` is the model both
    sides share (with ``--set model.*``), loaded again for a side with ``a.model.*`` of its own."""
    out = {}
    for key, name in zip(SIDES, (ns.system_a, ns.system_b)):
        own_model = sets[f"{key}.model"]
        side_model = model if not own_model else load_model(
            ns.model, {**sets["model"], **own_model}, origin=typed(sets, "model", f"{key}.model"))
        side = Side(key=key, system=name, system_sets={**sets["system"], **sets[key]},
                    system_typed=typed(sets, "system", key), model=side_model,
                    mapping_sets={**sets["mapping"], **sets[f"{key}.mapping"]},
                    runtime_sets={**sets["runtime"], **sets[f"{key}.runtime"]}, changed=tuple(_own(sets, key)))
        _check_own(side, sets)
        out[key] = side
    return out


def _check_own(side: Side, sets: dict) -> None:
    """A side's own mapping and runtime keys must fit its kind of system (those of both
    sides reach only the side they fit)."""
    mapping, runtime = sets[f"{side.key}.mapping"], sets[f"{side.key}.runtime"]
    if not mapping and not runtime:
        return
    kind = load_system(side.system, side.system_sets, origin=side.system_typed).kind
    if mapping and kind != "wafer":
        first = next(iter(mapping))
        raise ConfigError(f"--set {sets['typed'][(f'{side.key}.mapping', first)]}", f"mapping.{first}",
                          f"mapping keys place layers on wafers; side {side.key.upper()} ({side.system}) "
                          "is a GPU system")
    for k in runtime:
        _check_setting(f"--set {sets['typed'][(f'{side.key}.runtime', k)]}", kind, k)


def labels(a: Side, b: Side, name_a: str, name_b: str) -> tuple[str, str]:
    """Names that tell the two sides apart: the system names, else what was typed (a preset
    and a copy of it under another file name), else A / B; a side with overrides of its own
    adds them (``wse3 (changed: system.core.sram_bytes=96 KiB)``)."""
    if name_a != name_b:
        la, lb = name_a, name_b
    elif a.system != b.system:
        la, lb = a.system, b.system
    else:
        la, lb = f"A ({name_a})", f"B ({name_b})"
    return _changed(la, a), _changed(lb, b)


def named(side: Side) -> str:
    """The side as typed, with its own overrides: the title line of ``compare``."""
    return _changed(side.system, side)


def _changed(label: str, side: Side) -> str:
    return f"{label} (changed: {', '.join(side.changed)})" if side.changed else label


def side_precision(ns: Any, key: str, model: Any) -> dict[str, str]:
    """Scenario keys of side ``key``'s precision: its ``--precision-a``/``-b``, else ``--precision``,
    else the parity rule's default, the model's weights (or ``--dtype``) multiplied in 16 bits on
    both sides (:data:`wafersim.workload.precision.PARITY_RULE`)."""
    from .workload.precision import sixteen_bit
    return precision_keys(ns, key) or {"compute_dtype": sixteen_bit(model.dtype)}


def parity(ns: Any, pa: str, pb: str) -> dict[str, Any]:
    """The parity rule, whether the sides meet it, and the line ``compare`` prints."""
    from .workload.precision import PARITY_RULE
    same = pa == pb
    if same:
        line = f"precision: {pa} on both sides (parity: {PARITY_RULE})"
    else:
        why = ("as asked (--precision-a/--precision-b)" if ns.precision_a or ns.precision_b
               else "the sides store the model differently")
        line = f"precision: A {pa}; B {pb}; not at parity, {why}"
    return {"rule": PARITY_RULE, "parity": same, "a": pa, "b": pb, "text": line}


#: the figures ``compare --json`` divides, A over B (of the deployments compared: totals for all copies)
RATIO_KEYS = ("ttft_s", "tpot_s", "tokens_per_s_per_user", "tokens_per_s", "energy_per_token_j", "wall_energy_per_token_j",
              "tokens_per_s_per_device", "tokens_per_s_per_kw", "usd_per_million_tokens", "power_w", "cost_usd")


def compare_json(ra: Any, rb: Any, sa: dict[str, Any], sb: dict[str, Any], basis: str, names: tuple[str, str],
                 both: dict[str, Side], runtimes: dict[str, str], runtime_text: str) -> dict[str, Any]:
    """``compare --json``: each side's run (one copy, its notes saying how many), the totals of
    the deployments compared (``sa``, ``sb``: :func:`wafersim.headtohead.with_replicas`), the
    sides' labels and own overrides, and the ratios A/B of the deployments compared."""
    return {"a": ra.to_json(), "b": rb.to_json(), "basis": basis,
            "replicas": {"a": sa["replicas"], "b": sb["replicas"]},
            "totals": {"a": sa, "b": sb},
            "labels": {"a": names[0], "b": names[1]},
            "changed": {key: list(side.changed) for key, side in both.items()},
            "runtime": {"a": runtimes["a"], "b": runtimes["b"], "text": runtime_text},
            "ratio": {k: sa[k] / sb[k] for k in RATIO_KEYS if k in sa and k in sb and sb[k]}}
