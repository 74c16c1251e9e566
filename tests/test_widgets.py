"""The widgets' texts: Markov errors in German, and the HTML of the nonsense texter."""

import re
import sys

import pytest

from lessons import markov, widgets
from lessons.widgets import NONSENSE_TEXTER, nonsense_texter


def test_every_markov_error_has_a_german_message():
    assert set(widgets.MARKOV_ERRORS_DE) == set(markov.MarkovError.MESSAGES)


def test_error_message_in_german_and_english():
    with pytest.raises(markov.MarkovError) as caught:
        markov.train("Zu kurz.", markov.LETTERS, order=10)
    german = widgets.error_message(caught.value, "de")
    assert german.startswith("Der Text hat 8 Zeichen; eine Markow-Kette der Ordnung 10")
    assert widgets.error_message(caught.value, "en") == str(caught.value)


def test_explain_reads_the_last_python_error(monkeypatch):
    error = markov.UnseenContext("xy")
    monkeypatch.setattr(sys, "last_exc", error, raising=False)
    assert widgets.explain("de").startswith("Der Kontext 'xy' kommt im Trainingstext nie vor")
    monkeypatch.setattr(sys, "last_exc", KeyError("not the reader's"), raising=False)
    assert widgets.explain("de") is None


def test_widget_html_has_the_same_structure_in_both_languages():
    def skeleton(html: str) -> list[str]:  # tags and data-part names, without the words
        return re.findall(r"<\w+|data-part=\"[\w-]+\"", html)

    assert skeleton(nonsense_texter("de")) == skeleton(nonsense_texter("en"))
    assert 'lang="de"' in nonsense_texter("de") and 'lang="en"' in nonsense_texter("en")
    assert NONSENSE_TEXTER["de"]["messages"].keys() == NONSENSE_TEXTER["en"]["messages"].keys()


def test_widget_html_labels_every_control():
    html = nonsense_texter("de")
    controls = re.findall(r"<(?:select|input|textarea)\b", html)
    assert len(controls) == 6
    assert html.count("<label") == len(controls)  # each control sits inside its label
    assert "<script" not in html


def test_widget_rejects_an_unknown_language():
    with pytest.raises(ValueError, match="'fr'"):
        nonsense_texter("fr")
