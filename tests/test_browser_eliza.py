"""ELIZA on lesson 10's page, tested in a real browser (headless Chromium) on the built site.

The page runs ``lessons.eliza`` in Pyodide. These tests chat with her in both languages and
check that she answers as ``lessons.eliza`` does in CPython with the same seed, says which
rule answered, keeps typed markup as text, explains an empty message, works with the
keyboard, and that the page asks no other host.
"""

from __future__ import annotations

import pytest

from lessons.eliza import Eliza
from lessons.widgets import ELIZA_CHAT
from tests.conftest import PageLog

pytestmark = [pytest.mark.slow, pytest.mark.browser]  # the site is built first

PAGES = {"de": "/lessons/10-review-outlook/", "en": "/en/lessons/10-review-outlook/"}
READY_TIMEOUT_MS = 60_000
MESSAGES = {
    "de": ["Meine Arbeit ist langweilig.", "Ich bin oft müde.", "Hm."],
    "en": ["My work is boring.", "I am often tired.", "Hm."],
}
PASTED = "<script>window.__pwned=1</script><b>mein</b> Text"


class Chat:
    """The ELIZA chat on one open page, driven like a reader would."""

    def __init__(self, page, lang: str):
        self.page = page
        self.lang = lang
        self.root = page.locator(".eliza-chat")
        self.log = PageLog(page)

    def part(self, name: str):
        return self.root.locator(f'[data-part="{name}"]')

    def replies(self) -> int:
        return int(self.root.get_attribute("data-replies"))

    def send(self, text: str) -> None:
        """Type ``text`` and press Enter; wait for ELIZA's reply."""
        before = self.replies()
        self.part("input").fill(text)
        self.part("input").press("Enter")
        self.page.wait_for_function(
            "([root, n]) => Number(root.dataset.replies) > n",
            arg=[self.root.element_handle(), before],
        )

    def texts(self) -> list[str]:
        return self.root.locator(".el-message .el-text").all_text_contents()

    def rules(self) -> list[str]:
        return self.root.locator(".el-eliza .el-rule").all_text_contents()

    def restart(self) -> None:
        self.part("restart").click()
        self.page.wait_for_function(
            "root => root.dataset.replies === '1'", arg=self.root.element_handle()
        )


@pytest.fixture(scope="module", params=sorted(PAGES), ids=sorted(PAGES))
def chat(request, browser, site_url):
    """One page per language, opened once and shared by the tests of that language."""
    lang = request.param
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    chat = Chat(page, lang)
    page.goto(site_url + PAGES[lang])
    page.wait_for_selector(".eliza-chat[data-state=ready]", timeout=READY_TIMEOUT_MS)
    yield chat
    context.close()


def test_greets_in_the_page_language(chat):
    assert chat.root.get_attribute("lang") == chat.lang
    assert chat.part("status").text_content() == ELIZA_CHAT[chat.lang]["messages"]["ready"]
    bot = Eliza(chat.lang, seed=1)
    assert chat.texts() == [bot.greeting()]


def test_answers_as_lessons_eliza_does_with_the_same_seed(chat):
    chat.restart()
    for message in MESSAGES[chat.lang]:
        chat.send(message)
    bot = Eliza(chat.lang, seed=1)
    expected = [bot.greeting()]
    for message in MESSAGES[chat.lang]:
        expected += [message, bot.reply(message)]
    assert chat.texts() == expected
    rules = chat.rules()
    assert len(rules) == 3 and rules[-1] == ELIZA_CHAT[chat.lang]["messages"]["memory"]
    assert "0" in rules[1]  # the keyword "ich"/"i" has rank 0
    assert chat.part("input").input_value() == ""
    chat.restart()  # the same seed: the same conversation again
    for message in MESSAGES[chat.lang]:
        chat.send(message)
    assert chat.texts() == expected


def test_pasted_markup_stays_text(chat):
    chat.restart()
    chat.send(PASTED)
    assert PASTED in chat.texts()
    assert chat.page.evaluate("typeof window.__pwned") == "undefined"
    assert chat.root.locator("b").count() == 0
    assert chat.root.locator("script").count() == 0


def test_explains_an_empty_message(chat):
    before = chat.replies()
    chat.part("input").fill("   ")
    chat.part("send").click()
    status = chat.part("status")
    assert status.text_content() == ELIZA_CHAT[chat.lang]["messages"]["empty"]
    assert "is-error" in status.get_attribute("class")
    assert status.get_attribute("aria-live") == "polite"
    assert chat.replies() == before
    chat.send("?")  # the next message clears the error
    assert "is-error" not in (status.get_attribute("class") or "")


def test_works_with_the_keyboard(chat):
    chat.restart()
    chat.part("input").focus()
    chat.page.keyboard.type("Hallo" if chat.lang == "de" else "Hello")
    before = chat.replies()
    chat.page.keyboard.press("Enter")
    chat.page.wait_for_function(
        "([root, n]) => Number(root.dataset.replies) > n",
        arg=[chat.root.element_handle(), before],
    )
    outline = chat.part("restart").evaluate(
        "button => { button.focus(); return getComputedStyle(button).outlineStyle; }"
    )
    assert outline != "none"  # the focus can be seen
    chat.page.keyboard.press("Enter")  # Enter on the focused "start again" button
    chat.page.wait_for_function(
        "root => root.dataset.replies === '1'", arg=chat.root.element_handle()
    )


def test_asks_no_other_host(chat, site_url):
    """Runs last for each page: every request of the tests above went to the local server."""
    chat.log.assert_only_local(site_url)
    assert any(url.endswith(".whl") for url in chat.log.requests)
