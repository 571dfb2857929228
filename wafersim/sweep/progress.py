"""Progress on a terminal: a bar for sweeps, a ticker for single runs that take a while.

Both write to stderr only when it is a terminal, so that pipes, logs and tests see
nothing; both redraw one line in place (carriage return) and at most ten times a second.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

__all__ = ["Progress", "Ticker", "is_tty", "format_seconds"]

#: Seconds between redraws of the sweep bar: ten a second reads as live and costs nothing.
BAR_INTERVAL_S = 0.1
#: Seconds a single run goes before its ticker line appears: a quick run prints nothing extra.
TICKER_DELAY_S = 2.0
#: Seconds between updates of the ticker line (it counts whole seconds).
TICKER_INTERVAL_S = 1.0
#: Elapsed time the rate divides by at the least, so the first update divides by no zero.
_ELAPSED_LEAST_S = 1e-9


def is_tty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def format_seconds(s: float) -> str:
    if s != s or s == float("inf"):
        return "?"
    s = int(round(s))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


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
