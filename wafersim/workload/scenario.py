"""What is asked of a system: batch, prompt and output lengths, formats, parallelism.

A :class:`Scenario` is the workload side of one run; how a wafer lays the
model out is :class:`wafersim.mapping.options.MappingOptions`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ..config import ConfigError
from .dtypes import DTYPES, WEIGHT_GROUPS, WeightFormats, dtype_bytes

__all__ = ["Scenario"]


@dataclass(frozen=True, kw_only=True)
class Scenario:
    """One inference job.  ``batch`` and ``wafers`` may be "max"/"auto" until resolved."""
    batch: int | str = 1
    prompt_tokens: int = 2048
    output_tokens: int = 128
    dtype: str | None = None          # weights; None = the model's default
    kv_dtype: str | None = None       # KV cache; None = same as dtype
    act_dtype: str = "bf16"           # activations exchanged between cores / GPUs
    compute_dtype: str | None = None  # format the matmuls multiply in (their activations: --precision);
                                      # None = each weight group's own where the system computes it, else 16-bit
    weight_groups: tuple[tuple[str, str], ...] = ()   # the checkpoint's tensor groups in a format of their
                                      # own ([weights] of the model; resolved() fills it where dtype is left out)
    wafers: int | str = 1
    tp: int | str = 1                 # "auto": smallest that holds the job (GPU systems)
    pp: int = 1
    ep: int = 1                       # expert-parallel ranks (mixture-of-experts models, GPU systems)
    gpus: int | str | None = None     # GPUs used, or "auto" (GPU systems): tp, pp, ep left at 1 are then chosen
    layers: int | None = None         # simulate only the first N decoder layers
    fidelity: str = "analytic"        # an engine of the registry (wafersim.engines.registry)
    speculative: int = 0              # tokens proposed per decode step (speculative decoding; 0 = off)
    acceptance: float | None = None   # probability that each proposed token is accepted (needed with speculative)
    draft: str | None = None          # draft model preset or path; None = self-speculation (the target proposes)
    query_tokens: int = 1             # query tokens per sequence in a decode step (k + 1 in a speculative
                                      # verify pass; the runner sets it)
    request_rate: float = 0.0         # requests arriving per second while the batch decodes (online serving
                                      # under load: each arrival's prefill stalls the decode); 0 = a static batch

    def __post_init__(self) -> None:
        _positive_or(self.batch, "batch", "max")
        _positive_or(self.wafers, "wafers", "auto")
        _positive_or(self.tp, "tp", "auto")
        if self.gpus is not None:
            _positive_or(self.gpus, "gpus", "auto")
        for key in ("prompt_tokens", "output_tokens", "pp", "ep", "query_tokens"):
            _positive_or(getattr(self, key), key, None)
        if self.layers is not None:
            _positive_or(self.layers, "layers", None)
        for key in ("dtype", "kv_dtype", "act_dtype", "compute_dtype"):
            v = getattr(self, key)
            if v is not None and (not isinstance(v, str) or v not in DTYPES):
                raise ConfigError("scenario", key, f"expected one of {', '.join(DTYPES)}; got {_short(v)}")
        groups = self.weight_groups
        if not isinstance(groups, tuple) or not all(
                isinstance(g, tuple) and len(g) == 2 and g[0] in WEIGHT_GROUPS and g[1] in DTYPES for g in groups):
            raise ConfigError("scenario", "weight_groups", f"expected (group, format) pairs, groups from "
                              f"{', '.join(WEIGHT_GROUPS)} and formats from {', '.join(DTYPES)}; got {_short(groups)}")
        self._check_speculation()
        rate = self.request_rate
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 <= rate <= MAXIMUM["request_rate"]:
            raise ConfigError("scenario", "request_rate", f"expected requests per second, a number from 0 (a static "
                                                          f"batch) to {MAXIMUM['request_rate']:g}; got {_short(rate)}")
        if not isinstance(self.fidelity, str) or not self.fidelity or len(self.fidelity) > 64:
            # which names exist is the engine registry's to say, when the run asks it for an engine
            raise ConfigError("scenario", "fidelity", f"expected an engine name such as 'analytic'; got {_short(self.fidelity)}")

    def _check_speculation(self) -> None:
        k, a = self.speculative, self.acceptance
        most = MAXIMUM["speculative"]
        if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= most:
            raise ConfigError("scenario", "speculative", f"expected tokens proposed per step, an integer from 0 (off) "
                                                         f"to {most}; got {_short(k)}")
        if a is not None and (isinstance(a, bool) or not isinstance(a, (int, float)) or not 0.0 <= a <= 1.0):
            raise ConfigError("scenario", "acceptance", f"expected a probability from 0 to 1; got {_short(a)}")
        if k and a is None:
            raise ConfigError("scenario", "acceptance", f"speculative decoding ({k} tokens proposed per step) needs "
                                                        "the acceptance rate of a proposed token (0 to 1)")
        if not k and (a is not None or self.draft is not None):
            key = "acceptance" if a is not None else "draft"
            raise ConfigError("scenario", key, "applies to speculative decoding only: give the tokens proposed per "
                                               "step too (--speculative K)")
        if self.draft is not None and (not isinstance(self.draft, str) or not self.draft or len(self.draft) > 4096):
            raise ConfigError("scenario", "draft", f"expected a model preset name or path; got {_short(self.draft)}")

    def resolved(self, model: Any) -> "Scenario":
        """Fill in defaults that depend on the model; checks --layers against it."""
        dtype = self.dtype or model.dtype
        layers = self.layers or model.num_layers
        if layers > model.num_layers:
            raise ConfigError("scenario", "layers", f"the model has {model.num_layers} decoder layers; got {layers}")
        if self.max_context > model.max_context:
            raise ConfigError("scenario", "prompt_tokens", f"prompt + output = {self.max_context} tokens exceeds the "
                              f"{model.max_context}-token context of {model.name}")
        groups = self.weight_groups if self.dtype else model.weight_formats().groups
        out = replace(self, dtype=dtype, kv_dtype=self.kv_dtype or dtype, layers=layers, weight_groups=groups)
        out.check_size(model)
        return out

    def check_size(self, model: Any) -> None:
        """Refuse a job whose KV cache exceeds :data:`MAX_KV_BYTES` (checked once the batch is a
        number): byte counts then stay exact in the int64 arrays of the placement."""
        if not isinstance(self.batch, int) or self.layers is None:
            return
        kv = self.batch * self.max_context * self.layers * model.kv_bytes_per_token_layer(self.kv_dtype or self.dtype,
                                                                                    self.max_context)
        if kv > MAX_KV_BYTES:
            raise ConfigError("scenario", "batch", f"batch {self.batch} x {self.max_context} tokens x {self.layers} "
                              f"layers of {model.name} hold {kv:.3g} bytes of KV cache; at most 2**60 "
                              f"({MAX_KV_BYTES:.3g}) are modelled")

    @property
    def max_context(self) -> int:
        """Tokens of KV cache each sequence holds at its last step."""
        return self.prompt_tokens + self.output_tokens

    @property
    def mean_decode_context(self) -> float:
        """Mean keys attended per decode step: step t (0-based) sees prompt + t + 1 keys.

        Attention cost is linear in context, so the mean step costs what the
        mean context costs.
        """
        return self.prompt_tokens + (self.output_tokens + 1) / 2.0

    @property
    def weights(self) -> WeightFormats:
        """The weight format of each tensor group (``dtype`` where the checkpoint has no other)."""
        return WeightFormats(self.dtype or "bf16", tuple(self.weight_groups))

    @property
    def act_bytes(self) -> float:
        return dtype_bytes(self.act_dtype)

    def as_dict(self) -> dict:
        """The scenario as JSON holds it (``weight_groups`` as lists of ``[group, format]``), so a
        run's configuration reads back from its results file as it was written."""
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["weight_groups"] = [list(pair) for pair in self.weight_groups]
        return out


#: Largest value of each integer scenario key: far beyond any real job, and small enough
#: that every product the engines form (batch x context x KV bytes) stays finite.
MAXIMUM = {"batch": 2**20, "prompt_tokens": 2**24, "output_tokens": 2**24, "wafers": 1024,
           "tp": 2**16, "pp": 2**16, "ep": 2**16, "gpus": 2**20, "layers": 2**14,
           "speculative": 64, "query_tokens": 65, "request_rate": 1e9}
#: Largest KV cache of one job (bytes): 1 EiB, a million times any machine's memory.
MAX_KV_BYTES = 2**60
#: bound of an integer key not listed above
DEFAULT_MAXIMUM = 2**20


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _positive_or(value: Any, key: str, word: str | None) -> None:
    if word is not None and isinstance(value, str) and value == word:
        return
    most = MAXIMUM.get(key, DEFAULT_MAXIMUM)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
        also = f" or '{word}'" if word else ""
        raise ConfigError("scenario", key, f"expected a positive integer{also}; got {_short(value)} "
                                           f"(the most allowed is {most})")
