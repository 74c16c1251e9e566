"""Fine-tuning for classification: a pretrained language model learns to sort texts.

Pretraining taught a model to predict the next token, and on the way it learned a lot about
language: each token leaves the last block as a vector that sums up what the text says so far.
To classify texts (spam or not, Fontane or Karl May), we keep all of that and change the end:

1. ``Classifier`` copies the model and replaces its language-model head (one score per
   vocabulary token) by a classifier head: one score per class, read at the last token,
   the one that has seen the whole text.
2. It freezes what should stay as it is: with ``train_blocks=0`` only the new head learns,
   with ``train_blocks=1`` also the last block (and the final norm), with ``"all"`` everything.
3. ``train`` runs the usual training loop with the cross-entropy of the class scores;
   ``evaluate`` counts the right answers (accuracy) and the confusion matrix.

For a model too large to train on a CPU, ``features`` runs it once, frozen, and keeps the
vector of each text's last token; a head alone (``linear_head``) then learns from those
("feature extraction"). Baselines to beat: ``majority_baseline`` and ``bag_of_words``.
Data: ``lessons.spam`` for English; ``author_task`` builds a German task from ELTeC novels.
"""

from __future__ import annotations

import contextlib
import copy
import random
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.naive_bayes import MultinomialNB
from torch import Tensor, nn

from lessons import corpora
from lessons.tokenizer import Tokenizer


class FinetuneError(ValueError):
    """The data or the settings do not fit the task; the message says what to do."""


@dataclass(frozen=True)
class Example:
    """A text and its class (its *label*), such as ("Win money now!", "spam")."""

    text: str
    label: str


@dataclass
class Split:
    """The three parts of a data set: to learn from, to choose settings with, to report."""

    train: list[Example]
    validation: list[Example]
    test: list[Example]

    def sizes(self) -> dict[str, int]:
        """How many examples each part has."""
        return {
            "train": len(self.train),
            "validation": len(self.validation),
            "test": len(self.test),
        }


# --- Data --------------------------------------------------------------------------------


def labels_of(examples: Sequence[Example]) -> list[str]:
    """The classes that occur in ``examples``, sorted; at least two, or a clear error."""
    if not examples:
        raise FinetuneError("The data set is empty: give the classifier some labelled texts.")
    labels = sorted({example.label for example in examples})
    if len(labels) < 2:
        raise FinetuneError(
            f"All examples have the label {labels[0]!r}: a classifier needs examples of at "
            "least two classes to learn to tell them apart."
        )
    return labels


def sample(examples: Sequence[Example], per_label: int, seed: int) -> list[Example]:
    """``per_label`` examples of every class, drawn at random: a balanced data set.

    Real data is often unbalanced (the SpamAssassin e-mails are two-thirds ham). Drawing the
    same number of each class makes "always guess the most frequent class" score only
    1 / (number of classes), so any accuracy above that has been learned.
    """
    rng = random.Random(seed)
    by_label = _by_label(examples)
    for label, group in by_label.items():
        if len(group) < per_label:
            raise FinetuneError(
                f"Only {len(group)} examples have the label {label!r}, fewer than the "
                f"{per_label} per label asked for: ask for at most {len(group)}."
            )
    chosen = [example for group in by_label.values() for example in rng.sample(group, per_label)]
    rng.shuffle(chosen)
    return chosen


def split(examples: Sequence[Example], validation: int, test: int, seed: int) -> Split:
    """Shuffle with ``seed``; per label, ``test`` examples to test, ``validation`` to validate.

    All other examples go to training. Counting per label keeps the classes' shares the same
    in all three parts; the same seed always gives the same split.
    """
    rng = random.Random(seed)
    parts = Split([], [], [])
    for label, group in _by_label(examples).items():
        if len(group) <= validation + test:
            raise FinetuneError(
                f"The label {label!r} has {len(group)} examples: too few for {test} to test and "
                f"{validation} to validate, with some left to train. Use smaller parts."
            )
        group = group[:]
        rng.shuffle(group)
        parts.test += group[:test]
        parts.validation += group[test : test + validation]
        parts.train += group[test + validation :]
    for part in (parts.train, parts.validation, parts.test):
        rng.shuffle(part)
    return parts


def _by_label(examples: Sequence[Example]) -> dict[str, list[Example]]:
    groups: dict[str, list[Example]] = {label: [] for label in labels_of(examples)}
    for example in examples:
        groups[example.label].append(example)
    return groups


def passages(text: str, label: str, count: int, words: int, seed: int) -> list[Example]:
    """``count`` passages of ``words`` words from ``text``, each starting at a sentence.

    The passages are drawn at random (with ``seed``) and do not overlap.
    """
    tokens = text.split()
    starts = [i for i in range(1, len(tokens)) if re.search(r"[.!?]$", tokens[i - 1])]
    rng = random.Random(seed)
    rng.shuffle(starts)
    taken: set[int] = set()
    chosen = []
    for start in starts:
        span = set(range(start, start + words))
        if start + words <= len(tokens) and not span & taken:
            taken |= span
            chosen.append(Example(" ".join(tokens[start : start + words]), label))
            if len(chosen) == count:
                return chosen
    raise FinetuneError(f"The text has room for only {len(chosen)} passages, not {count}.")


# The German task: which of two authors wrote a passage? Novels from ELTeC-deu, by file:
# the first two of each author to train and validate, the third to test. A test novel the
# model has never seen means it cannot pass by knowing the names of characters or places.
AUTHORS = {
    "Fontane": ("DEU059", "DEU066", "DEU070"),  # Irrungen, Wirrungen; Der Stechlin; Schach ...
    "May": ("DEU054", "DEU081", "DEU084"),  # Am Jenseits; Und Friede auf Erden!; Ardistan ...
}


def author_task(per_label: int, validation: int, test: int, words: int, seed: int) -> Split:
    """Passages of ``words`` words from Fontane's and Karl May's novels (``AUTHORS``).

    Per author: ``per_label`` passages from the first two novels (half from each), of which
    ``validation`` validate and the rest train, and ``test`` passages from the third novel.
    """
    corpus = corpora.get("eltec-deu")
    names = [file.name.removesuffix(".xml") for file in corpus.files]
    novels = dict(zip(names, corpora.documents(corpus), strict=True))
    seen, held_out = [], []
    for author, (first, second, third) in AUTHORS.items():
        seen += passages(novels[first], author, per_label // 2, words, seed)
        seen += passages(novels[second], author, per_label - per_label // 2, words, seed)
        held_out += passages(novels[third], author, test, words, seed)
    parts = split(seen, validation, 0, seed)
    random.Random(seed).shuffle(held_out)
    return Split(parts.train, parts.validation, held_out)


def targets(examples: Sequence[Example], labels: Sequence[str]) -> list[int]:
    """The position of each example's label in ``labels``: the number the model must output."""
    index = {label: i for i, label in enumerate(labels)}
    unknown = sorted({e.label for e in examples} - index.keys())
    if unknown:
        raise FinetuneError(
            f"The labels {unknown} are not among the classifier's labels {list(labels)}. "
            "Build the classifier with every label of your data (labels_of(all examples)), "
            "or leave those examples out."
        )
    return [index[example.label] for example in examples]


def encode(tokenizer: Tokenizer, examples: Sequence[Example], max_tokens: int) -> list[list[int]]:
    """The token ids of each text, cut to its first ``max_tokens`` tokens (the context)."""
    ids = [tokenizer.encode_ordinary(example.text)[:max_tokens] for example in examples]
    empty = [i for i, row in enumerate(ids) if not row]
    if empty:
        raise FinetuneError(f"Example {empty[0]} has no text: remove empty examples.")
    return ids


# --- The classifier ----------------------------------------------------------------------


def linear_head(size: int, n_labels: int) -> nn.Linear:
    """One score per class from a vector of ``size`` numbers; it starts at zero (no guess)."""
    head = nn.Linear(size, n_labels)
    nn.init.zeros_(head.weight)
    nn.init.zeros_(head.bias)
    return head


def _pad(ids: Sequence[Sequence[int]]) -> tuple[Tensor, Tensor]:
    """A batch of texts of different lengths: ids padded with 0 at the end, and the lengths.

    In a causal model no token looks ahead, so padding after the last token changes nothing
    at or before it.
    """
    lengths = torch.tensor([len(row) for row in ids])
    batch = torch.zeros(len(ids), int(lengths.max()), dtype=torch.long)
    for i, row in enumerate(ids):
        batch[i, : len(row)] = torch.tensor(row)
    return batch, lengths


def _last(outputs: Tensor, lengths: Tensor) -> Tensor:
    """Each text's output at its last token: (B, T, n) -> (B, n)."""
    return outputs[torch.arange(len(lengths)), lengths - 1]


class Classifier(nn.Module):
    """A copy of a language model whose head gives one score per class, not per token.

    Works with every model of the course that has ``blocks``, ``final_norm`` and ``lm_head``
    (``lessons.gpt.GPT``, ``lessons.llama.Llama``). The model passed in stays as it is.
    """

    def __init__(
        self, model: nn.Module, labels: Sequence[str], train_blocks: int | Literal["all"] = 0
    ):
        super().__init__()
        if len(labels) < 2 or len(set(labels)) != len(labels):
            raise FinetuneError(f"A classifier needs two or more different labels, not {labels}.")
        n_blocks = len(model.blocks)
        if train_blocks != "all" and not (isinstance(train_blocks, int) and train_blocks >= 0):
            raise FinetuneError(
                f"train_blocks must be 0 to {n_blocks} or 'all', not {train_blocks!r}."
            )
        if train_blocks != "all" and train_blocks > n_blocks:
            raise FinetuneError(f"The model has only {n_blocks} blocks, not {train_blocks}.")
        self.labels = list(labels)
        self.model = copy.deepcopy(model)
        self.model.lm_head = linear_head(self.model.lm_head.in_features, len(labels))
        self.model.requires_grad_(train_blocks == "all")
        self.model.lm_head.requires_grad_(True)
        if train_blocks != "all" and train_blocks > 0:
            self.model.final_norm.requires_grad_(True)
            for block in self.model.blocks[n_blocks - train_blocks :]:
                block.requires_grad_(True)

    def forward(self, ids: Sequence[Sequence[int]]) -> Tensor:
        """Class scores (B, n_labels) for a batch of token-id lists."""
        batch, lengths = _pad(ids)
        scores, _ = self.model(batch)  # (B, T, n_labels): a score at every position
        return _last(scores, lengths)

    def trainable(self) -> int:
        """How many of the numbers change in training."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)


@contextlib.contextmanager
def headless(model: nn.Module) -> Iterator[nn.Module]:
    """The model without its head, for a while: it returns the vectors of the last block.

    The head is put back afterwards, also after an error.
    """
    head = model.lm_head
    model.lm_head = nn.Identity()
    try:
        yield model
    finally:
        model.lm_head = head


@torch.no_grad()
def features(model: nn.Module, ids: Sequence[Sequence[int]], batch_size: int = 16) -> Tensor:
    """The vector of each text's last token after the final norm: (N, n_embd), model frozen."""
    rows = []
    with headless(model):
        for start in range(0, len(ids), batch_size):
            batch, lengths = _pad(ids[start : start + batch_size])
            vectors, _ = model(batch)
            rows.append(_last(vectors, lengths))
    return torch.cat(rows)


# --- Training and evaluation --------------------------------------------------------------


@dataclass
class TrainConfig:
    """How a classifier learns: passes over the data, examples per step, step size, seed."""

    epochs: int = 4
    batch_size: int = 16
    learning_rate: float = 1e-3
    seed: int = 0


def _take(inputs: Sequence | Tensor, indices: list[int]) -> Sequence | Tensor:
    return inputs[indices] if isinstance(inputs, Tensor) else [inputs[i] for i in indices]


def train(
    module: nn.Module, inputs: Sequence | Tensor, labels: Sequence[int], config: TrainConfig
) -> list[float]:
    """Train the trainable parameters of ``module`` on (input, label) pairs; the mean loss
    of each epoch.

    ``inputs`` are what ``module`` takes: token-id lists for a ``Classifier``, a tensor of
    vectors for a ``linear_head``. Seeded: the same seed shuffles the same way.
    """
    if len(inputs) != len(labels) or not labels:
        raise FinetuneError(f"{len(inputs)} inputs and {len(labels)} labels: give one label each.")
    params = [p for p in module.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=0.0)
    target = torch.tensor(labels)
    losses = []
    with torch.random.fork_rng():  # the seed rules here only (dropout, if the model has it)
        torch.manual_seed(config.seed)
        rng = random.Random(config.seed)
        module.train()
        for _ in range(config.epochs):
            order = list(range(len(labels)))
            rng.shuffle(order)
            total = 0.0
            for start in range(0, len(order), config.batch_size):
                batch = order[start : start + config.batch_size]
                loss = F.cross_entropy(module(_take(inputs, batch)), target[batch])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += loss.item() * len(batch)
            losses.append(total / len(order))
        module.eval()
    return losses


@torch.no_grad()
def predict(module: nn.Module, inputs: Sequence | Tensor, batch_size: int = 64) -> list[int]:
    """The class with the highest score for each input."""
    module.eval()
    guesses = []
    for start in range(0, len(inputs), batch_size):
        batch = list(range(start, min(start + batch_size, len(inputs))))
        guesses += module(_take(inputs, batch)).argmax(dim=-1).tolist()
    return guesses


@dataclass
class Evaluation:
    """How well the guesses match: accuracy, confusion matrix, and the examples missed."""

    labels: list[str]
    accuracy: float  # the share of right guesses
    confusion: list[list[int]]  # [right class][guessed class]: how often
    wrong: list[tuple[Example, str]]  # each missed example with the wrong guess


def evaluate(
    examples: Sequence[Example], guesses: Sequence[int], labels: Sequence[str]
) -> Evaluation:
    """Compare the guesses (positions in ``labels``) with the examples' labels."""
    truth = targets(examples, labels)
    if len(truth) != len(guesses) or not truth:
        raise FinetuneError(f"{len(guesses)} guesses for {len(truth)} examples: give one each.")
    confusion = [[0] * len(labels) for _ in labels]
    for right, guess in zip(truth, guesses, strict=True):
        confusion[right][guess] += 1
    wrong = [(e, labels[g]) for e, r, g in zip(examples, truth, guesses, strict=True) if r != g]
    return Evaluation(list(labels), 1 - len(wrong) / len(truth), confusion, wrong)


# --- Baselines ---------------------------------------------------------------------------


def majority_baseline(
    train: Sequence[Example], test: Sequence[Example], labels: Sequence[str]
) -> list[int]:
    """Always guess the class that is most frequent in training (ties: the first label)."""
    counts = Counter(targets(train, labels))
    most = max(range(len(labels)), key=lambda i: (counts[i], -i))
    return [most] * len(test)


def bag_of_words(
    train: Sequence[Example], test: Sequence[Example], labels: Sequence[str]
) -> list[int]:
    """Naive Bayes on word counts: how often each word occurs in each class, nothing else.

    Word order is thrown away ("a bag of words"). This is how the first spam filters worked,
    and it is a strong baseline for any text classification.
    """
    vectorizer = CountVectorizer()
    counts = vectorizer.fit_transform([example.text for example in train])
    model = MultinomialNB().fit(counts, targets(train, labels))
    return model.predict(vectorizer.transform([example.text for example in test])).tolist()
