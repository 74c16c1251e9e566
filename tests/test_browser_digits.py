"""The digit recognizer of lesson 4, tested in a real browser (headless Chromium) on the built site.

The page loads Pyodide, the ``lessons`` wheel and the trained network from the site itself;
these tests draw digits with the mouse and the keyboard and check that the network names them
live, that an empty pad asks for a digit instead of guessing, that Clear works, that the
network in the site is the one the page trains, and that the page asks no other host.
"""

from __future__ import annotations

import hashlib
import json
import math

import pytest

from lessons import neural
from lessons.widgets import DIGIT_RECOGNIZER
from tests.conftest import PageLog
from tests.test_digit_pad import DRAWN

PAGES = {"de": "/lessons/04-neural-networks/", "en": "/en/lessons/04-neural-networks/"}
READY_TIMEOUT_MS = 60_000

pytestmark = pytest.mark.slow


class Recognizer:
    """The digit recognizer on one open page, driven like a reader would."""

    def __init__(self, page, lang: str):
        self.page = page
        self.lang = lang
        self.messages = DIGIT_RECOGNIZER[lang]["messages"]
        self.root = page.locator(".digit-recognizer")
        self.log = PageLog(page)

    def part(self, name: str):
        return self.root.locator(f'[data-part="{name}"]')

    def answered(self, action) -> None:
        """Do ``action`` (which ends a stroke or presses a key) and wait for the answer."""
        self.root.evaluate("root => delete root.dataset.predictMs")
        action()
        self.page.wait_for_function(
            "root => root.dataset.predictMs !== undefined", arg=self.root.element_handle()
        )

    def draw(self, strokes) -> None:
        """Draw strokes (points from 0 to 1 across the pad) with the mouse, one after another."""
        box = self.part("pad").bounding_box()

        def at(point):
            return box["x"] + point[0] * box["width"], box["y"] + point[1] * box["height"]

        for stroke in strokes:
            self.page.mouse.move(*at(stroke[0]))
            self.page.mouse.down()
            for point in stroke[1:]:
                self.page.mouse.move(*at(point), steps=2)
            self.answered(self.page.mouse.up)

    def clear(self) -> None:
        runs = int(self.root.get_attribute("data-runs"))
        self.part("clear").click()
        self.page.wait_for_function(
            "([root, runs]) => Number(root.dataset.runs) > runs",
            arg=[self.root.element_handle(), runs],
        )

    def choices(self) -> dict[int, float]:
        items = self.part("choices").locator("li")
        return {
            int(items.nth(i).get_attribute("data-digit")): float(
                items.nth(i).get_attribute("data-p")
            )
            for i in range(items.count())
        }

    def status(self) -> str:
        return self.part("status").text_content()


@pytest.fixture(scope="module", params=sorted(PAGES), ids=sorted(PAGES))
def recognizer(request, browser, site_url):
    """One page per language, opened once and shared by the tests of that language."""
    lang = request.param
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    recognizer = Recognizer(page, lang)
    page.goto(site_url + PAGES[lang])
    recognizer.root.scroll_into_view_if_needed()
    page.wait_for_selector(
        ".digit-recognizer:is([data-state=ready], [data-state=failed])", timeout=READY_TIMEOUT_MS
    )
    yield recognizer
    context.close()


@pytest.mark.browser
class TestDigitRecognizer:
    def test_gets_ready_and_asks_for_a_digit(self, recognizer):
        assert recognizer.root.get_attribute("data-state") == "ready"
        assert float(recognizer.root.get_attribute("data-ready-ms")) > 0
        assert recognizer.status() == recognizer.messages["empty"]
        assert recognizer.root.get_attribute("data-digit") == ""
        assert set(recognizer.choices().values()) == {0.0}

    @pytest.mark.parametrize("digit", [0, 7])
    def test_names_a_drawn_digit(self, recognizer, digit):
        recognizer.clear()
        recognizer.draw(DRAWN[digit])
        assert recognizer.root.get_attribute("data-digit") == str(digit)
        choices = recognizer.choices()
        assert math.isclose(sum(choices.values()), 1.0, abs_tol=1e-9)
        assert max(choices, key=choices.get) == digit
        top = recognizer.part("choices").locator(".is-top")
        assert top.get_attribute("data-digit") == str(digit)
        assert "%" in top.locator(".dr-p").text_content()
        assert str(digit) in recognizer.status()
        assert float(recognizer.root.get_attribute("data-predict-ms")) > 0
        inked = recognizer.part("pixels").evaluate(
            "grid => [...grid.children]"
            ".filter(cell => Number(cell.style.getPropertyValue('--ink')) > 0).length"
        )
        assert 8 <= inked < 64  # what the network sees: some pixels, not all
        assert recognizer.part("hidden").locator(".dr-cell").count() == 32

    def test_clear_asks_for_a_digit_again(self, recognizer):
        recognizer.draw(DRAWN[4])
        assert recognizer.root.get_attribute("data-digit") != ""
        recognizer.clear()
        assert recognizer.status() == recognizer.messages["empty"]
        assert recognizer.root.get_attribute("data-digit") == ""
        assert set(recognizer.choices().values()) == {0.0}

    def test_draws_with_the_keyboard(self, recognizer):
        recognizer.clear()
        pad = recognizer.part("pad")
        pad.focus()
        keyboard = recognizer.page.keyboard
        scrolled = recognizer.page.evaluate("window.scrollY")
        recognizer.answered(lambda: keyboard.press(" "))  # the pen goes down in the middle
        assert recognizer.part("pen").text_content() == recognizer.messages["pen_down"]
        for key in ["ArrowUp"] * 6 + ["ArrowDown"] * 12:
            recognizer.answered(lambda key=key: keyboard.press(key))
        recognizer.answered(lambda: keyboard.press(" "))
        assert recognizer.part("pen").text_content() == recognizer.messages["pen_up"]
        assert recognizer.root.get_attribute("data-digit") in [str(d) for d in range(10)]
        assert recognizer.page.evaluate("window.scrollY") == scrolled  # keys drew, not scrolled
        outline = pad.evaluate("pad => getComputedStyle(pad).outlineStyle")
        assert outline != "none"  # the focus can be seen
        keyboard.press("Delete")
        recognizer.page.wait_for_function(
            "root => root.dataset.digit === ''", arg=recognizer.root.element_handle()
        )

    def test_asks_no_other_host(self, recognizer, site_url):
        """Runs last for each page: every request of the tests above went to the local server."""
        recognizer.log.assert_only_local(site_url)
        assert any(url.endswith("digits/network.json") for url in recognizer.log.requests)


def test_the_site_serves_the_network_the_page_trains(built_site):
    """The hook trains with the lesson's settings: the very network the page shows."""
    manifest = json.loads((built_site / "browser" / "manifest.json").read_text(encoding="utf-8"))
    entry = manifest["digit_network"]
    data = (built_site / "browser" / entry["file"]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == entry["sha256"] and len(data) == entry["bytes"]
    network = neural.train(neural.load_digits(), neural.TrainConfig()).network
    assert data == neural.to_json(network).encode("utf-8")
