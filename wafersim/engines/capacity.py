"""What a system can hold, as one engine sees it: the only question sizing asks an engine.

Each engine gives a :class:`Capacity` for a (system, model, scenario, mapping);
:mod:`wafersim.sizing` resolves ``--batch max`` and ``--wafers auto`` from it
without knowing how the engine lays out bytes.  ``devices`` is the number of
wafers or GPUs the job runs on.
"""

from __future__ import annotations

from typing import Callable

__all__ = ["Capacity", "largest_fitting"]

#: batches beyond this are not searched (a bound that keeps every count exact)
MAX_SEARCH = 1 << 30


def largest_fitting(fits: Callable[[int], bool], guess: int = 1) -> int:
    """Largest n >= 1 with ``fits(n)`` (1 if none); ``fits`` must hold for every n below one
    that fits.  The search gallops from ``guess`` (steps 1, 2, 4, ... up while n fits, down
    while it does not) to bracket the answer, then bisects the bracket: a guess within k of
    the answer costs about 2 log2(k) + 2 calls, a right one two (the guess and one past it:
    ``fits(1)`` follows from the guess), and no n is asked twice."""
    g = min(max(1, guess), MAX_SEARCH - 1)
    step = 1
    if g > 1 and not fits(g):                   # lo fits (or is 1), hi does not
        lo, hi = g - 1, g
        while lo > 1 and not fits(lo):
            hi, step = lo, step * 2
            lo = max(1, g - step)
    else:                                       # g fits (or is 1); MAX_SEARCH counts as not fitting
        lo, hi = g, min(g + 1, MAX_SEARCH)
        while hi < MAX_SEARCH and fits(hi):
            lo, step = hi, step * 2
            hi = min(g + step, MAX_SEARCH)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo


class Capacity:
    """Memory of a job on ``devices`` devices.  Engines subclass it; sizing only calls these."""

    def fits(self, batch: int, devices: int) -> bool:
        """Whether the weights and the KV cache of ``batch`` sequences fit on chip."""
        raise NotImplementedError

    def holds_weights(self, batch: int, devices: int) -> bool:
        """Whether at least the weights fit on chip (the KV cache may spill)."""
        raise NotImplementedError

    def device_range(self, batch: int) -> tuple[int, int]:
        """(fewest devices that could fit ``batch``, most the system and model allow)."""
        raise NotImplementedError

    def check_devices(self, devices: int) -> None:
        """Raise :class:`~wafersim.config.ConfigError` when ``devices`` cannot run the job."""

    def largest_batch(self, devices: int) -> int:
        """Largest batch that fits on ``devices`` (1 when none does)."""
        return largest_fitting(lambda b: self.fits(b, devices))
