"""The word navigator: nearest words, analogies and a flat map of word vectors, in pure Python.

``lessons.embeddings`` trains word vectors with PyTorch when the site is built and exports the
most frequent words with their vectors as JSON. This module reads such a file and answers
lesson 5's questions: which words lie closest to a word (cosine similarity), which word comes
out of a - b + c, and where a few words lie on a flat map. Pure Python on purpose: it runs in
the reader's browser (Pyodide), where there is no PyTorch and no numpy. On the same vectors it
gives the same answers as ``lessons.embeddings`` (``tests/test_navigator.py`` checks that).

    nav = navigator.Navigator.from_json(text)  # a file that embeddings.export wrote
    nav.neighbours("tag", k=3)  # the 3 nearest words: [(word, cosine similarity), ...]
    nav.analogy("könig", "mann", "frau")  # the words nearest to könig - mann + frau
"""

from __future__ import annotations

import difflib
import hashlib
import heapq
import json
import math
import sys
from dataclasses import dataclass, field
from operator import mul

NEIGHBOURS = 10  # words a query shows
ANALOGY_RESULTS = 5
SUGGESTIONS = 5  # closest spellings offered for an unknown word

# What the reader is told, by code (NavigatorError); {value} is what they typed.
MESSAGES = {
    "en": {
        "empty": "Type a word first.",
        "several": "Type a single word, without spaces: {value} is more than one.",
        "unknown": "{value} is not among the {count} words the navigator knows. Did you mean "
        "one of these?",
        "unknown_none": "{value} is not among the {count} words the navigator knows, and none "
        "of them is spelt similarly. Try a more common word.",
        "damaged": "The word vectors arrived damaged: their SHA-256 checksum is not the one the "
        "site recorded. Reload the page.",
    },
    "de": {
        "empty": "Gib zuerst ein Wort ein.",
        "several": "Gib ein einzelnes Wort ohne Leerzeichen ein: {value} sind mehrere.",
        "unknown": "{value} ist keines der {count} Wörter, die der Navigator kennt. Meintest du "
        "eines von diesen?",
        "unknown_none": "{value} ist keines der {count} Wörter, die der Navigator kennt, und "
        "keines davon wird ähnlich geschrieben. Versuch es mit einem häufigeren Wort.",
        "damaged": "Die Wortvektoren sind beschädigt angekommen: Ihre SHA-256-Prüfsumme ist "
        "nicht die, die die Website vermerkt hat. Lade die Seite neu.",
    },
}
QUOTES = {"en": "“{}”", "de": "„{}“"}
THOUSANDS = {"en": ",", "de": "."}


class NavigatorError(ValueError):
    """Input the navigator cannot use, or a damaged file; says what, in either language.

    ``code`` names the problem, ``details`` fill in its message (``part``: which of the
    widget's fields it is about; ``suggestions``: known words spelt like an unknown one).
    ``str(error)`` is English, ``error.message("de")`` German.
    """

    def __init__(self, code: str, **details: object):
        self.code, self.details = code, details
        super().__init__(self.message("en"))

    def message(self, lang: str) -> str:
        """The message in ``lang``; what the reader typed is quoted the language's way."""
        details = dict(self.details)
        if "value" in details:
            details["value"] = QUOTES[lang].format(details["value"])
        if "count" in details:
            details["count"] = f"{details['count']:,}".replace(",", THOUSANDS[lang])
        return MESSAGES[lang][self.code].format(**details)


def explain(lang: str) -> str | None:
    """The last Python error as JSON {"code", "message", "part", "suggestions"}, if it is the
    reader's; else ``None``.

    In the browser, Pyodide keeps the Python exception behind a JavaScript error as
    ``sys.last_exc``.
    """
    error = getattr(sys, "last_exc", None) or getattr(sys, "last_value", None)
    if not isinstance(error, NavigatorError):
        return None
    return json.dumps(
        {
            "code": error.code,
            "message": error.message(lang),
            "part": error.details.get("part"),
            "suggestions": error.details.get("suggestions", []),
        },
        ensure_ascii=False,
    )


# --- Vectors as plain lists of numbers --------------------------------------------------------


def normalise(word: str) -> str:
    """A word as the vectors know it: no spaces around it, lower case, a straight apostrophe."""
    return word.strip().lower().replace("’", "'")


def dot(a: list[float], b: list[float]) -> float:
    """The dot product: multiply place by place, add it all up."""
    return sum(map(mul, a, b))


def unit(vector: list[float]) -> list[float]:
    """The vector scaled to length 1; a dot product of two such vectors is their cosine."""
    length = math.sqrt(dot(vector, vector))
    return [x / length for x in vector]


def cosine(a: list[float], b: list[float]) -> float:
    """How alike two vectors point: 1 the same way, 0 at right angles, -1 opposite ways."""
    return dot(a, b) / math.sqrt(dot(a, a) * dot(b, b))


def closest_spellings(word: str, words: list[str], n: int = SUGGESTIONS) -> list[str]:
    """Up to ``n`` of ``words`` spelt most like ``word`` (difflib's similarity of the letters)."""
    return difflib.get_close_matches(normalise(word), words, n=n, cutoff=0.6)


def lookup(word: str, index: dict[str, int], part: str = "word") -> int:
    """The number of ``word`` in ``index`` (word -> number); for a word that is not in it, a
    ``NavigatorError`` that says why, with the closest known spellings.

    ``part`` names the widget's field the word came from, so that the page can point to it.
    """
    typed = word.strip()
    if not typed:
        raise NavigatorError("empty", part=part)
    if len(typed.split()) > 1:
        raise NavigatorError("several", part=part, value=typed)
    if normalise(typed) not in index:
        suggestions = closest_spellings(typed, list(index))
        code = "unknown" if suggestions else "unknown_none"
        raise NavigatorError(
            code, part=part, value=typed, count=len(index), suggestions=suggestions
        )
    return index[normalise(typed)]


def pca_2d(vectors: list[list[float]]) -> list[tuple[float, float]]:
    """Each vector's place on a flat map: principal component analysis (PCA).

    The map's first axis is the direction in which the vectors differ most, the second the
    direction at right angles to it in which they differ most of what is left. A vector's
    coordinates are how far it lies from the vectors' mean along the two. Each axis points so
    that the vector farthest along it lies on its positive side.
    """
    mean = [sum(column) / len(vectors) for column in zip(*vectors, strict=True)]
    centred = [[x - m for x, m in zip(vector, mean, strict=True)] for vector in vectors]
    # The n x n table of the centred vectors' dot products has the same main directions, told
    # as mixes of the vectors, and for a handful of words it is much smaller than d x d.
    gram = [[dot(a, b) for b in centred] for a in centred]
    axes = []
    for _ in range(2):
        spread, mix = _main_direction(gram)
        coordinates = [math.sqrt(spread) * weight for weight in mix]
        farthest = max(coordinates, key=abs)
        axes.append([-c for c in coordinates] if farthest < 0 else coordinates)
        # take that direction out, so that the next round finds the next one
        gram = [
            [g - spread * a * b for g, b in zip(row, mix, strict=True)]
            for row, a in zip(gram, mix, strict=True)
        ]
    return list(zip(*axes, strict=True))


def _main_direction(matrix: list[list[float]], rounds: int = 1000) -> tuple[float, list[float]]:
    """The largest eigenvalue of a symmetric matrix and its unit eigenvector: power iteration.

    Multiplying any start by the matrix again and again turns it towards the direction the
    matrix stretches most. Returns (0, zeros) when the matrix stretches nothing.
    """
    vector = [1.0 + i / len(matrix) for i in range(len(matrix))]  # any start not at right angles
    value = 0.0
    for _ in range(rounds):
        product = [dot(row, vector) for row in matrix]
        value = math.sqrt(dot(product, product))
        if value < 1e-12:
            return 0.0, [0.0] * len(matrix)
        turned = [x / value for x in product]
        change = max(abs(a - b) for a, b in zip(turned, vector, strict=True))
        vector = turned
        if change < 1e-12:
            break
    return value, vector


# --- The navigator over a vocabulary ----------------------------------------------------------


@dataclass
class Navigator:
    """Words and their vectors (the i-th vector belongs to the i-th word), ready to query."""

    words: list[str]
    vectors: list[list[float]]
    index: dict[str, int] = field(init=False, repr=False)
    units: list[list[float]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.index = {word: i for i, word in enumerate(self.words)}
        self.units = [unit(vector) for vector in self.vectors]

    @classmethod
    def from_json(cls, text: str | bytes, sha256: str | None = None) -> Navigator:
        """The navigator from a file ``lessons.embeddings.export`` wrote.

        With ``sha256`` the file's bytes must have that checksum (what the site recorded).
        """
        data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
        if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
            raise NavigatorError("damaged")
        exported = json.loads(data)
        return cls(exported["words"], exported["vectors"])

    def lookup(self, word: str, part: str = "word") -> int:
        """The number of a word the navigator knows (``lookup``)."""
        return lookup(word, self.index, part)

    def similarity(self, a: str, b: str) -> float:
        """The cosine similarity of two words' vectors."""
        return dot(self.units[self.lookup(a)], self.units[self.lookup(b)])

    def nearest(self, vector: list[float], k: int, skip: set[int]) -> list[tuple[str, float]]:
        """The ``k`` words whose vectors point most like ``vector``, without the numbers in
        ``skip``, with their cosine similarity; on a tie the more frequent word first."""
        direction = unit(vector)
        scores = [dot(u, direction) for u in self.units]
        best = heapq.nlargest(k + len(skip), range(len(scores)), key=scores.__getitem__)
        return [(self.words[i], scores[i]) for i in best if i not in skip][:k]

    def neighbours(self, word: str, k: int = NEIGHBOURS) -> list[tuple[str, float]]:
        """The ``k`` nearest words of ``word``, with their cosine similarity."""
        i = self.lookup(word)
        return self.nearest(self.units[i], k, {i})

    def analogy(self, a: str, b: str, c: str, k: int = ANALOGY_RESULTS) -> list[tuple[str, float]]:
        """The words nearest to a - b + c (``a``, ``b`` and ``c`` themselves left out).

        "könig - mann + frau": what is to "frau" as "könig" is to "mann"? Each vector counts
        with length 1, so that no word weighs more only because its vector is longer.
        """
        i, j, m = (self.lookup(word, part) for word, part in ((a, "a"), (b, "b"), (c, "c")))
        vectors = (self.units[i], self.units[j], self.units[m])
        target = [x - y + z for x, y, z in zip(*vectors, strict=True)]
        return self.nearest(target, k, {i, j, m})

    def map(self, words: list[str]) -> list[tuple[str, float, float]]:
        """Known words with their places on a flat map (``pca_2d`` of their unit vectors)."""
        found = [normalise(word) for word in words]
        places = pca_2d([self.units[self.lookup(word)] for word in found])
        return [(word, x, y) for word, (x, y) in zip(found, places, strict=True)]

    # --- for the page: answers as JSON ---------------------------------------------------------

    def neighbours_json(self, word: str, k: int = NEIGHBOURS) -> str:
        """``neighbours`` for the widget: the word, its neighbours and the map of them all."""
        found = self.neighbours(word, k)
        query = normalise(word)
        return _answer([query], found, self.map([query] + [w for w, _ in found]), links=[])

    def analogy_json(self, a: str, b: str, c: str, k: int = ANALOGY_RESULTS) -> str:
        """``analogy`` for the widget; the map links b to a and c to the best result, the two
        sides of the parallelogram that a good analogy draws."""
        found = self.analogy(a, b, c, k)
        given = [normalise(word) for word in (a, b, c)]
        links = [[given[1], given[0]], [given[2], found[0][0]]]
        return _answer(given, found, self.map(given + [w for w, _ in found]), links)


def _answer(given: list[str], found: list[tuple[str, float]], places, links) -> str:
    return json.dumps(
        {
            "given": given,
            "results": [[word, round(score, 4)] for word, score in found],
            "map": [[word, round(x, 4), round(y, 4)] for word, x, y in places],
            "links": links,
        },
        ensure_ascii=False,
    )
