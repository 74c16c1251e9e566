"""A Llama-style model: the GPT of ``lessons.gpt`` with four parts swapped for newer ones.

Llama (Meta, 2023) and the many models built like it, SmolLM2 among them, keep the GPT's
plan: token embedding, a stack of blocks (attention, then an MLP, each added to the residual
stream), a final norm, one score per vocabulary entry. What changes:

    GPT-2                                   Llama
    LayerNorm (mean and spread)             RMSNorm: only the spread, fewer steps
    a learned vector per position           rotary position embedding (RoPE): queries and
                                            keys are rotated by an angle that grows with
                                            the position, so attention sees distances
    every head has its keys and values      grouped-query attention: a few key/value heads,
                                            each shared by a group of query heads; the KV
                                            cache shrinks by the group size
    MLP: up, GELU, down                     SwiGLU: a second "gate" layer decides, number by
                                            number, how much of the first passes
    biases everywhere                       no biases

Generation needs nothing new: ``Llama`` has the interface ``lessons.sampling`` uses
(``config.context_length``, ``new_cache()``, ``forward(idx, cache=...)``), and its KV cache
is the GPT's. ``load_hf_llama_state_dict`` loads weights in Hugging Face's names;
``lessons.gguf_model`` reads them from a GGUF file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lessons.attention import LayerCache, causal_mask
from lessons.gpt import KVCache


@dataclass
class LlamaConfig:
    """The sizes of a Llama-style model. SmolLM2-135M: 49152, 8192, 30 layers, 9 heads, 3, 576."""

    vocab_size: int
    context_length: int  # the most tokens the model sees at once
    n_layer: int
    n_head: int  # query heads per block
    n_kv_head: int  # key/value heads per block; each serves n_head // n_kv_head query heads
    n_embd: int
    mlp_size: int  # the width inside the SwiGLU MLP
    rope_base: float = 10_000.0  # the larger, the slower the slowest pair turns in RoPE
    norm_eps: float = 1e-5  # keeps RMSNorm from dividing by zero
    tie_weights: bool = True  # the output layer reuses the token embedding

    def __post_init__(self):
        names = ("vocab_size", "context_length", "n_layer", "n_head", "n_kv_head", "n_embd")
        for name in (*names, "mlp_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a whole number > 0, not {value!r}.")
        if self.n_embd % self.n_head or (self.n_embd // self.n_head) % 2:
            raise ValueError(
                f"n_embd ({self.n_embd}) must split into n_head ({self.n_head}) heads of an even "
                "size: RoPE rotates the numbers of each head in pairs."
            )
        if self.n_head % self.n_kv_head:
            raise ValueError(
                f"n_head ({self.n_head}) must be a multiple of n_kv_head ({self.n_kv_head}): "
                "each key/value head serves a group of the same number of query heads."
            )

    @property
    def head_size(self) -> int:
        return self.n_embd // self.n_head


class RMSNorm(nn.Module):
    """Scale each vector to a root mean square of 1, then by a learned weight per number.

    LayerNorm also subtracts the mean and adds a bias; RMSNorm leaves both out, which works
    as well and costs less.
    """

    def __init__(self, size: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(size))
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(head_size: int, positions: Tensor, base: float) -> tuple[Tensor, Tensor]:
    """Cosines and sines of the rotary angles at ``positions``: two (T, head_size) tables.

    A head's numbers form head_size / 2 pairs, number i with number i + head_size / 2. Pair i
    turns by the angle position * base^(-2i / head_size): the first pair fast, the last one
    very slowly. Both halves of a row hold the same angles, one per pair.
    """
    frequencies = 1.0 / base ** (torch.arange(0, head_size, 2, device=positions.device) / head_size)
    angles = torch.outer(positions.float(), frequencies.float())
    angles = torch.cat([angles, angles], dim=-1)
    return angles.cos(), angles.sin()


def rotate(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate every pair (x_i, x_{i + half}) of ``x`` (..., T, head_size) by its angle.

    A rotation by angle a maps (u, v) to (u cos a - v sin a, u sin a + v cos a). Rotating a
    query by its position p and a key by its position s changes their dot product only by the
    difference p - s: attention sees how far apart two tokens are.
    """
    half = x.size(-1) // 2
    turned = torch.cat([-x[..., half:], x[..., :half]], dim=-1)  # (-v, u) for every pair
    return x * cos + turned * sin


class GroupedQueryAttention(nn.Module):
    """Causal self-attention with RoPE, where groups of query heads share a key/value head."""

    def __init__(self, config: LlamaConfig):
        super().__init__()
        self.n_head, self.n_kv_head = config.n_head, config.n_kv_head
        self.head_size = config.head_size
        kv_size = config.n_kv_head * config.head_size
        self.q = nn.Linear(config.n_embd, config.n_embd, bias=False)
        self.k = nn.Linear(config.n_embd, kv_size, bias=False)
        self.v = nn.Linear(config.n_embd, kv_size, bias=False)
        self.proj = nn.Linear(config.n_embd, config.n_embd, bias=False)  # mixes the heads

    def forward(
        self, x: Tensor, cos: Tensor, sin: Tensor, cache: LayerCache | None = None
    ) -> Tensor:
        """x (B, T, n_embd) -> (B, T, n_embd); ``cos``/``sin`` hold the T tokens' angles."""
        B, T, C = x.shape
        q = self.q(x).view(B, T, self.n_head, self.head_size).transpose(1, 2)
        k = self.k(x).view(B, T, self.n_kv_head, self.head_size).transpose(1, 2)
        v = self.v(x).view(B, T, self.n_kv_head, self.head_size).transpose(1, 2)
        q, k = rotate(q, cos, sin), rotate(k, cos, sin)  # positions enter here, not earlier
        if cache is not None:
            k, v = cache.extend(k, v)  # the cache holds only the n_kv_head heads
        group = self.n_head // self.n_kv_head
        k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
        S = k.size(2)  # all tokens: the new ones are the last T
        mask = causal_mask(S, device=x.device)[S - T :] if T > 1 else None
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.proj(y.transpose(1, 2).reshape(B, T, C))


class SwiGLU(nn.Module):
    """The MLP of Llama: down(silu(gate(x)) * up(x)). The gate decides how much passes."""

    def __init__(self, config: LlamaConfig):
        super().__init__()
        self.gate = nn.Linear(config.n_embd, config.mlp_size, bias=False)
        self.up = nn.Linear(config.n_embd, config.mlp_size, bias=False)
        self.down = nn.Linear(config.mlp_size, config.n_embd, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.down(F.silu(self.gate(x)) * self.up(x))


class Block(nn.Module):
    """Attention, then MLP, each after an RMSNorm and added to the residual stream."""

    def __init__(self, config: LlamaConfig):
        super().__init__()
        self.norm1 = RMSNorm(config.n_embd, config.norm_eps)
        self.attn = GroupedQueryAttention(config)
        self.norm2 = RMSNorm(config.n_embd, config.norm_eps)
        self.mlp = SwiGLU(config)

    def forward(self, x: Tensor, cos: Tensor, sin: Tensor, cache: LayerCache | None) -> Tensor:
        x = x + self.attn(self.norm1(x), cos, sin, cache)
        return x + self.mlp(self.norm2(x))


class Llama(nn.Module):
    """A decoder-only language model laid out like Llama (for inference: no dropout)."""

    def __init__(self, config: LlamaConfig):
        super().__init__()
        self.config = config
        self.token_embedding = nn.Embedding(config.vocab_size, config.n_embd)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.final_norm = RMSNorm(config.n_embd, config.norm_eps)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        if config.tie_weights:
            self.lm_head.weight = self.token_embedding.weight

    def forward(
        self, idx: Tensor, targets: Tensor | None = None, cache: KVCache | None = None
    ) -> tuple[Tensor, Tensor | None]:
        """Next-token logits (B, T, vocab_size) for ``idx`` (B, T), as ``GPT.forward``.

        With ``targets`` also the cross-entropy loss; with a ``cache`` (``new_cache()``),
        ``idx`` continues the tokens read into it before.
        """
        if idx.dim() != 2:
            raise ValueError(f"idx must have shape (batch, time), not {tuple(idx.shape)}.")
        start = 0 if cache is None else len(cache)  # the position of the first token in idx
        end = start + idx.size(1)
        if end > self.config.context_length:
            raise ValueError(
                f"{start} cached and {idx.size(1)} new tokens are {end}, more than the "
                f"model's context_length {self.config.context_length}."
            )
        x = self.token_embedding(idx)  # no position embedding: RoPE adds the positions
        positions = torch.arange(start, end, device=idx.device)
        cos, sin = rope_tables(self.config.head_size, positions, self.config.rope_base)
        cos, sin = cos.to(x.dtype), sin.to(x.dtype)
        layer_caches = cache.layers if cache is not None else [None] * len(self.blocks)
        for block, layer_cache in zip(self.blocks, layer_caches, strict=True):
            x = block(x, cos, sin, layer_cache)
        logits = self.lm_head(self.final_norm(x))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten())
        return logits, loss

    def new_cache(self) -> KVCache:
        """An empty KV cache for ``forward``, the same kind the GPT uses."""
        return KVCache(self.config.n_layer)

    def num_parameters(self) -> int:
        """How many numbers the model learned; a tied matrix counts once."""
        return sum(p.numel() for p in self.parameters())


# Hugging Face's names for our parameters: "model.layers.3.self_attn.q_proj.weight" there is
# "blocks.3.attn.q.weight" here. Both store linear weights as (out, in): nothing to transpose.
_HF_BLOCK_NAMES = {
    "norm1": "input_layernorm",
    "attn.q": "self_attn.q_proj",
    "attn.k": "self_attn.k_proj",
    "attn.v": "self_attn.v_proj",
    "attn.proj": "self_attn.o_proj",
    "norm2": "post_attention_layernorm",
    "mlp.gate": "mlp.gate_proj",
    "mlp.up": "mlp.up_proj",
    "mlp.down": "mlp.down_proj",
}
_HF_NAMES = {
    "token_embedding.weight": "model.embed_tokens.weight",
    "final_norm.weight": "model.norm.weight",
    "lm_head.weight": "lm_head.weight",
}


def hf_name(name: str) -> str:
    """The Hugging Face name of one of our parameters."""
    if name in _HF_NAMES:
        return _HF_NAMES[name]
    _, layer, rest = name.split(".", 2)  # "blocks.3.attn.q.weight" -> "3", "attn.q.weight"
    module, kind = rest.rsplit(".", 1)
    return f"model.layers.{layer}.{_HF_BLOCK_NAMES[module]}.{kind}"


@torch.no_grad()
def load_hf_llama_state_dict(model: Llama, state_dict: Mapping[str, Tensor]) -> Llama:
    """Copy the weights of a Hugging Face ``LlamaForCausalLM`` (its names) into ``model``.

    Raises KeyError for a missing weight and ValueError, naming the parameter, when a shape
    does not fit. A tied model may leave out ``lm_head.weight``.
    """
    for name, param in model.named_parameters():  # a tied lm_head.weight is not listed
        theirs = hf_name(name)
        if theirs not in state_dict:
            raise KeyError(f"The state dict has no {theirs!r} for our parameter {name!r}.")
        if state_dict[theirs].shape != param.shape:
            raise ValueError(
                f"Shape mismatch for {name!r} (from {theirs!r}): ours is {tuple(param.shape)}, "
                f"the state dict's is {tuple(state_dict[theirs].shape)}. Do the configs agree?"
            )
        param.copy_(state_dict[theirs])
    return model
