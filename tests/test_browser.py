"""The in-browser demos, tested in a real browser (headless Chromium) on the built site.

The page loads Pyodide and the ``lessons`` wheel from the site itself; these tests check
that the nonsense texter learns, writes reproducibly, shows its next-token distribution,
keeps pasted markup as text, explains bad input, and that the page asks no other host.
"""

from __future__ import annotations

import math
import re

import pytest

from lessons.widgets import NONSENSE_TEXTER
from tests.conftest import PageLog

PAGES = {"de": "/lessons/02-nonsense-texter/", "en": "/en/lessons/02-nonsense-texter/"}
FIRST_CORPUS = {"de": "kafka-die-verwandlung", "en": "wharton-the-verdict"}
READY_TIMEOUT_MS = 60_000
PASTED = "<script>window.__pwned=1</script><b>bold</b> "


# --- in the browser -------------------------------------------------------------------


class Texter:
    """The nonsense texter on one open page, driven like a reader would."""

    def __init__(self, page, lang: str):
        self.page = page
        self.lang = lang
        self.root = page.locator(".nonsense-texter")
        self.log = PageLog(page)

    def part(self, name: str):
        return self.root.locator(f'[data-part="{name}"]')

    def set(self, source=None, own_text=None, level=None, order=None, length=None, seed=None):
        if source is not None:
            self.part("source").select_option(source)
        if own_text is not None:
            self.part("own-text").fill(own_text)
        if level is not None:
            self.part("level").select_option(level)
        for name, value in [("order", order), ("length", length), ("seed", seed)]:
            if value is not None:
                self.part(name).fill(str(value))

    def press(self, button: str) -> None:
        """Click a button and wait until its action has finished."""
        runs = int(self.root.get_attribute("data-runs"))
        self.part(button).click()
        self.page.wait_for_function(
            "([root, runs]) => Number(root.dataset.runs) > runs",
            arg=[self.root.element_handle(), runs],
        )

    def generate(self, seed: int) -> str:
        self.set(seed=seed)
        self.press("generate")
        return self.output()

    def output(self) -> str:
        return self.part("output").text_content()

    def status(self) -> str:
        return self.part("status").text_content()

    def status_is_error(self) -> bool:
        return "is-error" in (self.part("status").get_attribute("class") or "")

    def choices(self) -> list[dict]:
        return self.part("choices").evaluate(
            """list => [...list.children].map(item => ({
                token: item.dataset.token ?? null,
                p: Number(item.dataset.p),
                chosen: item.classList.contains("is-chosen"),
                shown: item.querySelector(".nt-token").textContent,
            }))"""
        )


@pytest.fixture(scope="module", params=sorted(PAGES), ids=sorted(PAGES))
def texter(request, browser, site_url):
    """One page per language, opened once and shared by the tests of that language."""
    lang = request.param
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    texter = Texter(page, lang)
    page.goto(site_url + PAGES[lang])
    page.wait_for_selector(".nonsense-texter[data-state=ready]", timeout=READY_TIMEOUT_MS)
    yield texter
    context.close()


@pytest.mark.slow
@pytest.mark.browser
class TestNonsenseTexter:
    def test_gets_ready_in_the_page_language(self, texter):
        messages = NONSENSE_TEXTER[texter.lang]["messages"]
        assert texter.root.get_attribute("lang") == texter.lang
        assert texter.status() == messages["ready"]
        assert float(texter.root.get_attribute("data-ready-ms")) > 0
        assert texter.part("generate").is_enabled()
        assert texter.part("source").input_value() == FIRST_CORPUS[texter.lang]
        options = texter.part("source").locator("option").all_text_contents()
        assert "Franz Kafka: Die Verwandlung" in options
        assert options[-1] == NONSENSE_TEXTER[texter.lang]["own"]

    def test_learns_letters_and_writes_reproducibly(self, texter):
        texter.set(source=FIRST_CORPUS[texter.lang], level="letters", order=4, length=300)
        texter.press("learn")
        assert not texter.status_is_error(), texter.status()
        assert re.search(r"\d", texter.status())  # "learned: N contexts from M characters"
        first = texter.generate(seed=7)
        assert len(first) >= 300
        assert texter.generate(seed=7) == first
        assert texter.generate(seed=8) != first
        assert float(texter.root.get_attribute("data-generate-ms")) > 0

    def test_shows_the_next_token_distribution(self, texter):
        texter.set(source=FIRST_CORPUS[texter.lang], level="letters", order=4)
        text = texter.generate(seed=7)
        context = texter.part("context").text_content()
        assert context.replace("␣", " ").replace("↵", "\n") == text[-4:]
        choices = texter.choices()
        assert choices and not any(choice["chosen"] for choice in choices)
        assert math.isclose(sum(choice["p"] for choice in choices), 1.0, abs_tol=1e-6)
        top = [choice["p"] for choice in choices if choice["token"] is not None]
        assert top == sorted(top, reverse=True) and len(top) <= 12
        assert all(" " not in choice["shown"] for choice in choices)  # a space shows as ␣

    def test_next_token_appends_the_marked_choice(self, texter):
        texter.set(source=FIRST_CORPUS[texter.lang], level="letters", order=4)
        text = texter.generate(seed=7)
        for _ in range(3):
            texter.press("step")
            (chosen,) = [choice for choice in texter.choices() if choice["chosen"]]
            assert texter.output() == text + chosen["token"]
            assert texter.part("output").locator("mark").text_content() == chosen["token"]
            text = texter.output()

    def test_works_with_the_keyboard(self, texter):
        texter.set(source=FIRST_CORPUS[texter.lang], level="letters", order=3, length=100)
        for target, key in [("generate", "Enter"), ("step", " "), ("seed", "Enter")]:
            runs = int(texter.root.get_attribute("data-runs"))
            texter.part(target).focus()
            texter.page.keyboard.press(key)
            texter.page.wait_for_function(
                "([root, runs]) => Number(root.dataset.runs) > runs",
                arg=[texter.root.element_handle(), runs],
            )
            assert not texter.status_is_error(), texter.status()
        outline = texter.part("step").evaluate(
            "button => { button.focus(); return getComputedStyle(button).outlineStyle; }"
        )
        assert outline != "none"  # the focus can be seen

    def test_learns_words(self, texter):
        texter.set(source=FIRST_CORPUS[texter.lang], level="words", order=2, length=80)
        assert texter.part("order").get_attribute("max") == "4"
        texter.press("learn")
        assert not texter.status_is_error(), texter.status()
        text = texter.generate(seed=7)
        assert len(text.split()) >= 60
        assert texter.generate(seed=7) == text
        tokens = [choice["token"] for choice in texter.choices() if choice["token"]]
        assert tokens and all(token.strip() == token for token in tokens)
        texter.press("step")
        assert not texter.status_is_error(), texter.status()
        texter.set(level="letters")
        assert texter.part("order").get_attribute("max") == "10"

    def test_pasted_markup_stays_text(self, texter):
        texter.set(source="own", own_text=PASTED * 30, level="letters", order=3, length=800)
        assert texter.part("own-text").is_visible()
        texter.press("learn")
        assert not texter.status_is_error(), texter.status()
        text = texter.generate(seed=7)
        assert "<script>" in text and "<b>" in text
        assert texter.page.evaluate("typeof window.__pwned") == "undefined"
        assert texter.root.locator("b").count() == 0
        assert texter.root.locator("script").count() == 0

    def test_explains_an_order_too_high_for_the_text(self, texter):
        texter.set(source="own", own_text="Zu kurz.", level="letters", order=10)
        texter.press("learn")
        assert texter.status_is_error()
        expected = {"de": "Der Text hat 8 Zeichen", "en": "The text has 8 letters"}[texter.lang]
        assert expected in texter.status()  # in the page's language
        assert texter.part("status").get_attribute("aria-live") == "polite"

    def test_explains_a_number_out_of_range(self, texter):
        texter.set(source=FIRST_CORPUS[texter.lang], level="letters", length=99999)
        texter.press("generate")
        assert texter.status_is_error()
        label = NONSENSE_TEXTER[texter.lang]["length"]
        assert label in texter.status() and "5" in texter.status()
        texter.set(length=300)

    def test_explains_a_dead_end(self, texter):
        texter.set(source="own", own_text="abc", level="letters", order=2, length=1)
        text = texter.generate(seed=1)
        assert text == "abc"
        assert "'bc'" in texter.part("note").text_content()  # UnseenContext, in the panel
        texter.press("step")
        assert texter.status_is_error() and "'bc'" in texter.status()

    def test_asks_no_other_host(self, texter, site_url):
        """Runs last for each page: every request of the tests above went to the local server."""
        texter.log.assert_only_local(site_url)
        assert any(url.endswith(".whl") for url in texter.log.requests)
