"""Sampling: how a GPT's scores for the next token become text.

For every position a GPT gives one score (*logit*) per token of its vocabulary. Softmax turns
the scores into probabilities, and then a token is drawn, appended, and the model is asked
again: the same loop as the Markov chain's in lesson 1. What can change is how the token is
drawn from the scores:

    greedy            always the most likely token (the same text every time, often in loops)
    temperature       divide the scores by it before softmax: below 1 the likely tokens get
                      likelier (safer text), above 1 the distribution flattens (wilder text)
    top_k_filter      only the k most likely tokens stay in the draw
    top_p_filter      only the most likely tokens whose probabilities add up to p stay
                      ("nucleus sampling": few candidates where the model is sure, many where
                      it is not)

The functions over logits take a tensor whose last dimension is the vocabulary and can be
chained: ``top_p_filter(top_k_filter(apply_temperature(logits, 0.8), 40), 0.9)``. A filtered
token gets the score -inf, so softmax gives it the probability 0.

``generate`` writes a text with a trained model; ``steps`` does the same and shows every
step: what the model saw, what it could choose, what it chose. Both keep the model's keys
and values from step to step (the *KV cache* of ``lessons.gpt``), so each step reads only
the new token; ``kv_cache=False`` reads the whole window every time, for comparison.

    >>> logits = torch.tensor([2.0, 1.0, 0.0, -1.0])
    >>> top_k_filter(logits, 2)
    tensor([2., 1., -inf, -inf])
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from lessons.gpt import GPT
from lessons.pure_gpt import SamplingError, check_settings, not_whole  # shared with the browser
from lessons.tokenizer import EOT, Tokenizer

# --- Functions over logits ------------------------------------------------------------------


def greedy(logits: Tensor) -> Tensor:
    """The id of the highest score in the last dimension (on a tie, the lowest id)."""
    return logits.argmax(dim=-1)


def apply_temperature(logits: Tensor, temperature: float) -> Tensor:
    """The scores divided by ``temperature`` (> 0): below 1 sharper, above 1 flatter.

    Dividing before softmax is what makes it a temperature: with T = 0.5 a token twice as
    likely as another becomes four times as likely; with T = 2 only about 1.4 times.
    Temperature 0 would divide by zero; ``generate`` treats it as greedy instead.
    """
    check_settings(temperature=temperature)
    if temperature == 0:
        raise SamplingError("apply_temperature needs a temperature > 0; for 0 use greedy().")
    return logits / temperature


def top_k_filter(logits: Tensor, k: int) -> Tensor:
    """Keep the ``k`` highest scores, set all others to -inf.

    A score tied with the k-th highest stays too, so on ties more than k tokens can remain.
    A ``k`` above the vocabulary size keeps everything.
    """
    check_settings(top_k=k)
    k = min(k, logits.size(-1))
    kth_highest = torch.topk(logits, k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth_highest, -math.inf)


def top_p_filter(logits: Tensor, p: float) -> Tensor:
    """Keep the most likely tokens until their probabilities add up to at least ``p``.

    The tokens are ranked by probability; a token stays if the ones ranked before it add up
    to less than ``p``. So the most likely token always stays, and ``p = 1`` keeps every
    token that has a probability above 0.
    """
    check_settings(top_p=p)
    if p == 1:  # everything stays (rounding in the sum below could drop the rarest tokens)
        return logits
    ranked, order = torch.sort(logits, dim=-1, descending=True)
    probs = torch.softmax(ranked.float(), dim=-1)
    before = torch.cumsum(probs, dim=-1) - probs  # what the better-ranked tokens add up to
    drop_ranked = before >= p
    drop = drop_ranked.scatter(-1, order, drop_ranked)  # back from ranks to token ids
    return logits.masked_fill(drop, -math.inf)


def probabilities(
    logits: Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
) -> Tensor:
    """The distribution a token is drawn from: temperature, then top-k, then top-p, softmax.

    Temperature 0 gives all the probability to the most likely token (greedy).
    """
    check_settings(temperature=temperature, top_k=top_k, top_p=top_p)
    logits = logits.float()
    if temperature == 0:
        one_hot = torch.zeros_like(logits)
        return one_hot.scatter(-1, greedy(logits).unsqueeze(-1), 1.0)
    logits = apply_temperature(logits, temperature)
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    if top_p is not None:
        logits = top_p_filter(logits, top_p)
    return torch.softmax(logits, dim=-1)


# --- Writing text with a model --------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One step of generation: what the model saw, what it could choose, what it chose.

    Shaped like ``lessons.markov.Step``, so ``lessons.plots.steps_chart`` draws both.
    ``choices`` are (token text, probability) pairs from the distribution the token was
    drawn from (after temperature and filters), most likely first.
    """

    context: str  # the text in the model's context window, decoded
    choices: list[tuple[str, float]]
    token: str  # the chosen token's text
    token_id: int


def generate(
    model: GPT,
    tokenizer: Tokenizer,
    prompt: str,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int = 0,
    stop_token: int | str | None = None,
    slide: int = 1,
    kv_cache: bool = True,
) -> str:
    """The prompt and up to ``max_new_tokens`` tokens the model writes after it.

    An empty prompt starts from the end-of-text token ``<|endoftext|>``, as if a new
    document began; it does not appear in the result. Each new token is drawn with a
    ``torch.Generator`` seeded with ``seed``: the same seed and settings give the same
    text. ``stop_token`` (an id, or the text of a single token such as ``"<|endoftext|>"``)
    ends the text early when drawn; it is not added.

    The model sees at most ``context_length`` tokens, its *window*. When the text outgrows
    it, the window moves on by ``slide`` tokens: with 1 the model always sees the last
    ``context_length`` tokens. The KV cache (``kv_cache=True``) keeps the keys and values of
    the tokens in the window, so each step reads only the new token; the same tokens come
    out without it, only slower. When the window moves, every token in it gets a new
    position, and the cache must be filled anew: a larger ``slide`` does that less often,
    and the model sees between ``context_length - slide + 1`` and ``context_length`` tokens.
    """
    start = _prompt_ids(tokenizer, prompt)
    ids = generate_ids(
        model,
        start,
        max_new_tokens,
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        seed=seed,
        stop_token=_stop_id(tokenizer, stop_token),
        slide=slide,
        kv_cache=kv_cache,
    )
    return prompt + tokenizer.decode(ids[len(start) :])


def generate_ids(
    model: GPT,
    ids: Sequence[int],
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int = 0,
    stop_token: int | None = None,
    slide: int = 1,
    kv_cache: bool = True,
) -> list[int]:
    """``generate`` on token ids: ``ids`` (at least one) and the new ids after them."""
    walk = _walk(model, ids, max_new_tokens, temperature, top_k, top_p, seed, slide, kv_cache)
    ids = list(ids)
    for _, _, token_id in walk:
        if token_id == stop_token:
            break
        ids.append(token_id)
    return ids


def steps(
    model: GPT,
    tokenizer: Tokenizer,
    prompt: str,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int = 0,
    top: int | None = None,
    stop_token: int | str | None = None,
    slide: int = 1,
) -> Iterator[Step]:
    """Generate like ``generate`` (the same seed gives the same tokens) and show each step.

    ``top`` limits each step's ``choices`` to the most likely tokens; by default they hold
    every token with a probability above 0 (with a ``rest_label``, ``steps_chart`` then
    counts the others right). A drawn ``stop_token`` is the last step.
    """
    stop_id = _stop_id(tokenizer, stop_token)
    start = _prompt_ids(tokenizer, prompt)
    walk = _walk(model, start, max_new_tokens, temperature, top_k, top_p, seed, slide, True)
    for window, probs, token_id in walk:
        ranked = torch.argsort(probs, descending=True, stable=True)
        ranked = [i for i in ranked.tolist() if probs[i] > 0][:top]
        choices = [(tokenizer.token_text(i), probs[i].item()) for i in ranked]
        yield Step(tokenizer.decode(window), choices, tokenizer.token_text(token_id), token_id)
        if token_id == stop_id:
            return


@torch.inference_mode()  # no gradients, and less bookkeeping than no_grad
def _walk(
    model: GPT,
    ids: Sequence[int],
    max_new_tokens: int,
    temperature: float,
    top_k: int | None,
    top_p: float | None,
    seed: int,
    slide: int,
    kv_cache: bool,
) -> Iterator[tuple[list[int], Tensor, int]]:
    """The loop: per step (the ids in the window, the probabilities, the drawn id)."""
    check_settings(temperature=temperature, top_k=top_k, top_p=top_p, max_new_tokens=max_new_tokens)
    ids = list(ids)
    if not ids:
        raise SamplingError("generation needs at least one token to start from.")
    if not_whole(seed):
        raise SamplingError(f"seed must be a whole number, not {seed!r}.")
    context = model.config.context_length
    if not_whole(slide) or not 1 <= slide <= context:
        raise SamplingError(
            f"slide must be a whole number from 1 to the context length {context}, not {slide!r}."
        )
    generator = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()  # no dropout while writing
    begin = max(0, len(ids) - context)  # where the window begins: the model sees ids[begin:]
    cache = model.new_cache() if kv_cache else None
    try:
        for _ in range(max_new_tokens):
            if len(ids) - begin > context:  # the window is full: it moves on by slide tokens
                begin = len(ids) - (context - slide + 1)
                cache = model.new_cache() if kv_cache else None  # all positions are new
            read = 0 if cache is None else len(cache)  # the window's tokens in the cache
            idx = torch.tensor([ids[begin + read :]], dtype=torch.long, device=device)
            logits, _ = model(idx, cache=cache)
            probs = probabilities(logits[0, -1].cpu(), temperature, top_k, top_p)
            token_id = int(torch.multinomial(probs, 1, generator=generator))
            yield ids[begin:], probs, token_id
            ids.append(token_id)
    finally:
        model.train(was_training)


def _prompt_ids(tokenizer: Tokenizer, prompt: str) -> list[int]:
    """The prompt's ids; an empty prompt is the end-of-text token: a new document begins."""
    if not isinstance(prompt, str):
        raise SamplingError(f"prompt must be a str, not {type(prompt).__name__}.")
    if prompt == "":
        if EOT not in tokenizer.special_tokens:
            raise SamplingError(
                f"an empty prompt starts from {EOT}, which this tokenizer lacks: give a prompt."
            )
        return [tokenizer.special_tokens[EOT]]
    return tokenizer.encode(prompt, allowed_special="none")


def _stop_id(tokenizer: Tokenizer, stop_token: int | str | None) -> int | None:
    """The id of ``stop_token``: an id as it is, a text as the one token it must encode to."""
    if stop_token is None or (isinstance(stop_token, int) and not isinstance(stop_token, bool)):
        if stop_token is not None and not 0 <= stop_token < tokenizer.vocab_size:
            raise SamplingError(
                f"stop_token {stop_token} is no token id (ids: 0 to {tokenizer.vocab_size - 1})."
            )
        return stop_token
    if isinstance(stop_token, str):
        ids = tokenizer.encode(stop_token)
        if len(ids) == 1:
            return ids[0]
        raise SamplingError(
            f"stop_token {stop_token!r} is {len(ids)} tokens, not one; give a single token "
            "or its id."
        )
    raise SamplingError(
        f"stop_token must be a token id, a token's text or None, not {stop_token!r}."
    )
