"""Self-attention: how each token looks back at the tokens before it.

Every token asks a question (its *query* q), offers a label (its *key* k) and carries
a message (its *value* v). A token's output is a weighted average of the values, with
weights from how well its query matches each key:

    1. scores  = q @ k^T / sqrt(d)      dot products, scaled so softmax stays soft
    2. mask    = no looking ahead         a token sees only itself and earlier tokens
    3. weights = softmax(scores)          each row is a probability distribution
    4. output  = weights @ v              a mix of the values, one per token

The small functions below do these steps one at a time so each can be printed and
plotted. ``CausalSelfAttention`` then does the same with several heads at once: the
layer that sits in every block of the GPT in ``lessons.gpt``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def attention_scores(q: Tensor, k: Tensor) -> Tensor:
    """How well each query matches each key: dot products divided by sqrt(d).

    ``q`` and ``k`` have shape (..., T, d); the result has shape (..., T, T), with row
    t holding token t's scores for every token. Without the division, the dot products
    grow with d and softmax would put almost all weight on a single token.
    """
    return q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))


def causal_mask(T: int, device: torch.device | str | None = None) -> Tensor:
    """A (T, T) table of booleans: True where token t may look at token s, that is s <= t.

    The lower triangle: a language model predicts the next token, so it must not see it.
    """
    return torch.ones(T, T, dtype=torch.bool, device=device).tril()


def attention_weights(scores: Tensor, mask: Tensor | None = None) -> Tensor:
    """Softmax over each row of scores; masked-out places get weight exactly 0.

    Setting a score to -infinity before the softmax makes e^score = 0, so the remaining
    weights in each row still add up to 1.
    """
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return scores.softmax(dim=-1)


def attend(q: Tensor, k: Tensor, v: Tensor, causal: bool = True) -> tuple[Tensor, Tensor]:
    """Attention step by step: returns the output (..., T, d_v) and the weights (..., T, T)."""
    scores = attention_scores(q, k)
    mask = causal_mask(scores.size(-1), device=scores.device) if causal else None
    weights = attention_weights(scores, mask)
    return weights @ v, weights


@dataclass
class LayerCache:
    """One layer's part of the KV cache: the keys and values of every token read so far.

    A token's key and value depend only on that token and the ones before it, so they never
    change once computed. Generation keeps them here and feeds the model only the new token:
    one token's work per step instead of the whole text's. Shapes (B, n_head, tokens, head_size).
    """

    keys: Tensor | None = None
    values: Tensor | None = None

    def __len__(self) -> int:
        return 0 if self.keys is None else self.keys.size(2)

    def extend(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Append the new tokens' keys and values; return all of them, the old ones first."""
        if self.keys is not None:
            k = torch.cat([self.keys, k], dim=2)
            v = torch.cat([self.values, v], dim=2)
        self.keys, self.values = k, v
        return k, v


class CausalSelfAttention(nn.Module):
    """Several attention heads side by side, as in each block of GPT-2.

    One linear layer makes queries, keys and values for all heads at once (it is the
    same as three separate layers, just faster). The embedding of size ``n_embd`` is
    split into ``n_head`` slices of ``n_embd // n_head``; each head attends within its
    slice, so different heads can follow different patterns (the previous word, the
    subject of the sentence, ...). A last linear layer mixes the heads' outputs.
    """

    def __init__(self, n_embd: int, n_head: int, dropout: float = 0.0, bias: bool = True):
        super().__init__()
        if n_embd % n_head != 0:
            raise ValueError(f"n_embd ({n_embd}) must be divisible by n_head ({n_head}).")
        self.n_head = n_head
        self.dropout = dropout
        self.qkv = nn.Linear(n_embd, 3 * n_embd, bias=bias)  # queries, keys, values
        self.proj = nn.Linear(n_embd, n_embd, bias=bias)  # mixes the heads
        self.attn_dropout = nn.Dropout(dropout)
        self.resid_dropout = nn.Dropout(dropout)

    def forward(
        self, x: Tensor, need_weights: bool = False, cache: LayerCache | None = None
    ) -> tuple[Tensor, Tensor | None]:
        """Map x (B, T, n_embd) to (output of the same shape, weights or None).

        With ``need_weights=True`` the weights of shape (B, n_head, T, T) are computed
        the explicit way, for heatmaps; otherwise PyTorch's fused kernel does the work
        and never builds the T x T table in memory. With a ``cache``, x holds only the
        tokens after those already in it; they attend to the cached tokens and to each other.
        """
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        # (B, T, C) -> (B, n_head, T, head_size): each head becomes a batch dimension
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        if cache is not None:
            if need_weights:
                raise ValueError("need_weights works without a cache: pass the whole text.")
            k, v = cache.extend(k, v)  # the earlier tokens' keys and values, then the new ones
            S = k.size(2)  # all tokens: the new ones are the last T
            # The new tokens' rows of the causal mask; a single new token may see them all.
            mask = causal_mask(S, device=x.device)[S - T :] if T > 1 else None
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
            weights = None
        elif need_weights:
            y, weights = attend(q, k, v, causal=True)
            if self.training and self.dropout > 0:  # same as the fast path: drop weights
                y = self.attn_dropout(weights) @ v
        else:
            p = self.dropout if self.training else 0.0
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
            weights = None
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # heads side by side again
        return self.resid_dropout(self.proj(y)), weights
