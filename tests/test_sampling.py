"""Sampling: each filter on hand-made logits, greedy, seeds, checks, the sliding window, stop."""

import math

import pytest
import torch

from lessons import sampling, train
from lessons.gpt import GPTConfig
from lessons.sampling import SamplingError
from lessons.tokenizer import EOT, CharTokenizer

INF = math.inf
TEXT = "the cat sat on the mat. a dog ran to the tree."


@pytest.fixture(scope="module")
def tokenizer() -> CharTokenizer:
    return CharTokenizer.train(TEXT)


@pytest.fixture(scope="module")
def model(tokenizer):
    """An untrained GPT with a context of 8 tokens: random, but fixed by its seed."""
    config = GPTConfig(
        vocab_size=tokenizer.vocab_size, context_length=8, n_layer=1, n_head=2, n_embd=16
    )
    model = train.build_model(config, seed=3)
    with torch.no_grad():  # larger scores than at the start of training: a less even distribution
        model.final_norm.weight.mul_(20)
    return model.eval()


def log_probs(*ps: float) -> torch.Tensor:
    return torch.tensor(ps).log()


# --- Functions over logits -------------------------------------------------------------------


def test_greedy_takes_the_highest_score_and_the_lowest_id_on_a_tie():
    assert sampling.greedy(torch.tensor([0.1, 2.0, -1.0])).item() == 1
    assert sampling.greedy(torch.tensor([3.0, 1.0, 3.0])).item() == 0
    batch = torch.tensor([[0.0, 1.0], [5.0, -5.0]])
    assert sampling.greedy(batch).tolist() == [1, 0]


def test_temperature_divides_the_scores():
    logits = torch.tensor([2.0, 1.0, 0.0])
    assert sampling.apply_temperature(logits, 0.5).tolist() == [4.0, 2.0, 0.0]
    assert sampling.apply_temperature(logits, 2.0).tolist() == [1.0, 0.5, 0.0]
    # twice as likely at T = 1 becomes four times as likely at T = 0.5
    probs = sampling.probabilities(log_probs(0.5, 0.25, 0.25), temperature=0.5)
    assert probs.tolist() == pytest.approx([2 / 3, 1 / 6, 1 / 6])


def test_top_k_keeps_exactly_the_k_highest():
    logits = torch.tensor([2.0, -1.0, 1.0, 0.0])
    assert sampling.top_k_filter(logits, 1).tolist() == [2.0, -INF, -INF, -INF]
    assert sampling.top_k_filter(logits, 2).tolist() == [2.0, -INF, 1.0, -INF]
    assert sampling.top_k_filter(logits, 4).tolist() == logits.tolist()
    assert sampling.top_k_filter(logits, 99).tolist() == logits.tolist()
    batch = torch.tensor([[3.0, 2.0, 1.0], [1.0, 2.0, 3.0]])
    assert sampling.top_k_filter(batch, 1).tolist() == [[3.0, -INF, -INF], [-INF, -INF, 3.0]]


def test_top_p_keeps_the_smallest_set_that_reaches_p():
    logits = log_probs(0.15, 0.5, 0.05, 0.3)  # ranked: id 1 (50%), 3 (30%), 0 (15%), 2 (5%)

    def kept(p: float) -> list[int]:
        filtered = sampling.top_p_filter(logits, p)
        return [i for i, score in enumerate(filtered.tolist()) if score > -INF]

    assert kept(0.1) == [1]  # the most likely token always stays
    assert kept(0.5) == [1]  # it alone reaches 50%
    assert kept(0.6) == [1, 3]
    assert kept(0.9) == [0, 1, 3]
    assert kept(0.99) == [0, 1, 2, 3]
    assert kept(1.0) == [0, 1, 2, 3]
    # the scores that stay are unchanged
    assert sampling.top_p_filter(logits, 0.6)[1].item() == logits[1].item()


def test_filters_compose_and_the_probabilities_add_up_to_one():
    logits = log_probs(0.4, 0.3, 0.2, 0.1)
    probs = sampling.probabilities(logits, temperature=1.0, top_k=3, top_p=0.6)
    assert probs.tolist() == pytest.approx([4 / 7, 3 / 7, 0.0, 0.0])
    chained = sampling.top_p_filter(sampling.top_k_filter(logits, 3), 0.6)
    assert torch.softmax(chained, -1).tolist() == pytest.approx(probs.tolist())
    assert sampling.probabilities(logits, temperature=0).tolist() == [1.0, 0.0, 0.0, 0.0]


# --- Checking the settings -------------------------------------------------------------------


@pytest.mark.parametrize(
    "settings, message",
    [
        (dict(temperature=-0.1), r"temperature must be a number >= 0 \(0 means greedy\)"),
        (dict(temperature=float("nan")), "temperature"),
        (dict(top_k=0), r"top_k must be a whole number >= 1"),
        (dict(top_k=2.5), "top_k"),
        (dict(top_p=0.0), r"top_p must be a number above 0 and at most 1"),
        (dict(top_p=1.5), "top_p"),
        (dict(max_new_tokens=-1), r"max_new_tokens must be a whole number >= 0, not -1"),
        (dict(max_new_tokens=True), "max_new_tokens"),
    ],
)
def test_bad_settings_are_refused_with_a_clear_message(model, tokenizer, settings, message):
    with pytest.raises(SamplingError, match=message):
        sampling.check_settings(**settings)
    arguments = dict(max_new_tokens=5) | settings
    with pytest.raises(SamplingError, match=message):
        sampling.generate(model, tokenizer, "the", **arguments)
    assert issubclass(SamplingError, ValueError)


def test_a_bad_stop_token_is_refused(model, tokenizer):
    with pytest.raises(SamplingError, match="is 3 tokens, not one"):
        sampling.generate(model, tokenizer, "the", 5, stop_token="cat")
    with pytest.raises(SamplingError, match="no token id"):
        sampling.generate(model, tokenizer, "the", 5, stop_token=10_000)


def test_apply_temperature_refuses_zero():
    with pytest.raises(SamplingError, match="greedy"):
        sampling.apply_temperature(torch.zeros(3), 0)


# --- Writing text ----------------------------------------------------------------------------


def greedy_loop(model, ids: list[int], n: int) -> list[int]:
    """Greedy decoding written out by hand, to compare with."""
    ids = list(ids)
    for _ in range(n):
        logits, _ = model(torch.tensor([ids[-model.config.context_length :]]))
        ids.append(int(logits[0, -1].argmax()))
    return ids


def test_temperature_zero_is_greedy_whatever_the_seed(model, tokenizer):
    start = tokenizer.encode("the ")
    expected = greedy_loop(model, start, 20)
    for seed in (0, 1, 2):
        assert sampling.generate_ids(model, start, 20, temperature=0, seed=seed) == expected
    assert sampling.generate(model, tokenizer, "the ", 20, temperature=0) == tokenizer.decode(
        expected
    )


def test_the_same_seed_gives_the_same_text(model, tokenizer):
    first = sampling.generate(model, tokenizer, "the ", 30, seed=1)
    assert sampling.generate(model, tokenizer, "the ", 30, seed=1) == first
    assert sampling.generate(model, tokenizer, "the ", 30, seed=2) != first
    assert first.startswith("the ") and len(first) == 4 + 30
    # sampling leaves PyTorch's global random generator alone
    torch.manual_seed(0)
    expected = torch.rand(1)
    torch.manual_seed(0)
    sampling.generate(model, tokenizer, "the ", 5, seed=1)
    assert torch.rand(1) == expected


def test_the_window_slides_past_the_context_length(model, tokenizer):
    start = tokenizer.encode("the cat sat")
    ids = sampling.generate_ids(model, start, 40, seed=0)  # 11 + 40 tokens, the model sees 8
    assert len(ids) == 11 + 40 and ids[:11] == start
    assert sampling.generate(model, tokenizer, "the cat sat", 40, seed=0) == tokenizer.decode(ids)
    steps = list(sampling.steps(model, tokenizer, "the cat sat", 40, seed=0))
    assert [step.token_id for step in steps] == ids[11:]
    assert steps[0].context == " cat sat"  # the last 8 of the prompt's 11 characters
    for n, step in enumerate(steps):
        assert step.context == tokenizer.decode(ids[11 + n - 8 : 11 + n])


@pytest.mark.parametrize("slide", [1, 3, 8])
def test_the_kv_cache_writes_the_same_tokens(model, tokenizer, slide):
    """With and without the cache, past the context: the window moves the same way."""
    start = tokenizer.encode("the cat sat")
    for settings in ({"seed": 5}, {"temperature": 0}, {"top_k": 3, "top_p": 0.9, "seed": 2}):
        cached = sampling.generate_ids(model, start, 40, slide=slide, **settings)
        plain = sampling.generate_ids(model, start, 40, slide=slide, kv_cache=False, **settings)
        assert cached == plain and len(cached) == 11 + 40


def test_a_slide_moves_the_window_in_jumps(model, tokenizer):
    steps = list(sampling.steps(model, tokenizer, "the cat sat", 12, seed=0, slide=3))
    sizes = [len(tokenizer.encode(step.context)) for step in steps]  # tokens in the window
    assert sizes == [8, 6, 7, 8, 6, 7, 8, 6, 7, 8, 6, 7]  # full, then 8 - 3 + 1 = 6, and up


@pytest.mark.parametrize("slide", [0, 9, 1.5, True])
def test_a_slide_out_of_range_is_refused(model, tokenizer, slide):
    with pytest.raises(SamplingError, match="slide must be a whole number from 1 to the context"):
        sampling.generate(model, tokenizer, "the", 5, slide=slide)


def test_a_stop_token_ends_the_text(model, tokenizer):
    start = tokenizer.encode("the ")
    free = sampling.generate_ids(model, start, 30, seed=4)
    new = free[len(start) :]
    stop = new[5]
    cut = new.index(stop)
    stopped = sampling.generate_ids(model, start, 30, seed=4, stop_token=stop)
    assert stopped == start + new[:cut]  # the stop token itself is not added
    text = sampling.generate(
        model, tokenizer, "the ", 30, seed=4, stop_token=tokenizer.token_text(stop)
    )
    assert text == tokenizer.decode(stopped)
    steps = list(sampling.steps(model, tokenizer, "the ", 30, seed=4, stop_token=stop))
    assert len(steps) == cut + 1 and steps[-1].token_id == stop


def test_an_empty_prompt_starts_from_the_end_of_text_token(model, tokenizer):
    [first] = sampling.steps(model, tokenizer, "", 1, seed=0)
    assert first.context == EOT
    text = sampling.generate(model, tokenizer, "", 10, seed=0, stop_token=EOT)
    assert EOT not in text
    expected = sampling.generate_ids(model, [tokenizer.eot_id], 10, seed=0)[1:]
    assert text == tokenizer.decode(expected).split(EOT)[0]
    assert sampling.generate(model, tokenizer, "the", 0) == "the"


def test_steps_show_the_distribution_and_choose_what_generate_chooses(model, tokenizer):
    text = sampling.generate(model, tokenizer, "the ", 12, seed=5, top_k=5)
    steps = list(sampling.steps(model, tokenizer, "the ", 12, seed=5, top_k=5))
    assert "the " + "".join(step.token for step in steps) == text
    for step in steps:
        probs = [p for _, p in step.choices]
        assert len(step.choices) <= 5 and probs == sorted(probs, reverse=True)
        assert sum(probs) == pytest.approx(1.0)
        assert step.token in dict(step.choices)
    everything = next(sampling.steps(model, tokenizer, "the ", 1, seed=5))
    assert len(everything.choices) == tokenizer.vocab_size
    assert len(next(sampling.steps(model, tokenizer, "the ", 1, seed=5, top=3)).choices) == 3


def test_generation_keeps_the_models_mode(model, tokenizer):
    model.train()
    sampling.generate(model, tokenizer, "the", 3)
    assert model.training
    model.eval()
