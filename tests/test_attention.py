"""Attention step by step: scaling, the causal mask, softmax rows, and the fast module path."""

import math

import pytest
import torch
import torch.nn.functional as F

from lessons.attention import (
    CausalSelfAttention,
    attend,
    attention_scores,
    attention_weights,
    causal_mask,
)


def random_qkv(B: int = 2, H: int = 3, T: int = 7, d: int = 8, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(B, H, T, d, generator=generator) for _ in range(3)]


def test_scores_are_scaled_dot_products():
    q = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    k = torch.tensor([[1.0, 1.0], [3.0, 0.0]])
    expected = torch.tensor([[1.0, 3.0], [2.0, 0.0]]) / math.sqrt(2)
    torch.testing.assert_close(attention_scores(q, k), expected)


def test_causal_mask_is_the_lower_triangle():
    expected = torch.tensor([[1, 0, 0], [1, 1, 0], [1, 1, 1]], dtype=torch.bool)
    assert torch.equal(causal_mask(3), expected)


@pytest.mark.parametrize("causal", [True, False])
def test_step_by_step_equals_pytorch_sdpa(causal):
    q, k, v = random_qkv()
    output, _ = attend(q, k, v, causal=causal)
    fast = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    assert (output - fast).abs().max().item() <= 1e-6


def test_weight_rows_sum_to_one_and_never_look_ahead():
    q, k, v = random_qkv()
    _, weights = attend(q, k, v)
    torch.testing.assert_close(weights.sum(dim=-1), torch.ones(2, 3, 7))
    future = ~causal_mask(7)
    assert torch.all(weights[..., future] == 0)
    # without a mask, every token gets some weight
    assert torch.all(attention_weights(attention_scores(q, k)) > 0)


def test_output_at_t_ignores_later_tokens():
    q, k, v = random_qkv()
    t = 3
    changed = [x.clone() for x in (q, k, v)]
    for x in changed:
        x[..., t + 1 :, :] = torch.randn_like(x[..., t + 1 :, :])
    before, _ = attend(q, k, v)
    after, _ = attend(*changed)
    torch.testing.assert_close(before[..., : t + 1, :], after[..., : t + 1, :])
    assert not torch.allclose(before[..., t + 1 :, :], after[..., t + 1 :, :])


def test_module_output_at_t_ignores_later_tokens():
    torch.manual_seed(0)
    attention = CausalSelfAttention(n_embd=16, n_head=4).eval()
    x = torch.randn(2, 6, 16)
    changed = x.clone()
    changed[:, 4:] = torch.randn(2, 2, 16)
    before, _ = attention(x)
    after, _ = attention(changed)
    torch.testing.assert_close(before[:, :4], after[:, :4])


def test_module_with_weights_matches_fast_path():
    torch.manual_seed(0)
    attention = CausalSelfAttention(n_embd=24, n_head=4).eval()
    x = torch.randn(2, 9, 24)
    fast, no_weights = attention(x)
    slow, weights = attention(x, need_weights=True)
    assert no_weights is None
    assert weights.shape == (2, 4, 9, 9)
    torch.testing.assert_close(weights.sum(dim=-1), torch.ones(2, 4, 9))
    assert (fast - slow).abs().max().item() <= 1e-6


def test_dropout_acts_only_in_training():
    torch.manual_seed(0)
    attention = CausalSelfAttention(n_embd=16, n_head=2, dropout=0.5)
    x = torch.randn(1, 5, 16)
    attention.eval()
    first, _ = attention(x)
    second, _ = attention(x, need_weights=True)
    torch.testing.assert_close(first, second)
    attention.train()
    dropped, _ = attention(x)
    assert not torch.allclose(first, dropped)


def test_heads_must_split_the_embedding_evenly():
    with pytest.raises(ValueError, match="divisible"):
        CausalSelfAttention(n_embd=10, n_head=3)
