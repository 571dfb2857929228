"""The dependent mesh stages of one decoder layer, shared by every wafer engine."""

from __future__ import annotations

import math

from ..workload.stages import stage_shapes  # noqa: F401  (re-exported: the engines import it from here)

# stages whose work is attention over the KV cache (split evenly between them)
ATTENTION_STAGES = ("scores", "weighted_sum")


def is_gemm(name: str, weights: float) -> bool:
    """A stage that multiplies the tokens' activations by a matrix: a projection (it reads
    weights) or attention's scores and weighted sum.  The norms' and the softmax's
    reductions are not: a prefill block pays GEMM shift steps (:func:`gemm_steps`) only here."""
    return weights > 0 or name in ATTENTION_STAGES


def gemm_steps(rows: float, cols: float, tokens: int) -> int:
    """Shift-and-compute steps of one GEMM of a block of ``tokens`` tokens on a ``rows`` x
    ``cols`` core region.  WaferLLM's MeshGEMM on a P x P grid (MeshGEMM/WSE-2/src/meshgemm.csl,
    ``step < P``) passes the activation and weight blocks along in P steps, each a local block
    product and a shift to a neighbour; a rectangular region takes as many as its longer side.
    A block of fewer tokens than that streams its token rows past the weights instead, one
    step each.  What a step costs beyond its arithmetic is ``calibration.gemm_step_cycles``."""
    return int(min(tokens, math.ceil(max(rows, cols))))


def reduction_steps(n: float) -> int:
    """Dependent software steps of a two-level chain reduction over ``n`` cores in a line,
    as WaferLLM's decode kernel runs its all-reduces (Decode/WSE-2/src/comm_lib/comm_pe.csl,
    ``two_tree_allreduce_*``): the line is cut into groups of ``g = round(sqrt(n))`` cores;
    partial sums flow from both ends of each group toward a root in its middle, one add and
    forward per core, then likewise between the group roots toward a root in the middle of
    theirs; the result returns by a hardware multicast (no steps).  0 for one core."""
    if n <= 1:
        return 0
    g = max(1, round(math.sqrt(n)))
    groups = math.ceil(n / g)
    return math.ceil((g - 1) / 2) + math.ceil((groups - 1) / 2)


def attention_reuse(model, tokens: float, context: float, kv_tokens: float) -> float:
    """FMACs each cached key or value element read feeds in attention's stages: the query heads
    sharing a key (the GQA group; every head under MLA's latent) times the query tokens each
    sequence sends (``tokens`` over the ``kv_tokens / context`` sequences whose caches are
    read; a prefill block, reading none, shares its in-flight keys among all ``tokens``)."""
    per_key = model.attention_flops(1, 1.0) / 2.0                 # FMACs of one query against one key
    elems = model.kv_bytes_per_token_layer("bf16", 1.0) / 2.0      # elements one cached token holds
    queries = tokens * context / kv_tokens if kv_tokens > 0 and context > 0 else tokens
    return per_key / elems * max(queries, 1.0)
