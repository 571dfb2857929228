"""A dataflow program: the contract between mapping and the engines.

Lowering says which bytes move and how much each core computes in each stage;
engines only say how long that takes.  Everything is numpy arrays (structure of
arrays).  Stages of one kind in every region are kept together in one
:class:`StageBatch`: regions are disjoint, so they can be routed in one call
and still be timed per region.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .transfers import Transfers


@dataclass(frozen=True, eq=False)
class StageBatch:
    """One stage (e.g. the QKV GEMV) of every region.

    ``transfer_wafer`` / ``transfer_region`` say which wafer's mesh each transfer
    runs on and which region it belongs to; the per-region arrays give the work
    of the busiest core and the dependent software steps (tree levels, and in a prefill
    block the GEMM's shift steps).
    """
    name: str
    transfers: Transfers
    transfer_wafer: np.ndarray        # int32 [transfers]
    transfer_region: np.ndarray       # int32 [transfers]
    flops_per_core: np.ndarray        # float64 [regions]
    sram_bytes_per_core: np.ndarray   # float64 [regions]
    tree_steps: np.ndarray            # int32 [regions]
    shift_steps: np.ndarray           # int32 [regions]: a prefill GEMM's shift-and-compute steps (dataflow.stages.gemm_steps)
    flops: np.ndarray                 # float64 [regions]: total, for energy
    sram_bytes: np.ndarray            # float64 [regions]: total, for energy
    reuse: np.ndarray | None = None   # float64 [regions]: FMACs each element of the stationary operand read from SRAM
                                      # feeds (a weight: the tokens sharing it; a cached key: the query heads and tokens
                                      # sharing it; engines.core_datapath); None: 1 everywhere


@dataclass(frozen=True, eq=False)
class DataflowProgram:
    """One pass of ``tokens`` tokens through every region (a decode step or a prefill block)."""
    tokens: int
    regions: int
    region_wafer: np.ndarray          # int32 [regions]
    stages: tuple[StageBatch, ...]    # dependent, in order, within each region
    handoff: StageBatch               # region i -> region i + 1 on the same wafer
    io: StageBatch                    # spilled bytes from the edge ports into the regions
    io_edge: np.ndarray               # int8 [io transfers]: edge each enters through (hardware.directions: WEST, EAST, NORTH, SOUTH)
    io_position: np.ndarray           # int64 [io transfers]: its row (W, E) or column (N, S) on that edge
    io_bytes: float                   # bytes read from external memory per pass
    interwafer_bytes: float           # activation bytes crossing each wafer boundary per pass
