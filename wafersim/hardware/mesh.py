"""The logical core mesh of one wafer as arrays of per-link properties.

Coordinates are ``(y, x)``: ``y`` is the row (0 is the northern edge), ``x``
the column (0 is the western edge).  Every core has four outgoing links, one per
direction, and link arrays are indexed ``[y, x, direction]`` with
``EAST=0, WEST=1, NORTH=2, SOUTH=3``: ``[y, x, EAST]`` is the link from
``(y, x)`` to ``(y, x + 1)``, ``[y, x, NORTH]`` the link to ``(y - 1, x)``.

Link model: a link moves ``mesh.link_bytes_per_cycle`` bytes per cycle in each
direction and takes ``mesh.hop_latency_cycles`` (router plus wire); a link that
joins two dies (die boundaries every ``cores_x / dies_x`` columns and
``cores_y / dies_y`` rows) uses ``scribe.link_bytes_per_cycle``, adds
``scribe.extra_latency_cycles`` and costs ``scribe.energy_j_per_bit`` instead of
the on-die ``energy.link_j_per_bit``.  Cycles become seconds with the core
clock.  Links off the edge of the mesh have bandwidth, latency and energy 0.
With a :class:`~wafersim.hardware.defects.DefectSpec`, a logical link that the
defect map routes over ``h`` physical hops pays ``h - 1`` extra on-die hops of
latency and energy (see :mod:`wafersim.hardware.defects`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .defects import DefectMap, DefectSpec, map_defects
from .directions import DIRECTIONS, EAST, NORTH, SOUTH, WEST
from .wafer import WaferSpec

__all__ = ["PhysicalMesh"]


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class PhysicalMesh:
    """Per-link arrays of one wafer's mesh, shape (ny, nx, 4) each.

    Attributes: ``bandwidth_bytes_per_s``, ``latency_s``, ``energy_j_per_bit``
    (float64), ``crosses_scribe`` (bool), ``link_hops`` (int32: physical hops
    behind each logical link, 1 on a clean wafer, 0 off the edge), ``clock_hz``
    and the ``defect_map`` (``None`` for a clean wafer).
    """
    bandwidth_bytes_per_s: np.ndarray
    latency_s: np.ndarray
    energy_j_per_bit: np.ndarray
    crosses_scribe: np.ndarray
    link_hops: np.ndarray
    clock_hz: float
    defect_map: DefectMap | None = None

    def __post_init__(self) -> None:
        shape = self.bandwidth_bytes_per_s.shape
        if len(shape) != 3 or shape[2] != len(DIRECTIONS):
            raise ValueError(f"link arrays must have shape (ny, nx, {len(DIRECTIONS)}), got {shape}")
        for name in ("latency_s", "energy_j_per_bit", "crosses_scribe", "link_hops"):
            if getattr(self, name).shape != shape:
                raise ValueError(f"{name} has shape {getattr(self, name).shape}, expected {shape}")
        object.__setattr__(self, "bandwidth_bytes_per_s", _readonly(self.bandwidth_bytes_per_s.astype(np.float64)))
        object.__setattr__(self, "latency_s", _readonly(self.latency_s.astype(np.float64)))
        object.__setattr__(self, "energy_j_per_bit", _readonly(self.energy_j_per_bit.astype(np.float64)))
        object.__setattr__(self, "crosses_scribe", _readonly(self.crosses_scribe.astype(np.bool_)))
        object.__setattr__(self, "link_hops", _readonly(self.link_hops.astype(np.int32)))

    @property
    def shape(self) -> tuple[int, int]:
        """(ny, nx) of the logical mesh."""
        return self.bandwidth_bytes_per_s.shape[:2]

    @property
    def ny(self) -> int:
        return self.shape[0]

    @property
    def nx(self) -> int:
        return self.shape[1]

    @property
    def cores(self) -> int:
        return self.ny * self.nx

    @cached_property
    def link_prefix_sums(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Prefix sums of link latency and scribe crossings along rows and columns (read-only, computed once).

        ``(lat_x, cross_x, lat_y, cross_y)``: ``lat_x[y, j, s]`` is the latency sum of
        links ``[y, 0..j-1, EAST + s]`` (shape (ny, nx + 1, 2), float64);
        ``lat_y[i, x, s]`` of links ``[0..i-1, x, NORTH + s]`` (shape (ny + 1, nx, 2));
        ``cross_x`` and ``cross_y`` (int32) count scribe links likewise.  The sums run
        in index order, so a difference of two entries is the latency of a straight
        run of links.  They depend on the mesh only, so routing reads them here
        instead of recomputing them for every set of transfers.
        """
        ny, nx = self.shape
        lat_x, lat_y = np.zeros((ny, nx + 1, 2)), np.zeros((ny + 1, nx, 2))
        cross_x, cross_y = np.zeros((ny, nx + 1, 2), dtype=np.int32), np.zeros((ny + 1, nx, 2), dtype=np.int32)
        np.cumsum(self.latency_s[:, :, EAST:WEST + 1], axis=1, out=lat_x[:, 1:])
        np.cumsum(self.crosses_scribe[:, :, EAST:WEST + 1], axis=1, dtype=np.int32, out=cross_x[:, 1:])
        np.cumsum(self.latency_s[:, :, NORTH:SOUTH + 1], axis=0, out=lat_y[1:])
        np.cumsum(self.crosses_scribe[:, :, NORTH:SOUTH + 1], axis=0, dtype=np.int32, out=cross_y[1:])
        for a in (lat_x, cross_x, lat_y, cross_y):
            a.setflags(write=False)
        return lat_x, cross_x, lat_y, cross_y

    @property
    def link_exists(self) -> np.ndarray:
        """(ny, nx, 4) bool: the link leads to a core of the mesh."""
        return self.bandwidth_bytes_per_s > 0

    @classmethod
    def from_spec(cls, spec: WaferSpec, defects: DefectSpec | None = None,
                  window: tuple[int, int] | None = None) -> "PhysicalMesh":
        """Build the link arrays of ``spec``'s mesh, optionally behind a defect map.

        ``window`` ``(rows, cols)``: only the cores ``[0:rows, 0:cols]`` of the wafer, every
        link exactly as in the whole mesh (a link out of the window to a core of the wafer
        exists), so that a run using part of a wafer holds arrays for that part only."""
        m, clock = spec.mesh, spec.core.clock_hz
        ny, nx = m.cores_y, m.cores_x
        wy, wx = (ny, nx) if window is None else window
        if not (1 <= wy <= ny and 1 <= wx <= nx):
            raise ValueError(f"window {wy} x {wx} must lie within the {ny} x {nx} mesh")
        ys, xs = np.arange(wy)[:, None], np.arange(wx)[None, :]
        exists = np.zeros((wy, wx, 4), dtype=bool)
        exists[:, :, EAST] = xs < nx - 1
        exists[:, :, WEST] = xs > 0
        exists[:, :, NORTH] = ys > 0
        exists[:, :, SOUTH] = ys < ny - 1

        # a link between column x-1 and x (row y-1 and y) crosses a scribe line where x (y) starts a die
        scribe = np.zeros((wy, wx, 4), dtype=bool)
        scribe[:, :, EAST] = ((xs + 1) % m.die_cores_x == 0) & (xs + 1 < nx)
        scribe[:, :, WEST] = (xs % m.die_cores_x == 0) & (xs > 0)
        scribe[:, :, SOUTH] = ((ys + 1) % m.die_cores_y == 0) & (ys + 1 < ny)
        scribe[:, :, NORTH] = (ys % m.die_cores_y == 0) & (ys > 0)

        hop_s = m.hop_latency_cycles / clock
        on_die_j = spec.energy.link_j_per_bit
        bandwidth = np.where(scribe, spec.scribe.link_bytes_per_cycle, m.link_bytes_per_cycle) * clock
        latency = np.where(scribe, (m.hop_latency_cycles + spec.scribe.extra_latency_cycles) / clock, hop_s)
        energy = np.where(scribe, spec.scribe.energy_j_per_bit, on_die_j)

        defect_map = None
        hops = exists.astype(np.int32)
        if defects is not None:
            defect_map = map_defects(m, defects)
            hops = np.where(exists, defect_map.link_hops[:wy, :wx], 0).astype(np.int32)
            extra = np.maximum(hops - 1, 0)
            latency = latency + extra * hop_s
            energy = energy + extra * on_die_j

        return cls(
            bandwidth_bytes_per_s=np.where(exists, bandwidth, 0.0),
            latency_s=np.where(exists, latency, 0.0),
            energy_j_per_bit=np.where(exists, energy, 0.0),
            crosses_scribe=scribe & exists,
            link_hops=hops,
            clock_hz=clock,
            defect_map=defect_map,
        )
