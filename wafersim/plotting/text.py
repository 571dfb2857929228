"""What a figure says in words: readable numbers (64 KiB, 32K tokens), the line that names
the model, systems, runtime and precision of the runs drawn, and the removal of labels that
would overlap once drawn."""

from __future__ import annotations

import json
import math
import textwrap
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

__all__ = ["bytes_label", "tokens_label", "value_label", "listing", "precision_text", "runtime_text", "system_text",
           "about_runs", "wrap", "fit_width", "declutter", "thin_ticks", "thin_tick_labels", "log_ticks",
           "read_precisions", "read_rows", "sweep_precisions"]

#: binary byte units, largest first (SRAM and HBM sizes are powers of two)
_BINARY = (("TiB", 1024 ** 4), ("GiB", 1024 ** 3), ("MiB", 1024 ** 2), ("KiB", 1024))
#: token counts: 1K = 1024 tokens, as model contexts are written (8K, 128K)
_TOKEN_UNITS = (("M", 1024 ** 2), ("K", 1024))
#: at most this many names in a list before "+N more"
LIST_LIMIT = 4
#: a character's width as a share of the font size, on the wide side (for wrapping titles)
CHAR_WIDTH = 0.55
#: pixels kept clear around each label when overlapping ones are removed
LABEL_PAD_PX = 2.0


def _number(v: float) -> str:
    """3 significant digits, no trailing '.0' (48.0 -> '48', 1.5 -> '1.5')."""
    return str(int(v)) if float(v).is_integer() and abs(v) < 1e15 else f"{v:.3g}"


def bytes_label(n: float) -> str:
    """A byte count in binary units: 65536 -> '64 KiB', 49152 -> '48 KiB', 1.5 * 2**20 -> '1.5 MiB', 512 -> '512 B'."""
    n = float(n)
    if not math.isfinite(n):
        return str(n)
    for unit, size in _BINARY:
        if abs(n) >= size:
            return f"{_number(n / size)} {unit}"
    return f"{_number(n)} B"


def tokens_label(n: float) -> str:
    """A token count: multiples of 1024 as 1K..128K (and 1M), anything else as its number (3000 -> '3000')."""
    n = float(n)
    if math.isfinite(n) and n.is_integer():
        for unit, size in _TOKEN_UNITS:
            if abs(n) >= size and n % size == 0:
                return f"{int(n) // size}{unit}"
        return str(int(n))
    return _number(n) if math.isfinite(n) else str(n)


def value_label(value: Any, units: str) -> str:
    """A value as a reader takes it in: bytes in KiB/MiB/GiB, tokens as 1K..32K, other numbers
    to 6 significant digits, text as it is."""
    if isinstance(value, (str, bytes)) or value is None:
        return value.decode() if isinstance(value, bytes) else str(value)
    if units == "B":
        return bytes_label(value)
    if units == "tokens":
        return tokens_label(value)
    v = float(value)
    return str(int(v)) if v.is_integer() and abs(v) < 1e15 else f"{v:.6g}"


def listing(values: Iterable[Any], limit: int = LIST_LIMIT) -> str:
    """Distinct values, most frequent first (ties by name), at most ``limit`` then '+N more'."""
    counts = Counter(str(v) for v in values if v not in (None, ""))
    names = sorted(counts, key=lambda k: (-counts[k], k))
    if len(names) > limit:
        return ", ".join(names[:limit]) + f" +{len(names) - limit} more"
    return ", ".join(names)


def precision_text(pairs: Iterable[tuple[Any, Any]]) -> str:
    """Weight and KV-cache formats: 'bf16 weights and KV cache', 'fp8 weights, bf16 KV cache',
    or for several 'weights/KV cache: fp8/fp8, bf16/bf16'; '' when none is known."""
    counts = Counter((str(w), str(k or w)) for w, k in pairs if w)
    if not counts:
        return ""
    if len(counts) == 1:
        (w, k), = counts
        return f"{w} weights and KV cache" if w == k else f"{w} weights, {k} KV cache"
    return "weights/KV cache: " + listing(f"{w}/{k}" for (w, k), n in counts.items() for _ in range(n))


def runtime_text(row: Mapping[str, Any]) -> str:
    """'runtime trtllm (best-known)'; the class once where the profile is named after it."""
    name, cls = row.get("runtime"), row.get("runtime_class")
    if not name:
        return ""
    return f"runtime {name} ({cls})" if cls and cls != name else f"runtime {name}"


def system_text(row: Mapping[str, Any], devices: bool = True) -> str:
    """One system as drawn: 'dgx-h100 (8 GPUs, runtime trtllm (best-known))'."""
    parts = []
    n, kind = row.get("devices"), row.get("kind")
    if devices and isinstance(n, (int, float)) and kind:
        unit = "wafer" if kind == "wafer" else "GPU"
        parts.append(f"{int(n)} {unit}{'' if n == 1 else 's'}")
    runtime = runtime_text(row)
    if runtime:
        parts.append(runtime)
    return f"{row.get('system', '?')}" + (f" ({', '.join(parts)})" if parts else "")


def about_runs(rows: Sequence[Mapping[str, Any]], devices: bool = True, limit: int = LIST_LIMIT) -> str:
    """The line under a figure's title: the model(s), the systems with their runtime profile and
    its class, and the precision, from run summaries (``model``, ``system``, ``kind``,
    ``devices``, ``runtime``, ``runtime_class``) with ``dtype`` and ``kv_dtype`` added.  With
    more than ``limit`` systems and runtimes, each is listed once on its own."""
    rows = list(rows)
    if not rows:
        return ""
    models = listing((r.get("model") for r in rows), limit)
    described = list(dict.fromkeys(system_text(r, devices) for r in rows))
    if len(described) <= limit:
        words = [f"{models} on {', '.join(described)}" if models else ", ".join(described)]
    else:
        words = [f"{models} on {listing((r.get('system') for r in rows), limit)}"]
        runtimes = listing((runtime_text(r)[len("runtime "):] for r in rows if r.get("runtime")), limit)
        if runtimes:
            words.append(f"runtimes {runtimes}")
    precision = precision_text((r.get("dtype"), r.get("kv_dtype")) for r in rows)
    if precision:
        words.append(precision)
    return "; ".join(words)


def wrap(text: str, width: int) -> str:
    """Each line of ``text`` broken at spaces to at most ``width`` characters."""
    return "\n".join(textwrap.fill(line, width, break_long_words=False) for line in text.split("\n"))


def fit_width(fig: Any, fontsize: float, share: float = 1.0) -> int:
    """About how many characters of ``fontsize`` points fit across ``share`` of the figure
    (a character is taken as 0.55 of the font size wide, a little more than the average)."""
    return max(20, int(fig.get_figwidth() * share * 72 / (fontsize * CHAR_WIDTH)))


def declutter(fig: Any, texts: Sequence[Any], pad: float = LABEL_PAD_PX, draw: bool = True) -> list[Any]:
    """Hide each text that would overlap one before it in ``texts`` (the order is the
    priority), once the figure is laid out (``draw=False``: it already is); returns the
    texts left visible.  Empty and hidden texts are skipped."""
    if draw:
        fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    kept, boxes = [], []
    for t in texts:
        if not t.get_visible() or not t.get_text():
            continue
        box = t.get_window_extent(renderer).expanded(1.0, 1.0).padded(pad)
        if any(box.overlaps(b) for b in boxes):
            t.set_visible(False)
            continue
        kept.append(t)
        boxes.append(box)
    return kept


def _is_power_of_two(n: float) -> bool:
    return float(n).is_integer() and n > 0 and int(n) & (int(n) - 1) == 0


#: what :func:`thin_ticks` thins: (axes, "x" or "y", tick positions, their labels, the ticks labelled first)
TickSpec = tuple[Any, str, Sequence[float], Sequence[str], Iterable[float]]


def thin_ticks(specs: Sequence[TickSpec]) -> list[list[float]]:
    """Label the ticks of each (axes, axis, ticks, labels, first) of one figure so that no two
    labels of an axis overlap once drawn: the ticks in ``first``, then powers of two, then
    the rest, each kept only where it has room; every tick keeps its mark (one layout for
    them all).  Returns, per spec, the ticks that keep a label."""
    if not specs:
        return []
    groups = []
    for ax, axis, ticks, labels, first in specs:
        ticks, labels = list(ticks), list(labels)
        (ax.set_xticks if axis == "x" else ax.set_yticks)(ticks, labels)
        major = (ax.xaxis if axis == "x" else ax.yaxis).get_major_ticks(len(ticks))
        texts = dict(zip(ticks, (t.label1 for t in major)))
        for t in texts.values():
            t.set_visible(True)
        first = [t for t in dict.fromkeys(first) if t in texts]
        order = first + [t for t in ticks if _is_power_of_two(t) and t not in first] + \
            [t for t in ticks if not _is_power_of_two(t) and t not in first]
        groups.append((ax, axis, ticks, labels, texts, order))
    fig = specs[0][0].figure
    fig.draw_without_rendering()
    out = []
    for ax, axis, ticks, labels, texts, order in groups:
        kept = {id(t) for t in declutter(fig, [texts[t] for t in order], draw=False)}
        shown = [t for t in ticks if id(texts[t]) in kept]
        for t in texts.values():
            t.set_visible(True)         # left out by an empty label, so that each tick's label stays its own
        (ax.set_xticks if axis == "x" else ax.set_yticks)(ticks, [label if t in shown else "" for t, label
                                                                   in zip(ticks, labels)])
        out.append(shown)
    return out


def thin_tick_labels(ax: Any, ticks: Sequence[float], labels: Sequence[str], first: Iterable[float] = (),
                     axis: str = "x") -> list[float]:
    """:func:`thin_ticks` for one axis of ``ax``."""
    return thin_ticks([(ax, axis, ticks, labels, first)])[0]


def log_ticks(lo: float, hi: float, steps: Sequence[float] = (1.0, 2.0, 5.0)) -> list[float]:
    """1-2-5 ticks (or ``steps``) of each decade between ``lo`` and ``hi`` (both > 0)."""
    out = []
    for k in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1):
        out += [float(f"{m * 10.0 ** k:.6g}") for m in steps if lo <= m * 10.0 ** k <= hi]
    return out


def read_precisions(path: str | Path) -> dict[str, tuple[str, str]]:
    """Run id -> (weight format, KV-cache format) of each run in a results file, from its
    stored configuration (one opening of the file, whatever the number of runs)."""
    from ..results.hdf5 import _json_attr, _reading, _runs
    with _reading(path, "configuration") as f:
        out = {}
        for g in _runs(f, path):
            scenario = _json_attr(g, "config", path, dict).get("scenario", {})
            out[g.name.rsplit("/", 1)[-1]] = (scenario.get("dtype") or "", scenario.get("kv_dtype") or "")
        return out


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """Each run of a results file as its row of the summary table (``run`` its id) with the
    weight and KV-cache formats of its configuration (``dtype``, ``kv_dtype``) added, in
    the table's order."""
    from ..results.hdf5 import read_table
    summary = read_table(path, "summary")
    precisions = read_precisions(path)
    rows = []
    for i, rid in enumerate(summary["run"]):
        row = {k: v[i] for k, v in summary.items()}
        row["dtype"], row["kv_dtype"] = precisions.get(rid, ("", ""))
        rows.append(row)
    return rows


def sweep_precisions(path: str | Path) -> dict[int, tuple[str, str]]:
    """Point index -> (weight format, KV-cache format) of each point of a sweep file that ran."""
    from ..sweep.fileformat import open_sweep
    from ..sweep.runs_table import configs
    out = {}
    with open_sweep(path) as f:
        for index, config in configs(f).items():
            scenario = config.get("scenario", {})
            out[index] = (scenario.get("dtype") or "", scenario.get("kv_dtype") or "")
    return out
