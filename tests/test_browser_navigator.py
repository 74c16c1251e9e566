"""The word navigator of lesson 5, tested in a real browser (headless Chromium) on the built site.

The page loads Pyodide, the ``lessons`` wheel and the exported word vectors from the site
itself; these tests ask for neighbours and an analogy, check that an unknown word gets the
closest spellings, that typed markup stays text, that the map answers to the keyboard, and
that the page asks no other host. The answers are the ones ``lessons.navigator`` gives in
CPython on the same file.
"""

from __future__ import annotations

import hashlib
import json

import pytest

from lessons import navigator
from lessons.widgets import WORD_NAVIGATOR
from tests.conftest import PageLog

pytestmark = pytest.mark.slow  # the site is built first

PAGES = {"de": "/lessons/05-word-embeddings/", "en": "/en/lessons/05-word-embeddings/"}
READY_TIMEOUT_MS = 60_000
EXAMPLE_ANALOGY = {"de": ("vater", "mann", "frau"), "en": ("father", "man", "woman")}


@pytest.fixture(scope="module")
def manifest(built_site) -> dict:
    return json.loads((built_site / "browser" / "manifest.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def in_python(built_site, manifest) -> dict[str, navigator.Navigator]:
    """The navigators CPython reads from the built site's files: what the browser must show."""
    entry = manifest["word_vectors"]
    folder = built_site / "browser" / entry["folder"]
    return {
        lang: navigator.Navigator.from_json(
            (folder / entry[lang]["files"]["vectors"]["name"]).read_bytes(),
            entry[lang]["files"]["vectors"]["sha256"],
        )
        for lang in ("de", "en")
    }


class Navigator:
    """The word navigator on one open page, driven like a reader would."""

    def __init__(self, page, lang: str):
        self.page = page
        self.lang = lang
        self.root = page.locator(".word-navigator")
        self.log = PageLog(page)

    def part(self, name: str):
        return self.root.locator(f'[data-part="{name}"]')

    def runs(self) -> int:
        return int(self.root.get_attribute("data-runs"))

    def wait_for_runs(self, runs: int) -> None:
        self.page.wait_for_function(
            "([root, runs]) => Number(root.dataset.runs) > runs",
            arg=[self.root.element_handle(), runs],
        )

    def press(self, button: str) -> None:
        """Click a button and wait until its question is answered."""
        runs = self.runs()
        self.part(button).click()
        self.wait_for_runs(runs)

    def neighbours(self, word: str) -> list[tuple[str, float]]:
        self.part("word").fill(word)
        self.press("neighbours")
        return self.results()

    def analogy(self, a: str, b: str, c: str) -> list[tuple[str, float]]:
        for name, word in zip("abc", (a, b, c), strict=True):
            self.part(name).fill(word)
        self.press("calculate")
        return self.results()

    def results(self) -> list[tuple[str, float]]:
        return self.part("results").evaluate(
            """list => [...list.children].map(item =>
                [item.dataset.word, Number(item.dataset.similarity)])"""
        )

    def status(self) -> str:
        return self.part("status").text_content()

    def status_is_error(self) -> bool:
        return "is-error" in (self.part("status").get_attribute("class") or "")

    def map_words(self) -> list[str]:
        return (
            self.part("map")
            .locator(".wn-point")
            .evaluate_all("points => points.map(point => point.dataset.word)")
        )


@pytest.fixture(scope="module", params=sorted(PAGES), ids=sorted(PAGES))
def nav(request, browser, site_url):
    """One page per language, opened once and shared by the tests of that language."""
    lang = request.param
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    driver = Navigator(page, lang)
    page.goto(site_url + PAGES[lang])
    page.wait_for_selector(".word-navigator[data-state=ready]", timeout=READY_TIMEOUT_MS)
    driver.wait_for_runs(0)  # the example it shows at the start
    yield driver
    context.close()


def same(shown: list[tuple[str, float]], expected: list[tuple[str, float]]) -> bool:
    """The same words in the same order, with the similarities to 4 decimals (as sent)."""
    return [word for word, _ in shown] == [word for word, _ in expected] and all(
        abs(a - round(b, 4)) < 1e-9 for (_, a), (_, b) in zip(shown, expected, strict=True)
    )


def test_the_site_holds_the_vectors_and_sentences_it_lists(built_site, manifest):
    entry = manifest["word_vectors"]
    for lang in ("de", "en"):
        for file in entry[lang]["files"].values():
            data = (built_site / "browser" / entry["folder"] / file["name"]).read_bytes()
            assert len(data) == file["bytes"]
            assert hashlib.sha256(data).hexdigest() == file["sha256"]
        vectors = entry[lang]["files"]["vectors"]
        assert entry[lang]["words"] == 4000 and vectors["bytes"] < 2_000_000
    page = (built_site / "lessons" / "05-word-embeddings" / "index.html").read_text("utf-8")
    assert 'href="../../browser/word-vectors/sentences-de.txt"' in page


@pytest.mark.browser
class TestWordNavigator:
    def test_gets_ready_and_shows_the_example(self, nav, in_python):
        assert nav.root.get_attribute("lang") == nav.lang
        assert nav.part("vectors").input_value() == nav.lang
        assert float(nav.root.get_attribute("data-ready-ms")) > 0
        example = WORD_NAVIGATOR[nav.lang]["examples"][nav.lang]["word"]
        assert same(nav.results(), in_python[nav.lang].neighbours(example))
        assert nav.map_words()[0] == example and len(nav.map_words()) == 11

    def test_a_known_word_gives_its_neighbours(self, nav, in_python):
        word = {"de": "Vater", "en": "Father"}[nav.lang]  # capitals are lowered
        shown = nav.neighbours(word)
        assert not nav.status_is_error(), nav.status()
        assert same(shown, in_python[nav.lang].neighbours(word))
        assert len(shown) == navigator.NEIGHBOURS
        assert [s for _, s in shown] == sorted((s for _, s in shown), reverse=True)
        assert float(nav.root.get_attribute("data-query-ms")) >= 0
        assert word.lower() in nav.part("result-title").text_content()

    def test_an_analogy(self, nav, in_python):
        shown = nav.analogy(*EXAMPLE_ANALOGY[nav.lang])
        assert not nav.status_is_error(), nav.status()
        assert same(shown, in_python[nav.lang].analogy(*EXAMPLE_ANALOGY[nav.lang]))
        assert shown[0][0] == {"de": "mutter", "en": "mother"}[nav.lang]
        assert nav.part("map").locator(".wn-link").count() == 2
        assert set(EXAMPLE_ANALOGY[nav.lang]) <= set(nav.map_words())

    def test_an_unknown_word_gets_the_closest_spellings(self, nav, in_python):
        typo = {"de": "Vaterr", "en": "fathr"}[nav.lang]
        nav.part("word").fill(typo)
        nav.press("neighbours")
        assert nav.status_is_error()
        expected = {
            "de": f"„{typo}“ ist keines der 4.000 Wörter",
            "en": f"“{typo}” is not among the 4,000 words",
        }[nav.lang]
        assert expected in nav.status()  # in the page's language
        suggestions = nav.part("suggestions").locator("button")
        words = suggestions.all_text_contents()
        assert words == navigator.closest_spellings(typo, in_python[nav.lang].words)
        assert words[0] == {"de": "vater", "en": "father"}[nav.lang]
        runs = nav.runs()
        suggestions.first.click()  # takes the spelling and asks again
        nav.wait_for_runs(runs)
        assert not nav.status_is_error()
        assert nav.part("word").input_value() == words[0]
        assert not nav.part("suggestions").is_visible()

    def test_empty_and_several_words_are_explained(self, nav):
        nav.part("a").fill("  ")
        nav.press("calculate")
        assert nav.status_is_error()
        assert nav.status() == navigator.NavigatorError("empty").message(nav.lang)
        assert nav.page.evaluate("document.activeElement.dataset.part") == "a"
        nav.neighbours("zwei wörter")
        assert nav.status_is_error() and "zwei wörter" in nav.status()

    def test_typed_markup_stays_text(self, nav):
        nav.neighbours("<img src=x onerror=window.__pwned=1>")
        assert nav.status_is_error() and "<img" in nav.status()
        nav.neighbours("<b>x</b>")
        assert nav.status_is_error()
        assert nav.page.evaluate("typeof window.__pwned") == "undefined"
        assert nav.root.locator("img, b").count() == 0

    def test_the_map_answers_to_hover_and_keyboard(self, nav):
        nav.neighbours({"de": "tag", "en": "day"}[nav.lang])
        points = nav.part("map").locator(".wn-point")
        second = nav.map_words()[1]
        points.nth(1).hover()
        assert second in nav.part("map-label").text_content()
        nav.root.locator(".wn-word").last.focus()  # the last word of the list, then Tab
        nav.page.keyboard.press("Tab")
        focused = nav.page.evaluate("document.activeElement.dataset.word")
        assert focused == nav.map_words()[0]
        assert focused in nav.part("map-label").text_content()
        runs = nav.runs()
        points.nth(1).focus()
        nav.page.keyboard.press("Enter")  # shows the neighbours of that word
        nav.wait_for_runs(runs)
        assert nav.part("word").input_value() == second and nav.map_words()[0] == second

    def test_switches_to_the_other_language(self, nav, in_python):
        other = "en" if nav.lang == "de" else "de"
        runs = nav.runs()
        nav.part("vectors").select_option(other)
        nav.wait_for_runs(runs)
        example = WORD_NAVIGATOR[nav.lang]["examples"][other]
        assert nav.part("word").input_value() == example["word"]
        assert same(nav.results(), in_python[other].neighbours(example["word"]))
        nav.part("vectors").select_option(nav.lang)
        nav.wait_for_runs(runs + 1)

    def test_asks_no_other_host(self, nav, site_url):
        """Runs last for each page: every request of the tests above went to the local server."""
        nav.log.assert_only_local(site_url)
        vectors = [url for url in nav.log.requests if "/word-vectors/vectors-" in url]
        assert len(vectors) == 2  # each language's file once, though both were asked often
