"""Markov chains over letters or words: the simplest model that writes token by token.

A Markov chain of order k looks at the last k tokens (the *context*) and picks the
next token at random, in proportion to how often each token followed that context
in the training text. Andrei Markov counted letter pairs in Pushkin's verse this way
in 1913; a GPT does the same job with a neural network instead of a table of counts.

Pure Python on purpose: the same module runs in the reader's browser (Pyodide).
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

LETTERS = "letters"
WORDS = "words"
MAX_ORDER = {LETTERS: 10, WORDS: 4}

# A word is a run of letters or digits (with inner apostrophes or hyphens: "don't",
# "Schwarz-Weiß"); "--" (a dash in old typesetting) and every other visible character are
# tokens of their own.
_WORD_OR_SIGN = re.compile(r"\w+(?:['’-]\w+)*|--|[^\w\s]")
_NO_SPACE_BEFORE = set(".,;:!?)]}«”’…")
_NO_SPACE_AFTER = set("([{»„“‘")


class MarkovError(ValueError):
    """Bad input for a Markov chain; the message says what to change.

    ``code`` and ``details`` name the problem, so a page can say it in its own language
    (``lessons.widgets`` does, in German and English).
    """

    MESSAGES = {
        "level": "The level must be 'letters' or 'words', not {level!r}.",
        "order": "The order for {level} must be a whole number from 0 to {limit}, not {order!r}.",
        "too_short": "The text has {have} {level}; an order-{order} chain needs at least "
        "{needed}. Give a longer text or choose a lower order.",
        "short_context": "An order-{order} chain needs a context of {order} {level}, but the "
        "start has {have}. Give a longer start or choose a lower order.",
        "unseen": "The context {context!r} never occurs in the training text, so the chain "
        "cannot continue it. Start with text from the source, choose a lower order, or "
        "leave the start empty.",
        "length": "The length must be a whole number of at least 0, not {length!r}.",
    }

    def __init__(self, code: str, **details):
        self.code, self.details = code, details
        super().__init__(self.MESSAGES[code].format(**details))


class UnseenContext(MarkovError):
    """The context never occurs in the training text, so the chain knows no next token."""

    def __init__(self, context: str):
        super().__init__("unseen", context=context)


def tokenize(text: str, level: str = LETTERS) -> str | tuple[str, ...]:
    """Split a text into tokens: letters (the text itself is a sequence of them) or words."""
    _check_level(level)
    if level == LETTERS:
        return text
    return tuple(_WORD_OR_SIGN.findall(text))


def detokenize(tokens: str | list[str] | tuple[str, ...], level: str = LETTERS) -> str:
    """Join tokens back into text; words get spaces, except around punctuation."""
    _check_level(level)
    if level == LETTERS:
        return "".join(tokens)
    text = ""
    for token in tokens:
        glue = text and text[-1] not in _NO_SPACE_AFTER and token[0] not in _NO_SPACE_BEFORE
        text += (" " if glue else "") + token
    return text


@dataclass
class MarkovChain:
    """Counts of which token followed which context in a training text.

    ``counts[context][token]`` is how often ``token`` came right after ``context``.
    A context is a string of ``order`` letters, or a tuple of ``order`` words.
    """

    level: str
    order: int
    counts: dict = field(default_factory=dict)
    totals: dict = field(default_factory=dict)

    def _context(self, tokens: str | tuple[str, ...]) -> str | tuple[str, ...]:
        """The last ``order`` tokens (``tokens[-0:]`` would be all of them, hence the length)."""
        return tokens[len(tokens) - self.order :]

    def distribution(self, context: str = "") -> list[tuple[str, float]]:
        """The probabilities of the next token after the end of ``context``, most likely first."""
        return self._ranked(self._key_for(context))

    def generate(self, length: int, seed: int = 0, start: str | None = None) -> str:
        """The start text and ``length`` new tokens, drawn with a seeded random generator."""
        begin, steps = self._walk(length, seed, start)
        return detokenize(list(begin) + [token for _, token, _ in steps], self.level)

    def steps(self, length: int, seed: int = 0, start: str | None = None) -> Iterator[Step]:
        """Generate token by token and show each step: context, distribution, chosen token."""
        begin, steps = self._walk(length, seed, start)
        for context, token, restarted in steps:
            yield Step(detokenize(context, self.level), self._ranked(context), token, restarted)

    def start_text(self, seed: int = 0) -> str:
        """A context drawn from the training text, as generation uses when no start is given."""
        return detokenize(sample(self.totals, random.Random(seed)), self.level)

    def _ranked(self, key: str | tuple[str, ...]) -> list[tuple[str, float]]:
        total = self.totals[key]
        ranked = sorted(self.counts[key].items(), key=lambda item: (-item[1], item[0]))
        return [(token, count / total) for token, count in ranked]

    def _key_for(self, text: str) -> str | tuple[str, ...]:
        """The context that ends ``text``, checked against what the chain has seen."""
        tokens = tokenize(text, self.level)
        if len(tokens) < self.order:
            raise MarkovError("short_context", order=self.order, level=self.level, have=len(tokens))
        key = self._context(tokens)
        if key not in self.counts:
            raise UnseenContext(detokenize(key, self.level))
        return key

    def _walk(self, length: int, seed: int, start: str | None):
        """The start tokens and a lazy list of (context, chosen token, restarted) steps."""
        if not isinstance(length, int) or length < 0:
            raise MarkovError("length", length=length)
        rng = random.Random(seed)
        if start is None or start == "":
            begin = sample(self.totals, rng)
        else:
            tokens = tokenize(start, self.level)
            self._key_for(start)
            begin = tokens

        def walk() -> Iterator[tuple]:
            context = self._context(begin)
            one = "" if self.level == LETTERS else ()
            for _ in range(length):
                restarted = context not in self.counts
                if restarted:  # a dead end: this context occurs only at the end of the text
                    context = sample(self.totals, rng)
                token = sample(self.counts[context], rng)
                yield context, token, restarted
                unit = token if self.level == LETTERS else (token,)
                context = (context + unit)[1:] if self.order else one

        return begin, walk()


@dataclass(frozen=True)
class Step:
    """One step of generation: what the chain saw, what it could choose, what it chose."""

    context: str
    choices: list[tuple[str, float]]
    token: str
    restarted: bool = False


def train(text: str, level: str = LETTERS, order: int = 2) -> MarkovChain:
    """Count, for every context of ``order`` tokens in ``text``, which tokens follow it."""
    _check_level(level)
    limit = MAX_ORDER[level]
    if isinstance(order, bool) or not isinstance(order, int) or not 0 <= order <= limit:
        raise MarkovError("order", level=level, limit=limit, order=order)
    tokens = tokenize(text, level)
    if len(tokens) <= order:
        raise MarkovError("too_short", level=level, order=order, have=len(tokens), needed=order + 1)
    chain = MarkovChain(level, order)
    counts = chain.counts
    for end in range(order, len(tokens)):
        context = tokens[end - order : end]
        following = counts.get(context)
        if following is None:
            following = counts[context] = {}
        token = tokens[end]
        following[token] = following.get(token, 0) + 1
    chain.totals = {context: sum(following.values()) for context, following in counts.items()}
    return chain


def sample(weights: dict, rng: random.Random):
    """Draw a key with probability proportional to its weight (same seed, same draw)."""
    threshold = rng.random() * sum(weights.values())
    for key, weight in weights.items():
        threshold -= weight
        if threshold < 0:
            return key
    return key  # only reached through float rounding: the last key


def _check_level(level: str) -> None:
    if level not in MAX_ORDER:
        raise MarkovError("level", level=level)


@dataclass(frozen=True)
class Overlap:
    """How much of a generated text is copied verbatim from the training text."""

    longest_run: int  # length in tokens of the longest stretch that also occurs in the source
    longest_text: str  # that stretch
    ngram_share: float  # share of the generated n-grams that occur in the source
    n: int


def overlap(generated: str, source: str, n: int, level: str = LETTERS) -> Overlap:
    """Compare a generated text with its source: longest shared run and share of seen n-grams.

    A high-order chain mostly replays its source: long runs, nearly every n-gram seen.
    """
    gen = tokenize(generated, level)
    src = _searchable(tokenize(source, level), level)

    def occurs(start: int, stop: int) -> bool:
        return _searchable(gen[start:stop], level) in src

    best, best_start = 0, 0
    for start in range(len(gen)):
        while start + best < len(gen) and occurs(start, start + best + 1):
            best, best_start = best + 1, start
    windows = range(len(gen) - n + 1)
    share = sum(occurs(i, i + n) for i in windows) / len(windows) if windows else 0.0
    return Overlap(best, detokenize(gen[best_start : best_start + best], level), share, n)


def _searchable(tokens: str | tuple[str, ...], level: str) -> str:
    """Tokens as one string in which a substring search finds whole-token runs."""
    if level == LETTERS:
        return tokens
    return " " + " ".join(tokens) + " "
