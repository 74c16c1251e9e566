"""The GPT: same logits as Hugging Face's GPT-2, the loss, limits, tying, learning, KV cache."""

import pytest
import torch
import torch.nn.functional as F

from lessons.gpt import GPT, GPTConfig, load_hf_gpt2_state_dict

TINY = dict(vocab_size=97, context_length=32, n_layer=2, n_head=4, n_embd=48)


def tiny_gpt(seed: int = 0, **changes) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig(**{**TINY, **changes})).eval()


def random_ids(B: int = 3, T: int = 20, seed: int = 1) -> torch.Tensor:
    return torch.randint(
        0, TINY["vocab_size"], (B, T), generator=torch.Generator().manual_seed(seed)
    )


def tiny_hf_gpt2():
    transformers = pytest.importorskip(
        "transformers", reason="transformers is not installed: no GPT-2 to compare with"
    )
    config = transformers.GPT2Config(
        vocab_size=97,
        n_positions=32,
        n_embd=48,
        n_layer=2,
        n_head=4,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        activation_function="gelu_new",
        bos_token_id=0,
        eos_token_id=0,
    )
    torch.manual_seed(1234)
    return transformers.GPT2LMHeadModel(config).eval()


def test_same_logits_as_hugging_face_gpt2():
    theirs = tiny_hf_gpt2()
    ours = load_hf_gpt2_state_dict(tiny_gpt(seed=99), theirs.state_dict())
    idx = random_ids(T=32)
    with torch.no_grad():
        expected = theirs(idx).logits
        logits, _ = ours(idx)
    assert logits.dtype == torch.float32
    assert (logits - expected).abs().max().item() <= 1e-5


def test_loading_a_wrong_size_names_the_parameter():
    theirs = tiny_hf_gpt2()
    with pytest.raises(ValueError, match="position_embedding.weight"):
        load_hf_gpt2_state_dict(tiny_gpt(context_length=16), theirs.state_dict())


def test_loss_is_cross_entropy_of_the_logits():
    model = tiny_gpt()
    idx, targets = random_ids(seed=1), random_ids(seed=2)
    logits, loss = model(idx, targets)
    expected = F.cross_entropy(logits.reshape(-1, TINY["vocab_size"]), targets.reshape(-1))
    torch.testing.assert_close(loss, expected)
    assert logits.shape == (3, 20, TINY["vocab_size"])
    assert model(idx)[1] is None
    # an untrained model guesses about uniformly: loss near ln(vocab_size)
    assert loss.item() == pytest.approx(torch.log(torch.tensor(97.0)).item(), rel=0.05)


def test_input_longer_than_the_context_raises():
    model = tiny_gpt()
    model(random_ids(T=32))  # exactly the context length is fine
    with pytest.raises(ValueError, match="context_length is 32"):
        model(random_ids(T=33))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (dict(n_embd=50), "divisible by n_head"),
        (dict(n_layer=0), "n_layer must be"),
        (dict(vocab_size=-5), "vocab_size must be"),
        (dict(context_length=8.0), "context_length must be"),
        (dict(dropout=1.0), "dropout must be"),
        (dict(dropout=-0.1), "dropout must be"),
    ],
)
def test_config_validation(changes, message):
    with pytest.raises(ValueError, match=message):
        GPTConfig(**{**TINY, **changes})


def test_weight_tying_shares_one_tensor():
    tied, untied = tiny_gpt(), tiny_gpt(tie_weights=False)
    assert tied.lm_head.weight is tied.token_embedding.weight
    assert untied.lm_head.weight is not untied.token_embedding.weight
    assert untied.num_parameters() - tied.num_parameters() == 97 * 48


def test_gpt2_small_has_124_million_parameters():
    config = GPTConfig(vocab_size=50257, context_length=1024, n_layer=12, n_head=12, n_embd=768)
    with torch.device("meta"):  # shapes only, no memory and no time for the numbers
        model = GPT(config)
    assert model.num_parameters() == 124_439_808


def test_seeded_model_is_deterministic():
    idx = random_ids()
    first, _ = tiny_gpt(seed=7)(idx)
    second, _ = tiny_gpt(seed=7)(idx)
    again, _ = tiny_gpt(seed=7)(idx)
    assert torch.equal(first, second) and torch.equal(first, again)
    assert not torch.equal(first, tiny_gpt(seed=8)(idx)[0])


def test_residual_projections_start_smaller():
    model = tiny_gpt(n_layer=8)
    assert model.blocks[0].mlp.up.weight.std().item() == pytest.approx(0.02, rel=0.1)
    assert model.blocks[0].mlp.down.weight.std().item() == pytest.approx(0.02 / 4, rel=0.1)


def test_a_few_training_steps_reduce_the_loss():
    model = tiny_gpt().train()
    sequence = torch.tensor([5, 17, 42, 8, 63] * 5)
    idx, targets = sequence[:-1].unsqueeze(0), sequence[1:].unsqueeze(0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(20):
        _, loss = model(idx, targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_the_kv_cache_gives_the_logits_of_the_full_pass():
    """Token by token, or a prompt and then single tokens: the same logits as all at once."""
    model, idx = tiny_gpt(), random_ids(B=2, T=TINY["context_length"])
    with torch.no_grad():
        full, _ = model(idx)
        cache = model.new_cache()
        pieces = [model(idx[:, :5], cache=cache)[0]]  # a prompt of 5 tokens
        pieces += [model(idx[:, t : t + 1], cache=cache)[0] for t in range(5, 20)]
        pieces.append(model(idx[:, 20:], cache=cache)[0])  # 12 more at once, after the cache
    assert len(cache) == TINY["context_length"]
    assert (torch.cat(pieces, dim=1) - full).abs().max().item() < 1e-5


def test_a_full_cache_refuses_more_tokens():
    model = tiny_gpt()
    cache = model.new_cache()
    with torch.no_grad():
        model(random_ids(B=1, T=30), cache=cache)
        with pytest.raises(ValueError, match="cache holds 30 tokens and the input 3 more"):
            model(random_ids(B=1, T=3), cache=cache)
    assert len(cache) == 30  # nothing was added


def test_attention_weights_need_the_whole_text():
    model = tiny_gpt()
    with pytest.raises(ValueError, match="need_weights works without a cache"):
        model.blocks[0].attn(torch.zeros(1, 2, TINY["n_embd"]), True, model.new_cache().layers[0])


def test_attention_maps_one_causal_table_per_layer_and_head():
    model, idx = tiny_gpt(), random_ids(B=2, T=9)
    maps = model.attention_maps(idx)
    assert len(maps) == TINY["n_layer"]
    for weights in maps:
        assert weights.shape == (2, TINY["n_head"], 9, 9)
        assert not weights.requires_grad
        torch.testing.assert_close(weights.sum(dim=-1), torch.ones(2, TINY["n_head"], 9))
        below = torch.ones(9, 9, dtype=torch.bool).tril()  # the diagonal and below
        assert torch.all(weights[..., ~below] == 0)  # no token looks at a later one
        assert torch.all(weights[..., below] > 0)  # softmax leaves every earlier token some


def test_attention_maps_match_the_blocks_and_leave_the_logits_alone():
    model, idx = tiny_gpt(), random_ids(T=12)
    with torch.no_grad():
        before, _ = model(idx)
    maps = model.attention_maps(idx)
    with torch.no_grad():
        after, _ = model(idx)
    assert torch.equal(before, after)
    # the first layer's map is exactly what its attention computes from the embeddings
    x = model.token_embedding(idx) + model.position_embedding(torch.arange(12))
    with torch.no_grad():
        _, expected = model.blocks[0].attn(model.blocks[0].norm1(x), need_weights=True)
    torch.testing.assert_close(maps[0], expected)


def test_attention_maps_reject_too_long_input():
    with pytest.raises(ValueError, match="time <= 32"):
        tiny_gpt().attention_maps(random_ids(T=33))


def test_attention_maps_as_heatmaps():
    plots = pytest.importorskip("lessons.plots", reason="matplotlib is not installed")
    maps = tiny_gpt().attention_maps(random_ids(B=1, T=6))
    tokens = ["a", " b", "c", " d", ".", "\n"]
    fig = plots.attention_heatmap(maps[0][0, 0], tokens, numbers=True)
    image = fig.axes[0].images[0].get_array()
    assert image.mask[0, 1] and not image.mask[1, 0]  # later tokens are masked out
    assert len(fig.axes) == 2  # the heatmap and its colour bar
    grid = plots.attention_grid(list(maps[-1][0]), tokens, titles=["1", "2", "3", "4"])
    assert [ax.get_title(loc="left") for ax in grid.axes[:4]] == ["1", "2", "3", "4"]
    with pytest.raises(ValueError, match=r"shape \(5, 5\)"):
        plots.attention_heatmap(maps[0][0, 0], tokens[:5])
