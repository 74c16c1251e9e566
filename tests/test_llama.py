"""The Llama-style model: same logits as Hugging Face's Llama, RoPE, GQA, cache, generation."""

import pytest
import torch

from lessons import sampling
from lessons.llama import Llama, LlamaConfig, RMSNorm, load_hf_llama_state_dict, rope_tables, rotate

TINY = dict(
    vocab_size=97, context_length=48, n_layer=2, n_head=6, n_kv_head=2, n_embd=48, mlp_size=80
)


def tiny_hf_llama(**changes):
    """A small random Hugging Face Llama, its norms random too (they start as ones)."""
    transformers = pytest.importorskip(
        "transformers", reason="transformers is not installed: no Llama to compare with"
    )
    settings = dict(
        vocab_size=97,
        hidden_size=48,
        intermediate_size=80,
        num_hidden_layers=2,
        num_attention_heads=6,
        num_key_value_heads=2,
        max_position_embeddings=48,
        rope_theta=100_000.0,
        rms_norm_eps=1e-5,
        tie_word_embeddings=True,
    )
    torch.manual_seed(1234)
    model = transformers.LlamaForCausalLM(transformers.LlamaConfig(**{**settings, **changes}))
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "norm" in name:
                param.uniform_(0.5, 1.5)
    return model.eval()


def tiny_llama(**changes) -> Llama:
    config = LlamaConfig(**{**TINY, "rope_base": 100_000.0, **changes})
    return Llama(config).eval()


def random_ids(B: int = 2, T: int = 20, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, 97, (B, T), generator=torch.Generator().manual_seed(seed))


def test_same_logits_as_hugging_face_llama():
    theirs = tiny_hf_llama()
    ours = load_hf_llama_state_dict(tiny_llama(), theirs.state_dict())
    idx = random_ids(T=48)
    with torch.no_grad():
        expected = theirs(idx).logits
        logits, _ = ours(idx)
    assert logits.dtype == torch.float32
    assert (logits - expected).abs().max().item() <= 1e-5


def test_untied_output_layer_loads_its_own_matrix():
    theirs = tiny_hf_llama(tie_word_embeddings=False)
    ours = load_hf_llama_state_dict(tiny_llama(tie_weights=False), theirs.state_dict())
    assert ours.lm_head.weight is not ours.token_embedding.weight
    idx = random_ids()
    with torch.no_grad():
        assert (ours(idx)[0] - theirs(idx).logits).abs().max().item() <= 1e-5


def test_loading_names_the_missing_or_misfit_parameter():
    weights = tiny_hf_llama().state_dict()
    with pytest.raises(ValueError, match=r"'blocks.0.attn.k.weight'.*k_proj"):
        load_hf_llama_state_dict(tiny_llama(n_kv_head=3), weights)
    del weights["model.layers.1.mlp.gate_proj.weight"]
    with pytest.raises(KeyError, match="mlp.gate_proj"):
        load_hf_llama_state_dict(tiny_llama(), weights)


def test_the_kv_cache_gives_the_logits_of_the_full_pass():
    torch.manual_seed(0)
    model, idx = tiny_llama(), random_ids(T=48)
    with torch.no_grad():
        full, _ = model(idx)
        cache = model.new_cache()
        pieces = [model(idx[:, :7], cache=cache)[0]]
        pieces += [model(idx[:, t : t + 1], cache=cache)[0] for t in range(7, 30)]
        pieces.append(model(idx[:, 30:], cache=cache)[0])
    assert len(cache) == 48
    # grouped-query attention: the cache keeps 2 key/value heads, not the 6 query heads
    assert cache.layers[0].keys.shape == (2, 2, 48, 8)
    # float32 rounding, relative to the logits (about 15 with PyTorch's random start)
    assert (torch.cat(pieces, dim=1) - full).abs().max() <= 1e-5 * full.abs().max()


def test_sampling_generates_the_same_tokens_with_and_without_the_cache():
    torch.manual_seed(0)
    model = tiny_llama(context_length=16)
    settings = dict(temperature=1.0, top_k=20, seed=3)
    cached = sampling.generate_ids(model, [5, 6, 7], 30, **settings)
    plain = sampling.generate_ids(model, [5, 6, 7], 30, kv_cache=False, **settings)
    assert cached == plain and len(cached) == 33  # the window moved on past 16 tokens


def test_rotation_keeps_lengths_and_sees_only_distances():
    torch.manual_seed(0)
    q, k = torch.randn(8), torch.randn(8)
    cos, sin = rope_tables(8, torch.arange(40), base=10_000.0)

    def turned(x, position):
        return rotate(x, cos[position], sin[position])

    assert torch.allclose(turned(q, 13).norm(), q.norm())
    assert torch.equal(turned(q, 0), q)  # position 0: angle 0
    # the dot product of a query at p and a key at s depends only on p - s
    assert turned(q, 10) @ turned(k, 3) == pytest.approx((turned(q, 37) @ turned(k, 30)).item())
    assert turned(q, 10) @ turned(k, 3) != pytest.approx((turned(q, 10) @ turned(k, 4)).item())


def test_rope_pairs_turn_at_their_own_speed():
    cos, sin = rope_tables(4, torch.tensor([0, 1, 2]), base=100.0)
    # pairs (0, 2) and (1, 3): angles p * 1 and p * 100^(-1/2) = p / 10
    expected = torch.tensor([[0, 0], [1, 0.1], [2, 0.2]])
    assert torch.allclose(torch.atan2(sin, cos)[:, :2], expected)
    assert torch.equal(cos[:, :2], cos[:, 2:])


def test_rms_norm_scales_to_a_root_mean_square_of_one():
    norm = RMSNorm(4, eps=0.0)
    x = torch.tensor([[3.0, -3.0, 3.0, -3.0], [1.0, 2.0, 3.0, 4.0]])
    y = norm(x)
    assert torch.allclose(y.pow(2).mean(-1), torch.ones(2))
    assert torch.allclose(y[0], torch.tensor([1.0, -1.0, 1.0, -1.0]))  # no mean is subtracted


def test_input_longer_than_the_context_raises():
    model = tiny_llama()
    with pytest.raises(ValueError, match="context_length 48"):
        model(random_ids(T=49))
    cache = model.new_cache()
    with torch.no_grad():
        model(random_ids(B=1, T=40), cache=cache)
        with pytest.raises(ValueError, match="40 cached and 9 new tokens"):
            model(random_ids(B=1, T=9), cache=cache)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (dict(n_head=5), "heads of an even size"),
        (dict(n_embd=36, n_head=12), "heads of an even size"),
        (dict(n_kv_head=4), "multiple of n_kv_head"),
        (dict(mlp_size=0), "mlp_size must be"),
        (dict(n_kv_head=2.0), "n_kv_head must be"),
    ],
)
def test_config_validation(changes, message):
    with pytest.raises(ValueError, match=message):
        LlamaConfig(**{**TINY, **changes})


def test_smollm2_has_135_million_parameters():
    config = LlamaConfig(
        vocab_size=49152,
        context_length=8192,
        n_layer=30,
        n_head=9,
        n_kv_head=3,
        n_embd=576,
        mlp_size=1536,
        rope_base=100_000.0,
    )
    with torch.device("meta"):
        model = Llama(config)
    assert model.num_parameters() == 134_515_008
    assert model.config.head_size == 64


def test_loss_is_the_cross_entropy():
    torch.manual_seed(0)
    model = tiny_llama()
    idx, targets = random_ids(seed=1), random_ids(seed=2)
    with torch.no_grad():
        logits, loss = model(idx, targets)
    assert loss.item() == pytest.approx(
        torch.nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten()).item()
    )
    assert model(idx)[1] is None
