"""Transformer shapes and what they cost: parameters, bytes, FLOPs.

All counts follow one decoder layer of a Llama-style (or GPT-J-style) model:

* attention: Q (d x H*hd), K and V (d x KV*hd each), O (H*hd x d), optional biases;
* MLP: gated (gate, up: d x f; down: f x d) or plain (in: d x f; out: f x d);
* mixture of experts: E copies of the MLP and a d x E router, k routed per token;
* norms: RMSNorm (weight) or LayerNorm (weight and bias), one or two per layer.

FLOPs count a multiply-add as 2.  Attention over a context of ``n`` tokens costs
``4 * H * hd * n`` FLOPs per query token (scores and weighted sum).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import ConfigError, Spec, choice, flag, integer, text
from ..provenance import Provenance, provenance_field
from .dtypes import dtype_bytes


#: Most parameters a model may have: 2**50 (~1.1e15), so byte counts (at most 4 bytes a
#: parameter) and FLOP counts of one token stay below 2**53, exact in float64.
MAX_PARAMS = 2**50


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
    dtype: str = choice(("bf16", "fp16", "fp8", "int8", "int4"), "default weight format", default="bf16")
    provenance: Provenance | None = provenance_field()

    def check(self) -> None:
        if self.head_dim == 0 and self.hidden_size % self.num_heads:
            raise ConfigError("", "num_heads", f"must divide hidden_size ({self.hidden_size}); got {self.num_heads}")
        if self.num_heads % self.num_kv_heads:
            raise ConfigError("", "num_kv_heads", f"must divide num_heads ({self.num_heads}); got {self.num_kv_heads}")
        if self.experts_per_token > self.num_experts:
            raise ConfigError("", "experts_per_token", f"must be <= num_experts ({self.num_experts})")
        if self.norms_per_layer > 2:
            raise ConfigError("", "norms_per_layer", "expected 1 or 2")
        if self.param_count > MAX_PARAMS:
            raise ConfigError("", "num_layers", f"the shapes give {self.param_count:.3g} parameters; at most "
                              f"{MAX_PARAMS:.3g} are modelled (byte and FLOP counts stay exact in float64)")

    # ---- shapes -------------------------------------------------------------
    @property
    def hd(self) -> int:
        return self.head_dim or self.hidden_size // self.num_heads

    @property
    def q_size(self) -> int:
        return self.num_heads * self.hd

    @property
    def kv_size(self) -> int:
        return self.num_kv_heads * self.hd

    @property
    def is_moe(self) -> bool:
        return self.num_experts > 1

    # ---- parameters ---------------------------------------------------------
    @property
    def attention_params(self) -> int:
        d = self.hidden_size
        p = d * (self.q_size + 2 * self.kv_size) + self.q_size * d
        if self.qkv_bias:
            p += self.q_size + 2 * self.kv_size
        if self.out_bias:
            p += d
        return p

    @property
    def expert_params(self) -> int:
        """Parameters of one MLP (one expert)."""
        d, f = self.hidden_size, self.ffn_size
        mats = 3 if self.mlp == "gated" else 2
        p = mats * d * f
        if self.mlp_bias:
            p += (mats - 1) * f + d
        return p

    @property
    def router_params(self) -> int:
        return self.hidden_size * self.num_experts if self.is_moe else 0

    @property
    def norm_params_per_layer(self) -> int:
        per = self.hidden_size * (2 if self.norm == "layer" else 1)
        return per * self.norms_per_layer

    @property
    def layer_params(self) -> int:
        return (self.attention_params + self.num_experts * self.expert_params
                + self.router_params + self.norm_params_per_layer)

    @property
    def layer_active_params(self) -> int:
        """Parameters one token touches in one layer (routed experts only)."""
        return (self.attention_params + self.experts_per_token * self.expert_params
                + self.router_params + self.norm_params_per_layer)

    @property
    def embedding_params(self) -> int:
        return self.vocab_size * self.hidden_size

    @property
    def lm_head_params(self) -> int:
        p = 0 if self.tie_embeddings else self.vocab_size * self.hidden_size
        return p + (self.vocab_size if self.lm_head_bias else 0)

    @property
    def final_norm_params(self) -> int:
        return self.hidden_size * (2 if self.norm == "layer" else 1)

    @property
    def param_count(self) -> int:
        return (self.num_layers * self.layer_params + self.embedding_params
                + self.lm_head_params + self.final_norm_params)

    @property
    def active_param_count(self) -> int:
        return (self.num_layers * self.layer_active_params + self.embedding_params
                + self.lm_head_params + self.final_norm_params)

    # ---- bytes --------------------------------------------------------------
    def weight_bytes(self, dtype: str | None = None) -> float:
        return self.param_count * dtype_bytes(dtype or self.dtype)

    def layer_weight_bytes(self, dtype: str | None = None) -> float:
        return self.layer_params * dtype_bytes(dtype or self.dtype)

    def kv_bytes_per_token(self, dtype: str | None = None) -> float:
        """KV-cache bytes one token adds across all layers."""
        return self.num_layers * self.kv_bytes_per_token_layer(dtype)

    def kv_bytes_per_token_layer(self, dtype: str | None = None) -> float:
        return 2 * self.kv_size * dtype_bytes(dtype or self.dtype)

    def experts_touched(self, tokens: int) -> float:
        """Expected distinct experts a batch of ``tokens`` routes to (uniform routing)."""
        if not self.is_moe:
            return 1.0
        e, k = self.num_experts, self.experts_per_token
        return e * (1.0 - (1.0 - k / e) ** max(tokens, 0))

    def layer_weight_bytes_read(self, tokens: int, dtype: str | None = None) -> float:
        """Weight bytes one layer reads to process ``tokens`` tokens at once."""
        p = (self.attention_params + self.router_params + self.norm_params_per_layer
             + self.experts_touched(tokens) * self.expert_params)
        return p * dtype_bytes(dtype or self.dtype)

    # ---- FLOPs --------------------------------------------------------------
    @property
    def layer_matmul_flops_per_token(self) -> float:
        """2 x active weights: the projections and MLP for one token in one layer."""
        return 2.0 * self.layer_active_params

    def attention_flops(self, query_tokens: int, context: float) -> float:
        """Scores and weighted sum for ``query_tokens`` queries, each over ``context`` keys."""
        return 4.0 * self.q_size * query_tokens * context

    def prefill_attention_flops(self, prompt: int) -> float:
        """Causal attention over a prompt: query i sees i+1 keys."""
        return 4.0 * self.q_size * prompt * (prompt + 1) / 2.0

    def summary(self) -> dict:
        return {
            "name": self.name, "params": self.param_count, "active_params": self.active_param_count,
            "layers": self.num_layers, "hidden": self.hidden_size, "heads": self.num_heads,
            "kv_heads": self.num_kv_heads, "head_dim": self.hd, "ffn": self.ffn_size,
            "experts": f"{self.experts_per_token}/{self.num_experts}" if self.is_moe else "dense",
        }


