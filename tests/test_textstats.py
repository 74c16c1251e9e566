"""Text statistics: counts, Zipf slopes, smoothing and cross-entropy on texts small enough to
check by hand."""

import math

import pytest

from lessons import markov, textstats
from lessons.markov import LETTERS, WORDS


def test_word_counts_lowercase_and_skip_punctuation():
    counts = textstats.word_counts("Die Katze und die Maus. Die Maus, die Maus!")
    assert counts == [("die", 4), ("maus", 3), ("katze", 1), ("und", 1)]


def test_zipf_fit_finds_the_exponent_of_a_power_law():
    counts = [1000 / rank**1.5 for rank in range(1, 201)]
    fit = textstats.zipf_fit(counts)
    assert fit.slope == pytest.approx(-1.5)
    assert fit.intercept == pytest.approx(3.0)  # log10(1000): the count at rank 1


def test_zipf_fit_by_hand_and_only_the_top_ranks():
    # two points: (log10 1, log10 100) = (0, 2) and (log10 2, 1)
    assert textstats.zipf_fit([100, 10]).slope == pytest.approx(-1 / math.log10(2))
    # ranks beyond `top` do not count
    assert textstats.zipf_fit([100, 10, 10, 10], top=2).slope == pytest.approx(-1 / math.log10(2))
    with pytest.raises(ValueError, match="two different words"):
        textstats.zipf_fit([5])


def test_ngram_counts_of_abracadabra():
    # letter pairs: ab br ra ac ca ad da ab br ra -> 10 pairs, 7 different, 4 of them once
    count = textstats.ngram_counts(markov.train("abracadabra", LETTERS, order=1))
    assert count == textstats.NgramCount(n=2, total=10, distinct=7, once=4)
    assert count.once_share == pytest.approx(4 / 7)
    single = textstats.ngram_counts(markov.train("abracadabra", LETTERS, order=0))
    assert (single.n, single.total, single.distinct, single.once) == (1, 11, 5, 2)  # c, d


def test_ngram_counts_of_words():
    chain = markov.train("the cat sat . the cat ran .", WORDS, order=1)
    # the cat, cat sat, sat ., . the, the cat, cat ran, ran .
    assert textstats.ngram_counts(chain) == textstats.NgramCount(2, 7, 6, 5)


def test_unseen_share():
    chain = markov.train("abab", LETTERS, order=1)  # pairs ab, ba
    assert textstats.unseen_share(chain, "abba") == pytest.approx(1 / 3)  # ab, bb, ba
    assert textstats.unseen_share(chain, "xyz") == 1.0
    with pytest.raises(ValueError, match="needs at least 2"):
        textstats.unseen_share(chain, "a")


def test_add_k_probability_by_hand():
    chain = markov.train("abracadabra", LETTERS, order=1)  # after "a": b 2, c 1, d 1
    assert textstats.probability(chain, "a", "b", alphabet_size=5, k=1) == pytest.approx(3 / 9)
    assert textstats.probability(chain, "a", "r", alphabet_size=5, k=1) == pytest.approx(1 / 9)
    assert textstats.probability(chain, "z", "a", alphabet_size=5, k=1) == pytest.approx(1 / 5)
    total = sum(textstats.probability(chain, "a", t, 5, k=0.01) for t in "abcdr")
    assert total == pytest.approx(1.0)


def test_uniform_model_scores_log2_of_the_alphabet_size():
    chain = markov.train("abcd", LETTERS, order=0)  # every letter once: uniform
    assert textstats.cross_entropy(chain, "dcbaabcd", alphabet_size=4) == pytest.approx(2.0)
    # contexts never seen get the uniform distribution, too
    chain = markov.train("abcd", LETTERS, order=2)
    assert textstats.cross_entropy(chain, "dcba", alphabet_size=4) == pytest.approx(2.0)
    words = markov.train("eins zwei drei vier", WORDS, order=0)
    assert textstats.cross_entropy(words, "vier drei zwei eins", 4) == pytest.approx(2.0)


def test_cross_entropy_by_hand():
    chain = markov.train("aab", LETTERS, order=0)  # a 2, b 1; with k = 1: a 3/5, b 2/5
    expected = -(math.log2(3 / 5) + math.log2(2 / 5)) / 2
    assert textstats.cross_entropy(chain, "ab", alphabet_size=2, k=1) == pytest.approx(expected)


def test_higher_order_memorises_training_text():
    text = "the cat sat on the mat. the dog sat on the log. the cat ran to the dog. "
    unseen = "the dog ran on the mat. a cat sat to the log. "
    size = len(set(text + unseen))
    low, high = (markov.train(text, LETTERS, order) for order in (1, 6))
    assert textstats.cross_entropy(high, text, size) < textstats.cross_entropy(low, text, size)
    gap_low = textstats.cross_entropy(low, unseen, size) - textstats.cross_entropy(low, text, size)
    gap_high = textstats.cross_entropy(high, unseen, size) - textstats.cross_entropy(
        high, text, size
    )
    assert gap_high > gap_low > 0


def test_cross_entropy_rejects_bad_settings():
    chain = markov.train("abcd", LETTERS, order=1)
    with pytest.raises(ValueError, match="greater than 0"):
        textstats.cross_entropy(chain, "abcd", alphabet_size=4, k=0)
    with pytest.raises(ValueError, match="use 5 different tokens"):
        textstats.cross_entropy(chain, "abef", alphabet_size=4)  # b c d, e f
    with pytest.raises(ValueError, match="has 1 letters"):
        textstats.cross_entropy(chain, "a", alphabet_size=4)


def test_common_end_and_order_needed():
    first, second = "Der Brief, den ich schrieb,", "Die Briefe, die ich schrieb,"
    assert textstats.common_end(first, second) == "ich schrieb,"
    assert textstats.order_needed(first, second) == 4  # ich schrieb , plus den/die
    assert textstats.common_end(first, second, LETTERS) == " ich schrieb,"
    assert textstats.order_needed(first, second, LETTERS) == 14
    assert textstats.common_end("a cat", "a dog") == ""
    assert textstats.order_needed("a cat", "a dog") == 1


def test_order_needed_rejects_texts_that_end_alike():
    with pytest.raises(ValueError, match="no context tells them apart"):
        textstats.order_needed("ich schrieb", "dann ich schrieb")


def test_rank_frequency_chart():
    plots = pytest.importorskip("lessons.plots", reason="matplotlib is not installed")
    counts = [round(1000 / rank) for rank in range(1, 1001)]
    fit = textstats.zipf_fit(counts)
    fig = plots.rank_frequency_chart(
        {"A": counts, "B": counts[:50]}, fits={"A": fit}, fit_label="{name}: {slope:.1f}", points=40
    )
    ax = fig.axes[0]
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")
    dots_a, line_a, dots_b = ax.get_lines()
    assert len(dots_a.get_xdata()) <= 40 and dots_a.get_xdata()[0] == 1
    assert list(dots_a.get_ydata()[:2]) == [1000, 500]  # ranks 1 and 2
    assert list(line_a.get_xdata()) == [1, 1000]
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["A", "A: -1.0", "B"]
    assert max(dots_b.get_xdata()) == 50
