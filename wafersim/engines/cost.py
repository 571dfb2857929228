"""What a long simulation will cost, said before it starts, and the bound it needs ``--force`` past.

The cycle-level network (``--fidelity cycle`` and ``wafersim noc-sweep``) costs about
one unit of work per router-cycle it simulates, plus the setting up of every router
of the box it simulates (:data:`SETUP_ROUTER_CYCLES` each).  Before it starts, a run
estimates its work (:func:`check`), says so where the caller asked (the command
line prints it on stderr), and is refused above :data:`WORK_MAX` router-cycles, or
when the routers' buffers would take more than :data:`MEMORY_MAX` bytes, unless
the caller lifted the bound (``with budget(force=True)``: ``--force``).  Sweeps,
``explore`` and ``compare`` run their points under the default bound, so a point
above it is refused with the message, as any other refused point.

The bound and the choice of whether to report are the caller's, held for the length
of a ``with budget(...)`` block (a context variable: nothing outlives the block).
"""

from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass
from typing import Callable, Iterator

from ..config import ConfigError

__all__ = ["WORK_MAX", "MEMORY_MAX", "ROUTER_CYCLES_PER_S", "SETUP_ROUTER_CYCLES", "Budget", "budget", "check",
           "meter", "describe"]

#: Most router-cycles a run starts without ``--force``: about two minutes of one core
#: at :data:`ROUTER_CYCLES_PER_S`.
WORK_MAX = 2e8
#: Most bytes of router state (buffers of every virtual channel of every router) a run
#: allocates without ``--force``.
MEMORY_MAX = 4 * 2**30
#: Router-cycles the kernel simulates a second on one core of a 2-core x86 machine under
#: load (tests/engines/test_cycle_network.py's saturation runs: 2.0e6 on 16 x 16 and
#: 64 x 64 meshes); the estimate's seconds use it.
ROUTER_CYCLES_PER_S = 2e6
#: Work of setting up one router of a simulated box, in router-cycles (about 2 us a
#: router against 0.5 us a router-cycle, on a 900 x 900 box).
SETUP_ROUTER_CYCLES = 4.0


@dataclass(frozen=True)
class Budget:
    """The bound in force (``None``: none) and where estimates and progress are reported."""
    limit: float | None = WORK_MAX
    report: Callable[[str], None] | None = None
    progress: Callable[[str, float], "Meter"] | None = None


_BUDGET: contextvars.ContextVar[Budget] = contextvars.ContextVar("wafersim_work_budget", default=Budget())


@contextlib.contextmanager
def budget(force: bool = False, report: Callable[[str], None] | None = None,
           progress: Callable[[str, float], "Meter"] | None = None) -> Iterator[Budget]:
    """Runs in the block are bounded by :data:`WORK_MAX` unless ``force``; ``report(line)``
    gets each estimate and ``progress(label, total)`` makes the meter of a long run."""
    token = _BUDGET.set(Budget(None if force else WORK_MAX, report, progress))
    try:
        yield _BUDGET.get()
    finally:
        _BUDGET.reset(token)


def describe(work: float, memory_bytes: float = 0.0) -> str:
    from ..text import format_seconds
    text = f"{work:.3g} router-cycles (about {format_seconds(work / ROUTER_CYCLES_PER_S)} on one core"
    if memory_bytes >= 2**30:
        text += f", {memory_bytes / 2**30:.3g} GiB of router buffers"
    elif memory_bytes >= 2**20:
        text += f", {memory_bytes / 2**20:.3g} MiB of router buffers"
    return text + ")"


def check(work: float, what: str, source: str, key: str, hint: str, memory_bytes: float = 0.0) -> None:
    """Report the estimate of ``what`` and refuse it above the bound in force (a
    :class:`ConfigError` blaming ``source``/``key``, with ``hint`` on what to change)."""
    b = _BUDGET.get()
    if b.report is not None:
        b.report(f"{what}: estimated {describe(work, memory_bytes)}")
    if b.limit is None:
        return
    if work > b.limit or memory_bytes > MEMORY_MAX:
        raise ConfigError(source, key, f"{what} would take {describe(work, memory_bytes)}, above the bound of "
                          f"{b.limit:.3g} router-cycles and {MEMORY_MAX / 2**30:g} GiB; {hint}, or --force to run it "
                          "anyway")


class Meter:
    """Progress of a long run: ``update(done)`` with the work done so far; ``close()``."""

    def update(self, done: float) -> None:
        pass

    def close(self) -> None:
        pass


def meter(label: str, total: float) -> Meter:
    """The progress meter the caller asked for (one that shows nothing if none)."""
    b = _BUDGET.get()
    return b.progress(label, total) if b.progress is not None else Meter()
