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
    """Largest n >= 1 with ``fits(n)`` (1 if none), doubling from ``guess`` then bisecting;
    ``fits`` must hold for every n below one that fits."""
    if not fits(1):
        return 1
    lo, hi = 1, max(2, guess)
    while fits(hi) and hi < MAX_SEARCH:
        lo, hi = hi, hi * 2
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
