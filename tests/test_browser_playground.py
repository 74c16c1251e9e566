"""The GPT playground of lesson 8, tested in a real browser (headless Chromium) on the built site.

The page loads Pyodide, the ``lessons`` wheel and the course model from the site itself; these
tests check that the playground writes token by token, reproducibly, shows each step's
candidates (also with the keyboard), stops when asked, keeps a pasted ``<script>`` as text,
explains bad input and a damaged download in the page's language, and asks no other host.
"""

from __future__ import annotations

import pytest

from lessons.playground import MAX_LENGTH, TOP, message
from lessons.widgets import GPT_PLAYGROUND
from tests.conftest import PageLog

PAGES = {"de": "/lessons/08-tokenize-continue/", "en": "/en/lessons/08-tokenize-continue/"}
READY_TIMEOUT_MS = 60_000
PASTED = "<script>window.__pwned=1</script><b>fett</b> und <img src=x onerror=alert(1)>"


class Playground:
    """The GPT playground on one open page, driven like a reader would."""

    def __init__(self, page, lang: str):
        self.page = page
        self.lang = lang
        self.messages = GPT_PLAYGROUND[lang]["messages"]
        self.root = page.locator(".gpt-playground")
        self.log = PageLog(page)

    def open(self, url: str) -> None:
        """Go to the page and scroll to the playground: it loads when it comes into view."""
        self.page.goto(url)
        self.root.scroll_into_view_if_needed()
        self.page.wait_for_selector(
            ".gpt-playground:is([data-state=ready], [data-state=failed])",
            timeout=READY_TIMEOUT_MS,
        )

    def part(self, name: str):
        return self.root.locator(f'[data-part="{name}"]')

    def set(self, **fields) -> None:
        """Type into the fields: prompt, temperature, top_k, top_p, seed, length."""
        for name, value in fields.items():
            self.part(name.replace("_", "-")).fill(str(value))

    def run(self, action=None) -> None:
        """Start writing (by clicking, or by ``action``) and wait until the run is over."""
        runs = int(self.root.get_attribute("data-runs"))
        if action is None:
            self.part("generate").click()
        else:
            action()
        self.page.wait_for_function(
            "([root, runs]) => Number(root.dataset.runs) > runs",
            arg=[self.root.element_handle(), runs],
            timeout=READY_TIMEOUT_MS,
        )

    def write(self, **fields) -> str:
        self.set(**fields)
        self.run()
        assert not self.status_is_error(), self.status()
        return self.output()

    def output(self) -> str:
        return self.part("output").text_content()

    def tokens(self):
        return self.part("tokens").locator(".pg-token")

    def status(self) -> str:
        return self.part("status").text_content()

    def status_is_error(self) -> bool:
        return "is-error" in (self.part("status").get_attribute("class") or "")

    def choices(self) -> list[dict]:
        return self.part("choices").evaluate(
            """body => [...body.querySelectorAll(".pg-choice")].map(row => ({
                token: row.dataset.token,
                p: Number(row.dataset.p),
                chosen: row.classList.contains("is-chosen"),
                rank: Number(row.querySelector(".pg-rank").textContent),
            }))"""
        )


@pytest.fixture(scope="module", params=sorted(PAGES), ids=sorted(PAGES))
def playground(request, browser, site_url):
    """One page per language, opened once and shared by the tests of that language."""
    lang = request.param
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    playground = Playground(context.new_page(), lang)
    playground.open(site_url + PAGES[lang])
    yield playground
    context.close()


@pytest.mark.slow
@pytest.mark.browser
class TestGptPlayground:
    def test_gets_ready_in_the_page_language(self, playground):
        assert playground.root.get_attribute("data-state") == "ready"
        assert playground.root.get_attribute("lang") == playground.lang
        assert playground.status() == playground.messages["ready"]
        assert float(playground.root.get_attribute("data-ready-ms")) > 0
        assert playground.part("generate").is_enabled()
        assert playground.part("stop").is_disabled()
        model = playground.part("model").text_content()
        assert {"de": "Ein GPT mit", "en": "A GPT with"}[playground.lang] in model

    def test_writes_token_by_token_and_shows_each_step(self, playground):
        text = playground.write(prompt="Gregor", temperature="0.8", seed=7, length=30)
        tokens = playground.tokens()
        count = tokens.count()
        assert 1 <= count <= 30  # fewer if the model chose <|endoftext|>
        assert playground.root.get_attribute("data-tokens") == str(count)
        assert text == "Gregor" + "".join(tokens.all_text_contents())
        assert float(playground.root.get_attribute("data-first-token-ms")) > 0
        assert float(playground.root.get_attribute("data-tokens-per-s")) > 0
        title = playground.part("step-title").text_content()
        assert title.startswith(f"{GPT_PLAYGROUND[playground.lang]['step']} {count}:")
        choices = playground.choices()
        assert len(choices) in (TOP, TOP + 1)  # the chosen one below, if not in the top ten
        ps = [choice["p"] for choice in choices[:TOP]]
        assert ps == sorted(ps, reverse=True) and [c["rank"] for c in choices[:TOP]] == [
            *range(1, TOP + 1)
        ]
        assert sum(choice["chosen"] for choice in choices) == 1

    def test_the_same_seed_writes_the_same_text(self, playground):
        first = playground.write(prompt="Gregor", temperature="1", seed=7, length=25)
        assert playground.write(seed=7) == first
        assert playground.write(seed=8) != first

    def test_a_chosen_token_shows_its_step_also_with_the_keyboard(self, playground):
        playground.write(prompt="Elizabeth", temperature="0.8", top_k=5, seed=3, length=12)
        tokens = playground.tokens()
        tokens.nth(2).click()
        step = GPT_PLAYGROUND[playground.lang]["step"]
        assert playground.part("step-title").text_content().startswith(f"{step} 3:")
        choices = playground.choices()
        assert len(choices) == 5  # top-k 5: five possible tokens
        (chosen,) = [choice for choice in choices if choice["chosen"]]
        assert chosen["token"].endswith(tokens.nth(2).text_content())
        assert tokens.nth(2).get_attribute("aria-selected") == "true"
        playground.page.keyboard.press("ArrowRight")
        assert playground.part("step-title").text_content().startswith(f"{step} 4:")
        assert tokens.nth(3).evaluate("token => token === document.activeElement")
        playground.page.keyboard.press("Home")
        assert playground.part("step-title").text_content().startswith(f"{step} 1:")
        assert tokens.nth(0).get_attribute("tabindex") == "0"  # where Tab comes back to
        assert tokens.nth(3).get_attribute("tabindex") == "-1"

    def test_writes_with_enter_in_a_field_and_ctrl_enter_in_the_prompt(self, playground):
        playground.set(prompt="Gregor", temperature="0", seed=1, length=5)
        playground.run(lambda: playground.part("seed").press("Enter"))
        assert playground.tokens().count() == 5
        playground.set(length=6)
        playground.run(lambda: playground.part("prompt").press("Control+Enter"))
        assert playground.tokens().count() == 6
        outline = (
            playground.tokens()
            .nth(0)
            .evaluate("token => { token.focus(); return getComputedStyle(token).outlineStyle; }")
        )
        assert outline != "none"  # the focus can be seen

    def test_stop_ends_a_run_early(self, playground):
        playground.set(prompt="Gregor", temperature="1", seed=1, length=MAX_LENGTH)

        def write_three_tokens_then_stop():
            playground.part("generate").click()
            tokens = playground.part("tokens").element_handle()
            playground.page.wait_for_function("tokens => tokens.children.length >= 3", arg=tokens)
            playground.part("stop").click()

        playground.run(write_three_tokens_then_stop)
        count = playground.tokens().count()
        assert 3 <= count < MAX_LENGTH
        assert playground.status() == playground.messages["stopped"].format(tokens=count)

    def test_a_pasted_script_stays_text(self, playground):
        text = playground.write(prompt=PASTED, temperature="0.8", seed=1, length=10)
        assert text.startswith(PASTED)
        assert playground.page.evaluate("typeof window.__pwned") == "undefined"
        for tag in ("script", "b", "img"):
            assert playground.root.locator(tag).count() == 0
        notes = playground.part("notes").text_content()
        assert "<" in notes and "UTF-8" in notes  # characters the training text never has

    def test_an_empty_prompt_starts_from_endoftext(self, playground):
        playground.write(prompt="", temperature="0.8", seed=1, length=5)
        assert playground.part("notes").text_content() == message("empty_prompt", playground.lang)

    @pytest.mark.parametrize(
        ("field", "value", "expected"),
        [
            ("temperature", "-1", {"de": "Die Temperatur muss", "en": "The temperature must"}),
            ("top_p", "1,5", {"de": "Top-p muss eine Zahl über 0", "en": "Top-p must be a"}),
            ("length", "999", {"de": f"von 1 bis {MAX_LENGTH}", "en": f"from 1 to {MAX_LENGTH}"}),
            ("prompt", "x" * 501, {"de": "höchstens 500", "en": "at most 500"}),
        ],
    )
    def test_explains_a_bad_value_in_the_page_language(self, playground, field, value, expected):
        fine = {"prompt": "Gregor", "temperature": "1", "top_k": "", "top_p": "", "length": 10}
        playground.set(**{**fine, field: value})
        playground.run()
        assert playground.status_is_error()
        assert expected[playground.lang] in playground.status()
        assert playground.part(field.replace("_", "-")).evaluate(
            "input => input === document.activeElement"
        )
        playground.set(**fine)

    def test_asks_no_other_host(self, playground, site_url):
        """Runs last for each page: every request of the tests above went to the local server."""
        playground.log.assert_only_local(site_url)
        requests = playground.log.requests
        assert any(url.endswith("/course-gpt/model.safetensors") for url in requests)


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.parametrize("lang", sorted(PAGES))
def test_a_damaged_download_is_refused_with_a_clear_message(browser, site_url, lang):
    context = browser.new_context()
    page = context.new_page()

    def damage(route):
        response = route.fetch()
        body = bytearray(response.body())
        body[-1] ^= 1  # one bit of the last weight
        route.fulfill(response=response, body=bytes(body))

    page.route("**/course-gpt/model.safetensors", damage)
    playground = Playground(page, lang)
    playground.open(site_url + PAGES[lang])
    assert playground.root.get_attribute("data-state") == "failed"
    assert playground.status_is_error()
    assert playground.status() == message("damaged", lang, name="model.safetensors")
    assert playground.part("generate").is_disabled()
    context.close()
