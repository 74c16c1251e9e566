"""Tests for lessons.finetune: data sets and splits, the classifier head, training, evaluation.

The models here are tiny GPTs made in the test, so everything runs in a few seconds; a test
at the end builds the German task from the real novels where a mirror of the corpora exists.
"""

from __future__ import annotations

import os
import random

import pytest
import torch

from lessons import finetune
from lessons.finetune import Classifier, Example, FinetuneError, TrainConfig
from lessons.gpt import GPT, GPTConfig

LABELS = ["no", "yes"]


def tiny_gpt(seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=12, context_length=8, n_layer=2, n_head=2, n_embd=16)).eval()


def toy_task(n: int, seed: int) -> tuple[list[list[int]], list[int]]:
    """Token-id texts of 3 to 8 tokens from 0..9; the label: does token 7 occur in it?"""
    rng = random.Random(seed)
    ids, labels = [], []
    for i in range(n):
        row = [rng.choice([0, 1, 2, 3, 4, 5, 6, 8, 9]) for _ in range(rng.randint(3, 8))]
        if i % 2:
            row[rng.randrange(len(row))] = 7
        ids.append(row)
        labels.append(i % 2)
    return ids, labels


def examples(counts: dict[str, int]) -> list[Example]:
    return [Example(f"{label} {i}", label) for label, n in counts.items() for i in range(n)]


# --- Data ---------------------------------------------------------------------------------


def test_labels_of_refuses_an_empty_data_set_and_a_single_class():
    with pytest.raises(FinetuneError, match="empty"):
        finetune.labels_of([])
    with pytest.raises(FinetuneError, match="at least two classes"):
        finetune.labels_of(examples({"spam": 3}))
    assert finetune.labels_of(examples({"spam": 1, "ham": 2})) == ["ham", "spam"]


def test_sample_draws_the_same_number_of_each_class_reproducibly():
    data = examples({"ham": 30, "spam": 10})
    chosen = finetune.sample(data, 8, seed=1)
    assert sorted(e.label for e in chosen) == ["ham"] * 8 + ["spam"] * 8
    assert chosen == finetune.sample(data, 8, seed=1)
    assert chosen != finetune.sample(data, 8, seed=2)
    with pytest.raises(FinetuneError, match="Only 10 examples have the label 'spam'"):
        finetune.sample(data, 11, seed=1)


def test_split_counts_per_label_and_keeps_the_parts_apart():
    data = examples({"ham": 20, "spam": 12})
    parts = finetune.split(data, validation=2, test=3, seed=1)
    assert parts.sizes() == {"train": 32 - 10, "validation": 4, "test": 6}
    assert sorted(e.label for e in parts.test) == ["ham"] * 3 + ["spam"] * 3
    texts = [{e.text for e in part} for part in (parts.train, parts.validation, parts.test)]
    assert set.union(*texts) == {e.text for e in data} and sum(map(len, texts)) == len(data)
    assert parts == finetune.split(data, validation=2, test=3, seed=1)
    assert parts.test != finetune.split(data, validation=2, test=3, seed=2).test


def test_split_refuses_a_class_too_small_for_the_parts():
    with pytest.raises(FinetuneError, match="'spam' has 5 examples"):
        finetune.split(examples({"ham": 20, "spam": 5}), validation=2, test=3, seed=1)


def test_passages_start_at_sentences_and_do_not_overlap():
    text = " ".join(f"Satz {i} hat fünf Wörter." for i in range(40))
    chosen = finetune.passages(text, "x", count=6, words=10, seed=1)
    assert len(chosen) == 6 and all(len(e.text.split()) == 10 for e in chosen)
    assert all(e.text.startswith("Satz ") and e.label == "x" for e in chosen)
    assert len({e.text for e in chosen}) == 6
    assert chosen == finetune.passages(text, "x", count=6, words=10, seed=1)
    with pytest.raises(FinetuneError, match="room for only"):
        finetune.passages(text, "x", count=25, words=10, seed=1)


def test_targets_name_the_labels_the_classifier_does_not_know():
    assert finetune.targets(examples({"yes": 1, "no": 1}), LABELS) == [1, 0]
    with pytest.raises(FinetuneError, match=r"\['maybe'\] are not among .* Build the classifier"):
        finetune.targets(examples({"maybe": 1}), LABELS)


def test_encode_cuts_to_the_context_and_refuses_empty_texts():
    class Letters:
        def encode_ordinary(self, text: str) -> list[int]:
            return [ord(c) for c in text]

    assert finetune.encode(Letters(), [Example("abcdef", "x")], 4) == [[97, 98, 99, 100]]
    with pytest.raises(FinetuneError, match="Example 1 has no text"):
        finetune.encode(Letters(), [Example("a", "x"), Example("", "x")], 4)


# --- The classifier -----------------------------------------------------------------------


def test_the_classifier_gives_one_score_per_class_at_the_last_token():
    classifier = Classifier(tiny_gpt(), ["a", "b", "c"])
    scores = classifier([[1, 2, 3], [4, 5]])
    assert scores.shape == (2, 3)
    assert classifier.trainable() == 16 * 3 + 3  # only the head: a weight per number and class
    torch.nn.init.normal_(classifier.model.lm_head.weight)
    alone = classifier([[4, 5]])
    padded = classifier([[1, 2, 3], [4, 5]])[1:]  # padded after its last token
    assert torch.allclose(alone, padded, atol=1e-6)


EMBEDDINGS = ("token_embedding.", "position_embedding.")


@pytest.mark.parametrize(
    ("train_blocks", "trained"),
    [
        (0, ("lm_head.",)),
        (1, ("lm_head.", "final_norm.", "blocks.1.")),
        (2, ("lm_head.", "final_norm.", "blocks.1.", "blocks.0.")),
        ("all", ("lm_head.", "final_norm.", "blocks.1.", "blocks.0.", *EMBEDDINGS)),
    ],
)
def test_train_blocks_chooses_what_learns(train_blocks, trained):
    classifier = Classifier(tiny_gpt(), LABELS, train_blocks=train_blocks)
    learning = [n for n, p in classifier.model.named_parameters() if p.requires_grad]
    assert all(name.startswith(trained) for name in learning)
    assert all(any(name.startswith(part) for name in learning) for part in trained)
    assert classifier.trainable() == sum(
        p.numel() for p in classifier.model.parameters() if p.requires_grad
    )


def test_the_classifier_leaves_the_language_model_as_it_was():
    gpt = tiny_gpt()
    before = {name: p.clone() for name, p in gpt.state_dict().items()}
    Classifier(gpt, LABELS, train_blocks="all")
    assert gpt.lm_head.weight is gpt.token_embedding.weight  # still tied, still a language model
    assert all(torch.equal(before[name], p) for name, p in gpt.state_dict().items())


@pytest.mark.parametrize(
    ("labels", "train_blocks", "message"),
    [
        (["yes"], 0, "two or more different labels"),
        (["a", "a"], 0, "two or more different labels"),
        (LABELS, 3, "only 2 blocks"),
        (LABELS, -1, "0 to 2 or 'all'"),
        (LABELS, "last", "0 to 2 or 'all'"),
    ],
)
def test_the_classifier_refuses_bad_settings(labels, train_blocks, message):
    with pytest.raises(FinetuneError, match=message):
        Classifier(tiny_gpt(), labels, train_blocks=train_blocks)


def test_headless_gives_vectors_and_always_puts_the_head_back():
    gpt = tiny_gpt()
    head = gpt.lm_head
    vectors = finetune.features(gpt, [[1, 2, 3], [4]], batch_size=1)
    assert vectors.shape == (2, 16) and gpt.lm_head is head
    with pytest.raises(RuntimeError), finetune.headless(gpt):
        raise RuntimeError("something went wrong")
    assert gpt.lm_head is head


# --- Training and evaluation --------------------------------------------------------------


def test_a_tiny_training_run_beats_the_majority_baseline_and_repeats_exactly():
    ids, labels = toy_task(120, seed=1)
    test_ids, test_labels = toy_task(60, seed=2)
    config = TrainConfig(epochs=15, batch_size=8, learning_rate=3e-3, seed=3)
    results = []
    for _ in range(2):
        classifier = Classifier(tiny_gpt(), LABELS, train_blocks="all")
        losses = finetune.train(classifier, ids, labels, config)
        guesses = finetune.predict(classifier, test_ids)
        results.append((losses, guesses))
    assert results[0] == results[1]
    losses, guesses = results[0]
    assert losses[-1] < losses[0] / 2
    accuracy = sum(g == y for g, y in zip(guesses, test_labels, strict=True)) / len(test_labels)
    assert accuracy > 0.8  # the majority baseline gets 0.5


def test_a_linear_head_learns_from_features():
    generator = torch.Generator().manual_seed(0)
    vectors = torch.randn(80, 5, generator=generator)
    labels = (vectors[:, 0] > 0).long().tolist()
    head = finetune.linear_head(5, 2)
    assert finetune.predict(head, vectors) == [0] * 80  # zeros at the start: no preference
    finetune.train(head, vectors, labels, TrainConfig(epochs=30, learning_rate=0.05))
    guesses = finetune.predict(head, vectors)
    assert sum(g == y for g, y in zip(guesses, labels, strict=True)) >= 76


def test_train_wants_one_label_per_input():
    with pytest.raises(FinetuneError, match="one label each"):
        finetune.train(finetune.linear_head(2, 2), torch.zeros(3, 2), [0, 1], TrainConfig())


def test_evaluate_counts_right_answers_and_lists_the_mistakes():
    data = [Example("a", "no"), Example("b", "yes"), Example("c", "yes"), Example("d", "no")]
    result = finetune.evaluate(data, [0, 1, 0, 1], LABELS)
    assert result.accuracy == 0.5
    assert result.confusion == [[1, 1], [1, 1]]
    assert result.wrong == [(data[2], "no"), (data[3], "yes")]
    with pytest.raises(FinetuneError, match="3 guesses for 4 examples"):
        finetune.evaluate(data, [0, 1, 0], LABELS)


def test_the_baselines():
    train = examples({"no": 3, "yes": 5})
    test = [Example("cheap pills", "yes"), Example("meeting at noon", "no")]
    assert finetune.majority_baseline(train, test, LABELS) == [1, 1]
    assert finetune.majority_baseline(examples({"no": 2, "yes": 2}), test, LABELS) == [0, 0]
    words = [
        Example("cheap pills now", "yes"),
        Example("cheap offer pills", "yes"),
        Example("meeting at noon", "no"),
        Example("the meeting notes", "no"),
    ]
    assert finetune.bag_of_words(words, test, LABELS) == [1, 0]


@pytest.mark.skipif(not os.environ.get("LESSONS_CORPUS_MIRROR"), reason="set LESSONS_CORPUS_MIRROR")
def test_the_german_task_tests_on_novels_it_does_not_train_on():
    parts = finetune.author_task(per_label=20, validation=4, test=10, words=12, seed=1)
    assert parts.sizes() == {"train": 32, "validation": 8, "test": 20}
    assert finetune.labels_of(parts.test) == sorted(finetune.AUTHORS)
    seen = {e.text for e in parts.train + parts.validation}
    assert not seen & {e.text for e in parts.test}
    assert all(len(e.text.split()) == 12 for e in parts.train + parts.test)
