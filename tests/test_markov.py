"""Markov chains: exact counts on small texts, seeded generation, the copy measure, bad input."""

import pytest

from lessons import markov
from lessons.markov import LETTERS, WORDS, MarkovError, UnseenContext


def test_letter_counts_of_abracadabra():
    chain = markov.train("abracadabra", LETTERS, order=1)
    assert chain.counts == {
        "a": {"b": 2, "c": 1, "d": 1},
        "b": {"r": 2},
        "r": {"a": 2},
        "c": {"a": 1},
        "d": {"a": 1},
    }
    assert chain.distribution("a") == [("b", 0.5), ("c", 0.25), ("d", 0.25)]
    # only the end of the context counts
    assert chain.distribution("xyzr") == [("a", 1.0)]


def test_order_zero_counts_letter_frequencies():
    chain = markov.train("abracadabra", LETTERS, order=0)
    assert chain.counts == {"": {"a": 5, "b": 2, "r": 2, "c": 1, "d": 1}}
    tokens, probabilities = zip(*chain.distribution(""), strict=True)
    assert tokens == ("a", "b", "r", "c", "d")  # most likely first, ties in alphabetical order
    assert probabilities == pytest.approx([5 / 11, 2 / 11, 2 / 11, 1 / 11, 1 / 11])


def test_higher_order_letter_context():
    chain = markov.train("abracadabra", LETTERS, order=3)
    assert chain.distribution("abr") == [("a", 1.0)]
    assert chain.counts["bra"] == {"c": 1}  # "bra" at the very end is followed by nothing
    assert set(chain.counts) == {"abr", "bra", "rac", "aca", "cad", "ada", "dab"}


def test_word_counts():
    text = "the cat sat. the cat ran. the dog sat."
    chain = markov.train(text, WORDS, order=2)
    assert chain.counts[("the", "cat")] == {"sat": 1, "ran": 1}
    assert chain.distribution("so the cat") == [("ran", 0.5), ("sat", 0.5)]
    assert chain.distribution("the dog") == [("sat", 1.0)]
    unigram = markov.train(text, WORDS, order=0)
    assert unigram.counts[()]["the"] == 3
    assert unigram.counts[()]["."] == 3


def test_tokenize_and_detokenize_words():
    text = "»Was ist mit mir geschehen?« dachte er. Don't stop, Schwarz-Weiß!"
    tokens = markov.tokenize(text, WORDS)
    assert tokens == (
        "»", "Was", "ist", "mit", "mir", "geschehen", "?", "«", "dachte", "er", ".",
        "Don't", "stop", ",", "Schwarz-Weiß", "!",
    )  # fmt: skip
    assert markov.detokenize(tokens, WORDS) == text
    assert markov.tokenize("Grüße", LETTERS) == "Grüße"


def test_same_seed_same_text_and_seed_matters():
    text = "the quick brown fox jumps over the lazy dog and the quick cat naps " * 3
    chain = markov.train(text, LETTERS, order=2)
    first = chain.generate(200, seed=42)
    assert first == chain.generate(200, seed=42)
    assert first != chain.generate(200, seed=43)
    words = markov.train(text, WORDS, order=1)
    assert words.generate(30, seed=1) == words.generate(30, seed=1)


def test_generate_golden_output():
    """A fixed seed gives this exact text, on every machine and in the browser."""
    chain = markov.train("abracadabra", LETTERS, order=1)
    assert chain.generate(12, seed=0, start="a") == "adabrabrabrac"
    assert chain.generate(0, seed=5, start="ab") == "ab"


def test_generation_only_uses_seen_transitions():
    text = "ein kleiner Text, der klein bleibt."
    chain = markov.train(text, LETTERS, order=2)
    generated = chain.generate(300, seed=3)
    seen = {text[i : i + 3] for i in range(len(text) - 2)}
    # a dead end (the last context) restarts from a random context, so allow jumps there
    steps = list(chain.steps(300, seed=3))
    for step in steps:
        if not step.restarted:
            assert step.context + step.token in seen
    assert len(generated) == 2 + 300


def test_steps_show_distribution_and_choice():
    chain = markov.train("abracadabra", LETTERS, order=1)
    steps = list(chain.steps(4, seed=0, start="a"))
    assert [step.token for step in steps] == list("dabr")
    assert steps[0].context == "a"
    assert steps[0].choices == [("b", 0.5), ("c", 0.25), ("d", 0.25)]
    assert sum(p for _, p in steps[2].choices) == pytest.approx(1.0)


def test_dead_end_restarts():
    chain = markov.train("abcd", LETTERS, order=3)  # only "abc" -> "d"; "bcd" is a dead end
    steps = list(chain.steps(3, seed=0, start="abc"))
    assert [s.token for s in steps] == ["d", "d", "d"]
    assert [s.restarted for s in steps] == [False, True, True]


@pytest.mark.parametrize(
    ("level", "order"), [(LETTERS, -1), (LETTERS, 11), (WORDS, 5), (LETTERS, 2.5), (WORDS, True)]
)
def test_order_out_of_range(level, order):
    with pytest.raises(MarkovError, match="order"):
        markov.train("some text that is long enough", level, order)


def test_text_too_short_for_order():
    with pytest.raises(MarkovError, match="needs at least 5"):
        markov.train("abcd", LETTERS, order=4)
    with pytest.raises(MarkovError, match="has 0 words"):
        markov.train("  ", WORDS, order=1)
    with pytest.raises(MarkovError, match="has 0 letters"):
        markov.train("", LETTERS, order=0)


def test_unknown_level():
    with pytest.raises(MarkovError, match="'letters' or 'words'"):
        markov.train("abc", "sentences", 1)


def test_unseen_and_too_short_context():
    chain = markov.train("abracadabra", LETTERS, order=2)
    with pytest.raises(UnseenContext, match="'zz' never occurs"):
        chain.distribution("zz")
    with pytest.raises(UnseenContext):
        chain.generate(10, seed=0, start="xyz")
    with pytest.raises(MarkovError, match="needs a context of 2 letters"):
        chain.distribution("a")
    with pytest.raises(MarkovError, match="length"):
        chain.generate(-1)


def test_overlap_of_a_copy_and_of_new_text():
    source = "the cat sat on the mat"
    copy = markov.overlap("cat sat on", source, n=3)
    assert copy.longest_run == len("cat sat on")
    assert copy.ngram_share == 1.0
    new = markov.overlap("xyzxyz", source, n=3)
    assert new.longest_run == 0
    assert new.ngram_share == 0.0


def test_overlap_constructed_case():
    # "at sa" is the longest stretch of "bat sails" found in the source
    result = markov.overlap("bat sails", "the cat sat on the mat", n=4)
    assert (result.longest_run, result.longest_text) == (5, "at sa")
    # 4-grams: "bat ", "at s", "t sa", " sai", "sail", "ails": two of six occur
    assert result.ngram_share == pytest.approx(2 / 6)


def test_overlap_words_counts_whole_words():
    source = "the cat sat on the mat"
    result = markov.overlap("a cat sat on a mat", source, n=2, level=WORDS)
    assert result.longest_run == 3  # "cat sat on"
    assert result.longest_text == "cat sat on"
    # word pairs: a cat, cat sat, sat on, on a, a mat -> two seen
    assert result.ngram_share == pytest.approx(2 / 5)
    # "at" is inside "cat" but not a word of the source
    assert markov.overlap("at", source, n=1, level=WORDS).longest_run == 0


def test_high_orders_copy_more():
    source = (
        "It was the best of times, it was the worst of times, it was the age of wisdom, "
        "it was the age of foolishness, it was the epoch of belief, it was the epoch of "
        "incredulity, it was the season of Light, it was the season of Darkness."
    )
    shares = []
    for order in (1, 4, 8):
        generated = markov.train(source, LETTERS, order).generate(300, seed=1)
        shares.append(markov.overlap(generated, source, n=10).ngram_share)
    assert shares[0] < shares[1] < shares[2]
    assert shares[2] > 0.9


def test_errors_carry_a_code_and_details_for_translation():
    with pytest.raises(MarkovError) as caught:
        markov.train("abcd", LETTERS, order=4)
    assert caught.value.code == "too_short"
    assert caught.value.details == {"level": LETTERS, "order": 4, "have": 4, "needed": 5}
    with pytest.raises(UnseenContext) as caught:
        markov.train("abracadabra", LETTERS, 2).distribution("zz")
    assert (caught.value.code, caught.value.details) == ("unseen", {"context": "zz"})


def test_double_hyphen_is_one_token():
    assert markov.tokenize("so--nicht", WORDS) == ("so", "--", "nicht")
