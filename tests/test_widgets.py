"""The widgets' texts: Markov errors in German, and the HTML of the nonsense texter and the GPT
playground."""

import json
import re
import sys
from html import unescape

import pytest

from lessons import markov, playground, widgets
from lessons.widgets import GPT_PLAYGROUND, NONSENSE_TEXTER, gpt_playground, nonsense_texter


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


def test_playground_html_has_the_same_structure_in_both_languages():
    def skeleton(html: str) -> list[str]:
        return re.findall(r"<\w+|data-part=\"[\w-]+\"", html)

    assert skeleton(gpt_playground("de")) == skeleton(gpt_playground("en"))
    assert 'lang="de"' in gpt_playground("de") and 'lang="en"' in gpt_playground("en")
    assert GPT_PLAYGROUND["de"]["messages"].keys() == GPT_PLAYGROUND["en"]["messages"].keys()
    assert GPT_PLAYGROUND["de"].keys() == GPT_PLAYGROUND["en"].keys()


def test_playground_html_labels_every_control_and_says_the_limits():
    html = gpt_playground("en")
    controls = re.findall(r"<(?:input|textarea)\b", html)
    assert len(controls) == 6  # prompt, temperature, top-k, top-p, seed, length
    assert html.count("<label") == len(controls)
    assert f"at most {playground.MAX_PROMPT_CHARS} characters" in html
    assert f"up to {playground.MAX_LENGTH})" in html
    assert 'role="status" aria-live="polite"' in html and 'role="listbox"' in html
    assert "<script" not in html


def test_playground_messages_travel_escaped():
    html = gpt_playground("de")
    (messages,) = re.findall(r'data-messages="([^"]*)"', html)
    assert json.loads(unescape(messages)) == GPT_PLAYGROUND["de"]["messages"]


def test_playground_rejects_an_unknown_language():
    with pytest.raises(ValueError, match="'fr'"):
        gpt_playground("fr")


def test_digit_recognizer_html_in_both_languages():
    def skeleton(html: str) -> list[str]:
        return re.findall(r"<\w+|data-part=\"[\w-]+\"", html)

    german, english = widgets.digit_recognizer("de"), widgets.digit_recognizer("en")
    assert skeleton(german) == skeleton(english)
    assert 'lang="de"' in german and 'lang="en"' in english
    labels = widgets.DIGIT_RECOGNIZER
    assert labels["de"].keys() == labels["en"].keys()
    assert labels["de"]["messages"].keys() == labels["en"]["messages"].keys()
    (messages,) = re.findall(r'data-messages="([^"]*)"', german)
    assert json.loads(unescape(messages)) == labels["de"]["messages"]


def test_digit_recognizer_html_has_the_grids_and_a_labelled_pad():
    html = widgets.digit_recognizer("en")
    assert html.count('class="dr-cell"') == 64  # what the network sees: 8 x 8 pixels
    assert html.count('class="dr-choice"') == 10  # a probability for every digit
    assert 'role="application" aria-label="Drawing pad for a digit"' in html
    assert 'tabindex="0"' in html and 'data-part="clear"' in html
    assert 'role="status" aria-live="polite"' in html
    assert "<script" not in html
    with pytest.raises(ValueError, match="'fr'"):
        widgets.digit_recognizer("fr")


def test_word_navigator_html_in_both_languages():
    def skeleton(html: str) -> list[str]:
        return re.findall(r"<\w+|data-part=\"[\w-]+\"", html)

    german, english = widgets.word_navigator("de"), widgets.word_navigator("en")
    assert skeleton(german) == skeleton(english)
    assert 'lang="de"' in german and 'lang="en"' in english
    assert '<option value="de" selected>' in german and '<option value="en" selected>' in english
    labels = widgets.WORD_NAVIGATOR
    assert labels["de"].keys() == labels["en"].keys()
    assert labels["de"]["messages"].keys() == labels["en"]["messages"].keys()
    (messages,) = re.findall(r'data-messages="([^"]*)"', german)
    assert json.loads(unescape(messages)) == labels["de"]["messages"]
    (examples,) = re.findall(r'data-examples="([^"]*)"', english)
    assert json.loads(unescape(examples)) == labels["en"]["examples"]
    assert 'data-part="word" type="text"' in english and 'value="day"' in english


def test_word_navigator_html_labels_every_field():
    html = widgets.word_navigator("de")
    controls = re.findall(r"<(?:select|input)\b", html)
    assert len(controls) == 5  # the vectors' language, a word, and a, b, c of an analogy
    assert html.count("<label") == len(controls)
    assert 'role="status" aria-live="polite"' in html and "<script" not in html
    with pytest.raises(ValueError, match="'fr'"):
        widgets.word_navigator("fr")


def test_eliza_chat_html_in_both_languages():
    def skeleton(html: str) -> list[str]:
        return re.findall(r"<\w+|data-part=\"[\w-]+\"", html)

    german, english = widgets.eliza_chat("de"), widgets.eliza_chat("en")
    assert skeleton(german) == skeleton(english)
    assert 'lang="de"' in german and 'lang="en"' in english and 'data-seed="1"' in german
    labels = widgets.ELIZA_CHAT
    assert labels["de"].keys() == labels["en"].keys()
    assert labels["de"]["messages"].keys() == labels["en"]["messages"].keys()
    (messages,) = re.findall(r'data-messages="([^"]*)"', german)
    assert json.loads(unescape(messages)) == labels["de"]["messages"]
    assert german.count("<input") == german.count("<label") == 1
    assert f'maxlength="{widgets.eliza.MAX_INPUT}"' in german and "<script" not in german
    with pytest.raises(ValueError, match="'fr'"):
        widgets.eliza_chat("fr")
