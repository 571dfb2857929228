"""Failed cores and the clean logical mesh that software sees.

The model (kept deliberately small):

* The spec's mesh (``cores_y x cores_x``) is the *logical* mesh.  Physically each
  die carries ``s`` extra spare columns at its east edge, so a die row holds
  ``die_cores_x + s`` physical cores and the physical wafer is
  ``cores_y x dies_x * (die_cores_x + s)``.
* Failed physical cores are drawn independently with probability ``density``
  from ``numpy.random.Generator(PCG64(seed))`` (one uniform draw per physical
  core, row-major), plus an explicit list of ``(y, x)`` physical positions.
* Every logical row stays a physical row.  Within one die row the logical
  columns take the working physical cores in order, west to east, so a failed
  core shifts the rest of that die row one column east into the spares.  If a
  die row has more failed cores than spares, :class:`ValueError` names it.
* A logical link costs as many physical hops as the Manhattan distance between
  the physical cores it joins: an east/west link that steps over one failed
  core is a 2-hop path, a north/south link between two rows shifted by
  different amounts gets one sideways hop per column of skew.  Its latency and
  energy grow by one on-die hop per extra physical hop (so a detour inside a
  die exactly doubles them); its bandwidth is unchanged.  Two detours may share
  a physical wire; that sharing is *not* modelled (an optimistic assumption).
* Links that cross a die boundary join the last logical core of one die to the
  first of the next: the die-edge port is assumed to follow the row shift, so
  an east/west crossing is always one hop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .directions import EAST, NORTH, SOUTH, WEST
from .wafer import MeshSpec

__all__ = ["DefectSpec", "DefectMap", "map_defects"]


@dataclass(frozen=True, kw_only=True)
class DefectSpec:
    """How cores fail and how many spares each die row has.

    Give exactly one of ``spare_columns_per_die`` (spare physical columns per
    die) and ``spare_fraction`` (spares as a share of a die's logical columns,
    rounded up).
    """
    density: float = 0.0
    failed: tuple[tuple[int, int], ...] = ()
    spare_columns_per_die: int | None = None
    spare_fraction: float | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if not (0.0 <= self.density <= 1.0) or not math.isfinite(self.density):
            raise ValueError(f"defect density must lie in [0, 1], got {self.density!r}")
        if (self.spare_columns_per_die is None) == (self.spare_fraction is None):
            raise ValueError("give exactly one of spare_columns_per_die and spare_fraction")
        if self.spare_columns_per_die is not None and (
                isinstance(self.spare_columns_per_die, bool) or not isinstance(self.spare_columns_per_die, int)
                or self.spare_columns_per_die < 0):
            raise ValueError(f"spare_columns_per_die must be an integer >= 0, got {self.spare_columns_per_die!r}")
        if self.spare_fraction is not None and not (0.0 <= self.spare_fraction <= 1.0):
            raise ValueError(f"spare_fraction must lie in [0, 1], got {self.spare_fraction!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {self.seed!r}")
        failed = tuple((int(y), int(x)) for y, x in self.failed)
        object.__setattr__(self, "failed", failed)

    def spares_per_die(self, die_cores_x: int) -> int:
        if self.spare_columns_per_die is not None:
            return self.spare_columns_per_die
        return math.ceil(self.spare_fraction * die_cores_x)


@dataclass(frozen=True, eq=False)
class DefectMap:
    """The physical wafer behind a clean logical mesh.

    ``failed`` is (ny, physical_nx) bool; ``physical_x`` is (ny, nx) int32, the
    physical column of each logical core (its row is the same); ``link_hops``
    is (ny, nx, 4) int32, physical hops of each logical link (0 off the edge).
    """
    spares_per_die: int
    failed: np.ndarray
    physical_x: np.ndarray
    link_hops: np.ndarray
    seed: int = field(default=0)

    @property
    def physical_shape(self) -> tuple[int, int]:
        return self.failed.shape

    @property
    def physical_cores(self) -> int:
        return int(self.failed.size)

    @property
    def failed_cores(self) -> int:
        return int(self.failed.sum())

    @property
    def logical_cores(self) -> int:
        """Cores of the clean logical mesh that remain for software."""
        return int(self.physical_x.size)

    @property
    def unused_spare_cores(self) -> int:
        return self.physical_cores - self.failed_cores - self.logical_cores

    @property
    def detoured_links(self) -> int:
        return int((self.link_hops > 1).sum())


def map_defects(mesh: MeshSpec, defects: DefectSpec) -> DefectMap:
    """Draw failed cores and map the logical mesh onto the physical wafer."""
    ny, nx, w = mesh.cores_y, mesh.cores_x, mesh.die_cores_x
    s = defects.spares_per_die(w)
    seg = w + s
    pnx = mesh.dies_x * seg
    rng = np.random.Generator(np.random.PCG64(defects.seed))
    failed = rng.random((ny, pnx)) < defects.density
    for i, (y, x) in enumerate(defects.failed):
        if not (0 <= y < ny and 0 <= x < pnx):
            raise ValueError(f"failed core {i} at (y={y}, x={x}) is outside the {ny} x {pnx} physical wafer")
        failed[y, x] = True

    per_die = failed.reshape(ny, mesh.dies_x, seg)
    bad = per_die.sum(axis=2)
    if (bad > s).any():
        y, d = map(int, np.argwhere(bad > s)[0])
        raise ValueError(
            f"spare columns run out: row {y} of die column {d} has {int(bad[y, d])} failed cores "
            f"but only {s} spare columns per die row")
    # Working cores first, in west-to-east order (stable sort on the failed flag).
    order = np.argsort(per_die, axis=2, kind="stable")[:, :, :w]
    physical_x = (order + (np.arange(mesh.dies_x) * seg)[None, :, None]).reshape(ny, nx).astype(np.int32)

    hops = np.zeros((ny, nx, 4), dtype=np.int32)
    east = (physical_x[:, 1:] - physical_x[:, :-1]).astype(np.int32)
    die_edge = (np.arange(1, nx) % w) == 0
    east[:, die_edge] = 1
    hops[:, :-1, EAST] = east
    hops[:, 1:, WEST] = east
    south = 1 + np.abs(physical_x[1:, :] - physical_x[:-1, :]).astype(np.int32)
    hops[:-1, :, SOUTH] = south
    hops[1:, :, NORTH] = south
    return DefectMap(spares_per_die=s, failed=failed, physical_x=physical_x, link_hops=hops, seed=defects.seed)
