"""Finding and loading presets by name or by path.

Hardware presets live in ``meshes/``, model presets in ``workloads/``, serving-runtime
profiles in ``runtimes/``.  A name
is a file stem (``wse3``, ``llama-3.1-8b``); anything that looks like a path
(has a slash or ends in ``.toml``) is read as a path.

A preset may build on another: ``base = "wse3"`` (a preset name, or a path
relative to the file's own folder) takes every value of the base and the file
overrides what differs, table by table.  Bases may have bases.  A preset with a
base and no ``name`` of its own is named after its file.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Mapping

from .config import ConfigError, _fields, apply_overrides, build, load_toml, to_dict
from .hardware.gpu import GpuSystemSpec
from .hardware.runtime import RUNTIME_CLASSES, RuntimeSpec
from .hardware.wafer import WaferSpec
from .nearest import did_you_mean, field_paths
from .provenance import PresetFile, Provenance, attach, typed_value
from .workload.model import ModelSpec

__all__ = ["preset_dirs", "find_preset", "list_presets", "load_system", "load_model", "load_runtime",
           "runtime_for_class", "runtime_key_applies", "with_runtime", "load_spec", "DEFAULT_RUNTIME", "DEFAULT_RUNTIME_CLASS",
           "System"]

System = WaferSpec | GpuSystemSpec
_SYSTEM_KINDS = {"wafer": WaferSpec, "gpu": GpuSystemSpec}
#: the profile of each kind of system in each class of serving software (runtimes/ holds them)
CLASS_RUNTIME = {("gpu", "ideal"): "ideal", ("gpu", "best-known"): "best-known", ("gpu", "typical"): "typical",
                 ("wafer", "ideal"): "ideal", ("wafer", "best-known"): "waferllm"}
#: the class of serving software every command runs when none is named: the best published
#: software of each kind.  It is the one class both kinds have a profile of (a wafer has
#: only research kernels), so a wafer and a GPU system answer the same question alike in
#: ``run``, ``compare``, ``sweep``, ``explore`` and the tools.
DEFAULT_RUNTIME_CLASS = "best-known"
#: the runtime a system runs with when none is named: its kind's profile of the default class
#: (GPU systems: ``best-known``, a fused decode megakernel; wafers: ``waferllm``, the research
#: kernels their presets are fitted to).  ``--runtime typical`` gives a GPU the mainstream
#: stack that was its default before 0.2.
DEFAULT_RUNTIME = {kind: CLASS_RUNTIME[(kind, DEFAULT_RUNTIME_CLASS)] for kind in ("gpu", "wafer")}


def preset_dirs(folder: str) -> list[Path]:
    """Where presets of ``folder`` ('meshes', 'workloads' or 'runtimes') are looked for, in order."""
    here = Path(__file__).resolve().parent
    return [p for p in (here.parent / folder, here / "data" / folder) if p.is_dir()]


def recorded_path(path: Path) -> str:
    """How a result names a preset file: ``meshes/wse3.toml`` for a bundled preset (the
    same on every machine, so results stay byte-identical across checkouts), the
    absolute path for a user's own file."""
    resolved = path.resolve()
    for folder in ("meshes", "workloads", "runtimes", "designs"):
        for d in preset_dirs(folder):
            if resolved.parent == d.resolve():
                return f"{folder}/{resolved.name}"
    return str(resolved)


def list_presets(folder: str) -> list[str]:
    names: set[str] = set()
    for d in preset_dirs(folder):
        names.update(p.stem for p in d.glob("*.toml"))
    return sorted(names)


#: Longest preset name or path accepted (names are file stems, so at most 250 bytes).
NAME_MAX, PATH_MAX = 250, 4096


def _is_file(path: Path) -> bool:
    """``path.is_file()`` that says False for any path the system refuses (too long, bad bytes)."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def _check_name(name_or_path: object, folder: str) -> str:
    if not isinstance(name_or_path, (str, Path)):
        raise ConfigError("", "", f"expected the name of {_WHAT[folder]} or a path to a TOML file, "
                                  f"got {type(name_or_path).__name__}")
    text = str(name_or_path)
    shown = text if len(text) <= 60 else text[:57] + "..."
    if not text.strip():
        raise ConfigError("", "", f"expected the name of {_WHAT[folder]} or a path, got an empty string")
    if "\0" in text or any(ord(ch) < 32 for ch in text):
        raise ConfigError(repr(shown), "", "a preset name or path cannot hold control characters")
    try:
        encoded = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise ConfigError(repr(shown), "", "a preset name or path must be valid text") from None
    if encoded > PATH_MAX or any(len(part.encode("utf-8")) > NAME_MAX for part in text.split("/")):
        raise ConfigError(shown, "", f"name too long: a preset name or path component is at most {NAME_MAX} "
                                     f"bytes, a path at most {PATH_MAX}")
    return text


def find_preset(name_or_path: str | Path, folder: str) -> Path:
    text = _check_name(name_or_path, folder)
    if "/" in text or text.endswith(".toml") or _is_file(Path(text)):
        path = Path(text)
        if not _is_file(path):
            try:
                exists = path.exists()
            except (OSError, ValueError):
                exists = False
            raise ConfigError(text, "", "not a regular file" if exists else "file not found")
        return path
    for d in preset_dirs(folder):
        path = d / f"{text}.toml"
        if _is_file(path):
            return path
    known = ", ".join(list_presets(folder)) or "none found"
    hint = did_you_mean(text, list_presets(folder))
    raise ConfigError(text, "", f"no preset named {text!r} in {folder}/; {hint + ' ' if hint else ''}"
                                f"known presets: {known}")


_KINDS = {"meshes": ("wafer", "gpu"), "workloads": ("model",), "runtimes": ("runtime",), "designs": ("design",)}
_FOLDER_OF_KIND = {kind: folder for folder, kinds in _KINDS.items() for kind in kinds}
_WHAT = {"meshes": "a hardware preset (meshes/)", "workloads": "a model preset (workloads/)",
         "runtimes": "a runtime profile (runtimes/)", "designs": "a wafer design (designs/)"}


def _looks_like_path(text: str) -> bool:
    return "/" in text or text.endswith(".toml")


def _kind_of(data: Mapping[str, Any], path: Path) -> str | None:
    """The kind a preset declares, else the one its folder implies (None if neither says)."""
    kind = data.get("kind")
    if isinstance(kind, str):
        return kind
    return {"workloads": "model", "runtimes": "runtime", "designs": "design"}.get(path.parent.name)


def _find_base(base: Any, child: Path, folder: str) -> Path:
    """Resolve the ``base`` key of ``child``: a preset name, or a path relative to the child's folder."""
    if not isinstance(base, str) or not base.strip():
        raise ConfigError(str(child), "base", f"expected the name of {_WHAT[folder]} or a path to a TOML "
                                              f"file, got {base!r}")
    _check_name(base, folder)
    if _looks_like_path(base):
        path = Path(base).expanduser()
        path = path if path.is_absolute() else child.parent / path
        if not _is_file(path):
            raise ConfigError(str(child), "base", f"expected {_WHAT[folder]} by name or path; "
                                                  f"no file {base!r} (looked for {path})")
        return path
    for d in preset_dirs(folder):
        if _is_file(d / f"{base}.toml"):
            return d / f"{base}.toml"
    for other in _KINDS:
        if other != folder and any(_is_file(d / f"{base}.toml") for d in preset_dirs(other)):
            raise ConfigError(str(child), "base", f"{base!r} is {_WHAT[other]}; expected {_WHAT[folder]}")
    known = ", ".join(list_presets(folder)) or "none found"
    hint = did_you_mean(base, list_presets(folder))
    raise ConfigError(str(child), "base", f"no preset named {base!r}; expected {_WHAT[folder]} "
                                          f"({known}) or a path to a TOML file{'; ' + hint if hint else ''}")


def _merge(base: Mapping[str, Any], child: Mapping[str, Any]) -> dict[str, Any]:
    """Deep merge of tables; the child's values win (a child table extends the base's)."""
    out = dict(base)
    for key, value in child.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _check_kind(path: Path, data: Mapping[str, Any], base_path: Path, base_data: Mapping[str, Any],
                folder: str) -> None:
    """A model inherits from a model, a wafer from a wafer, a GPU system from a GPU system."""
    kind, base_kind = _kind_of(data, path), _kind_of(base_data, base_path)
    if base_kind is not None and (base_kind not in _KINDS[folder] or (kind is not None and kind != base_kind)):
        wanted = f"a {kind!r} preset" if kind in _KINDS[folder] else _WHAT[folder]
        where = _FOLDER_OF_KIND.get(base_kind)
        what = f"a {base_kind!r} preset" + (f" ({where}/)" if where else "")
        raise ConfigError(str(path), "base", f"{base_path.name} is {what}; expected {wanted}")
    if base_kind is None and base_path.parent.name in _KINDS and base_path.parent.name != folder:
        raise ConfigError(str(path), "base", f"{base_path} is in {base_path.parent.name}/; expected {_WHAT[folder]}")


def _resolve(path: Path, folder: str, chain: tuple[Path, ...] = ()) -> tuple[dict, list[PresetFile]]:
    """The preset at ``path`` with its bases merged in, and the base chain (nearest first).

    ``chain`` holds the files (resolved) that led here, to catch loops.  A preset with a
    ``base`` and no ``name`` is named after its file.  Errors name ``path`` as given.
    Every cached load in progress hears of the file (see :func:`_cached`)."""
    chain = (*chain, path.resolve())
    for files in _READING:
        files.append(chain[-1])
    data = load_toml(path)
    if "base" not in data:
        return data, []
    data = dict(data)
    base_path = _find_base(data.pop("base"), path, folder)
    if base_path.resolve() in chain:
        loop = " -> ".join(p.name for p in (*chain, base_path.resolve()))
        raise ConfigError(str(path), "base", f"the bases loop: {loop}; expected a chain that ends at a "
                                             "preset without a base")
    _check_kind(path, data, base_path, load_toml(base_path), folder)   # before following its own base
    base_data, base_chain = _resolve(base_path, folder, chain)
    _check_kind(path, data, base_path, base_data, folder)
    base_name = str(base_data.get("name", base_path.stem))
    merged = _merge(base_data, data)
    if "name" not in data:
        merged["name"] = path.stem
    return merged, [PresetFile(base_name, recorded_path(base_path)), *base_chain]


def _load(name_or_path: str | Path, folder: str, overrides: Mapping[str, Any] | None
          ) -> tuple[dict, str, list[PresetFile]]:
    path = find_preset(name_or_path, folder)
    data, bases = _resolve(path, folder)
    if overrides:
        data = apply_overrides(data, overrides)
    return data, str(path), bases


#: (folder, preset file, runtime asked for) -> (versions of every file read to build it, the
#: spec): a preset loaded again without overrides, no file of it (bases, runtime profile)
#: changed since, is the same frozen spec, so a sweep that names its presets pays once
_SPECS: dict[tuple[str, str, str], tuple[tuple[tuple[Path, int, int], ...], Any]] = {}
_SPECS_KEPT = 256
#: the files read by each cached load in progress (innermost last), filled by _resolve
_READING: list[list[Path]] = []


def _versions(files: list[Path]) -> tuple[tuple[Path, int, int], ...] | None:
    try:
        return tuple((p, st.st_size, st.st_mtime_ns) for p in files for st in (p.stat(),))
    except OSError:
        return None


def _cached(key: tuple[str, str, str], load: Any) -> Any:
    """The spec ``load()`` builds, built once per version of the files it reads."""
    hit = _SPECS.get(key)
    if hit is not None and _versions([p for p, _, _ in hit[0]]) == hit[0]:
        return hit[1]
    files: list[Path] = []
    _READING.append(files)
    try:
        spec = load()
    finally:
        del _READING[next(i for i, f in enumerate(_READING) if f is files)]
    versions = _versions(list(dict.fromkeys(files)))
    if versions is not None:
        if len(_SPECS) >= _SPECS_KEPT:
            del _SPECS[next(iter(_SPECS))]            # the oldest
        _SPECS[key] = (versions, spec)
    return spec


def _provenance(spec: Any, source: str, bases: list[PresetFile], overrides: Mapping[str, Any] | None,
                origin: Mapping[str, str] | None, prefix: str, runtime: RuntimeSpec | None = None) -> Any:
    overrides = dict(overrides or {})
    typed = tuple((origin or {}).get(k) or f"{prefix}{k}={typed_value(v)}" for k, v in overrides.items())
    return attach(spec, Provenance(name=spec.name, path=recorded_path(Path(source)), bases=tuple(bases),
                                   set=typed, overrides=overrides,
                                   runtime=runtime.record() if runtime is not None else None))


def _related(override: str, key: str) -> bool:
    """Whether an error at ``key`` comes from the ``override``: the key itself, a table
    around it, or a neighbour in the same table whose cross-check failed (cores_x set,
    dies_x no longer tiles it)."""
    return (key == override or key.startswith(override + ".") or override.startswith(key + ".")
            or ("." in override and override.rpartition(".")[0] == key.rpartition(".")[0]))


def _build(cls: type, data: dict, source: str, overrides: Mapping[str, Any] | None, prefix: str,
           origin: Mapping[str, str] | None = None) -> Any:
    """Build a spec; an error in a key the user overrode names the --set (as typed, when
    ``origin`` maps the key to the text), not the file."""
    try:
        return build(cls, data, source)
    except ConfigError as exc:
        hit = [k for k in (overrides or {}) if _related(k, exc.key)]
        if hit:
            typed = (origin or {}).get(hit[0]) or f"{prefix}{hit[0]}={overrides[hit[0]]!r}"
            raise ConfigError(f"--set {typed} (on {source})", exc.key, exc.message) from None
        raise


def load_system(name_or_path: str | Path, overrides: Mapping[str, Any] | None = None, *,
                origin: Mapping[str, str] | None = None, runtime: "str | Path | RuntimeSpec | None" = None,
                runtime_overrides: Mapping[str, Any] | None = None) -> System:
    """Load a hardware preset (wafer or GPU system) into a frozen, validated spec.

    ``overrides`` maps dotted keys to values ({"core.sram_bytes": "64 KiB"}) and is
    validated exactly as the file is; ``origin`` maps a key to the ``--set`` text the
    user typed for it.  A preset may inherit from another (``base = "wse3"``).

    ``runtime`` names the serving-runtime profile (``runtimes/``; default
    :data:`DEFAULT_RUNTIME` for the system's kind) whose settings are laid over the
    preset before ``overrides``; ``runtime_overrides`` (``--set runtime.KEY=...``)
    change the profile's settings.  The spec's ``provenance`` (not part of its
    equality) names the file, its base chain, the overrides and the runtime.  Without
    overrides (and with the runtime named, or the default), the spec is built once per
    version of the files it is read from: loading it again returns the same frozen spec.
    """
    if not overrides and not origin and not runtime_overrides and not isinstance(runtime, RuntimeSpec):
        key = ("meshes", str(find_preset(name_or_path, "meshes").resolve()), str(runtime))
        return _cached(key, lambda: _load_system(name_or_path, None, None, runtime, None))
    return _load_system(name_or_path, overrides, origin, runtime, runtime_overrides)


def _load_system(name_or_path: str | Path, overrides: Mapping[str, Any] | None, origin: Mapping[str, str] | None,
                 runtime: "str | Path | RuntimeSpec | None", runtime_overrides: Mapping[str, Any] | None) -> System:
    data, source, bases = _load(name_or_path, "meshes", overrides)
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in _SYSTEM_KINDS:
        shown = repr(kind) if len(repr(kind)) <= 80 else repr(kind)[:77] + "..."
        where = source
        if overrides and "kind" in overrides:
            where = f"--set {(origin or {}).get('kind') or 'system.kind=' + repr(overrides['kind'])[:60]} (on {source})"
        raise ConfigError(where, "kind", f"expected one of {', '.join(_SYSTEM_KINDS)}; got {shown}")
    rt = _runtime_of(runtime, kind, runtime_overrides)
    raw, _, _ = _load(name_or_path, "meshes", None)
    # the preset's own values are checked before a runtime profile replaces any: a malformed
    # [efficiency] table is the preset file's fault, and a bad value the profile would hide is too
    _build(_SYSTEM_KINDS[kind], raw, source, None, "system.", None)
    data = _layer(raw, rt, kind, overrides)
    spec = _build_layered(_SYSTEM_KINDS[kind], data, source, overrides, origin, rt, kind)
    return _provenance(spec, source, bases, overrides, origin, "system.", rt)


def _runtime_of(runtime: "str | Path | RuntimeSpec | None", kind: str,
                runtime_overrides: Mapping[str, Any] | None) -> RuntimeSpec:
    """The runtime profile for a system of ``kind``, with ``--set runtime.*`` applied."""
    rt = runtime if isinstance(runtime, RuntimeSpec) else load_runtime(runtime or DEFAULT_RUNTIME[kind])
    if not rt.applies_to(kind):
        known = ", ".join(n for n in list_presets("runtimes") if _applies(n, kind))
        raise ConfigError(f"runtime {rt.name}", kind, f"the profile has no settings for {kind} systems; "
                                                     f"runtimes for {kind} systems: {known}")
    if runtime_overrides:
        for key in runtime_overrides:
            _check_setting(f"--set runtime.{key}", kind, key)
        settings = {k: dict(v) for k, v in rt.settings.items()}
        settings[kind].update(runtime_overrides)
        typed = tuple(f"runtime.{k}={typed_value(v)}" for k, v in runtime_overrides.items())
        prov = rt.provenance
        new = dataclasses.replace(rt, settings=settings)
        rt = attach(new, dataclasses.replace(prov, set=(*prov.set, *typed)) if prov else
                    Provenance(name=rt.name, path=None, set=typed))
    return rt


def _applies(name: str, kind: str) -> bool:
    try:
        return load_runtime(name).applies_to(kind)
    except ConfigError:
        return False


def _layer(raw: dict, rt: RuntimeSpec, kind: str, overrides: Mapping[str, Any] | None) -> dict:
    """The preset with the runtime's settings laid over it, and the user's overrides over both."""
    data = apply_overrides(raw, rt.overrides_for(kind), f"runtime {rt.name}")
    return apply_overrides(data, overrides) if overrides else data


def _build_layered(cls: type, data: dict, source: str, overrides: Mapping[str, Any] | None,
                   origin: Mapping[str, str] | None, rt: RuntimeSpec, kind: str) -> Any:
    """:func:`_build`, naming the runtime profile when one of its settings is at fault."""
    try:
        return _build(cls, data, source, overrides, "system.", origin)
    except ConfigError as exc:
        if exc.source == source and any(_related(k, exc.key) for k in rt.overrides_for(kind)):
            where = rt.provenance.path if rt.provenance and rt.provenance.path else rt.name
            raise ConfigError(f"runtime {rt.name} ({where}) on {source}", exc.key, exc.message) from None
        raise


def with_runtime(system: System, runtime: "str | Path | RuntimeSpec",
                 runtime_overrides: Mapping[str, Any] | None = None) -> System:
    """``system`` run with another runtime profile: the profile's settings replace the
    values it names, and the overrides the spec was loaded with still win."""
    kind = system.kind
    rt = _runtime_of(runtime, kind, runtime_overrides)
    prov = getattr(system, "provenance", None)
    overrides = dict(prov.overrides) if prov else {}
    data = _layer(to_dict(system), rt, kind, overrides)
    source = prov.path if prov and prov.path else system.name
    spec = _build_layered(type(system), data, source, overrides, None, rt, kind)
    if prov is None:
        prov = Provenance(name=spec.name, path=None)
    return attach(spec, dataclasses.replace(prov, runtime=rt.record()))


def load_runtime(name_or_path: str | Path) -> RuntimeSpec:
    """Load a serving-runtime profile (``runtimes/``, ``base`` inheritance as other presets).

    Besides ``kind = "runtime"``, ``name``, ``description``, ``class`` and ``version``, a
    profile holds one table per kind of system it applies to (``[gpu]``, ``[wafer]``),
    written as that kind's preset (``[gpu.efficiency]``); each key must name a field of it.
    """
    path = find_preset(name_or_path, "runtimes")
    data, bases = _resolve(path, "runtimes")
    source = str(path)
    data = dict(data)
    settings: dict[str, dict[str, Any]] = {}
    for kind in _SYSTEM_KINDS:
        table = data.pop(kind, None)
        if table is None:
            continue
        if not isinstance(table, Mapping):
            raise ConfigError(source, kind, f"expected a table of {kind} preset keys, got {table!r:.60}")
        flat = _flatten(table)
        for key in flat:
            _check_setting(source, kind, key, prefix=f"{kind}.")
        settings[kind] = flat
    if "settings" in data:
        raise ConfigError(source, "settings", "unknown key; a profile's settings are its [gpu] and [wafer] tables")
    if "class" in data:
        data["runtime_class"] = data.pop("class")
    elif "runtime_class" not in data:
        raise ConfigError(source, "class", f"missing (one of {', '.join(RUNTIME_CLASSES)})")
    if not settings:
        raise ConfigError(source, "gpu", "expected a [gpu] or [wafer] table of the preset keys the profile sets")
    spec = build(RuntimeSpec, data, source)
    spec = dataclasses.replace(spec, settings=settings)
    return attach(spec, Provenance(name=spec.name, path=recorded_path(path), bases=tuple(bases)))


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in table.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, dotted + "."))
        else:
            out[dotted] = value
    return out


def _check_setting(source: str, kind: str, key: str, prefix: str = "") -> None:
    """A runtime setting must name a field of the ``kind`` system preset."""
    cls: Any = _SYSTEM_KINDS[kind]
    parts = key.split(".")
    for i, part in enumerate(parts):
        fields, hints = _fields(cls)                   # read once per class
        if part not in fields:
            hint = did_you_mean(key, field_paths(_SYSTEM_KINDS[kind]), prefix=prefix)
            raise ConfigError(source, prefix + key, f"unknown key; {hint + ' ' if hint else ''}"
                                                    f"expected a key of a {kind} preset "
                                                    f"({', '.join(sorted(fields))} at '{'.'.join(parts[:i]) or 'top'}')")
        hint = hints[part]
        if i < len(parts) - 1:
            if not dataclasses.is_dataclass(hint):
                raise ConfigError(source, prefix + key, f"'{part}' is a value, not a table")
            cls = hint
        elif dataclasses.is_dataclass(hint):
            raise ConfigError(source, prefix + key, f"'{part}' is a table; name one of its keys")
        elif part in ("kind", "name"):
            raise ConfigError(source, prefix + key, "a runtime cannot change what system it runs on")


def runtime_key_applies(kind: str, key: str) -> bool:
    """Whether ``key`` (``--set runtime.KEY``) names a field of a ``kind`` system preset."""
    try:
        _check_setting("", kind, key)
    except ConfigError:
        return False
    return True


def runtime_for_class(kind: str, runtime_class: str) -> str:
    """The profile ``compare`` runs a ``kind`` system with in ``runtime_class``."""
    if runtime_class not in RUNTIME_CLASSES:
        raise ConfigError("--runtime-class", "", f"expected one of {', '.join(RUNTIME_CLASSES)}; got {runtime_class!r}")
    name = CLASS_RUNTIME.get((kind, runtime_class))
    if name is None:
        have = ", ".join(c for (k, c) in CLASS_RUNTIME if k == kind)
        raise ConfigError("--runtime-class", "", f"no {runtime_class} runtime profile for {kind} systems "
                                                 f"(classes with one: {have}); name profiles with "
                                                 "--runtime-a / --runtime-b to compare across classes")
    return name


def load_spec(cls: type, name_or_path: str | Path, folder: str, overrides: Mapping[str, Any] | None = None, *,
              origin: Mapping[str, str] | None = None, prefix: str = "") -> Any:
    """Load a preset of ``folder`` into the spec class ``cls`` (bases merged, ``overrides``
    applied and validated as the file is, provenance attached): the loader of the kinds
    of preset other layers define, such as wafer designs (``designs/``)."""
    data, source, bases = _load(name_or_path, folder, overrides)
    spec = _build(cls, data, source, overrides, prefix, origin)
    return _provenance(spec, source, bases, overrides, origin, prefix)


def load_model(name_or_path: str | Path, overrides: Mapping[str, Any] | None = None, *,
               origin: Mapping[str, str] | None = None) -> ModelSpec:
    """Load a model preset into a frozen, validated :class:`ModelSpec` (provenance as
    :func:`load_system`)."""
    if not overrides and not origin:
        key = ("workloads", str(find_preset(name_or_path, "workloads").resolve()), "")
        return _cached(key, lambda: _load_model(name_or_path, None, None))
    return _load_model(name_or_path, overrides, origin)


def _load_model(name_or_path: str | Path, overrides: Mapping[str, Any] | None, origin: Mapping[str, str] | None
                ) -> ModelSpec:
    data, source, bases = _load(name_or_path, "workloads", overrides)
    spec = _build(ModelSpec, data, source, overrides, "model.", origin)
    return _provenance(spec, source, bases, overrides, origin, "model.")
