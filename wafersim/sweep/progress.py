"""Progress on a terminal: a bar for sweeps, a ticker for single runs that take a while.

Both write to stderr only when it is a terminal, so that pipes, logs and tests see
nothing; both redraw one line in place (carriage return) and at most ten times a second.
:class:`WorkMeter`, the progress of one long simulation against its estimated work,
writes on a terminal the same way and elsewhere (a log) a plain line every
:data:`LOG_INTERVAL_S`, once the run has gone :data:`TICKER_DELAY_S`.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

from ..text import format_seconds

__all__ = ["Progress", "Ticker", "WorkMeter", "is_tty", "format_seconds"]

#: Seconds between redraws of the sweep bar: ten a second reads as live and costs nothing.
BAR_INTERVAL_S = 0.1
#: Seconds a single run goes before its ticker line appears: a quick run prints nothing extra.
TICKER_DELAY_S = 2.0
#: Seconds between updates of the ticker line (it counts whole seconds).
TICKER_INTERVAL_S = 1.0
#: Seconds between the lines of a :class:`WorkMeter` when stderr is not a terminal, and
#: before its first: a log gets a line only from a run that takes a while.
LOG_INTERVAL_S = 30.0
LOG_DELAY_S = 10.0
#: Elapsed time the rate divides by at the least, so the first update divides by no zero.
_ELAPSED_LEAST_S = 1e-9


def is_tty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


class Progress:
    """Points done, failed, remaining, rate and ETA of a sweep, on one line of ``stream``.

    ``already`` points were finished by an earlier run (``--resume``); the rate counts only
    this run's points."""

    WIDTH = 24          # characters of the bar itself: the whole line fits an 80-column terminal

    def __init__(self, total: int, already: int = 0, stream: TextIO | None = None, enabled: bool | None = None,
                 clock=time.monotonic, interval: float = BAR_INTERVAL_S):
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = is_tty(self.stream) if enabled is None else enabled
        self.total, self.done, self.failed, self.already = total, already, 0, already
        self.clock, self.interval = clock, interval
        self.start = clock()
        self._last = -1e9

    def update(self, ok: bool = True) -> None:
        self.done += 1
        self.failed += 0 if ok else 1
        now = self.clock()
        if self.enabled and (now - self._last >= self.interval or self.done == self.total):
            self._last = now
            self.stream.write("\r" + self.line(now) + "\x1b[K")
            self.stream.flush()

    def line(self, now: float | None = None) -> str:
        now = self.clock() if now is None else now
        elapsed = max(now - self.start, _ELAPSED_LEAST_S)
        fresh = self.done - self.already
        rate = fresh / elapsed
        left = self.total - self.done
        eta = left / rate if rate > 0 else float("inf")
        filled = int(self.WIDTH * self.done / self.total) if self.total else self.WIDTH
        bar = "#" * filled + "." * (self.WIDTH - filled)
        return (f"[{bar}] {self.done}/{self.total} done, {self.failed} failed, {left} left, "
                f"{rate:.3g} points/s, ETA {format_seconds(eta)}")

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r" + self.line() + "\x1b[K\n")
            self.stream.flush()


class Ticker:
    """After ``delay`` seconds, ``label ... N s`` on one line of ``stream`` until the block
    ends (a terminal only); the line is cleared at the end::

        with Ticker("wse3 running llama-3.1-405b"):
            result = simulate(...)
    """

    def __init__(self, label: str, stream: TextIO | None = None, delay: float = TICKER_DELAY_S, interval: float = TICKER_INTERVAL_S,
                 enabled: bool | None = None):
        self.label, self.delay, self.interval = label, delay, interval
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = is_tty(self.stream) if enabled is None else enabled
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.shown = False

    def _run(self) -> None:
        start = time.monotonic()
        if self._stop.wait(self.delay):
            return
        while True:
            self.shown = True
            self.stream.write(f"\r{self.label} ... {format_seconds(time.monotonic() - start)}\x1b[K")
            self.stream.flush()
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> "Ticker":
        if self.enabled:
            self._thread = threading.Thread(target=self._run, name="wafersim-ticker", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            if self.shown:
                self.stream.write("\r\x1b[K")
                self.stream.flush()


class WorkMeter:
    """``label [####....] 42 % of 3.1e8 router-cycles, ETA 1 min 05 s`` for one long run:
    redrawn in place on a terminal (ten times a second at most), a plain line every
    ``log_interval`` seconds elsewhere; nothing before ``delay`` seconds, so a quick run
    prints nothing.  ``update(done)`` takes the work done so far."""

    WIDTH = 20

    def __init__(self, label: str, total: float, stream: TextIO | None = None, unit: str = "router-cycles",
                 delay: float = TICKER_DELAY_S, log_interval: float = LOG_INTERVAL_S, clock=time.monotonic,
                 tty: bool | None = None):
        self.label, self.total, self.unit = label, max(float(total), 1.0), unit
        self.stream = stream if stream is not None else sys.stderr
        self.tty = is_tty(self.stream) if tty is None else tty
        self.interval = BAR_INTERVAL_S if self.tty else log_interval
        self.delay, self.clock = (delay if self.tty else max(delay, LOG_DELAY_S)), clock
        self.start = clock()
        self._last = -1e18
        self.shown = False

    def line(self, done: float, now: float) -> str:
        share = min(max(done / self.total, 0.0), 1.0)
        rate = done / max(now - self.start, _ELAPSED_LEAST_S)
        eta = (self.total - done) / rate if rate > 0 else float("inf")
        bar = "#" * int(self.WIDTH * share) + "." * (self.WIDTH - int(self.WIDTH * share))
        return (f"{self.label} [{bar}] {share:4.0%} of {self.total:.3g} {self.unit}, "
                f"ETA {format_seconds(max(eta, 0.0))}")

    def update(self, done: float) -> None:
        now = self.clock()
        if now - self.start < self.delay or now - self._last < self.interval:
            return
        self._last = now
        self.shown = True
        if self.tty:
            self.stream.write("\r" + self.line(done, now) + "\x1b[K")
        else:
            self.stream.write(self.line(done, now) + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.shown and self.tty:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
