"""The word navigator in pure Python: cosine, neighbours, analogies, the map, bad input."""

import hashlib
import json
import math
import sys

import pytest

from lessons import navigator
from lessons.navigator import Navigator, NavigatorError

# Hand-made vectors: (royal, male, female, furniture, person). The first four, all of the same
# length, make an exact parallelogram: könig - mann + frau = königin.
WORDS = ["könig", "königin", "mann", "frau", "tisch", "stuhl"]
VECTORS = [
    [1.0, 1.0, 0.0, 0.0, 0.0],
    [1.0, 0.0, 1.0, 0.0, 0.0],
    [0.0, 1.0, 0.0, 0.0, 1.0],
    [0.0, 0.0, 1.0, 0.0, 1.0],
    [0.0, 0.0, 0.0, 1.0, 0.0],
    [0.1, 0.0, 0.0, 1.0, 0.0],
]


@pytest.fixture
def nav() -> Navigator:
    return Navigator(WORDS, VECTORS)


def test_normalise_lowers_strips_and_straightens_apostrophes():
    assert navigator.normalise("  Straße’s \n") == "straße's"
    assert navigator.normalise("DON'T") == "don't"


def test_cosine_of_simple_vectors():
    assert navigator.cosine([1, 0], [0, 1]) == 0
    assert navigator.cosine([1, 2], [2, 4]) == pytest.approx(1)  # the length does not count
    assert navigator.cosine([1, 2], [-1, -2]) == pytest.approx(-1)
    assert navigator.cosine([1, 0], [1, 1]) == pytest.approx(1 / math.sqrt(2))
    assert navigator.dot([1, 2, 3], [4, 5, 6]) == 32
    assert navigator.unit([3, 4]) == [0.6, 0.8]


def test_neighbours_are_ranked_and_leave_out_the_word_itself(nav):
    found = nav.neighbours("tisch", k=3)
    assert [word for word, _ in found] == ["stuhl", "könig", "königin"]
    assert found[0][1] == pytest.approx(1 / math.sqrt(1.01))
    assert found[1][1] == found[2][1] == 0  # a tie: the more frequent word (first) first
    assert nav.similarity("König", "mann") == pytest.approx(0.5)


def test_analogy_finds_the_fourth_corner(nav):
    found = nav.analogy("könig", "mann", "frau", k=2)
    assert found[0][0] == "königin"
    assert found[0][1] == pytest.approx(1.0)
    assert all(word not in {"könig", "mann", "frau"} for word, _ in found)


def test_unknown_word_suggests_close_spellings(nav):
    with pytest.raises(NavigatorError) as caught:
        nav.neighbours("Konig")
    error = caught.value
    assert error.code == "unknown" and error.details["suggestions"][0] == "könig"
    assert error.details["part"] == "word"
    assert error.message("de").startswith("„Konig“ ist keines der 6 Wörter")
    assert str(error).startswith("“Konig” is not among the 6 words")


def test_unknown_word_without_a_close_spelling(nav):
    with pytest.raises(NavigatorError) as caught:
        nav.analogy("könig", "xyzzy", "frau")
    assert caught.value.code == "unknown_none" and caught.value.details["part"] == "b"
    assert "häufigeren Wort" in caught.value.message("de")


@pytest.mark.parametrize(
    ("typed", "code"), [("", "empty"), ("   ", "empty"), ("zwei wörter", "several")]
)
def test_empty_input_and_several_words_are_explained(nav, typed, code):
    with pytest.raises(NavigatorError) as caught:
        nav.neighbours(typed)
    assert caught.value.code == code
    assert caught.value.message("de") != caught.value.message("en")


def test_numbers_in_messages_are_written_the_language_s_way():
    error = NavigatorError("unknown_none", value="x", count=4000)
    assert "4.000" in error.message("de") and "4,000" in error.message("en")


def test_explain_reads_the_last_python_error(nav, monkeypatch):
    try:
        nav.neighbours("stuhll")
    except NavigatorError as error:
        monkeypatch.setattr(sys, "last_exc", error, raising=False)
    explained = json.loads(navigator.explain("en"))
    assert explained["code"] == "unknown" and explained["part"] == "word"
    assert explained["suggestions"] == ["stuhl"]
    monkeypatch.setattr(sys, "last_exc", KeyError("not the reader's"), raising=False)
    assert navigator.explain("en") is None


def test_from_json_checks_the_checksum():
    text = json.dumps({"words": WORDS, "vectors": VECTORS})
    good = hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert Navigator.from_json(text, good).words == WORDS
    assert Navigator.from_json(text.encode("utf-8")).words == WORDS
    with pytest.raises(NavigatorError) as caught:
        Navigator.from_json(text, "0" * 64)
    assert caught.value.code == "damaged"


def test_pca_of_points_on_a_line_and_of_a_rectangle():
    line = navigator.pca_2d([[0.0, 0.0, 0.0], [1.0, 1.0, 0.0], [3.0, 3.0, 0.0]])
    xs, ys = zip(*line, strict=True)
    assert xs == pytest.approx([-4 / 3 * math.sqrt(2), -1 / 3 * math.sqrt(2), 5 / 3 * math.sqrt(2)])
    assert ys == pytest.approx([0, 0, 0])  # nothing is left for a second direction
    rectangle = navigator.pca_2d([[0, 0], [4, 0], [0, 1], [4, 1]])
    # the long side first; on a tie the first of the farthest vectors lies on the positive side
    flat = [number for place in rectangle for number in place]
    assert flat == pytest.approx([2, 0.5, -2, 0.5, 2, -0.5, -2, -0.5])


def test_pca_axes_point_to_the_farthest_vector():
    places = navigator.pca_2d([[0.0, 0.0], [-5.0, 0.0], [1.0, 0.5], [1.0, -0.4]])
    farthest = max(places, key=lambda place: abs(place[0]))
    assert farthest[0] > 0  # (-5, 0) lies farthest from the mean: it is on the positive side


def test_answers_as_json_for_the_widget(nav):
    answer = json.loads(nav.neighbours_json("Tisch", k=2))
    assert answer["given"] == ["tisch"] and answer["links"] == []
    assert [word for word, _ in answer["results"]] == ["stuhl", "könig"]
    assert [word for word, _, _ in answer["map"]] == ["tisch", "stuhl", "könig"]
    analogy = json.loads(nav.analogy_json("könig", "mann", "frau", k=1))
    assert analogy["results"] == [["königin", 1.0]]
    assert analogy["links"] == [["mann", "könig"], ["frau", "königin"]]
    assert len(analogy["map"]) == 4
