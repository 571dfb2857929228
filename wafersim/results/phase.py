"""The time of one phase (prefill or a decode step) and what bounds it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class PhaseTime:
    """Total seconds and the seconds each resource would need on its own.

    ``components`` are the terms the engine combined (some overlap, some add);
    the bottleneck is the resource with the largest term.
    """
    time_s: float
    components: dict[str, float] = field(default_factory=dict)

    @property
    def bottleneck(self) -> str:
        if not self.components:
            return "none"
        return max(sorted(self.components), key=lambda k: self.components[k])

    def shares(self) -> dict[str, float]:
        total = sum(self.components.values()) or 1.0
        return {k: v / total for k, v in sorted(self.components.items())}
