"""ELIZA: the rule-based chatbot of 1966, in German and English.

Joseph Weizenbaum's ELIZA understood nothing. It looked for **keywords** in what you typed,
took the one with the highest **rank**, cut your sentence apart with that keyword's
**decomposition pattern** and built its reply from the pieces with a **reassembly
pattern**, after swapping the pronouns (my -> your, ich -> du). With no keyword, it brought
up something you had said earlier (its **memory**) or fell back on a stock phrase.

The rules are data, not code: ``lessons/data/eliza-de.json`` and ``eliza-en.json``. A
decomposition pattern is a list of words; ``*`` stands for any number of words (even none),
``@name`` for one word of the synonym group ``name``. Each ``*`` and ``@name`` is a part,
numbered from 1, and a reassembly pattern puts part n where it says ``{n}``.

    >>> eliza = Eliza("en", seed=1)
    >>> eliza.reply("I am sad about my exams.")  # doctest: +SKIP

Pure Python on purpose: the same module runs in the reader's browser (Pyodide).
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

LANGS = ("de", "en")
DATA = Path(__file__).parent / "data"
MAX_INPUT = 500  # characters per message: ELIZA reads one or two sentences, not essays

_WORD = re.compile(r"\w+(?:['’]\w+)*")
_SENTENCE_END = re.compile(r"[.!?;:]+")
_PART = re.compile(r"\{(\d+)\}")


class ElizaError(ValueError):
    """Bad input or bad rules; the message says what to change (input: in ELIZA's language)."""


@dataclass(frozen=True)
class Rule:
    """A decomposition pattern and the reassembly patterns for the sentences it fits."""

    decomposition: tuple[str, ...]
    reassemblies: tuple[str, ...]


@dataclass(frozen=True)
class Keyword:
    """Words that trigger the same rules; the rank decides between keywords in one message."""

    words: tuple[str, ...]
    rank: int
    rules: tuple[Rule, ...]
    memory: tuple[Rule, ...] = ()  # replies to keep for later, when no keyword is found


@dataclass(frozen=True)
class Trace:
    """Where ELIZA's last reply came from: a keyword's rule, its memory, or a fallback."""

    source: str  # "keyword", "memory" or "fallback"
    keyword: str = ""  # the keyword as found in the message
    rank: int = 0
    pattern: str = ""  # the decomposition pattern that fitted


@dataclass(frozen=True)
class Rules:
    """One language's script: everything ELIZA knows, loaded from its JSON file."""

    lang: str
    greetings: tuple[str, ...]
    substitutions: dict[str, str]  # applied to each word before matching ("i'm" -> "i am")
    reflections: dict[str, str]  # pronoun swaps in the parts put into a reply
    synonyms: dict[str, tuple[str, ...]]
    keywords: tuple[Keyword, ...]
    fallbacks: tuple[str, ...]
    messages: dict[str, str]  # what to tell the reader (an empty message, one too long)


def load_rules(lang: str) -> Rules:
    """The rules of ``lang`` ("de" or "en") from ``lessons/data/eliza-<lang>.json``, checked."""
    if lang not in LANGS:
        raise ElizaError(f"ELIZA speaks {' and '.join(LANGS)}, not {lang!r}.")
    return parse_rules(json.loads((DATA / f"eliza-{lang}.json").read_text(encoding="utf-8")))


def parse_rules(data: dict) -> Rules:
    """``Rules`` from the JSON structure of a rules file; a clear error for any flaw in it."""

    def rule(entry: dict) -> Rule:
        return Rule(tuple(entry["decomposition"].lower().split()), tuple(entry["reassembly"]))

    try:
        rules = Rules(
            lang=data["lang"],
            greetings=tuple(data["greetings"]),
            substitutions={k.lower(): v.lower() for k, v in data["substitutions"].items()},
            reflections={k.lower(): v for k, v in data["reflections"].items()},
            synonyms={k: tuple(w.lower() for w in v) for k, v in data["synonyms"].items()},
            keywords=tuple(
                Keyword(
                    words=tuple(word.lower() for word in entry["words"]),
                    rank=int(entry["rank"]),
                    rules=tuple(rule(r) for r in entry["rules"]),
                    memory=tuple(rule(r) for r in entry.get("memory", [])),
                )
                for entry in data["keywords"]
            ),
            fallbacks=tuple(data["fallbacks"]),
            messages=dict(data["messages"]),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ElizaError(f"The ELIZA rules are malformed: {error!r}.") from None
    check_rules(rules)
    return rules


def check_rules(rules: Rules) -> None:
    """Raise ``ElizaError`` if a pattern could not work: unknown synonym groups, a reply that
    uses a part its pattern does not have, a keyword without rules, nothing to fall back on."""
    if not rules.greetings or not rules.fallbacks:
        raise ElizaError("The ELIZA rules need at least one greeting and one fallback.")
    if set(rules.messages) != {"empty", "too_long"}:
        raise ElizaError("The ELIZA rules need the messages 'empty' and 'too_long'.")
    for keyword in rules.keywords:
        if not keyword.words or not keyword.rules:
            raise ElizaError(f"The keyword {keyword.words} needs words and rules.")
        for rule in keyword.rules + keyword.memory:
            where = f"{' '.join(rule.decomposition)!r} of keyword {keyword.words[0]!r}"
            if not rule.decomposition or not rule.reassemblies:
                raise ElizaError(f"The rule {where} needs a pattern and replies.")
            groups = [w[1:] for w in rule.decomposition if w.startswith("@")]
            unknown = [group for group in groups if group not in rules.synonyms]
            if unknown:
                raise ElizaError(f"The rule {where} uses unknown synonym groups: {unknown}.")
            parts = sum(w == "*" or w.startswith("@") for w in rule.decomposition)
            for reassembly in rule.reassemblies:
                used = [int(n) for n in _PART.findall(reassembly)]
                if any(not 1 <= n <= parts for n in used):
                    raise ElizaError(
                        f"The reply {reassembly!r} of the rule {where} uses a part it does "
                        f"not have (it has {parts})."
                    )


def words(text: str, substitutions: dict[str, str]) -> list[str]:
    """The words of ``text`` as typed, after the substitutions (which lower-case a word)."""
    found = []
    for word in _WORD.findall(text.replace("’", "'")):
        found.extend(substitutions.get(word.lower(), word).split())
    return found


def match(pattern: tuple[str, ...], sentence: list[str], synonyms: dict) -> list[list[str]] | None:
    """The parts of ``sentence`` that fill the ``*`` and ``@group`` of ``pattern``, or None.

    Words are compared in lower case; each ``*`` takes as few words as it can, so with two
    ``*`` the first ends at the first place where the rest of the pattern fits.
    """
    if not pattern:
        return [] if not sentence else None
    head, rest = pattern[0], pattern[1:]
    if head == "*":
        for end in range(len(sentence) + 1):
            parts = match(rest, sentence[end:], synonyms)
            if parts is not None:
                return [sentence[:end], *parts]
        return None
    if not sentence:
        return None
    word = sentence[0].lower()
    if head.startswith("@"):
        if word not in synonyms[head[1:]]:
            return None
        parts = match(rest, sentence[1:], synonyms)
        return None if parts is None else [sentence[:1], *parts]
    return match(rest, sentence[1:], synonyms) if word == head else None


def reflect(part: list[str], reflections: dict[str, str]) -> str:
    """The words of ``part`` from ELIZA's side: "my mother" -> "your mother", "ich" -> "du"."""
    return " ".join(reflections.get(word.lower(), word) for word in part)


@dataclass
class Eliza:
    """An ELIZA conversation: the rules of one language, a seeded random choice, a memory.

    The same seed and the same messages give the same replies.
    """

    lang: str = "de"
    seed: int = 0
    rules: Rules = field(init=False)
    memory: list[str] = field(init=False, default_factory=list)
    trace: Trace | None = field(init=False, default=None)  # how the last reply came about

    def __post_init__(self) -> None:
        self.rules = load_rules(self.lang)
        self.rng = random.Random(self.seed)  # every choice between replies comes from here

    def greeting(self) -> str:
        """How ELIZA opens the conversation."""
        return self.rng.choice(self.rules.greetings)

    def reply(self, text: str) -> str:
        """ELIZA's answer to ``text``: the rule of the highest-ranked keyword, else memory or
        a fallback. An empty or too long message is an ``ElizaError`` in ELIZA's language."""
        if not text.strip():
            raise ElizaError(self.rules.messages["empty"])
        if len(text) > MAX_INPUT:
            raise ElizaError(self.rules.messages["too_long"].format(limit=MAX_INPUT))
        found = self.keywords(text)
        self.remember(found)
        for keyword, word, sentence in found:
            fitted = self.apply(keyword.rules, sentence)
            if fitted is not None:
                answer, rule = fitted
                self.trace = Trace("keyword", word, keyword.rank, " ".join(rule.decomposition))
                return answer
        if self.memory:
            self.trace = Trace("memory")
            return self.memory.pop(0)
        self.trace = Trace("fallback")
        return self.rng.choice(self.rules.fallbacks)

    def keywords(self, text: str) -> list[tuple[Keyword, str, list[str]]]:
        """The keywords in ``text``, each with the word found and its sentence (a list of
        words): highest rank first, then in the order they occur. A keyword counts once, in
        the first sentence that has it."""
        found = {}
        for number, sentence_text in enumerate(_SENTENCE_END.split(text)):
            sentence = words(sentence_text, self.rules.substitutions)
            lowered = [word.lower() for word in sentence]
            for keyword in self.rules.keywords:
                places = [lowered.index(word) for word in keyword.words if word in lowered]
                if places and keyword not in found:
                    place = min(places)
                    found[keyword] = (-keyword.rank, number, place, lowered[place], sentence)
        ranked = sorted(found.items(), key=lambda item: item[1][:3])
        return [(keyword, where[3], where[4]) for keyword, where in ranked]

    def remember(self, found: list[tuple[Keyword, str, list[str]]]) -> None:
        """Keep a reply for later from each keyword in the message that has memory rules."""
        for keyword, _, sentence in found:
            fitted = self.apply(keyword.memory, sentence)
            if fitted is not None:
                self.memory.append(fitted[0])

    def apply(self, rules: tuple[Rule, ...], sentence: list[str]) -> tuple[str, Rule] | None:
        """The reply of the first rule whose pattern fits ``sentence``, with the rule; or None."""
        for rule in rules:
            parts = match(rule.decomposition, sentence, self.rules.synonyms)
            if parts is not None:
                return self.reassemble(self.rng.choice(rule.reassemblies), parts), rule
        return None

    def reassemble(self, template: str, parts: list[list[str]]) -> str:
        """``template`` with each ``{n}`` replaced by part n, its pronouns reflected."""
        reflected = [reflect(part, self.rules.reflections) for part in parts]
        reply = _PART.sub(lambda found: reflected[int(found.group(1)) - 1], template)
        reply = re.sub(r" +([,.?!])", r"\1", re.sub(r"  +", " ", reply)).strip()
        return reply[:1].upper() + reply[1:]
