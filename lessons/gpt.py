"""A GPT in one file: the architecture of GPT-2, small enough to read in one sitting.

The model turns a sequence of token ids into, for every position, scores (*logits*)
for which token comes next:

    token ids -> token embedding + position embedding
              -> n_layer blocks, each: x + attention(norm(x)), then x + mlp(norm(x))
              -> final norm -> linear layer to one score per vocabulary entry

Attention (``lessons.attention``) lets tokens exchange information; the MLP then
works on each token by itself. The "x + ..." residual connections keep a direct path
from input to output, which makes deep stacks trainable. The layout and the names of
the settings follow GPT-2, so ``load_hf_gpt2_state_dict`` can load its weights.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lessons.attention import CausalSelfAttention, LayerCache


@dataclass
class GPTConfig:
    """The sizes of a GPT. GPT-2 small: vocab 50257, context 1024, 12 layers, 12 heads, 768."""

    vocab_size: int  # how many different tokens there are
    context_length: int  # the most tokens the model sees at once ("block size")
    n_layer: int  # how many blocks are stacked
    n_head: int  # attention heads per block
    n_embd: int  # the length of the vector that stands for each token
    dropout: float = 0.0  # share of activations zeroed in training, against overfitting
    bias: bool = True  # biases in the linear layers and LayerNorms, as in GPT-2
    tie_weights: bool = True  # the output layer reuses the token embedding, as in GPT-2

    def __post_init__(self):
        for name in ("vocab_size", "context_length", "n_layer", "n_head", "n_embd"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a whole number > 0, not {value!r}.")
        if self.n_embd % self.n_head != 0:
            raise ValueError(
                f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head}): "
                "each head gets an equal slice of the embedding."
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be at least 0 and below 1, not {self.dropout!r}.")


class MLP(nn.Module):
    """Two linear layers with GELU between: widen to 4 x n_embd, then back."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.up = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.gelu = nn.GELU(approximate="tanh")  # the tanh formula GPT-2 was trained with
        self.down = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(self.down(self.gelu(self.up(x))))


class Block(nn.Module):
    """One transformer block: attention, then MLP, each after a LayerNorm ("pre-norm")."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.norm1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config.n_embd, config.n_head, config.dropout, config.bias)
        self.norm2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x: Tensor, cache: LayerCache | None = None) -> Tensor:
        attended, _ = self.attn(self.norm1(x), cache=cache)
        x = x + attended  # tokens gather information from earlier tokens
        x = x + self.mlp(self.norm2(x))  # each token processes what it gathered
        return x


class KVCache:
    """What a GPT has read so far, kept for the next call: one ``LayerCache`` per block.

    Get one from ``GPT.new_cache()`` and pass it to every call of ``GPT.forward``; each call
    then takes only the tokens that come after those in the cache (``len(cache)`` of them).
    """

    def __init__(self, n_layer: int):
        self.layers = [LayerCache() for _ in range(n_layer)]

    def __len__(self) -> int:
        return len(self.layers[0])  # every layer holds the same tokens


class GPT(nn.Module):
    """A decoder-only transformer language model, laid out like GPT-2."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.token_embedding = nn.Embedding(config.vocab_size, config.n_embd)
        self.position_embedding = nn.Embedding(config.context_length, config.n_embd)
        self.dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.final_norm = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        if config.tie_weights:
            # One matrix both reads tokens in and scores them out: fewer parameters, and
            # tokens with similar embeddings get similar scores.
            self.lm_head.weight = self.token_embedding.weight
        self.apply(self._init_weights)
        # Each block adds two outputs (attention, MLP) to the residual stream; smaller
        # starting weights there keep the sum from growing with the number of layers.
        residual_std = 0.02 / math.sqrt(2 * config.n_layer)
        for block in self.blocks:
            nn.init.normal_(block.attn.proj.weight, mean=0.0, std=residual_std)
            nn.init.normal_(block.mlp.down.weight, mean=0.0, std=residual_std)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        """GPT-2's starting point: small random weights (std 0.02), zero biases."""
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(
        self, idx: Tensor, targets: Tensor | None = None, cache: KVCache | None = None
    ) -> tuple[Tensor, Tensor | None]:
        """Next-token logits (B, T, vocab_size) for token ids ``idx`` (B, T).

        With ``targets`` (B, T), the ids of the tokens that really came next, also the
        loss: the cross-entropy averaged over all positions; otherwise the loss is None.
        With a ``cache`` (``new_cache()``), ``idx`` continues the tokens read into it before;
        their keys and values come from the cache, and this call's are added to it.
        """
        if idx.dim() != 2:
            raise ValueError(f"idx must have shape (batch, time), not {tuple(idx.shape)}.")
        start = 0 if cache is None else len(cache)  # the position of the first token in idx
        n_tokens = start + idx.size(1)
        if n_tokens > self.config.context_length:
            limit = self.config.context_length
            raise ValueError(
                f"The cache holds {start} tokens and the input {idx.size(1)} more: {n_tokens} "
                f"in all, but the model's context_length is {limit}. Start a new cache with "
                f"at most the last {limit} tokens."
                if start
                else f"The input has {n_tokens} tokens, but the model's context_length is "
                f"{limit}. Pass at most the last {limit} tokens."
            )
        positions = torch.arange(start, n_tokens, device=idx.device)
        x = self.dropout(self.token_embedding(idx) + self.position_embedding(positions))
        layer_caches = cache.layers if cache is not None else [None] * len(self.blocks)
        for block, layer_cache in zip(self.blocks, layer_caches, strict=True):
            x = block(x, layer_cache)
        logits = self.lm_head(self.final_norm(x))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten())  # (B*T, vocab), (B*T)
        return logits, loss

    @torch.no_grad()
    def attention_maps(self, idx: Tensor) -> list[Tensor]:
        """The attention weights of every layer for token ids ``idx`` (B, T), for heatmaps.

        One tensor of shape (B, n_head, T, T) per layer, first layer first: row t of a head's
        table says how much token t looks at each token up to t. Each block's attention is
        run once more with ``need_weights=True``; the model itself is not changed.
        """
        if idx.dim() != 2 or idx.size(1) > self.config.context_length:
            raise ValueError(
                f"idx must have shape (batch, time) with time <= {self.config.context_length}, "
                f"not {tuple(idx.shape)}."
            )
        positions = torch.arange(idx.size(1), device=idx.device)
        x = self.token_embedding(idx) + self.position_embedding(positions)
        maps = []
        for block in self.blocks:
            _, weights = block.attn(block.norm1(x), need_weights=True)  # what the block sees
            maps.append(weights)
            x = block(x)
        return maps

    def new_cache(self) -> KVCache:
        """An empty KV cache for ``forward``: generation without reading the text again."""
        return KVCache(self.config.n_layer)

    def num_parameters(self) -> int:
        """How many numbers the model learns; a tied matrix counts once."""
        return sum(p.numel() for p in self.parameters())


# Loading GPT-2's weights from Hugging Face ``transformers``.
#
# Same model, other names: ``transformer.h.0.attn.c_attn`` there is ``blocks.0.attn.qkv``
# here. And GPT-2 stores its linear layers as "Conv1D" with the weight matrix of shape
# (in, out), the transpose of ``nn.Linear``'s (out, in), so those get transposed.

_HF_BLOCK_NAMES = {  # ours: (theirs, transposed)
    "norm1": ("ln_1", False),
    "attn.qkv": ("attn.c_attn", True),
    "attn.proj": ("attn.c_proj", True),
    "norm2": ("ln_2", False),
    "mlp.up": ("mlp.c_fc", True),
    "mlp.down": ("mlp.c_proj", True),
}


def _hf_name(name: str) -> tuple[str, bool]:
    """The Hugging Face name of one of our parameters, and whether it is stored transposed."""
    fixed = {
        "token_embedding.weight": "transformer.wte.weight",
        "position_embedding.weight": "transformer.wpe.weight",
        "final_norm.weight": "transformer.ln_f.weight",
        "final_norm.bias": "transformer.ln_f.bias",
        "lm_head.weight": "lm_head.weight",
    }
    if name in fixed:
        return fixed[name], False
    _, layer, rest = name.split(".", 2)  # "blocks.3.attn.qkv.weight" -> "3", "attn.qkv.weight"
    module, kind = rest.rsplit(".", 1)
    theirs, transposed = _HF_BLOCK_NAMES[module]
    return f"transformer.h.{layer}.{theirs}.{kind}", transposed and kind == "weight"


@torch.no_grad()
def load_hf_gpt2_state_dict(model: GPT, state_dict: Mapping[str, Tensor]) -> GPT:
    """Copy the weights of a Hugging Face ``GPT2LMHeadModel`` (its ``state_dict()``) into ``model``.

    The model must have GPT-2's sizes and ``bias=True``. Raises KeyError for a missing
    weight and ValueError, naming the parameter, when a shape does not fit.
    """
    if not model.config.bias:
        raise ValueError("GPT-2 has biases: build the GPT with bias=True to load its weights.")
    # A bare GPT2Model has no "transformer." prefix and no lm_head; accept that too.
    weights = {
        k if k.startswith(("transformer.", "lm_head.")) else f"transformer.{k}": v
        for k, v in state_dict.items()
    }
    weights.setdefault("lm_head.weight", weights.get("transformer.wte.weight"))
    for name, param in model.named_parameters():  # a tied lm_head.weight is not listed
        theirs, transposed = _hf_name(name)
        if weights.get(theirs) is None:
            raise KeyError(f"The state dict has no {theirs!r} for our parameter {name!r}.")
        source = weights[theirs].t() if transposed else weights[theirs]
        if source.shape != param.shape:
            raise ValueError(
                f"Shape mismatch for {name!r} (from {theirs!r}): ours is {tuple(param.shape)}, "
                f"the state dict's is {tuple(source.shape)}. Do the configs agree?"
            )
        param.copy_(source)
    return model
