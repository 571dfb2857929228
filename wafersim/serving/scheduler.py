"""A continuous-batching scheduler with the knobs of the mainstream runtimes.

Each step the scheduler (the loop in :mod:`wafersim.serving._kernels`):

1. gives every running request, in the order they were admitted, its tokens for the
   step: one when it decodes, the next chunk of its prompt when it is in prefill, while
   the step's token budget (``max_batched_tokens``) lasts: chunked prefill, mixed into
   the decode steps;
2. allocates the KV blocks (``block_tokens`` tokens each) those tokens need; when the
   blocks run out it preempts the most recently admitted request: its blocks are freed,
   it goes back to the waiting queue and, when admitted again, recomputes its prompt and
   the tokens it has generated (preemption by recompute, vLLM's default);
3. at the start of each scheduling round (every ``round_steps`` steps: vLLM's
   multi-step scheduling), admits waiting requests while fewer than ``max_running`` run,
   the budget lasts and their first chunk's blocks are free: first come first served
   (``fcfs``), or the lowest priority number first, then first come (``priority``);
4. runs the step for what the deployment's step table says: the decode part for the
   requests decoding at their mean context, the prefill part for the chunks, the two
   combined as ``mixed_step`` says (``max``: they overlap, as a runtime that fuses them
   into one batch does on hardware bound by memory in decode and by compute in prefill;
   ``sum``: one after the other).

A request counts as arrived when the runtime's per-request host time has passed
(tokenising, the API server): it waits that long before it can be admitted.  A request
whose prefill completes in a step gets its first token at the end of that step.

The limits come from the runtime profile where it sets them (``efficiency.max_batch``,
``max_batched_tokens``, ``kv_block_tokens``, ``scheduler_steps``), else from the
defaults below, and a caller's values win over both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..config import ConfigError
from .settings import DEFAULTS, KNOB_OF, MAXIMUM, MIXED_STEPS, POLICIES
from .workload import Requests

if TYPE_CHECKING:                     # the loop and the deployment need Numba and the engines: imported when run
    from .deployment import Deployment

__all__ = ["SchedulerConfig", "Outcome", "resolve", "run", "DEFAULTS", "POLICIES", "MIXED_STEPS"]

@dataclass(frozen=True)
class SchedulerConfig:
    """The scheduler's settings, and where each came from (``sources``: setting -> 'runtime',
    'default' or 'flag')."""
    max_running: int = DEFAULTS["max_running"]
    max_batched_tokens: int = DEFAULTS["max_batched_tokens"]
    block_tokens: int = DEFAULTS["block_tokens"]
    round_steps: int = DEFAULTS["round_steps"]
    policy: str = "fcfs"
    mixed_step: str = "max"
    sources: tuple[tuple[str, str], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"max_running": self.max_running, "max_batched_tokens": self.max_batched_tokens,
                "block_tokens": self.block_tokens, "round_steps": self.round_steps, "policy": self.policy,
                "mixed_step": self.mixed_step, "sources": dict(self.sources)}


def resolve(knobs: dict[str, int], overrides: dict[str, Any] | None = None) -> SchedulerConfig:
    """The settings: ``overrides`` (a caller's, None or absent: not given) over the runtime's
    ``knobs`` (0: not set) over :data:`DEFAULTS`."""
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    unknown = set(overrides) - {*DEFAULTS, "policy", "mixed_step"}
    if unknown:
        raise ConfigError("serve", sorted(unknown)[0], f"not a scheduler setting; expected one of "
                          f"{', '.join([*DEFAULTS, 'policy', 'mixed_step'])}")
    values: dict[str, Any] = {}
    sources = []
    for key, default in DEFAULTS.items():
        if key in overrides:
            value, source = overrides[key], "flag"
        elif knobs.get(KNOB_OF[key]):
            value, source = knobs[KNOB_OF[key]], "runtime"
        else:
            value, source = default, "default"
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 1 <= value <= MAXIMUM[key]:
            raise ConfigError("serve", key, f"expected an integer from 1 to {MAXIMUM[key]}; got {value!r}")
        values[key] = int(value)
        sources.append((key, source))
    for key, options in (("policy", POLICIES), ("mixed_step", MIXED_STEPS)):
        value = overrides.get(key, options[0])
        if value not in options:
            raise ConfigError("serve", key, f"expected one of {', '.join(options)}; got {value!r}")
        values[key] = value
    return SchedulerConfig(**values, sources=tuple(sources))


@dataclass(frozen=True)
class Outcome:
    """What happened to each request (arrays in the requests' order) and to the deployment."""
    requests: Requests
    ready_s: np.ndarray
    first_token_s: np.ndarray
    finish_s: np.ndarray
    preemptions: np.ndarray
    generated: np.ndarray
    stats: dict[str, float]


def run(requests: Requests, deployment: "Deployment", config: SchedulerConfig, *,
        ready: np.ndarray | None = None, held: np.ndarray | None = None, generated: np.ndarray | None = None,
        join_s: np.ndarray | None = None) -> Outcome:
    """Simulate ``requests`` on ``deployment`` under ``config``.

    A request may be seen later than it arrives (``ready``: when the scheduler may admit
    it, in non-decreasing order; default: its arrival plus the runtime's per-request host
    time) and bring its KV from another deployment: ``held`` tokens of it, ``generated``
    tokens generated already, and ``join_s`` seconds the step that admits it lasts longer
    (see :mod:`._kernels`; the default zeros run every request from its prompt)."""
    from . import _kernels
    n = len(requests)
    if n == 0:
        raise ConfigError("serve", "requests", "expected at least one request")
    longest = requests.max_context
    if longest > deployment.kv_tokens:
        raise ConfigError("serve", "", f"a request of {longest} tokens (prompt + output) needs more KV cache than "
                          f"{deployment.name} holds ({deployment.kv_tokens} tokens): shorten the requests or add devices")
    if np.any(np.diff(requests.arrival_s) < 0):
        raise ValueError("requests must be in order of arrival")
    t = deployment.table
    max_running = min(config.max_running, t.max_batch)
    # the KV cache in whole blocks; a deployment that holds the longest request holds it paged
    total_blocks = max(deployment.kv_tokens // config.block_tokens, -(-longest // config.block_tokens))
    if ready is None:
        ready = requests.arrival_s + deployment.request_overhead_s
    elif np.any(np.diff(ready) < 0):
        raise ValueError("ready times must be in order")
    zeros = np.zeros(n, np.int64)
    held = zeros if held is None else np.asarray(held, np.int64)
    generated = zeros if generated is None else np.asarray(generated, np.int64)
    join_s = np.zeros(n) if join_s is None else np.asarray(join_s, np.float64)
    index = np.arange(n, dtype=np.int64)
    key = index + (requests.priority * n if config.policy == "priority" else 0)
    mix = _kernels.MIX_MAX if config.mixed_step == "max" else _kernels.MIX_SUM
    first, finish, preempt, gen, stats = _kernels.simulate(
        requests.arrival_s, ready, requests.prompt_tokens, requests.output_tokens, key, max_running,
        config.max_batched_tokens, config.block_tokens, total_blocks, config.round_steps, mix,
        t.rows, t.ctx, t.dec, t.length, t.pf_n, t.pf_t, held, generated, join_s)
    names = ("area_request_s", "end_s", "steps", "busy_s", "peak_running", "peak_blocks", "prefill_tokens",
             "decode_tokens")
    return Outcome(requests, ready, first, finish, preempt, gen,
                   {name: float(stats[i]) for i, name in enumerate(names)} | {"total_blocks": float(total_blocks)})
