"""The pure-Python GPT: the same logits as the PyTorch model, a working KV cache, and sampling
helpers that follow the rules of ``lessons.sampling``."""

import dataclasses
import math
import random

import pytest
import safetensors.torch
import torch

from lessons import pure_gpt
from lessons.checkpoint import save_checkpoint
from lessons.gpt import GPT, GPTConfig
from lessons.pure_gpt import PureGPT, PureGPTError, SamplingError
from lessons.tokenizer import CharTokenizer

SIZES = dict(vocab_size=97, context_length=16, n_layer=2, n_head=4, n_embd=32)


def torch_model(seed: int = 0, **changes) -> GPT:
    """A small random GPT in eval mode; every weight nudged, so biases and norms are not 0 or 1."""
    torch.manual_seed(seed)
    model = GPT(GPTConfig(**{**SIZES, **changes})).eval()
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn_like(param) * 0.1)
    return model


def weights_bytes(model: GPT) -> bytes:
    """The model's parameters as a safetensors file, as ``lessons.checkpoint`` saves them."""
    return safetensors.torch.save({n: p.detach() for n, p in model.named_parameters()})


def pure_twin(model: GPT) -> PureGPT:
    return PureGPT.from_safetensors(weights_bytes(model), dataclasses.asdict(model.config))


def torch_logits(model: GPT, ids: list[int]) -> torch.Tensor:
    with torch.no_grad():
        return model(torch.tensor([ids]))[0][0]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models run fastest on one thread (and far faster than on a busy machine's two)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def models() -> tuple[GPT, PureGPT]:
    model = torch_model()
    return model, pure_twin(model)


IDS = [random.Random(1).randrange(SIZES["vocab_size"]) for _ in range(SIZES["context_length"])]


# --- The forward pass -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes", [{}, {"tie_weights": False}, {"bias": False}], ids=["tied", "untied", "no-bias"]
)
def test_logits_match_the_pytorch_model(changes):
    model = torch_model(seed=3, **changes)
    expected = torch_logits(model, IDS)
    got = torch.tensor(pure_twin(model).logits(IDS))
    assert got.shape == expected.shape == (16, 97)
    assert (got - expected).abs().max() < 1e-4
    assert expected.abs().max() > 0.5  # real numbers, not a model that puts out zeros


def test_both_dot_products_give_the_same_model(models, monkeypatch):
    _, pure = models
    fast = pure.logits(IDS[:5])
    monkeypatch.setattr(pure_gpt, "dot", pure_gpt.sum_of_products)
    plain = pure.logits(IDS[:5])
    assert (torch.tensor(fast) - torch.tensor(plain)).abs().max() < 1e-9


def test_the_kv_cache_gives_the_full_pass_logits(models):
    model, pure = models
    expected = torch_logits(model, IDS)
    state = pure.start()
    fed = pure.feed(state, IDS[:5])  # a prompt at once, then token by token
    stepped = [pure.step(state, token_id) for token_id in IDS[5:]]
    assert state.position == len(IDS) and state.tokens == IDS
    for row, logits in zip(expected[4:], [fed, *stepped], strict=True):
        assert (torch.tensor(logits) - row).abs().max() < 1e-4


def test_from_checkpoint_reads_a_checkpoint_folder(tmp_path):
    tokenizer = CharTokenizer.train("the pure python gpt, one token at a time")
    model = torch_model(seed=5, vocab_size=tokenizer.vocab_size, tie_weights=False)
    optimizer = torch.optim.AdamW(model.parameters())
    save_checkpoint(tmp_path / "ckpt", model, optimizer, tokenizer, step=0)
    pure = PureGPT.from_checkpoint(tmp_path / "ckpt")
    ids = tokenizer.encode("one token")
    assert (torch.tensor(pure.logits(ids)) - torch_logits(model, ids)).abs().max() < 1e-4
    assert pure.config["tie_weights"] is False and pure.lm_head is not pure.token_embedding
    (tmp_path / "ckpt" / "model.safetensors").write_bytes(weights_bytes(torch_model(seed=6)))
    with pytest.raises(PureGPTError, match="damaged"):
        PureGPT.from_checkpoint(tmp_path / "ckpt")
    with pytest.raises(PureGPTError, match="No readable checkpoint"):
        PureGPT.from_checkpoint(tmp_path / "nothing")


def test_a_full_context_is_a_clear_error(models):
    _, pure = models
    state = pure.start()
    pure.feed(state, IDS)
    with pytest.raises(PureGPTError, match="holds 16 tokens, the model's context_length"):
        pure.step(state, 1)
    with pytest.raises(PureGPTError, match="context_length is 16"):
        pure.logits(IDS + [1])


@pytest.mark.parametrize("bad", [97, -1, 2.0, True])
def test_token_ids_must_be_in_the_vocabulary(models, bad):
    _, pure = models
    with pytest.raises(PureGPTError, match="no token id|whole number"):
        pure.step(pure.start(), bad)
    with pytest.raises(PureGPTError, match="at least one token"):
        pure.feed(pure.start(), [])


# --- Reading weights --------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
def test_read_safetensors_converts_every_float_type(dtype):
    tensor = (torch.randn(3, 5, generator=torch.Generator().manual_seed(0)) * 100).to(dtype)
    data = safetensors.torch.save({"w": tensor, "b": tensor[0].clone()})
    tensors = pure_gpt.read_safetensors(bytearray(data))  # any bytes-like object will do
    assert tensors["w"] == ([3, 5], tensor.double().flatten().tolist())  # exactly
    assert tensors["b"] == ([5], tensor[0].double().tolist())


def test_damaged_or_unfit_weights_are_clear_errors(models):
    model, _ = models
    data, config = weights_bytes(model), dataclasses.asdict(model.config)
    with pytest.raises(PureGPTError, match="cut short"):
        PureGPT.from_safetensors(data[:-10], config)
    with pytest.raises(PureGPTError, match="no safetensors file"):
        PureGPT.from_safetensors(b"\xff" * 20, config)
    with pytest.raises(PureGPTError, match="'token_embedding.weight' has shape"):
        PureGPT.from_safetensors(data, {**config, "vocab_size": 98})
    with pytest.raises(PureGPTError, match="lack blocks.2"):
        PureGPT.from_safetensors(data, {**config, "n_layer": 3})
    with pytest.raises(PureGPTError, match="lack lm_head.weight"):
        PureGPT.from_safetensors(data, {**config, "tie_weights": False})
    with pytest.raises(PureGPTError, match="divisible"):
        PureGPT.from_safetensors(data, {**config, "n_head": 5})
    with pytest.raises(PureGPTError, match="lacks n_embd"):
        PureGPT.from_safetensors(data, {k: v for k, v in config.items() if k != "n_embd"})


# --- Sampling ---------------------------------------------------------------------------------

LOGITS = [2.0, 1.0, 0.0, -1.0]


def test_softmax_temperature_and_greedy_on_hand_made_scores():
    assert pure_gpt.softmax([0.0, math.log(3.0)]) == pytest.approx([0.25, 0.75])
    assert pure_gpt.softmax([1.0, -math.inf]) == [1.0, 0.0]
    assert pure_gpt.apply_temperature([2.0, 4.0], 2) == [1.0, 2.0]
    assert pure_gpt.greedy([1.0, 3.0, 3.0]) == 1  # a tie goes to the lowest id
    assert pure_gpt.probabilities([1.0, 3.0, 3.0], temperature=0) == [0.0, 1.0, 0.0]
    hot = pure_gpt.probabilities([0.0, math.log(3.0)], temperature=2)  # 1 : sqrt(3)
    assert hot == pytest.approx([1 / (1 + 3**0.5), 3**0.5 / (1 + 3**0.5)])


def test_top_k_keeps_the_k_highest_and_their_ties():
    inf = math.inf
    assert pure_gpt.top_k_filter(LOGITS, 2) == [2.0, 1.0, -inf, -inf]
    assert pure_gpt.top_k_filter([1.0, 3.0, 3.0, 0.0], 1) == [-inf, 3.0, 3.0, -inf]
    assert pure_gpt.top_k_filter(LOGITS, 10) == LOGITS


def test_top_p_keeps_the_smallest_set_that_reaches_p():
    logits = [math.log(p) for p in (0.15, 0.5, 0.05, 0.3)]
    kept = lambda p: [s > -math.inf for s in pure_gpt.top_p_filter(logits, p)]  # noqa: E731
    assert kept(0.5) == [False, True, False, False]  # 0.5 alone reaches 0.5
    assert kept(0.7) == [False, True, False, True]  # 0.5 + 0.3
    assert kept(0.85) == [True, True, False, True]
    assert kept(0.96) == [True, True, True, True]
    assert kept(1) == [True, True, True, True]
    probs = pure_gpt.probabilities(logits, top_p=0.7)
    assert probs == pytest.approx([0, 0.5 / 0.8, 0, 0.3 / 0.8])  # renormalised
    assert pure_gpt.probabilities(logits, top_k=3, top_p=0.5) == pytest.approx([0, 1, 0, 0])


def test_probabilities_agree_with_lessons_sampling():
    sampling = pytest.importorskip("lessons.sampling")
    logits = torch.randn(50, generator=torch.Generator().manual_seed(0)) * 3
    for settings in [{}, {"temperature": 0.7, "top_k": 10}, {"temperature": 1.5, "top_p": 0.8}]:
        expected = sampling.probabilities(logits, **settings).double()
        got = torch.tensor(pure_gpt.probabilities(logits.tolist(), **settings))
        assert (got - expected).abs().max() < 1e-6


def test_draw_never_picks_an_impossible_token():
    rng = random.Random(0)
    drawn = {pure_gpt.draw([0.0, 0.5, 0.0, 0.5, 0.0], rng) for _ in range(200)}
    assert drawn == {1, 3}


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"temperature": -1}, "temperature must be a number >= 0"),
        ({"temperature": math.nan}, "temperature must be a number >= 0"),
        ({"top_k": 0}, "top_k must be a whole number >= 1"),
        ({"top_k": 2.5}, "top_k must be a whole number >= 1"),
        ({"top_p": 0}, "top_p must be a number above 0 and at most 1"),
        ({"top_p": 1.5}, "top_p must be a number above 0 and at most 1"),
        ({"max_new_tokens": -1}, "max_new_tokens must be a whole number >= 0"),
        ({"seed": "x"}, "seed must be a whole number"),
        ({"ids": []}, "at least one token"),
        ({"top": 0}, "top must be a whole number >= 1"),
        ({"slide": 17}, "slide must be a whole number from 1 to the context length 16"),
    ],
)
def test_bad_settings_are_refused_at_once(models, settings, message):
    _, pure = models
    arguments = {"ids": [1, 2], "max_new_tokens": 3, **settings}
    with pytest.raises(SamplingError, match=message):
        pure_gpt.generate_steps(pure, **arguments)  # raises before the first step is asked for


# --- Writing ----------------------------------------------------------------------------------


def test_seeded_generation_is_reproducible(models):
    _, pure = models
    write = lambda seed: list(  # noqa: E731
        pure_gpt.generate_steps(pure, [1, 2, 3], 20, temperature=1.2, top_k=30, seed=seed)
    )
    first = write(7)
    assert first == write(7)
    assert [s.token_id for s in first] != [s.token_id for s in write(8)]
    for step in first:
        assert 1 <= len(step.choices) <= 10
        probs = [p for _, p in step.choices]
        assert probs == sorted(probs, reverse=True) and sum(probs) <= 1 + 1e-9
        assert step.probability > 0
        assert dict(step.choices).get(step.token_id, step.probability) == step.probability


def test_a_stop_token_ends_the_text(models):
    _, pure = models
    steps = list(pure_gpt.generate_steps(pure, [1], 30, temperature=0, stop_token=None))
    stop = steps[3].token_id
    first = next(i for i, s in enumerate(steps) if s.token_id == stop)
    ended = list(pure_gpt.generate_steps(pure, [1], 30, temperature=0, stop_token=stop))
    assert [s.token_id for s in ended] == [s.token_id for s in steps[: first + 1]]
    ids = pure_gpt.generate_ids(pure, [1], 30, temperature=0, stop_token=stop)
    assert ids == [1] + [s.token_id for s in steps[:first]]
    assert list(pure_gpt.generate_steps(pure, [1], 0)) == []


@pytest.mark.parametrize("slide", [1, 5])
def test_greedy_writing_follows_the_pytorch_model_past_the_context(models, slide):
    """Greedy text from both models, three times longer than the context: the window slides."""
    model, pure = models
    ids, begin = [5, 6, 7], 0
    for _ in range(45):
        ids.append(int(torch_logits(model, ids[begin:])[-1].argmax()))
        if len(ids) - begin > model.config.context_length:  # as PureGPT's window moves on
            begin = len(ids) - (model.config.context_length - slide + 1)
    assert pure_gpt.generate_ids(pure, [5, 6, 7], 45, temperature=0, slide=slide) == ids
