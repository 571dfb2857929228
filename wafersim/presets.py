"""Finding and loading presets by name or by path.

Hardware presets live in ``meshes/``, model presets in ``workloads/``.  A name
is a file stem (``wse3``, ``llama-3.1-8b``); anything that looks like a path
(has a slash or ends in ``.toml``) is read as a path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from .config import ConfigError, apply_overrides, build, load_toml
from .hardware.gpu import GpuSystemSpec
from .hardware.wafer import WaferSpec
from .workload.model import ModelSpec

__all__ = ["preset_dirs", "find_preset", "list_presets", "load_system", "load_model", "System"]

System = WaferSpec | GpuSystemSpec
_SYSTEM_KINDS = {"wafer": WaferSpec, "gpu": GpuSystemSpec}


def preset_dirs(folder: str) -> list[Path]:
    """Where presets of ``folder`` ('meshes' or 'workloads') are looked for, in order."""
    here = Path(__file__).resolve().parent
    return [p for p in (here.parent / folder, here / "data" / folder) if p.is_dir()]


def list_presets(folder: str) -> list[str]:
    names: set[str] = set()
    for d in preset_dirs(folder):
        names.update(p.stem for p in d.glob("*.toml"))
    return sorted(names)


def find_preset(name_or_path: str | Path, folder: str) -> Path:
    text = str(name_or_path)
    if "/" in text or text.endswith(".toml") or Path(text).is_file():
        path = Path(text)
        if not path.is_file():
            raise ConfigError(text, "", "file not found")
        return path
    for d in preset_dirs(folder):
        path = d / f"{text}.toml"
        if path.is_file():
            return path
    known = ", ".join(list_presets(folder)) or "none found"
    raise ConfigError(text, "", f"no preset named {text!r} in {folder}/; known presets: {known}")


def _load(name_or_path: str | Path, folder: str, overrides: Mapping[str, Any] | None) -> tuple[dict, str]:
    path = find_preset(name_or_path, folder)
    data = load_toml(path)
    if overrides:
        data = apply_overrides(data, overrides)
    return data, str(path)


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
    validated exactly as the file is.
    """
    data, source = _load(name_or_path, "meshes", overrides)
    kind = data.get("kind")
    if kind not in _SYSTEM_KINDS:
        raise ConfigError(source, "kind", f"expected one of {', '.join(_SYSTEM_KINDS)}; got {kind!r}")
    return _build(_SYSTEM_KINDS[kind], data, source, overrides, "system.", origin)


def load_model(name_or_path: str | Path, overrides: Mapping[str, Any] | None = None) -> ModelSpec:
    """Load a model preset into a frozen, validated :class:`ModelSpec`."""
    data, source = _load(name_or_path, "workloads", overrides)
    return _build(ModelSpec, data, source, overrides, "model.")
