"""Transformer shapes and what they cost: parameters, bytes, FLOPs.

All counts follow one decoder layer of a Llama-style (or GPT-J-style) model:

* attention: Q (d x H*hd), K and V (d x KV*hd each), O (H*hd x d), optional biases;
* MLP: gated (gate, up: d x f; down: f x d) or plain (in: d x f; out: f x d);
* mixture of experts: E copies of the MLP and a d x E router, k routed per token;
* norms: RMSNorm (weight) or LayerNorm (weight and bias), one or two per layer.

FLOPs count a multiply-add as 2.  Attention over a context of ``n`` tokens costs
``4 * H * hd * n`` FLOPs per query token (scores and weighted sum).

The models served in 2026 add, each from its own table of the preset:

* ``[attention]``: latent attention (MLA: a compressed KV cache of ``kv_lora_rank +
  qk_rope_head_dim`` per token and layer, weight-absorbed decode, expanded prefill),
  sliding-window or chunked local layers mixed with global ones (``pattern`` or
  ``global_every``), sink tokens, learned sink logits and per-head Q/K norms;
* ``[moe]``: shared experts, dense first layers, MoE every Nth layer and routing skew
  (:mod:`.routing`).

Layers may then differ (a dense first layer, a window layer); the engines cost one
layer, so the per-layer quantities below are means over the model's layers and the
totals are exact.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

from ..config import ConfigError, Spec, choice, flag, integer, number, text
from ..provenance import Provenance, provenance_field
from .dtypes import DTYPES, WEIGHT_GROUPS, WeightFormats, dtype_bytes, weight_formats


#: Most parameters a model may have: 2**50 (~1.1e15), so byte counts (at most 4 bytes a
#: parameter) and FLOP counts of one token stay below 2**53, exact in float64.
MAX_PARAMS = 2**50


#: Letters of an attention ``pattern``: a local (window or chunk) layer, a global one.
LOCAL, GLOBAL = "L", "G"
#: Largest routing skew exponent accepted (at 8 the hottest expert takes nearly every token).
MAX_ROUTING_SKEW = 8.0


@dataclass(frozen=True, kw_only=True)
class AttentionSpec(Spec):
    """``[attention]``: the attention a layer runs and the KV cache it keeps."""
    kind: str = choice(("gqa", "mla"), "gqa: grouped-query (MHA and MQA too); mla: multi-head latent "
                       "attention (DeepSeek-V2/V3)", default="gqa")
    q_lora_rank: int = integer("MLA: rank of the compressed query (0: a full d x H x qk projection)",
                               default=0, minimum=0, maximum=2**16)
    kv_lora_rank: int = integer("MLA: rank of the compressed key/value latent the cache keeps", default=0,
                                minimum=0, maximum=2**16)
    qk_nope_head_dim: int = integer("MLA: per-head query/key width without rotary embedding", default=0,
                                    minimum=0, maximum=2**12)
    qk_rope_head_dim: int = integer("MLA: decoupled rotary key width, cached beside the latent", default=0,
                                    minimum=0, maximum=2**12)
    v_head_dim: int = integer("MLA: per-head value width", default=0, minimum=0, maximum=2**12)
    window: int = integer("sliding window of a local layer (tokens; 0: local layers are chunked or none)",
                          default=0, minimum=0, maximum=2**24)
    chunk: int = integer("chunk of a chunked local layer (tokens; a query sees its chunk so far)", default=0,
                         minimum=0, maximum=2**24)
    pattern: str = text("layer kinds, cycled from layer 0: L local, G global (empty: see global_every)",
                        default="")
    global_every: int = integer("every Nth layer global, the rest local (0: every layer global unless "
                                "a pattern is given)", default=0, minimum=0, maximum=2**14)
    sink_tokens: int = integer("first tokens a window layer keeps besides its window (StreamingLLM sinks)",
                               default=0, minimum=0, maximum=2**16)
    learned_sinks: bool = flag("one learned sink logit per head and layer (gpt-oss)", default=False)
    qk_norm: bool = flag("RMSNorm over each head's query and key (a head_dim weight each)", default=False)

    def check(self) -> None:
        if self.kind == "mla":
            for key in ("kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim"):
                if not getattr(self, key):
                    raise ConfigError("", key, "latent attention (kind = 'mla') needs it > 0")
        if self.pattern and set(self.pattern) - {LOCAL, GLOBAL}:
            raise ConfigError("", "pattern", f"expected letters {LOCAL} (local) and {GLOBAL} (global) only; "
                                             f"got {self.pattern[:40]!r}")
        if len(self.pattern) > 2**14:
            raise ConfigError("", "pattern", "expected at most one letter per layer")
        if self.pattern and self.global_every:
            raise ConfigError("", "global_every", "give either a pattern or global_every, not both")
        local = (LOCAL in self.pattern) or self.global_every > 1
        if local and not (self.window or self.chunk):
            raise ConfigError("", "window", "local layers need a window or a chunk size (tokens)")
        if self.window and self.chunk:
            raise ConfigError("", "chunk", "a local layer has a sliding window or chunks, not both")
        if (self.window or self.chunk) and not local:
            raise ConfigError("", "pattern", "a window or chunk needs local layers: a pattern with L or "
                                             "global_every > 1")

    def is_global(self, layer: int) -> bool:
        if self.pattern:
            return self.pattern[layer % len(self.pattern)] == GLOBAL
        if self.global_every > 1:
            return layer % self.global_every == self.global_every - 1
        return True

    @property
    def local_span(self) -> int:
        """Most tokens a local layer keeps: its window (and sinks) or its chunk."""
        return self.window + self.sink_tokens if self.window else self.chunk


@dataclass(frozen=True, kw_only=True)
class MoeSpec(Spec):
    """``[moe]``: how the experts of a mixture-of-experts model are laid out and routed."""
    shared_experts: int = integer("experts every token runs besides its routed ones", default=0, minimum=0,
                                  maximum=2**8)
    shared_ffn_size: int = integer("MLP inner width of a shared expert (0: ffn_size)", default=0, minimum=0,
                                   maximum=2**22)
    dense_layers: int = integer("first layers with a dense MLP instead of experts", default=0, minimum=0,
                                maximum=2**14)
    dense_ffn_size: int = integer("MLP inner width of a dense layer (0: ffn_size)", default=0, minimum=0,
                                  maximum=2**22)
    every: int = integer("an MoE layer every Nth layer (the others dense), counted from layer N - 1",
                         default=1, maximum=2**14)
    router_bias: bool = flag("the router has a bias per expert", default=False)
    routing_skew: float = number("Zipf-like exponent of the experts' popularity (0: uniform routing)",
                                 default=0.0, minimum=0.0, maximum=MAX_ROUTING_SKEW, allow_zero=True)


@dataclass(frozen=True, kw_only=True)
class WeightsSpec(Spec):
    """``[weights]``: the checkpoint's format of each tensor group where it is not ``dtype``
    (empty: ``dtype``); norms and routers stay in ``dtype``.  Block-scaled formats count their
    scales (:mod:`.dtypes`).  ``--dtype`` puts every group in one format."""
    attention: str = choice(("", *DTYPES), "attention projections (Q, K, V, O; MLA's compressions)", default="")
    mlp: str = choice(("", *DTYPES), "dense MLPs and shared experts", default="")
    experts: str = choice(("", *DTYPES), "routed experts", default="")
    embedding: str = choice(("", *DTYPES), "input embedding and LM head", default="")
    source: str = text("where the formats come from (the checkpoint's config.json quantization_config)",
                       default="")


@dataclass(frozen=True, kw_only=True)
class ModelSpec(Spec):
    name: str = text("preset name")
    description: str = text("what the model is", default="")
    source: str = text("where the shapes come from", default="")
    kind: str = choice(("model",), "must be 'model'", default="model")
    hidden_size: int = integer("model width d", maximum=2**20)
    num_layers: int = integer("decoder layers", maximum=2**14)
    num_heads: int = integer("query heads", maximum=2**16)
    num_kv_heads: int = integer("key/value heads (GQA); equal to num_heads for MHA", maximum=2**16)
    head_dim: int = integer("per-head width; 0 means hidden_size / num_heads", default=0, minimum=0, maximum=2**16)
    ffn_size: int = integer("MLP inner width f (per expert)", maximum=2**22)
    vocab_size: int = integer("vocabulary size", maximum=2**24)
    mlp: str = choice(("gated", "plain"), "gated (SwiGLU: gate, up, down) or plain (in, out)", default="gated")
    norm: str = choice(("rms", "layer"), "RMSNorm (weight) or LayerNorm (weight and bias)", default="rms")
    norms_per_layer: int = integer("norms in one decoder layer", default=2)
    parallel_block: bool = flag("attention and MLP read the same input (GPT-J)", default=False)
    qkv_bias: bool = flag("Q, K, V projections have biases", default=False)
    out_bias: bool = flag("attention output projection has a bias", default=False)
    mlp_bias: bool = flag("MLP projections have biases", default=False)
    tie_embeddings: bool = flag("LM head shares the embedding matrix", default=False)
    lm_head_bias: bool = flag("LM head has a bias", default=False)
    num_experts: int = integer("MLP experts per layer (1 = dense)", default=1, maximum=2**12)
    experts_per_token: int = integer("experts routed per token", default=1, maximum=2**12)
    max_context: int = integer("longest context the model supports", default=131072, maximum=2**24)
    dtype: str = choice(DTYPES, "default weight format (of every tensor group [weights] leaves out)",
                        default="bf16")
    weights: WeightsSpec = dataclasses.field(default_factory=WeightsSpec)
    attention: AttentionSpec = dataclasses.field(default_factory=AttentionSpec)
    moe: MoeSpec = dataclasses.field(default_factory=MoeSpec)
    provenance: Provenance | None = provenance_field()

    def check(self) -> None:
        if self.head_dim == 0 and self.hidden_size % self.num_heads:
            raise ConfigError("", "num_heads", f"must divide hidden_size ({self.hidden_size}); got {self.num_heads}")
        if self.num_heads % self.num_kv_heads:
            raise ConfigError("", "num_kv_heads", f"must divide num_heads ({self.num_heads}); got {self.num_kv_heads}")
        if self.experts_per_token > self.num_experts:
            raise ConfigError("", "experts_per_token", f"must be <= num_experts ({self.num_experts})")
        if self.norms_per_layer > 4:
            raise ConfigError("", "norms_per_layer", "expected 1 to 4 (pre- and post-norms of attention and MLP)")
        if not self.is_moe and self.moe != MoeSpec():
            raise ConfigError("", "moe", "applies to a mixture of experts only (num_experts > 1)")
        if self.moe.dense_layers > self.num_layers:
            raise ConfigError("", "moe.dense_layers", f"the model has {self.num_layers} layers")
        if self.param_count > MAX_PARAMS:
            raise ConfigError("", "num_layers", f"the shapes give {self.param_count:.3g} parameters; at most "
                              f"{MAX_PARAMS:.3g} are modelled (byte and FLOP counts stay exact in float64)")

    # ---- shapes -------------------------------------------------------------
    @functools.cached_property
    def hd(self) -> int:
        return self.head_dim or self.hidden_size // self.num_heads

    @property
    def is_mla(self) -> bool:
        return self.attention.kind == "mla"

    @functools.cached_property
    def q_size(self) -> int:
        """Query width of one token: heads x the width a query meets a key with."""
        a = self.attention
        return self.num_heads * (a.qk_nope_head_dim + a.qk_rope_head_dim if self.is_mla else self.hd)

    @functools.cached_property
    def kv_size(self) -> int:
        return self.num_kv_heads * self.hd

    @functools.cached_property
    def value_size(self) -> int:
        """Width of the attention output of one token, before the O projection."""
        return self.num_heads * (self.attention.v_head_dim if self.is_mla else self.hd)

    @property
    def attention_in_width(self) -> float:
        """Output width of one token's projections before attention (Q, K, V; MLA's compressions
        and expansions): their weights over ``d`` (biases and norms left out)."""
        if not self.is_mla:
            return float(self.q_size + 2 * self.kv_size)
        a, h = self.attention, self.num_heads
        qk = a.qk_nope_head_dim + a.qk_rope_head_dim
        q = (self.hidden_size * a.q_lora_rank + a.q_lora_rank * h * qk) if a.q_lora_rank else self.hidden_size * h * qk
        kv = (self.hidden_size * (a.kv_lora_rank + a.qk_rope_head_dim)
              + a.kv_lora_rank * h * (a.qk_nope_head_dim + a.v_head_dim))
        return (q + kv) / self.hidden_size

    @property
    def fixed_mlp_width(self) -> float:
        """Mean over the layers of the MLP inner width every token runs (a dense layer's MLP, the
        shared experts of an MoE layer); 0 for an MoE model without either."""
        shared = self.moe.shared_experts * (self.moe.shared_ffn_size or self.ffn_size)
        dense = (self.moe.dense_ffn_size or self.ffn_size) if self.is_moe else self.ffn_size
        return (self.moe_layers * shared + (self.num_layers - self.moe_layers) * dense) / self.num_layers

    @property
    def kv_cache_heads(self) -> int:
        """Heads the KV cache is split by under tensor parallelism: the KV heads, or one shared
        latent (MLA), which every GPU of a tensor-parallel group then holds whole."""
        return 1 if self.is_mla else self.num_kv_heads

    @property
    def is_moe(self) -> bool:
        return self.num_experts > 1

    @functools.cached_property
    def moe_layers(self) -> int:
        """Layers with routed experts: after the dense first ones, every ``moe.every``-th."""
        if not self.is_moe:
            return 0
        m = self.moe
        return sum(1 for i in range(m.dense_layers, self.num_layers) if i % m.every == m.every - 1)

    @property
    def moe_layer_fraction(self) -> float:
        return self.moe_layers / self.num_layers

    @functools.cached_property
    def layer_spans(self) -> tuple[int, ...]:
        """Per layer, the most tokens its KV cache keeps (0: all of them, a global layer)."""
        a = self.attention
        return tuple(0 if a.is_global(i) else a.local_span for i in range(self.num_layers))

    def _mean(self, total: int) -> int | float:
        """A per-layer mean of an integer total: exact (an int) where the layers are alike."""
        return total // self.num_layers if total % self.num_layers == 0 else total / self.num_layers

    # ---- parameters (cached: a spec is frozen, and an analytic run asks for them hundreds of times)
    @functools.cached_property
    def attention_params(self) -> int:
        d, a = self.hidden_size, self.attention
        if self.is_mla:
            h = self.num_heads
            qk = a.qk_nope_head_dim + a.qk_rope_head_dim
            q = (d * a.q_lora_rank + a.q_lora_rank + a.q_lora_rank * h * qk) if a.q_lora_rank else d * h * qk
            kv = d * (a.kv_lora_rank + a.qk_rope_head_dim) + a.kv_lora_rank \
                + a.kv_lora_rank * h * (a.qk_nope_head_dim + a.v_head_dim)
            p = q + kv + self.value_size * d
        else:
            p = d * (self.q_size + 2 * self.kv_size) + self.q_size * d
        if self.qkv_bias:
            p += self.q_size + 2 * self.kv_size
        if self.out_bias:
            p += d
        if a.qk_norm:
            p += 2 * self.hd
        if a.learned_sinks:
            p += self.num_heads
        return p

    def _mlp_params(self, f: int) -> int:
        d = self.hidden_size
        mats = 3 if self.mlp == "gated" else 2
        p = mats * d * f
        if self.mlp_bias:
            p += (mats - 1) * f + d
        return p

    @functools.cached_property
    def expert_params(self) -> int:
        """Parameters of one MLP (one routed expert)."""
        return self._mlp_params(self.ffn_size)

    @functools.cached_property
    def shared_expert_params(self) -> int:
        """Parameters of the shared experts of one MoE layer."""
        return self.moe.shared_experts * self._mlp_params(self.moe.shared_ffn_size or self.ffn_size)

    @functools.cached_property
    def dense_mlp_params(self) -> int:
        """Parameters of the MLP of a dense layer."""
        return self._mlp_params((self.moe.dense_ffn_size or self.ffn_size) if self.is_moe else self.ffn_size)

    @functools.cached_property
    def router_params(self) -> int:
        """Mean per layer of the router (``d x E``, and a bias if any) over the layers."""
        if not self.is_moe:
            return 0
        per = self.hidden_size * self.num_experts + (self.num_experts if self.moe.router_bias else 0)
        return self._mean(self.moe_layers * per)

    @functools.cached_property
    def norm_params_per_layer(self) -> int:
        per = self.hidden_size * (2 if self.norm == "layer" else 1)
        return per * self.norms_per_layer

    @functools.cached_property
    def _dense_layers(self) -> int:
        return self.num_layers - self.moe_layers

    @functools.cached_property
    def routed_params_per_layer(self) -> int | float:
        """Mean per layer of the routed experts' parameters (every expert)."""
        return self._mean(self.moe_layers * self.num_experts * self.expert_params)

    @functools.cached_property
    def routed_active_params_per_layer(self) -> int | float:
        """Mean per layer of the routed experts' parameters one token runs (``k`` experts)."""
        return self._mean(self.moe_layers * self.experts_per_token * self.expert_params)

    @functools.cached_property
    def _fixed_mlp_params_total(self) -> int:
        """Over all layers: the MLP parameters every token runs (shared experts, dense MLPs)."""
        return self.moe_layers * self.shared_expert_params + self._dense_layers * self.dense_mlp_params

    @functools.cached_property
    def layer_params(self) -> int | float:
        """Parameters of a layer: the mean over the model's layers (exact where they are alike)."""
        return self._mean(self._layers_total)

    @functools.cached_property
    def layer_active_params(self) -> int | float:
        """Parameters one token touches in a layer (routed experts only), mean over the layers."""
        return self._mean(self._layers_active_total)

    @functools.cached_property
    def _router_per_moe_layer(self) -> int:
        return self.hidden_size * self.num_experts + (self.num_experts if self.moe.router_bias else 0)

    @functools.cached_property
    def _layers_total(self) -> int:
        return (self.num_layers * (self.attention_params + self.norm_params_per_layer) + self._fixed_mlp_params_total
                + self.moe_layers * (self.num_experts * self.expert_params + self._router_per_moe_layer))

    @functools.cached_property
    def _layers_active_total(self) -> int:
        return (self.num_layers * (self.attention_params + self.norm_params_per_layer) + self._fixed_mlp_params_total
                + self.moe_layers * (self.experts_per_token * self.expert_params + self._router_per_moe_layer))

    @functools.cached_property
    def embedding_params(self) -> int:
        return self.vocab_size * self.hidden_size

    @functools.cached_property
    def lm_head_params(self) -> int:
        p = 0 if self.tie_embeddings else self.vocab_size * self.hidden_size
        return p + (self.vocab_size if self.lm_head_bias else 0)

    @functools.cached_property
    def final_norm_params(self) -> int:
        return self.hidden_size * (2 if self.norm == "layer" else 1)

    @functools.cached_property
    def param_count(self) -> int:
        return self._layers_total + self.embedding_params + self.lm_head_params + self.final_norm_params

    @functools.cached_property
    def active_param_count(self) -> int:
        """Parameters one token touches, the input embedding included (a lookup of one row)."""
        return self._layers_active_total + self.embedding_params + self.lm_head_params + self.final_norm_params

    # ---- bytes --------------------------------------------------------------
    def weight_formats(self, dtype: "str | WeightFormats | None" = None) -> WeightFormats:
        """The format of each tensor group: ``dtype`` for all of them when given (a format name),
        else the checkpoint's: ``[weights]`` over ``dtype``."""
        if dtype:
            return weight_formats(dtype)
        w = self.weights
        return WeightFormats(self.dtype, tuple((g, getattr(w, g)) for g in WEIGHT_GROUPS if getattr(w, g)))

    def _group_layer_params(self) -> dict[str, float]:
        """Mean per layer of each tensor group's parameters ('' for norms and routers)."""
        n = self.num_layers
        return {"attention": self.attention_params, "": self.norm_params_per_layer + self.router_params,
                "mlp": self._fixed_mlp_params_total / n, "experts": self.routed_params_per_layer}

    def weight_bytes(self, dtype: "str | WeightFormats | None" = None) -> float:
        f = self.weight_formats(dtype)
        if f.uniform:
            return self.param_count * dtype_bytes(f.default)
        return (self.num_layers * self.layer_weight_bytes(f) + self.head_weight_bytes(f))

    def head_weight_bytes(self, dtype: "str | WeightFormats | None" = None) -> float:
        """Bytes of the input embedding, the LM head and the final norm."""
        f = self.weight_formats(dtype)
        if f.uniform:
            return (self.embedding_params + self.lm_head_params + self.final_norm_params) * dtype_bytes(f.default)
        return ((self.embedding_params + self.lm_head_params) * f.bytes("embedding")
                + self.final_norm_params * f.bytes(""))

    def lm_head_weight_bytes(self, dtype: "str | WeightFormats | None" = None) -> float:
        """Bytes of the LM head's ``d x vocab`` matrix (what a step reads of it)."""
        return self.vocab_size * self.hidden_size * self.weight_formats(dtype).bytes("embedding")

    def layer_bytes_per_param(self, dtype: "str | WeightFormats | None" = None) -> float:
        """Mean weight bytes a parameter of a layer takes (the format's size where it is one)."""
        f = self.weight_formats(dtype)
        return dtype_bytes(f.default) if f.uniform else self.layer_weight_bytes(f) / self.layer_params

    def layer_weight_bytes(self, dtype: "str | WeightFormats | None" = None) -> float:
        f = self.weight_formats(dtype)
        if f.uniform:
            return self.layer_params * dtype_bytes(f.default)
        return sum(p * f.bytes(g) for g, p in self._group_layer_params().items())

    def kv_bytes_per_token(self, dtype: str | None = None, context: float | None = None) -> float:
        """KV-cache bytes one token adds across all layers (at ``context``: see below)."""
        return self.num_layers * self.kv_bytes_per_token_layer(dtype, context)

    def kv_bytes_per_token_layer(self, dtype: str | None = None, context: float | None = None) -> float:
        """KV-cache bytes per token in one layer: ``2 KV hd`` elements (GQA) or the latent and its
        rotary key, ``kv_lora_rank + qk_rope_head_dim`` (MLA).  With ``context``, the mean over the
        layers of what a sequence of that many tokens keeps, per token: a local layer keeps at most
        its window (and sinks) or its chunk, so ``context x this`` is the cache it holds."""
        a = self.attention
        elems = a.kv_lora_rank + a.qk_rope_head_dim if self.is_mla else 2 * self.kv_size
        per = elems * dtype_bytes(dtype or self.dtype)
        if context is None or context <= 0:
            return per
        return per * self.kv_tokens_held(context) / context

    def kv_tokens_held(self, context: float) -> float:
        """Mean over the layers of the tokens a sequence of ``context`` tokens keeps in a layer's
        cache (and its decode query reads): ``min(context, span)``, a global layer all of them."""
        return sum(min(context, s) if s else context for s in self.layer_spans) / self.num_layers

    # ---- routing ------------------------------------------------------------
    @property
    def routing_probabilities(self) -> tuple[float, ...]:
        """Probability that a token's choices include each expert, hottest first (:mod:`.routing`)."""
        return _routing().inclusion_probabilities(self.num_experts, self.experts_per_token, self.moe.routing_skew)

    def experts_touched(self, tokens: int) -> float:
        """Expected distinct experts a batch of ``tokens`` routes to in an MoE layer."""
        if not self.is_moe:
            return 1.0
        e, k = self.num_experts, self.experts_per_token
        if self.moe.routing_skew == 0:
            return e * (1.0 - (1.0 - k / e) ** max(tokens, 0))
        return _routing().expected_touched(self.routing_probabilities, tokens)

    def busiest_expert_tokens(self, tokens: int) -> float:
        """Expected tokens of the busiest expert when a batch of ``tokens`` is routed."""
        if not self.is_moe:
            return float(tokens)
        return _routing().expected_max_load(self.routing_probabilities, int(round(tokens)))

    def routing_slowdown(self, tokens: int) -> float:
        """How much longer the busiest expert works than under uniform routing (1 at skew 0):
        the factor by which an expert region's, or rank's, routed work grows with the skew."""
        if not self.is_moe or self.moe.routing_skew == 0 or tokens < 1:
            return 1.0
        uniform = _routing().inclusion_probabilities(self.num_experts, self.experts_per_token, 0.0)
        base = _routing().expected_max_load(uniform, int(round(tokens)))
        return self.busiest_expert_tokens(tokens) / base if base else 1.0

    def busiest_rank_share(self, ranks: int) -> float:
        """The busiest expert-parallel rank's share of the routed work (1 / ranks when uniform)."""
        if not self.is_moe or ranks <= 1:
            return 1.0
        return max(_routing().rank_shares(self.routing_probabilities, ranks))

    def busiest_rank_params_read(self, tokens: int, ranks: int) -> float:
        """Mean per layer of the routed-expert parameters the busiest expert-parallel rank (the one
        dealt the hottest expert) reads for a batch of ``tokens``: ``1 / ranks`` of every touched
        expert's under uniform routing."""
        if not self.is_moe or ranks <= 1 or self.moe.routing_skew == 0:
            return self.routed_params_read(tokens) / max(ranks, 1)
        touched = _routing().expected_touched(self.routing_probabilities[::ranks], tokens)
        return self.moe_layer_fraction * touched * self.expert_params

    def routed_params_read(self, tokens: int) -> float:
        """Mean per layer of the routed-expert parameters a batch of ``tokens`` reads."""
        return self.moe_layer_fraction * self.experts_touched(tokens) * self.expert_params

    def layer_weight_bytes_read(self, tokens: int, dtype: "str | WeightFormats | None" = None) -> float:
        """Weight bytes one layer reads to process ``tokens`` tokens at once."""
        f = self.weight_formats(dtype)
        if f.uniform:
            p = self.layer_params - self.routed_params_per_layer + self.routed_params_read(tokens)
            return p * dtype_bytes(f.default)
        return (self.layer_weight_bytes(f) - self.routed_params_per_layer * f.bytes("experts")
                + self.routed_params_read(tokens) * f.bytes("experts"))

    # ---- FLOPs --------------------------------------------------------------
    @property
    def layer_matmul_flops_per_token(self) -> float:
        """2 x active weights: the projections and MLP for one token in one layer."""
        return 2.0 * self.layer_active_params

    def layer_busy_matmul_flops(self, tokens: int, routed_together: int | None = None) -> float:
        """The matmul work of ``tokens`` tokens in one layer as the busiest expert region sees it:
        the routed experts' share scaled by :meth:`routing_slowdown` of the ``routed_together``
        tokens whose routing shares the experts (a decode step's whole batch, of which ``tokens``
        may be one micro-batch; default ``tokens``).  For time: FLOPs done are ``tokens x
        layer_matmul_flops_per_token``."""
        routed = 2.0 * self.routed_active_params_per_layer
        slow = self.routing_slowdown(max(tokens, routed_together or 0))
        return tokens * (self.layer_matmul_flops_per_token + routed * (slow - 1.0))

    @property
    def _flops_per_key(self) -> float:
        """FLOPs of one query against one cached key in decode: scores and weighted sum.  MLA
        decodes weight-absorbed: every head meets the latent and rotary key (``kv_lora_rank +
        qk_rope_head_dim``) and sums latents (``kv_lora_rank``)."""
        a = self.attention
        if self.is_mla:
            return 2.0 * self.num_heads * (2 * a.kv_lora_rank + a.qk_rope_head_dim)
        return 4.0 * self.q_size

    @property
    def _prefill_flops_per_key(self) -> float:
        """The same in prefill, where MLA runs expanded: per head, query-key width plus value width."""
        return 2.0 * (self.q_size + self.value_size) if self.is_mla else 4.0 * self.q_size

    def attention_flops(self, query_tokens: int, context: float) -> float:
        """Scores and weighted sum for ``query_tokens`` queries, each over ``context`` keys (a local
        layer's over at most its span; mean over the layers)."""
        return self._flops_per_key * query_tokens * self.kv_tokens_held(context)

    def prefill_attention_flops(self, prompt: int) -> float:
        """Causal attention over a prompt: query i sees i+1 keys (a window layer at most its
        window, a chunked layer the keys of its chunk so far); mean over the layers."""
        pairs = sum(_causal_pairs(prompt, s, bool(self.attention.chunk)) for s in self.layer_spans)
        return self._prefill_flops_per_key * pairs / self.num_layers

    def summary(self) -> dict:
        return {
            "name": self.name, "params": self.param_count, "active_params": self.active_param_count,
            "layers": self.num_layers, "hidden": self.hidden_size, "heads": self.num_heads,
            "kv_heads": self.num_kv_heads, "head_dim": self.hd, "ffn": self.ffn_size,
            "experts": f"{self.experts_per_token}/{self.num_experts}" if self.is_moe else "dense",
        }




def _causal_pairs(prompt: int, span: int, chunked: bool) -> float:
    """Query-key pairs of causal attention over ``prompt`` tokens: all (span 0), at most ``span``
    keys a query (a sliding window), or the keys of the query's chunk of ``span`` tokens so far."""
    p = prompt
    if not span or p <= span:
        return p * (p + 1) / 2.0
    if chunked:
        whole, rest = divmod(p, span)
        return whole * span * (span + 1) / 2.0 + rest * (rest + 1) / 2.0
    return span * (span + 1) / 2.0 + (p - span) * span


def _routing():
    """The routing module, imported when a mixture-of-experts figure is first asked for: it needs
    NumPy, which commands that only read presets (``wafersim presets``) do not load."""
    from . import routing
    return routing
