"""The four directions of a mesh link, one numbering for the whole package.

Link arrays are indexed ``[y, x, direction]``: ``[y, x, EAST]`` is the link from
``(y, x)`` to ``(y, x + 1)``, ``[y, x, NORTH]`` the link to ``(y - 1, x)`` (row 0
is the northern edge).  Edge I/O names the wafer's edges with the same numbers:
the western edge is ``WEST``.
"""

from __future__ import annotations

__all__ = ["EAST", "WEST", "NORTH", "SOUTH", "DIRECTIONS"]

EAST, WEST, NORTH, SOUTH = 0, 1, 2, 3
#: one-letter names, indexed by direction
DIRECTIONS = ("E", "W", "N", "S")
