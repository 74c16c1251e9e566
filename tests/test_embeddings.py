"""word2vec in PyTorch: words and pairs, the model and its training, what the vectors say, the
export for the browser (the same answers as lessons.navigator), and the lesson's figures."""

import hashlib
import json
import math

import matplotlib.pyplot as plt
import pytest
import torch

from lessons import embeddings, navigator, plots
from lessons.embeddings import SentenceSet, Vocabulary, Word2VecConfig, WordVectors


def test_words_are_lower_case_letters_with_inner_apostrophes_and_hyphens():
    sentence = "»Gregor’s Schwarz-Weiß-Bild«, sagte er 1912 – don't!"
    assert embeddings.words(sentence) == [
        "gregor's", "schwarz-weiß-bild", "sagte", "er", "don't"
    ]  # fmt: skip


def test_split_sentences_at_line_breaks_and_sentence_ends():
    text = "Er kam. »Wer da?« rief sie! Dann\nnichts mehr? Nein.\n\nEnde"
    assert embeddings.split_sentences(text) == [
        "Er kam.", "»Wer da?«", "rief sie!", "Dann", "nichts mehr?", "Nein.", "Ende"
    ]  # fmt: skip


def test_sentence_set_takes_whole_texts_and_every_nth_paragraph(monkeypatch):
    chosen = SentenceSet(whole=("wharton-the-verdict",), sampled="kafka-die-verwandlung", every=3)
    monkeypatch.setitem(embeddings.SENTENCE_SETS, "test", chosen)
    sentences = embeddings.sentence_set("test")
    assert sentences[0].startswith("I HAD always thought Jack Gisburn")
    kafka = [line for line in embeddings.corpora.load("kafka-die-verwandlung").split("\n") if line]
    assert kafka[0] == "I." and kafka[0] not in sentences  # taken, but only one word
    assert kafka[1][:30] not in " ".join(sentences)  # "Als Gregor Samsa ...": left out
    assert kafka[3][:30] in " ".join(sentences)  # every third paragraph is taken
    assert all(len(embeddings.words(sentence)) >= 2 for sentence in sentences)
    assert embeddings.sentence_set("test") is sentences  # made once per process


def test_vocabulary_keeps_frequent_words_most_frequent_first():
    sentences = [["b", "a", "c"], ["a", "b", "d"], ["a"]]
    vocab = embeddings.vocabulary(sentences, min_count=2)
    assert vocab == Vocabulary(["a", "b"], [3, 2])
    assert embeddings.vocabulary(sentences, min_count=1).words == ["a", "b", "c", "d"]


def test_encode_drops_words_without_a_vector():
    vocab = Vocabulary(["a", "b"], [3, 2])
    ids, sentence_of = embeddings.encode([["a", "x", "b"], ["y"], ["b", "a"]], vocab)
    assert ids.tolist() == [0, 1, 1, 0]
    assert sentence_of.tolist() == [0, 0, 2, 2]


def test_skipgram_pairs_stay_inside_sentences():
    ids = torch.tensor([10, 11, 12, 20, 21])
    sentence_of = torch.tensor([0, 0, 0, 1, 1])
    pairs = embeddings.skipgram_pairs(ids, sentence_of, window=2).tolist()
    assert pairs == [
        [10, 11], [11, 12], [20, 21],  # distance 1, to the right
        [11, 10], [12, 11], [21, 20],  # distance 1, to the left
        [10, 12], [12, 10],  # distance 2
    ]  # fmt: skip
    assert embeddings.skipgram_pairs(ids[:1], sentence_of[:1], window=3).shape == (0, 2)


def test_keep_probabilities_drop_frequent_words():
    counts = torch.tensor([9000.0, 900.0, 90.0, 10.0])
    keep = embeddings.keep_probabilities(counts, threshold=0.01)
    share = counts / counts.sum()
    expected = ((0.01 / share).sqrt() + 0.01 / share).clamp(max=1)
    assert torch.allclose(keep, expected)
    assert keep[0] < keep[1] < keep[2] == keep[3] == 1


def test_noise_distribution_favours_rare_words():
    counts = torch.tensor([1000.0, 100.0, 10.0])
    noise = embeddings.noise_distribution(counts)
    assert noise.sum().item() == pytest.approx(1)
    assert noise[0] / noise[1] == pytest.approx(10**0.75)
    assert noise[2] > counts[2] / counts.sum()  # drawn more often than its share


def test_skipgram_loss_at_the_start_and_for_a_clear_case():
    model = embeddings.SkipGram(4, 3, torch.Generator().manual_seed(0))
    centres, contexts = torch.tensor([0, 1]), torch.tensor([1, 2])
    negatives = torch.tensor([[3, 3, 3], [3, 3, 3]])
    loss = model(centres, contexts, negatives)
    assert loss.shape == (2,)
    assert torch.allclose(loss, torch.full((2,), 4 * math.log(2)))  # all scores 0: 50 % each
    with torch.no_grad():
        model.centre.weight.copy_(torch.tensor([[5.0, 0, 0], [0, 5, 0], [0, 0, 5], [0, 0, 0]]))
        model.context.weight.copy_(torch.tensor([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [-1, -1, 0]]))
    assert model(centres, contexts, negatives).max() < 0.1  # real pairs high, made-up ones low


# A tiny language: animals eat and drink, vehicles need and burn; both only with their own words.
TINY = [
    f"the {thing} {verb} {stuff}"
    for _ in range(30)
    for things, verbs, stuffs in [
        (["cat", "dog"], ["eats", "drinks"], ["milk", "meat"]),
        (["car", "truck"], ["needs", "burns"], ["fuel", "oil"]),
    ]
    for thing in things
    for verb in verbs
    for stuff in stuffs
]
TINY_CONFIG = Word2VecConfig(
    dim=8, window=2, min_count=1, subsample=1.0, epochs=30, batch_size=64, lr=0.05
)


@pytest.fixture(scope="module")
def tiny() -> embeddings.Trained:
    return embeddings.train(TINY, TINY_CONFIG)


def test_training_lowers_the_loss_and_brings_companions_together(tiny):
    assert tiny.losses[-1] < 0.85 * tiny.losses[0] < 0.85 * 6 * math.log(2)
    assert len(tiny.losses) == 20 and tiny.sentences == len(TINY) and tiny.words == 4 * len(TINY)
    assert tiny.vectors.words[0] == "the" and tiny.vectors.counts[0] == len(TINY)
    assert tiny.vectors.similarity("cat", "dog") > tiny.vectors.similarity("cat", "truck") + 0.3
    assert tiny.vectors.neighbours("fuel", 1)[0][0] == "oil"


def test_same_seed_same_vectors_other_seed_other_vectors(tiny):
    config = TINY_CONFIG
    again = embeddings.train(TINY, config)
    assert torch.equal(again.vectors.vectors, tiny.vectors.vectors)
    assert again.losses == tiny.losses
    other = embeddings.train(TINY, Word2VecConfig(**{**config.__dict__, "seed": 1}))
    assert not torch.equal(other.vectors.vectors, tiny.vectors.vectors)


def test_sentences_without_pairs_train_nothing():
    trained = embeddings.train(["Hallo.", "Ja!"], Word2VecConfig(dim=4, min_count=1))
    assert trained.pairs == 0 and trained.losses == []
    assert trained.vectors.vectors.shape == (2, 4)


def test_training_gives_back_the_thread_count(tiny):
    threads = torch.get_num_threads()
    embeddings.train(TINY[:8], Word2VecConfig(dim=4, min_count=1, subsample=1.0, epochs=1))
    assert torch.get_num_threads() == threads


# --- What the vectors say, in PyTorch and in pure Python ---------------------------------------


def random_vectors(words: int = 300, dim: int = 16, seed: int = 0) -> WordVectors:
    generator = torch.Generator().manual_seed(seed)
    names = [f"w{i}" for i in range(words)]
    return WordVectors(
        names, list(range(words, 0, -1)), torch.randn(words, dim, generator=generator)
    )


def test_word_vectors_neighbours_and_analogy_on_hand_made_vectors():
    vectors = WordVectors(
        ["könig", "königin", "mann", "frau", "tisch"],
        [5, 4, 3, 2, 1],
        torch.tensor(
            [[1.0, 1, 0, 0], [1, 0, 1, 0], [0, 1, 0, 1], [0, 0, 1, 1], [0, 0, 0, 3]]
        ),  # fmt: skip
    )
    assert vectors.analogy("König", "mann", "frau", k=1)[0][0] == "königin"
    assert [word for word, _ in vectors.neighbours("tisch", 2)] == ["mann", "frau"]
    assert vectors.similarity("tisch", "mann") == pytest.approx(1 / math.sqrt(2))
    assert vectors.most_frequent(2).words == ["könig", "königin"]
    with pytest.raises(navigator.NavigatorError) as caught:
        vectors.neighbours("konig")
    assert caught.value.details["suggestions"][0] == "könig"


def test_export_rounds_unit_vectors_to_four_decimals():
    vectors = random_vectors(words=5, dim=3)
    exported = json.loads(vectors.to_json())
    assert exported["words"] == vectors.words
    for row, unit in zip(exported["vectors"], vectors.units.tolist(), strict=True):
        assert row == [round(x, 4) for x in unit]
        assert math.sqrt(sum(x * x for x in row)) == pytest.approx(1, abs=1e-3)


def test_navigator_gives_the_same_answers_as_pytorch_on_the_exported_vectors():
    vectors = random_vectors()
    nav = navigator.Navigator.from_json(vectors.to_json())
    same = WordVectors(nav.words, vectors.counts, torch.tensor(nav.vectors, dtype=torch.float64))
    for word in ["w0", "w7", "w150", "w299"]:
        in_python, in_torch = nav.neighbours(word), same.neighbours(word)
        assert [w for w, _ in in_python] == [w for w, _ in in_torch]
        assert [s for _, s in in_python] == pytest.approx([s for _, s in in_torch], abs=1e-12)
    for a, b, c in [("w1", "w2", "w3"), ("w10", "w200", "w42")]:
        in_python, in_torch = nav.analogy(a, b, c), same.analogy(a, b, c)
        assert [w for w, _ in in_python] == [w for w, _ in in_torch]
        assert [s for _, s in in_python] == pytest.approx([s for _, s in in_torch], abs=1e-12)
    # and close to the unrounded vectors the page computes with
    original = vectors.neighbours("w7")
    assert [s for _, s in nav.neighbours("w7")] == pytest.approx([s for _, s in original], abs=1e-3)


def test_pca_in_pure_python_equals_pytorch():
    generator = torch.Generator().manual_seed(3)
    rows = torch.randn(12, 6, generator=generator, dtype=torch.float64)
    rows[:, 0] *= 4  # clearly separate directions, so that each is well defined
    rows[:, 1] *= 2
    in_torch = embeddings.pca_2d(rows)
    in_python = torch.tensor(navigator.pca_2d(rows.tolist()), dtype=torch.float64)
    assert torch.allclose(in_python, in_torch, atol=1e-9)
    farthest = in_torch.abs().argmax(dim=0)
    assert (in_torch[farthest, torch.arange(2)] > 0).all()


def test_pair_quality_against_random_pairs():
    vectors = WordVectors(
        ["a", "b", "c", "d"],
        [4, 3, 2, 1],
        torch.tensor([[1.0, 0.1], [1.0, 0.0], [-1.0, 0.05], [0.0, 1.0]]),
    )
    quality = embeddings.pair_quality(vectors, [("a", "b")], random_pairs=200, seed=0)
    assert quality.pairs[0][:2] == ("a", "b") and quality.pairs[0][2] > 0.99
    similarity = quality.pairs[0][2]
    assert len(quality.random) == 200 and max(quality.random) == pytest.approx(similarity)
    wins = sum(1 if r < similarity else 0.5 if r == similarity else 0 for r in quality.random)
    assert quality.auc == pytest.approx(wins / 200) and 0.8 < quality.auc < 1  # (a, b) ties
    assert quality.top10 == 1
    reversed_pair = embeddings.pair_quality(vectors, [("a", "c")], random_pairs=200, seed=0)
    assert reversed_pair.auc < 0.3


def test_word_pairs_are_single_lower_case_words():
    for lang in embeddings.LANGS:
        pairs = embeddings.word_pairs(lang)
        assert len(pairs) == 45 and len(set(pairs)) == 45
        for pair in pairs:
            assert len(pair) == 2 and all(embeddings.words(word) == [word] for word in pair)


def test_company_counts_the_words_near_a_word():
    sentences = ["Der Hund bellt laut.", "Ein Hund, ein Hund!", "Die Katze schläft."]
    near = embeddings.company(sentences, "hund", window=1)
    assert near == {"der": 1, "bellt": 1, "ein": 3}


def test_export_writes_vectors_and_sentences_with_checksums(tmp_path, monkeypatch, tiny):
    monkeypatch.setattr(embeddings, "course_vectors", lambda lang: tiny)
    monkeypatch.setattr(embeddings, "sentence_set", lambda lang: tuple(TINY[:3]))
    entry = embeddings.export("en", tmp_path)
    assert entry["words"] == embeddings.NAVIGATOR_WORDS
    for key, name in [("vectors", "vectors-en.json"), ("sentences", "sentences-en.txt")]:
        data = (tmp_path / name).read_bytes()
        assert entry["files"][key] == {
            "name": name,
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
    text = (tmp_path / "vectors-en.json").read_text(encoding="utf-8")
    nav = navigator.Navigator.from_json(text, entry["files"]["vectors"]["sha256"])
    assert nav.words == tiny.vectors.words  # fewer than NAVIGATOR_WORDS here: all of them
    assert (tmp_path / "sentences-en.txt").read_text(encoding="utf-8").splitlines() == TINY[:3]


# --- The lesson's figures (lessons.plots) ------------------------------------------------------


def test_word_map_labels_every_word_and_colours_the_groups():
    places = [("vater", 0.0, 1.0), ("mutter", 0.1, 1.0), ("zwei", 3.0, -1.0)]
    fig = plots.word_map(places, groups=["Familie", "Familie", "Zahlen"], title="Karte")
    ax = fig.axes[0]
    assert [text.get_text() for text in ax.texts] == ["vater", "mutter", "zwei"]
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["Familie", "Zahlen"]
    first, second = (text.get_window_extent() for text in ax.texts[:2])
    assert not first.overlaps(second)  # close points, but their labels do not cover each other
    assert ax.get_title(loc="left") == "Karte" and not ax.get_xticks().size
    plt.close(fig)


def test_histograms_show_shares_of_each_list():
    fig = plots.histograms({"few": [0.5, 0.6], "many": [0.0] * 90 + [1.0] * 10}, bins=4)
    ax = fig.axes[0]
    heights = [round(patch.get_height(), 6) for patch in ax.patches]
    assert heights == [0, 0, 1, 0, 0.9, 0, 0, 0.1]  # each list adds up to 100 %
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["few", "many"]
    plt.close(fig)


@pytest.mark.slow
def test_course_vectors_know_every_word_pair_and_stay_small():
    for lang in embeddings.LANGS:
        vectors = embeddings.course_vectors(lang).vectors.most_frequent(embeddings.NAVIGATOR_WORDS)
        assert all(word in vectors.index for pair in embeddings.word_pairs(lang) for word in pair)
        assert len(vectors.to_json().encode("utf-8")) < 2_000_000
