"""Properties of texts that decide how well a model that only counts can learn them.

Four measurements, each on plain text:

* **Zipf's law**: a few words are very frequent, most are rare (``word_counts``,
  ``zipf_fit``);
* **sparsity**: the longer the n-grams, the more of them occur only once, and the more of a
  new text consists of n-grams never seen before (``ngram_counts``, ``unseen_share``);
* **predictability**: the cross-entropy of a Markov chain, its average surprise in bits per
  token, on its training text and on a text it has not seen (``cross_entropy``);
* **long-range dependencies**: how far back a model must look to tell two sentence beginnings
  apart that need different next words (``common_end``, ``order_needed``).

The counting is ``lessons.markov``'s: an n-gram is a context of n - 1 tokens and the token
that follows it, so a chain of order n - 1 holds the counts of all n-grams of its training
text. Pure Python, like ``lessons.markov``, so it also runs in the browser.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

from lessons import markov
from lessons.markov import WORDS, MarkovChain

K = 0.01  # add-k smoothing: each token counts as seen this many extra times after every context


def word_counts(text: str) -> list[tuple[str, int]]:
    """How often each word of ``text`` occurs, most frequent first (ties in alphabetical order).

    Words are ``lessons.markov``'s word tokens, lowercased, so "Die" and "die" are one word;
    punctuation marks are left out.
    """
    counts = markov.train(text.lower(), WORDS, order=0).counts[()]
    words = [(word, count) for word, count in counts.items() if word[0].isalnum()]
    return sorted(words, key=lambda item: (-item[1], item[0]))


class ZipfFit(NamedTuple):
    """A straight line in the log-log plot: log10(count) = intercept + slope * log10(rank)."""

    slope: float
    intercept: float


def zipf_fit(counts: list[float], top: int = 1000) -> ZipfFit:
    """The straight line through the log-log rank-frequency points of ranks 1 to ``top``.

    ``counts`` are sorted, most frequent first (rank 1). Zipf's law says that the count falls
    in proportion to 1 / rank, which is a line of slope -1 in the log-log plot. The line is
    fitted by least squares on log10(rank) and log10(count). ``top`` leaves out the long tail
    of words seen only once or twice, whose equal counts make flat steps instead of a line.
    """
    points = [(math.log10(rank), math.log10(count)) for rank, count in enumerate(counts[:top], 1)]
    if len(points) < 2:
        raise ValueError("A line needs at least two ranks: give a text with two different words.")
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / spread
    return ZipfFit(slope, mean_y - slope * mean_x)


@dataclass(frozen=True)
class NgramCount:
    """How many n-grams a training text has: all of them, the different ones, those seen once."""

    n: int
    total: int  # every n-gram, repeats included
    distinct: int  # different n-grams
    once: int  # different n-grams that occur exactly once

    @property
    def once_share(self) -> float:
        """The share of the different n-grams that occur only once."""
        return self.once / self.distinct


def ngram_counts(chain: MarkovChain) -> NgramCount:
    """Count the n-grams (n = order + 1) in the training text of ``chain``, from its counts."""
    counts = [count for following in chain.counts.values() for count in following.values()]
    return NgramCount(chain.order + 1, sum(counts), len(counts), counts.count(1))


def unseen_share(chain: MarkovChain, text: str) -> float:
    """The share of the n-grams of ``text`` (n = order + 1) that ``chain`` never saw in training.

    For each of them the chain counted nothing, so counting alone gives probability 0.
    """
    pairs = list(_next_tokens(chain, text))
    return sum(token not in chain.counts.get(context, {}) for context, token in pairs) / len(pairs)


def probability(
    chain: MarkovChain, context: str | tuple[str, ...], token: str, alphabet_size: int, k: float = K
) -> float:
    """The probability of ``token`` after ``context``, from the chain's counts, add-k smoothed.

    Counting alone gives probability 0 to every token never seen after this context, and a
    text with one such token would be infinitely surprising. Add-k smoothing pretends that
    each of the ``alphabet_size`` possible tokens was seen ``k`` extra times after every
    context: (count + k) / (total + k * alphabet_size). A context never seen at all gets
    the uniform distribution, 1 / alphabet_size. ``context`` is the last ``order`` tokens: a
    string of letters or a tuple of words.
    """
    following = chain.counts.get(context, {})
    return (following.get(token, 0) + k) / (chain.totals.get(context, 0) + k * alphabet_size)


def cross_entropy(chain: MarkovChain, text: str, alphabet_size: int, k: float = K) -> float:
    """How surprised ``chain`` is by ``text`` on average: the cross-entropy in bits per token.

    For every token after the first ``order`` ones (those have no full context): -log2 of
    the smoothed probability the chain gives it (see ``probability``), averaged. A model that
    guesses uniformly scores log2(alphabet_size), one that is always sure and right scores 0.
    ``alphabet_size`` is the number of different tokens there are: in the training text and
    in ``text`` together.
    """
    if k <= 0:
        raise ValueError(f"k must be greater than 0, not {k!r}: with k = 0 unseen tokens get 0.")
    pairs = list(_next_tokens(chain, text))
    used = {token for following in chain.counts.values() for token in following}
    used.update(token for _, token in pairs)
    if len(used) > alphabet_size:
        raise ValueError(
            f"The chain and the text use {len(used)} different tokens, more than the alphabet "
            f"size {alphabet_size}. Count the tokens of both texts."
        )
    surprise = sum(-math.log2(probability(chain, c, t, alphabet_size, k)) for c, t in pairs)
    return surprise / len(pairs)


def _next_tokens(chain: MarkovChain, text: str) -> Iterator[tuple[str | tuple[str, ...], str]]:
    """(context, token) for every token of ``text`` that has ``chain.order`` tokens before it."""
    tokens = markov.tokenize(text, chain.level)
    if len(tokens) <= chain.order:
        raise ValueError(
            f"The text has {len(tokens)} {chain.level}; an order-{chain.order} chain needs "
            f"at least {chain.order + 1} to predict one. Give a longer text."
        )
    for end in range(chain.order, len(tokens)):
        yield tokens[end - chain.order : end], tokens[end]


def common_end(first: str, second: str, level: str = WORDS) -> str:
    """The tokens both texts end with.

    A chain whose order is at most their number sees only these at the end of either text.
    """
    tokens = markov.tokenize(first, level)
    return markov.detokenize(tokens[len(tokens) - _same_at_end(first, second, level) :], level)


def order_needed(first: str, second: str, level: str = WORDS) -> int:
    """The lowest order at which a Markov chain sees different contexts after the two texts.

    A chain of lower order sees the same last tokens after both, so it predicts the same
    next token for both, even where the right next tokens differ.
    """
    return _same_at_end(first, second, level) + 1


def _same_at_end(first: str, second: str, level: str) -> int:
    """How many tokens at the end of the two texts are the same."""
    a, b = markov.tokenize(first, level), markov.tokenize(second, level)
    same = 0
    while same < min(len(a), len(b)) and a[len(a) - 1 - same] == b[len(b) - 1 - same]:
        same += 1
    if same == min(len(a), len(b)):
        raise ValueError("One text ends with the whole other one: no context tells them apart.")
    return same
