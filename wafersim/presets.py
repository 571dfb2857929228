"""Finding and loading presets by name or by path.

Hardware presets live in ``meshes/``, model presets in ``workloads/``.  A name
is a file stem (``wse3``, ``llama-3.1-8b``); anything that looks like a path
(has a slash or ends in ``.toml``) is read as a path.

A preset may build on another: ``base = "wse3"`` (a preset name, or a path
relative to the file's own folder) takes every value of the base and the file
overrides what differs, table by table.  Bases may have bases.  A preset with a
base and no ``name`` of its own is named after its file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from .config import ConfigError, apply_overrides, build, load_toml
from .hardware.gpu import GpuSystemSpec
from .hardware.wafer import WaferSpec
from .provenance import PresetFile, Provenance, attach, typed_value
from .workload.model import ModelSpec

__all__ = ["preset_dirs", "find_preset", "list_presets", "load_system", "load_model", "System"]

System = WaferSpec | GpuSystemSpec
_SYSTEM_KINDS = {"wafer": WaferSpec, "gpu": GpuSystemSpec}


def preset_dirs(folder: str) -> list[Path]:
    """Where presets of ``folder`` ('meshes' or 'workloads') are looked for, in order."""
    here = Path(__file__).resolve().parent
    return [p for p in (here.parent / folder, here / "data" / folder) if p.is_dir()]


def recorded_path(path: Path) -> str:
    """How a result names a preset file: ``meshes/wse3.toml`` for a bundled preset (the
    same on every machine, so results stay byte-identical across checkouts), the
    absolute path for a user's own file."""
    resolved = path.resolve()
    for folder in ("meshes", "workloads"):
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
    raise ConfigError(text, "", f"no preset named {text!r} in {folder}/; known presets: {known}")


_KINDS = {"meshes": ("wafer", "gpu"), "workloads": ("model",)}
_FOLDER_OF_KIND = {kind: folder for folder, kinds in _KINDS.items() for kind in kinds}
_WHAT = {"meshes": "a hardware preset (meshes/)", "workloads": "a model preset (workloads/)"}


def _looks_like_path(text: str) -> bool:
    return "/" in text or text.endswith(".toml")


def _kind_of(data: Mapping[str, Any], path: Path) -> str | None:
    """The kind a preset declares, else the one its folder implies (None if neither says)."""
    kind = data.get("kind")
    if isinstance(kind, str):
        return kind
    return {"workloads": "model"}.get(path.parent.name)


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
    other = "workloads" if folder == "meshes" else "meshes"
    if any(_is_file(d / f"{base}.toml") for d in preset_dirs(other)):
        raise ConfigError(str(child), "base", f"{base!r} is {_WHAT[other]}; expected {_WHAT[folder]}")
    known = ", ".join(list_presets(folder)) or "none found"
    raise ConfigError(str(child), "base", f"no preset named {base!r}; expected {_WHAT[folder]} "
                                          f"({known}) or a path to a TOML file")


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


def _resolve(path: Path, folder: str, chain: tuple[Path, ...] = (),
             files: list[Path] | None = None) -> tuple[dict, list[PresetFile]]:
    """The preset at ``path`` with its bases merged in, and the base chain (nearest first).

    ``chain`` holds the files (resolved) that led here, to catch loops; ``files``, when
    given, gets every file read (resolved).  A preset with a ``base`` and no ``name`` is
    named after its file.  Errors name ``path`` as given."""
    chain = (*chain, path.resolve())
    if files is not None:
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
    base_data, base_chain = _resolve(base_path, folder, chain, files)
    _check_kind(path, data, base_path, base_data, folder)
    base_name = str(base_data.get("name", base_path.stem))
    merged = _merge(base_data, data)
    if "name" not in data:
        merged["name"] = path.stem
    return merged, [PresetFile(base_name, recorded_path(base_path)), *base_chain]


def _load(name_or_path: str | Path, folder: str, overrides: Mapping[str, Any] | None,
          files: list[Path] | None = None) -> tuple[dict, str, list[PresetFile]]:
    path = find_preset(name_or_path, folder)
    data, bases = _resolve(path, folder, files=files)
    if overrides:
        data = apply_overrides(data, overrides)
    return data, str(path), bases


#: (folder, preset file) -> (versions of every file of its base chain, the spec built from them):
#: a preset loaded by name again, with no overrides and no file changed since, is the same
#: frozen spec, so a sweep that names its presets pays for them once
_SPECS: dict[tuple[str, str], tuple[tuple[tuple[Path, int, int], ...], Any]] = {}
_SPECS_KEPT = 256


def _versions(files: list[Path]) -> tuple[tuple[Path, int, int], ...] | None:
    try:
        return tuple((p, st.st_size, st.st_mtime_ns) for p in files for st in (p.stat(),))
    except OSError:
        return None


def _cached(name_or_path: str | Path, folder: str, load: Any) -> Any:
    """The spec ``load(files)`` builds for a preset without overrides, built once per version
    of its files (``load`` appends the files it reads to ``files``)."""
    key = (folder, str(find_preset(name_or_path, folder).resolve()))
    hit = _SPECS.get(key)
    if hit is not None and _versions([p for p, _, _ in hit[0]]) == hit[0]:
        return hit[1]
    files: list[Path] = []
    spec = load(files)
    versions = _versions(files)
    if versions is not None:
        if len(_SPECS) >= _SPECS_KEPT:
            del _SPECS[next(iter(_SPECS))]            # the oldest
        _SPECS[key] = (versions, spec)
    return spec


def _provenance(spec: Any, source: str, bases: list[PresetFile], overrides: Mapping[str, Any] | None,
                origin: Mapping[str, str] | None, prefix: str) -> Any:
    overrides = dict(overrides or {})
    typed = tuple((origin or {}).get(k) or f"{prefix}{k}={typed_value(v)}" for k, v in overrides.items())
    return attach(spec, Provenance(name=spec.name, path=recorded_path(Path(source)), bases=tuple(bases),
                                   set=typed, overrides=overrides))


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
                origin: Mapping[str, str] | None = None) -> System:
    """Load a hardware preset (wafer or GPU system) into a frozen, validated spec.

    ``overrides`` maps dotted keys to values ({"core.sram_bytes": "64 KiB"}) and is
    validated exactly as the file is; ``origin`` maps a key to the ``--set`` text the
    user typed for it.  A preset may inherit from another (``base = "wse3"``).  The
    spec's ``provenance`` (not part of its equality) names the file, its base chain
    and the overrides.  Without overrides, the spec of a preset is built once per version
    of its files: loading it again returns the same (frozen) spec.
    """
    if not overrides and not origin:
        return _cached(name_or_path, "meshes", lambda files: _load_system(name_or_path, None, None, files))
    return _load_system(name_or_path, overrides, origin)


def _load_system(name_or_path: str | Path, overrides: Mapping[str, Any] | None, origin: Mapping[str, str] | None,
                 files: list[Path] | None = None) -> System:
    data, source, bases = _load(name_or_path, "meshes", overrides, files)
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in _SYSTEM_KINDS:
        shown = repr(kind) if len(repr(kind)) <= 80 else repr(kind)[:77] + "..."
        where = source
        if overrides and "kind" in overrides:
            where = f"--set {(origin or {}).get('kind') or 'system.kind=' + repr(overrides['kind'])[:60]} (on {source})"
        raise ConfigError(where, "kind", f"expected one of {', '.join(_SYSTEM_KINDS)}; got {shown}")
    spec = _build(_SYSTEM_KINDS[kind], data, source, overrides, "system.", origin)
    return _provenance(spec, source, bases, overrides, origin, "system.")


def load_model(name_or_path: str | Path, overrides: Mapping[str, Any] | None = None, *,
               origin: Mapping[str, str] | None = None) -> ModelSpec:
    """Load a model preset into a frozen, validated :class:`ModelSpec` (provenance as
    :func:`load_system`)."""
    if not overrides and not origin:
        return _cached(name_or_path, "workloads", lambda files: _load_model(name_or_path, None, None, files))
    return _load_model(name_or_path, overrides, origin)


def _load_model(name_or_path: str | Path, overrides: Mapping[str, Any] | None, origin: Mapping[str, str] | None,
                files: list[Path] | None = None) -> ModelSpec:
    data, source, bases = _load(name_or_path, "workloads", overrides, files)
    spec = _build(ModelSpec, data, source, overrides, "model.", origin)
    return _provenance(spec, source, bases, overrides, origin, "model.")
