"""Sweep specs: a TOML file naming the base system and model, the fixed scenario and
the axes to vary, expanded into points that are each checked before anything runs.

A spec::

    description = "SRAM per core against batch on a WSE-3"
    system = "wse3"                 # a preset name or a path (relative to this file)
    model = "llama-3.1-8b"

    [scenario]                      # the flags of `wafersim run`, fixed for every point
    prompt = 2048

    [set]                           # overrides, as `--set`, fixed for every point
    "system.core.clock_hz" = "1.1 GHz"

    [axes]                          # one dimension each, in this order
    "system.core.sram_bytes" = ["32 KiB", "48 KiB", "64 KiB"]
    batch = { start = 1, stop = 64, factor = 2 }          # 1, 2, 4, ..., 64
    length = { zip = { prompt = [1024, 8192], output = [512, 64] } }   # keys varied together: one axis

A ``[serve]`` table (or a ``serve.<key>`` axis) makes every point a serving simulation
(``wafersim serve``) of the point's system and model: its keys are the command's
flags (``arrivals``, ``rate`` (the arrivals' rate), ``requests``, ``prompt``,
``output``, ``slo``, ``seed``, ``max_running``, ``max_batched_tokens``,
``block_tokens``, ``scheduler_steps``, ``policy``, ``mixed_step``, ``prefill``,
``decode``, ``kv_transfer``), and the collection gains the percentiles, goodput and
SLO attainment of each point.

An axis is a list of values or a range: ``{start, stop, step}`` (inclusive),
``{start, stop, num}`` (evenly spaced; ``log = true`` for evenly spaced
logarithms) or ``{start, stop, factor}`` (geometric).  Its key is a scenario
flag (``batch``, ``prompt``, ``output``, ``dtype``, ``kv_dtype``, ``wafers``,
``placement``, ``cores``, ``gpus``, ``tp``, ``pp``, ``ep``, ``layers``,
``fidelity``), a configuration key (``system.<key>``, ``model.<key>``,
``mapping.<key>``), or ``system`` / ``model`` to sweep presets.  As in
``wafersim compare``, a key that describes one kind of system (``wafers``,
``placement``, ``cores``, ``mapping.*`` for wafers; ``gpus``, ``tp``, ``pp``,
``ep`` for GPU systems) applies to the systems of that kind and is left out on
the others, and a system whose kind has no engine at ``fidelity`` runs its
kind's default engine.

:func:`load_spec` reads and checks the file;
:func:`wafersim.sweep.points.plan` builds every point.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from ..config import ConfigError, load_toml, parse_toml_text

__all__ = ["Axis", "SweepSpec", "load_spec", "parse_spec", "MAX_POINTS", "SCENARIO_KEYS", "ALIASES", "WAFER_ONLY",
           "GPU_ONLY", "SERVE_KEYS"]

#: Most points one sweep may hold (each point is a run and a group in the results file):
#: what ``--check`` builds and checks in about ten seconds on a shared two-core machine
#: (it was 10**6, which took minutes to check).
MAX_POINTS = 100_000

#: Scenario flags a spec may fix or sweep, by the name :class:`Scenario` gives them.
SCENARIO_KEYS = ("batch", "prompt_tokens", "output_tokens", "dtype", "kv_dtype", "wafers", "gpus", "tp", "pp", "ep",
                 "layers", "fidelity", "request_rate")
#: Command-line spellings accepted for them, and the two flags that set mapping keys.
ALIASES = {"prompt": "prompt_tokens", "output": "output_tokens", "kv-dtype": "kv_dtype", "request-rate": "request_rate",
           "placement": "mapping.placement", "cores": "mapping.cores"}
WAFER_ONLY = ("wafers",)
GPU_ONLY = ("gpus", "tp", "pp", "ep")
_RANGE_KEYS = {"start", "stop", "step", "num", "log", "factor"}
_TOP_KEYS = ("description", "system", "model", "runtime", "scenario", "set", "serve", "axes")
#: a serving point's settings (``[serve]``, or ``serve.<key>`` in [axes]): wafersim.serving.points.KEYS
#: (listed here too, so that reading a spec loads nothing of the simulator)
SERVE_KEYS = ("arrivals", "rate", "requests", "prompt", "output", "slo", "seed", "max_running", "max_batched_tokens",
              "block_tokens", "scheduler_steps", "policy", "mixed_step", "prefill", "decode", "kv_transfer")
#: scenario keys a serving point does not take: its requests set batch and lengths
NOT_SERVED = ("batch", "prompt_tokens", "output_tokens", "request_rate", "layers")
#: the keys whose values name presets: a system, a model, a serving-runtime profile
PRESET_KEYS = ("system", "model", "runtime")


@dataclass(frozen=True)
class Axis:
    """One dimension of a sweep: ``keys`` (one, or several varied together) and, per key,
    its values as the spec wrote them (after ranges are expanded)."""
    name: str
    keys: tuple[str, ...]
    values: tuple[tuple[Any, ...], ...]
    zipped: bool = False

    @property
    def size(self) -> int:
        return len(self.values[0])


@dataclass(frozen=True)
class SweepSpec:
    """A sweep spec as read: fixed settings (canonical key -> value) and axes."""
    source: str
    text: str
    description: str
    fixed: dict[str, Any]
    axes: tuple[Axis, ...]
    folder: str = "."
    command: str = "run"            # "serve": each point a serving simulation ([serve])

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(a.size for a in self.axes)

    @property
    def size(self) -> int:
        return math.prod(self.shape)


# ---- reading ------------------------------------------------------------------------

def load_spec(path: str | Path) -> SweepSpec:
    """Read and check a sweep spec file (not yet its points: see :func:`plan`)."""
    path = Path(path)
    data = load_toml(path)
    text = path.read_text(encoding="utf-8", errors="replace")
    return parse_spec(data, str(path), text=text, folder=str(path.resolve().parent))


def parse_spec(data: Mapping[str, Any] | str, source: str = "sweep spec", *, text: str | None = None,
               folder: str = ".") -> SweepSpec:
    """A spec from its TOML table (or TOML text); ``source`` names it in errors."""
    if isinstance(data, str):
        text = data if text is None else text
        data = parse_toml_text(data, source)
    if text is None:
        text = json.dumps(data, sort_keys=True, default=str)
    unknown = [k for k in data if k not in _TOP_KEYS]
    if unknown:
        raise ConfigError(source, unknown[0], f"unknown key; a sweep spec has {', '.join(_TOP_KEYS)}")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise ConfigError(source, "description", "expected a string")
    fixed: dict[str, Any] = {}
    for name in PRESET_KEYS:
        if name in data:
            if not isinstance(data[name], str) or not data[name]:
                raise ConfigError(source, name, f"expected a preset name or path; got {data[name]!r}")
            fixed[name] = data[name]
    scenario = _table(data, "scenario", source)
    for key, value in scenario.items():
        canon = _canonical(key, source, f"scenario.{key}", sets=False)
        if canon in fixed:
            first = next(k for k in scenario if _canonical(k, source, k, sets=False) == canon)
            raise ConfigError(source, f"scenario.{key}", f"sets {canon} as scenario.{first} does; give one of them")
        fixed[canon] = value
    for key, value in _flatten(_table(data, "set", source)).items():
        canon = _canonical(key, source, f"set.{key}", sets=True)
        if canon in fixed:
            raise ConfigError(source, f"set.{key}", f"sets {canon}, which [scenario] sets too; give one of them")
        fixed[canon] = value
    for key, value in _table(data, "serve", source).items():
        if key not in SERVE_KEYS:
            raise ConfigError(source, f"serve.{key}", f"unknown key; [serve] takes {', '.join(SERVE_KEYS)}")
        fixed[f"serve.{key}"] = value
    axes = _axes(_table(data, "axes", source), source)
    keys = [k for a in axes for k in a.keys]
    command = "serve" if "serve" in data or any(k.startswith("serve.") for k in keys) else "run"
    if command == "serve":
        for key in [*fixed, *keys]:
            if key in NOT_SERVED:
                raise ConfigError(source, key, "a [serve] sweep's requests set the batch and lengths: give "
                                               "serve.prompt, serve.output and serve.rate instead")
    for key in keys:
        if keys.count(key) > 1:
            raise ConfigError(source, f"axes.{key}", "swept twice; an axis key may appear once")
        if key in fixed:
            raise ConfigError(source, f"axes.{key}", "is both fixed (in [scenario], [set], [serve] or at the top) and swept")
    for name in ("system", "model"):
        if name not in fixed and name not in keys:
            raise ConfigError(source, name, f"missing: name the {name} preset at the top of the spec, or sweep "
                                            f"it in [axes]")
    spec = SweepSpec(source, text, description, fixed, tuple(axes), folder, command)
    if spec.size > MAX_POINTS:
        raise ConfigError(source, "axes", f"{spec.size} points ({' x '.join(map(str, spec.shape))}); "
                                          f"a sweep holds at most {MAX_POINTS}")
    return spec


def _table(data: Mapping[str, Any], name: str, source: str) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(source, name, "expected a table")
    return value


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in table.items():
        dotted = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            out.update(_flatten(value, dotted))
        else:
            out[dotted] = value
    return out


def _canonical(key: str, source: str, where: str, *, sets: bool) -> str:
    """The one name of a key: scenario keys as :class:`Scenario` names them, config keys
    with their target (``system.``, ``model.``, ``mapping.``)."""
    key = ALIASES.get(key, key)
    head, _, rest = key.partition(".")
    if head in ("system", "model", "mapping") and rest:
        return key
    if head == "serve" and not sets:
        if rest not in SERVE_KEYS:
            raise ConfigError(source, where, f"expected serve.<key> with key one of {', '.join(SERVE_KEYS)}")
        return key
    if head == "deployment" and rest:           # as on the command line: short for system.deployment.KEY
        return f"system.{key}"
    if not sets and key in SCENARIO_KEYS:
        return key
    if sets:
        raise ConfigError(source, where, "expected system.<key>, model.<key> or mapping.<key>")
    flags = ", ".join([*SCENARIO_KEYS, *ALIASES])
    raise ConfigError(source, where, f"unknown key; expected a scenario flag ({flags}), system.<key>, "
                                     f"model.<key>, mapping.<key>, or system / model")


def _is_range(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and set(value) <= _RANGE_KEYS | {"values"}


def _axes(table: Mapping[str, Any], source: str) -> list[Axis]:
    axes: list[Axis] = []

    def visit(node: Mapping[str, Any], prefix: str) -> None:
        for key, value in node.items():
            dotted = f"{prefix}.{key}" if prefix else key
            if isinstance(value, dict) and "zip" in value:
                axes.append(_zip_axis(dotted, value, source))
            elif isinstance(value, list) or _is_range(value):
                canon = dotted if dotted in PRESET_KEYS else \
                    _canonical(dotted, source, f"axes.{dotted}", sets=False)
                axes.append(Axis(dotted, (canon,), (_checked(canon, _values(value, source, f"axes.{dotted}"), source,
                                                             f"axes.{dotted}"),)))
            elif isinstance(value, dict):
                visit(value, dotted)
            else:
                raise ConfigError(source, f"axes.{dotted}", "expected a list of values, a range "
                                  "({start, stop, step | num | factor}) or {zip = {...}}; got "
                                  f"{_short(value)}")
    visit(table, "")
    return axes


def _zip_axis(name: str, value: Mapping[str, Any], source: str) -> Axis:
    where = f"axes.{name}"
    if set(value) != {"zip"} or not isinstance(value["zip"], dict) or not value["zip"]:
        raise ConfigError(source, where, "expected {zip = {key = [values], ...}} and nothing else")
    members = _flatten_members(value["zip"])
    keys, values = [], []
    for key, vals in members.items():
        canon = key if key in PRESET_KEYS else _canonical(key, source, f"{where}.zip.{key}", sets=False)
        keys.append(canon)
        values.append(_checked(canon, _values(vals, source, f"{where}.zip.{key}"), source, f"{where}.zip.{key}"))
    lengths = {len(v) for v in values}
    if len(lengths) > 1:
        sizes = ", ".join(f"{k}: {len(v)}" for k, v in zip(members, values))
        raise ConfigError(source, where, f"zipped keys must have as many values each; got {sizes}")
    return Axis(name, tuple(keys), tuple(values), zipped=True)


def _checked(key: str, values: tuple[Any, ...], source: str, where: str) -> tuple[Any, ...]:
    """Values of a preset axis (``system``, ``model``, ``runtime``) are names or paths."""
    if key in PRESET_KEYS:
        bad = [v for v in values if not isinstance(v, str) or not v]
        if bad:
            raise ConfigError(source, where, f"expected preset names or paths; got {_short(bad[0])}")
    return values


def _flatten_members(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in table.items():
        dotted = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict) and not _is_range(value):
            out.update(_flatten_members(value, dotted))
        else:
            out[dotted] = value
    return out


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _values(value: Any, source: str, where: str) -> tuple[Any, ...]:
    """The values of one axis key: a list as written, or a range expanded."""
    if isinstance(value, dict) and set(value) == {"values"}:
        value = value["values"]
    if isinstance(value, list):
        if not value:
            raise ConfigError(source, where, "expected at least one value")
        bad = [v for v in value if isinstance(v, (dict, list))]
        if bad:
            raise ConfigError(source, where, f"expected plain values (numbers, text, true/false); got {_short(bad[0])}")
        return tuple(value)
    if not isinstance(value, dict):
        raise ConfigError(source, where, f"expected a list or a range; got {_short(value)}")
    return _range(value, source, where)


def _range(r: Mapping[str, Any], source: str, where: str) -> tuple[Any, ...]:
    if "start" not in r or "stop" not in r:
        raise ConfigError(source, where, "a range needs start and stop (and one of step, num, factor)")
    how = [k for k in ("step", "num", "factor") if k in r]
    if len(how) != 1:
        raise ConfigError(source, where, "a range takes exactly one of step, num, factor")
    if "log" in r and how != ["num"]:
        raise ConfigError(source, where, "log = true goes with num")
    log = r.get("log", False)
    if not isinstance(log, bool):
        raise ConfigError(source, where + ".log", f"expected true or false; got {_short(log)}")
    nums = {k: r[k] for k in ("start", "stop", *how)}
    for k, v in nums.items():
        if not _number(v) or not math.isfinite(v):
            raise ConfigError(source, f"{where}.{k}", f"expected a finite number (ranges are in SI units; list "
                                                      f"quantities with units as values instead); got {_short(v)}")
    start, stop = nums["start"], nums["stop"]
    ints = isinstance(start, int) and isinstance(stop, int)
    limit = MAX_POINTS
    if how == ["step"]:
        step = nums["step"]
        if step == 0 or (stop - start) / step < 0:
            raise ConfigError(source, f"{where}.step", f"a step of {step} never goes from {start} to {stop}")
        n = int(math.floor((stop - start) / step * (1 + 1e-12) + 1e-9)) + 1
        if n > limit:
            raise ConfigError(source, where, f"{n} values; an axis holds at most {limit}")
        if ints and isinstance(step, int):
            return tuple(start + i * step for i in range(n))
        return tuple(float(start + i * step) for i in range(n))
    if how == ["num"]:
        n = nums["num"]
        if not isinstance(n, int) or not 1 <= n <= limit:
            raise ConfigError(source, f"{where}.num", f"expected an integer from 1 to {limit}; got {_short(n)}")
        if log and (start <= 0 or stop <= 0):
            raise ConfigError(source, where, "a logarithmic range needs start and stop above 0")
        if n == 1:
            vals = [float(start)]
        elif log:
            a, b = math.log(start), math.log(stop)
            vals = [math.exp(a + (b - a) * i / (n - 1)) for i in range(n)]
            vals[0], vals[-1] = float(start), float(stop)
        else:
            vals = [start + (stop - start) * i / (n - 1) for i in range(n)]
        if ints:
            out = tuple(int(round(v)) for v in vals)
            if len(set(out)) != len(out):
                raise ConfigError(source, where, f"{n} integer values from {start} to {stop} repeat once rounded; "
                                                 "take fewer (num) or a wider range")
            return out
        return tuple(float(v) for v in vals)
    factor = nums["factor"]
    if start <= 0 or factor <= 1 or stop < start:
        raise ConfigError(source, where, "a geometric range needs 0 < start <= stop and factor > 1")
    out, v = [], start
    while v <= stop * (1 + 1e-12):
        out.append(v)
        if len(out) > limit:
            raise ConfigError(source, where, f"more than {limit} values")
        v = v * factor
    if ints and isinstance(factor, int):
        return tuple(int(x) for x in out)
    return tuple(float(x) for x in out)
