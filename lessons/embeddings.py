"""Word embeddings: word2vec, trained with PyTorch on sentences from novels.

A neural network computes with numbers, so every word needs some: its *embedding*, a list of a
few dozen numbers. word2vec (Tomas Mikolov and colleagues, 2013) learns them from plain text
with a guessing game. For every word of a sentence (the *centre*), the words at most ``window``
places away are its *context*. The model is shown pairs (centre, word) and has to tell the
real pairs from made-up ones, whose second word was drawn at random (*negative sampling*). It
wins most often when words that keep the same company get similar vectors. This variant of
word2vec is called *skip-gram with negative sampling*.

    sentences = embeddings.sentence_set("de")  # the sentences the course trains on
    trained = embeddings.train(sentences, embeddings.Word2VecConfig(seed=1))
    trained.vectors.neighbours("tag")  # the 10 nearest words, with their cosine similarity

``lessons.navigator`` answers the same questions in pure Python, in the reader's browser, over
the vectors that ``export`` writes.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from lessons import corpora, navigator

LANGS = ("de", "en")

# --- From text to words -----------------------------------------------------------------------

# A word is a run of letters, with inner apostrophes or hyphens ("don't", "schwarz-weiß").
_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
# A sentence ends at a line break, or at . ! ? (perhaps with a closing quotation mark) and a space.
_SENTENCE_END = re.compile(r"\n+|(?<=[.!?])\s+|(?<=[.!?][»«\"“”’'])\s+")


def words(sentence: str) -> list[str]:
    """The words of a sentence in lower case (``navigator.normalise``); numbers and signs go."""
    return [navigator.normalise(word) for word in _WORD.findall(sentence)]


def split_sentences(text: str) -> list[str]:
    """The sentences of a text: a rough rule (an abbreviation such as "Dr." ends one, too)."""
    return [sentence for sentence in _SENTENCE_END.split(text) if sentence.strip()]


@dataclass(frozen=True)
class SentenceSet:
    """Where the course's sentences in one language come from: some texts whole, and every
    ``every``-th paragraph of a collection of novels (so that no single novel dominates)."""

    whole: tuple[str, ...]
    sampled: str
    every: int


SENTENCE_SETS = {
    "de": SentenceSet(whole=("kafka-die-verwandlung",), sampled="eltec-deu", every=8),
    "en": SentenceSet(whole=("austen-pride-and-prejudice",), sampled="eltec-eng", every=6),
}


@functools.cache
def sentence_set(lang: str) -> tuple[str, ...]:
    """The sentences the course trains its word vectors on, in ``lang`` ("de" or "en").

    Sentences with fewer than two words ("Ja.", a chapter number) say nothing about which words
    keep company, so they are left out.
    """
    chosen = SENTENCE_SETS[lang]
    texts = [text for corpus in chosen.whole for text in corpora.documents(corpus)]
    novels = corpora.documents(chosen.sampled)
    paragraphs = [line for novel in novels for line in novel.split("\n") if line.strip()]
    texts += paragraphs[:: chosen.every]
    sentences = (sentence for text in texts for sentence in split_sentences(text))
    return tuple(sentence for sentence in sentences if len(words(sentence)) >= 2)


def company(sentences: Sequence[str], word: str, window: int = 4) -> Counter:
    """The company ``word`` keeps: how often each word stands at most ``window`` places from it
    in one of the ``sentences``."""
    near: Counter = Counter()
    for sentence in sentences:
        if word not in navigator.normalise(sentence):  # a quick test before splitting it
            continue
        found = words(sentence)
        for i, other in enumerate(found):
            if other == word:
                near.update(found[max(i - window, 0) : i] + found[i + 1 : i + 1 + window])
    return near


# --- Words as numbers -------------------------------------------------------------------------


@dataclass(frozen=True)
class Vocabulary:
    """The words that get a vector, most frequent first, with how often each occurs."""

    words: list[str]
    counts: list[int]


def vocabulary(sentences: list[list[str]], min_count: int) -> Vocabulary:
    """The words that occur at least ``min_count`` times, most frequent first (on a tie, the
    word seen first). A word seen only a few times cannot get a good vector."""
    counts = Counter(word for sentence in sentences for word in sentence).most_common()
    common = [(word, n) for word, n in counts if n >= min_count]
    return Vocabulary([word for word, _ in common], [n for _, n in common])


def encode(sentences: list[list[str]], vocab: Vocabulary) -> tuple[torch.Tensor, torch.Tensor]:
    """All words of all sentences as one row of word numbers, and each word's sentence number.

    Words without a vector are dropped (as word2vec does), so their neighbours become neighbours.
    """
    index = {word: i for i, word in enumerate(vocab.words)}
    ids, sentence_of = [], []
    for number, sentence in enumerate(sentences):
        known = [index[word] for word in sentence if word in index]
        ids += known
        sentence_of += [number] * len(known)
    return torch.tensor(ids, dtype=torch.long), torch.tensor(sentence_of, dtype=torch.long)


def keep_probabilities(counts: torch.Tensor, threshold: float) -> torch.Tensor:
    """How likely each word is kept in an epoch: word2vec's subsampling of frequent words.

    A word that makes up the share f of all words is kept with probability √(t/f) + t/f, at
    most 1, with t = ``threshold``. So "und" and "the" are mostly dropped: they stand next to
    every word and say little about any, and without them the words around them come closer.
    """
    ratio = threshold / (counts / counts.sum())
    return (ratio.sqrt() + ratio).clamp(max=1.0)


def skipgram_pairs(ids: torch.Tensor, sentence_of: torch.Tensor, window: int) -> torch.Tensor:
    """Every (centre, context word) pair: two words at most ``window`` places apart in one
    sentence, each way round. A (pairs, 2) tensor of word numbers, the nearest pairs first."""
    pairs = []
    for distance in range(1, window + 1):
        same_sentence = sentence_of[:-distance] == sentence_of[distance:]
        left, right = ids[:-distance][same_sentence], ids[distance:][same_sentence]
        pairs += [torch.stack([left, right], dim=1), torch.stack([right, left], dim=1)]
    return torch.cat(pairs)


def noise_distribution(counts: torch.Tensor, power: float = 0.75) -> torch.Tensor:
    """How likely each word is drawn for a made-up pair: its count to the power 0.75, scaled to
    add up to 1. The power (from word2vec) draws rare words more often than their share."""
    weights = counts.double() ** power
    return (weights / weights.sum()).float()


# --- The model and its training ---------------------------------------------------------------


class SkipGram(nn.Module):
    """Two tables of word vectors: one for words as the centre, one for words as context.

    A pair's score is the dot product of the centre's vector and the context word's vector;
    the sigmoid of the score is the model's probability that the pair is real. The centre
    vectors are the word vectors one keeps.
    """

    def __init__(self, vocab_size: int, dim: int, generator: torch.Generator):
        super().__init__()
        self.centre = nn.Embedding(vocab_size, dim)
        self.context = nn.Embedding(vocab_size, dim)
        with torch.no_grad():  # word2vec's start: small random centre vectors, context vectors 0
            self.centre.weight.uniform_(-0.5 / dim, 0.5 / dim, generator=generator)
            self.context.weight.zero_()

    def forward(
        self, centres: torch.Tensor, contexts: torch.Tensor, negatives: torch.Tensor
    ) -> torch.Tensor:
        """The loss of each real pair (centre, context word) with its made-up pairs (centre,
        negative): -log σ(real score) - Σ log σ(-made-up score). It is small when the real
        pair scores high and the made-up ones low.
        """
        centre = self.centre(centres)[:, :, None]  # (batch, dim, 1)
        others = self.context(torch.cat([contexts[:, None], negatives], dim=1))  # (batch, 1+k, dim)
        scores = (others @ centre).squeeze(2)  # dot products (batch, 1 + k), the real pair first
        return -(F.logsigmoid(scores[:, 0]) + F.logsigmoid(-scores[:, 1:]).sum(dim=1))


@dataclass(frozen=True)
class Word2VecConfig:
    """The settings of a word2vec training (the defaults are the course's)."""

    dim: int = 48  # numbers per word
    window: int = 4  # context: the words up to this many places to the left and right
    negatives: int = 5  # made-up pairs per real pair
    min_count: int = 10  # words seen fewer times get no vector
    subsample: float = 1e-4  # the threshold t of keep_probabilities
    epochs: int = 3
    batch_size: int = 8192  # real pairs per step
    lr: float = 0.02  # Adam's learning rate at the start; it falls in a straight line to 0
    seed: int = 0
    threads: int = 1  # PyTorch threads: one copes best with a busy machine, on any number of cores


@dataclass
class Trained:
    """The result of ``train``: the vectors, and how the training went."""

    vectors: WordVectors
    losses: list[float]  # mean loss per real pair, in each twentieth of the training
    sentences: int
    words: int  # in the sentences, before words without a vector are dropped
    pairs: int  # real pairs trained on, all epochs together
    seconds: float


def train(sentences: Sequence[str], config: Word2VecConfig = Word2VecConfig()) -> Trained:
    """Learn word vectors from ``sentences`` with skip-gram and negative sampling (seeded).

    Each epoch drops frequent words at random (``keep_probabilities``), makes the real pairs
    (``skipgram_pairs``) and shuffles them; each step takes ``batch_size`` of them, draws
    ``negatives`` made-up context words for each from ``noise_distribution``, and moves the
    vectors with Adam to make the loss smaller.
    """
    started = time.perf_counter()
    tokenized = [words(sentence) for sentence in sentences]
    vocab = vocabulary(tokenized, config.min_count)
    ids, sentence_of = encode(tokenized, vocab)
    counts = torch.tensor(vocab.counts, dtype=torch.float)
    keep, noise = keep_probabilities(counts, config.subsample), noise_distribution(counts)
    generator = torch.Generator().manual_seed(config.seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    try:
        model = SkipGram(len(vocab.words), config.dim, generator)
        optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
        batch_losses, pairs_seen = [], 0
        for epoch in range(config.epochs):
            kept = torch.rand(len(ids), generator=generator) < keep[ids]
            pairs = skipgram_pairs(ids[kept], sentence_of[kept], config.window)
            pairs = pairs[torch.randperm(len(pairs), generator=generator)]
            # (a tiny text may keep no pair at all: then the epoch has no step)
            batches = [batch for batch in pairs.split(config.batch_size) if len(batch)]
            for step, batch in enumerate(batches):
                done = (epoch + step / len(batches)) / config.epochs
                optimizer.param_groups[0]["lr"] = config.lr * (1 - done)
                drawn = torch.multinomial(
                    noise, len(batch) * config.negatives, replacement=True, generator=generator
                )
                losses = model(batch[:, 0], batch[:, 1], drawn.view(len(batch), config.negatives))
                loss = losses.mean()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                batch_losses.append(loss.item())
            pairs_seen += len(pairs)
    finally:
        torch.set_num_threads(threads)
    vectors = WordVectors(vocab.words, vocab.counts, model.centre.weight.detach().clone())
    return Trained(
        vectors=vectors,
        losses=[sum(part) / len(part) for part in _twentieths(batch_losses)],
        sentences=len(sentences),
        words=sum(map(len, tokenized)),
        pairs=pairs_seen,
        seconds=time.perf_counter() - started,
    )


def _twentieths(values: list[float]) -> list[list[float]]:
    """``values`` cut into 20 stretches of (nearly) equal length (fewer if there are fewer)."""
    parts = min(20, len(values))
    return [values[len(values) * i // parts : len(values) * (i + 1) // parts] for i in range(parts)]


# --- What the vectors say ---------------------------------------------------------------------


@dataclass
class WordVectors:
    """Words (most frequent first), their counts in the sentences, and their vectors: row i of
    ``vectors`` belongs to word i. The same questions as ``navigator.Navigator``, in PyTorch."""

    words: list[str]
    counts: list[int]
    vectors: torch.Tensor
    index: dict[str, int] = field(init=False, repr=False)
    units: torch.Tensor = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.index = {word: i for i, word in enumerate(self.words)}
        self.units = F.normalize(self.vectors, dim=1)  # length 1: dot product = cosine

    def most_frequent(self, n: int) -> WordVectors:
        """Only the ``n`` most frequent words: their vectors are the best trained."""
        return WordVectors(self.words[:n], self.counts[:n], self.vectors[:n])

    def lookup(self, word: str, part: str = "word") -> int:
        """The row of a word; for an unknown word ``navigator.NavigatorError`` with spellings."""
        return navigator.lookup(word, self.index, part)

    def similarity(self, a: str, b: str) -> float:
        """The cosine similarity of two words' vectors."""
        return (self.units[self.lookup(a)] @ self.units[self.lookup(b)]).item()

    def nearest(self, vector: torch.Tensor, k: int, skip: set[int]) -> list[tuple[str, float]]:
        """The ``k`` words whose vectors point most like ``vector`` (rows in ``skip`` left out),
        with their cosine similarity; on a tie the more frequent word first."""
        scores = self.units @ F.normalize(vector, dim=0)
        order = torch.sort(scores, descending=True, stable=True).indices[: k + len(skip)]
        return [(self.words[i], scores[i].item()) for i in order.tolist() if i not in skip][:k]

    def neighbours(self, word: str, k: int = navigator.NEIGHBOURS) -> list[tuple[str, float]]:
        """The ``k`` nearest words of ``word``, with their cosine similarity."""
        i = self.lookup(word)
        return self.nearest(self.units[i], k, {i})

    def analogy(
        self, a: str, b: str, c: str, k: int = navigator.ANALOGY_RESULTS
    ) -> list[tuple[str, float]]:
        """The words nearest to a - b + c, each of the three as a vector of length 1."""
        i, j, m = (self.lookup(word, part) for word, part in ((a, "a"), (b, "b"), (c, "c")))
        return self.nearest(self.units[i] - self.units[j] + self.units[m], k, {i, j, m})

    def to_json(self, decimals: int = 4) -> str:
        """The words and their vectors of length 1, rounded: what ``navigator`` reads."""
        rows = [[round(x, decimals) for x in row] for row in self.units.tolist()]
        return json.dumps({"words": self.words, "vectors": rows}, ensure_ascii=False)


def pca_2d(vectors: torch.Tensor) -> torch.Tensor:
    """Each row's place on a flat map: principal component analysis (PCA), as ``navigator.pca_2d``.

    The singular value decomposition of the centred rows gives the directions in which they
    differ most; the coordinates are the rows' distances from the mean along the first two.
    Each axis points so that the row farthest along it lies on its positive side.
    """
    centred = vectors - vectors.mean(dim=0)
    u, s, _ = torch.linalg.svd(centred, full_matrices=False)
    places = u[:, :2] * s[:2]
    farthest = places.abs().argmax(dim=0)
    return places * places[farthest, torch.arange(2)].sign()


# --- How good are the vectors? ----------------------------------------------------------------


@dataclass(frozen=True)
class PairQuality:
    """How well vectors keep words that belong together close: pairs against random pairs."""

    pairs: list[tuple[str, str, float]]  # each pair with the cosine similarity of its words
    random: list[float]  # the cosine similarities of random pairs
    auc: float  # share of (pair, random pair) comparisons in which the pair is closer
    top10: float  # share of pairs whose second word is among the first's 10 neighbours


def word_pairs(lang: str) -> list[tuple[str, str]]:
    """Pairs of words that belong together (Mann/Frau, Tag/Nacht, ...), written for the course."""
    text = resources.files("lessons").joinpath("data/word-pairs.json").read_text(encoding="utf-8")
    return [tuple(pair) for pair in json.loads(text)[lang]]


def pair_quality(
    vectors: WordVectors, pairs: list[tuple[str, str]], random_pairs: int = 1000, seed: int = 0
) -> PairQuality:
    """Compare each pair's cosine similarity with that of ``random_pairs`` pairs of two random
    words (drawn with ``seed``). An ``auc`` of 0.5 is chance, 1.0 every pair beats every
    random pair."""
    scored = [(a, b, vectors.similarity(a, b)) for a, b in pairs]
    generator = torch.Generator().manual_seed(seed)
    first = torch.randint(len(vectors.words), (random_pairs,), generator=generator)
    shift = torch.randint(1, len(vectors.words), (random_pairs,), generator=generator)
    second = (first + shift) % len(vectors.words)  # never the same word twice
    chance = (vectors.units[first] * vectors.units[second]).sum(dim=1)
    close = torch.tensor([similarity for _, _, similarity in scored])
    wins = (close[:, None] > chance[None, :]).double() + 0.5 * (close[:, None] == chance).double()
    found = [b in dict(vectors.neighbours(a, 10)) for a, b, _ in scored]
    return PairQuality(scored, chance.tolist(), wins.mean().item(), sum(found) / len(found))


# --- The course's vectors, and their export for the browser -----------------------------------

NAVIGATOR_WORDS = 4000  # the most frequent words the navigator (and the lesson) looks among


@functools.cache
def course_vectors(lang: str) -> Trained:
    """The course's word vectors for ``lang``: trained once per process on ``sentence_set``."""
    return train(sentence_set(lang), Word2VecConfig())


def export(lang: str, folder: Path) -> dict:
    """Write the navigator's vectors and the training sentences of ``lang`` into ``folder``.

    Returns the entry for the site's ``browser/manifest.json``: for each file its name, size
    and SHA-256, and how many words the navigator knows.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    contents = {
        "vectors": (
            f"vectors-{lang}.json",
            course_vectors(lang).vectors.most_frequent(NAVIGATOR_WORDS).to_json(),
        ),
        "sentences": (f"sentences-{lang}.txt", "\n".join(sentence_set(lang)) + "\n"),
    }
    files = {}
    for key, (name, text) in contents.items():
        data = text.encode("utf-8")
        (folder / name).write_bytes(data)
        files[key] = {"name": name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    return {"files": files, "words": NAVIGATOR_WORDS}
