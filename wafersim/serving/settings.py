"""The scheduler's settings: their defaults, the runtime knob each is read from, their bounds
and the choices of the two named ones (kept free of NumPy, so the command line's parser
can name them without loading the simulator)."""

from __future__ import annotations

__all__ = ["DEFAULTS", "KNOB_OF", "POLICIES", "MIXED_STEPS", "MAXIMUM", "KV_TRANSFERS"]

#: the simulator's defaults where the runtime profile sets none: vLLM's (the V0 engine's
#: --max-num-seqs 256 and --block-size 16, vllm/engine/arg_utils.py; the V1 engine's 8192
#: tokens a step for offline batches, vllm/engine/arg_utils.py, also SGLang's
#: --chunked-prefill-size 8192 in v0.3), one decode step a round
DEFAULTS = {"max_running": 256, "max_batched_tokens": 8192, "block_tokens": 16, "round_steps": 1}
#: the runtime knob each setting is read from (wafersim.serving.deployment.RUNTIME_KNOBS)
KNOB_OF = {"max_running": "max_batch", "max_batched_tokens": "max_batched_tokens", "block_tokens": "kv_block_tokens",
           "round_steps": "scheduler_steps"}
POLICIES = ("fcfs", "priority")
MIXED_STEPS = ("max", "sum")
#: the most of each integer setting
MAXIMUM = {"max_running": 2**20, "max_batched_tokens": 2**30, "block_tokens": 2**20, "round_steps": 2**10}
#: how a decode pool receives the KV a prefill pool computed (wafersim.serving.disagg):
#: ``async``, while it goes on decoding other requests (vLLM V1's NixlConnector, SGLang's
#: and Dynamo's disaggregation, Mooncake); ``blocking``, inside the decode step that admits
#: the request, which stalls for it (vLLM V0's PyNcclConnector)
KV_TRANSFERS = ("async", "blocking")
