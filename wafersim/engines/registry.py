"""The engine registry: one table from (system kind, fidelity) to the engine that runs it.

An engine is anything with two functions (a module is enough)::

    simulate(system, model, scenario, mapping) -> RunResult
    capacity(system, model, scenario, mapping) -> Capacity

``scenario`` is resolved against the model; ``simulate`` gets it sized (batch
and device counts are numbers: :mod:`wafersim.sizing` asks ``capacity`` to
resolve ``--batch max`` and ``--wafers auto``).  ``mapping`` is the wafer
layout (:class:`~wafersim.mapping.options.MappingOptions`); GPU engines ignore it.

The runner, the command line, sweeps and tools ask this table which engines
and fidelities exist.  A new engine is one module plus one :func:`register`
call (or one line in :data:`DEFAULT` for a bundled engine)::

    from wafersim.engines import registry
    registry.register(registry.EngineEntry("wafer", "toy", "a toy model", lambda: my_engine))

The bundled engines are imported only when first used, so that start-up stays
fast.  :func:`registered` adds an engine for the length of a ``with`` block.
"""

from __future__ import annotations

import contextlib
import importlib
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Protocol

from ..config import ConfigError

__all__ = ["Engine", "EngineEntry", "Registry", "DEFAULT", "register", "unregister", "registered",
           "get", "fidelities", "fidelity_or_default", "kinds"]


class Engine(Protocol):
    """What the runner and sizing call (see the module docs)."""

    def simulate(self, system: Any, model: Any, scenario: Any, mapping: Any) -> Any: ...

    def capacity(self, system: Any, model: Any, scenario: Any, mapping: Any) -> Any: ...


@dataclass(frozen=True)
class EngineEntry:
    """One row of the registry: which systems and fidelity, what it models, how to load it."""
    kind: str                         # the system kind it runs on: "wafer", "gpu"
    fidelity: str                     # the name users pick it by: "analytic", "flow"
    description: str
    load: Callable[[], Engine]        # returns the engine (imported on first use)

    def engine(self) -> Engine:
        return self.load()


def _module(name: str) -> Callable[[], Engine]:
    return lambda: importlib.import_module(name)


class Registry:
    """A table of engines; :data:`DEFAULT` is the one the package uses."""

    def __init__(self, entries: tuple[EngineEntry, ...] = ()):
        self._entries: dict[tuple[str, str], EngineEntry] = {}
        for entry in entries:
            self.register(entry)

    def register(self, entry: EngineEntry) -> None:
        key = (entry.kind, entry.fidelity)
        if key in self._entries:
            raise ValueError(f"an engine for {entry.kind} systems at fidelity {entry.fidelity!r} is registered already")
        self._entries[key] = entry

    def unregister(self, kind: str, fidelity: str) -> None:
        self._entries.pop((kind, fidelity), None)

    @contextlib.contextmanager
    def registered(self, entry: EngineEntry) -> Iterator[EngineEntry]:
        self.register(entry)
        try:
            yield entry
        finally:
            self.unregister(entry.kind, entry.fidelity)

    def has(self, kind: str, fidelity: str) -> bool:
        return (kind, fidelity) in self._entries

    def get(self, kind: str, fidelity: str) -> EngineEntry:
        """The entry for ``kind`` systems at ``fidelity``; a ConfigError naming the choices otherwise."""
        entry = self._entries.get((kind, fidelity))
        if entry is None:
            have = self.fidelities(kind)
            if have:
                raise ConfigError("scenario", "fidelity", f"{kind} systems have no {fidelity!r} engine; "
                                  f"expected one of {', '.join(have)}")
            raise ConfigError("scenario", "fidelity", f"no engine runs {kind} systems")
        return entry

    def fidelities(self, kind: str | None = None) -> tuple[str, ...]:
        """Fidelity names, for one kind of system or for any (in registration order)."""
        names = [f for (k, f) in self._entries if kind is None or k == kind]
        return tuple(dict.fromkeys(names))

    def fidelity_or_default(self, kind: str, fidelity: str) -> str:
        """``fidelity`` where ``kind`` systems have it, else their first registered one
        (how ``compare`` and sweeps run a side that lacks the fidelity asked for)."""
        if self.has(kind, fidelity):
            return fidelity
        return self.get(kind, self.fidelities(kind)[0] if self.fidelities(kind) else fidelity).fidelity

    def kinds(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(k for k, _ in self._entries))

    def entries(self) -> tuple[EngineEntry, ...]:
        return tuple(self._entries.values())


DEFAULT = Registry((
    EngineEntry("wafer", "analytic", "closed-form mesh stages and memory plan",
                _module("wafersim.engines.analytic_wafer")),
    EngineEntry("wafer", "flow", "every transfer routed on the physical mesh (Numba)",
                _module("wafersim.engines.flow")),
    EngineEntry("wafer", "cycle", "flow engine's dataflow program, stage transfers simulated flit by flit (Numba)",
                _module("wafersim.engines.cycle")),
    EngineEntry("gpu", "analytic", "per-op roofline, collectives on the topology graph",
                _module("wafersim.engines.analytic_gpu")),
))

register = DEFAULT.register
unregister = DEFAULT.unregister
registered = DEFAULT.registered
get = DEFAULT.get
fidelities = DEFAULT.fidelities
fidelity_or_default = DEFAULT.fidelity_or_default
kinds = DEFAULT.kinds
