"""What the browser benchmarks share: the site, fresh pages in Chromium, facts and the table.

The scripts import it the way they import the browser tests' helpers from ``tests.conftest``.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the helpers the browser tests use, from tests/conftest.py
from tests.conftest import CHROMIUM_FLAGS, build_site  # noqa: E402


def built(site: Path | None, tmp: str, lead: str = "") -> Path:
    """``site`` if given, else the site built now under ``tmp`` (exit with MkDocs' output if
    that fails); ``lead`` goes before the note that it builds."""
    if site is not None:
        return site
    site = Path(tmp) / "site"
    print(f"{lead}building the site…", flush=True)
    result = build_site(ROOT / "mkdocs.yml", site)
    if result.returncode:
        sys.exit(result.stdout + result.stderr)
    return site


@contextmanager
def chromium(path: str) -> Iterator:
    """Headless Chromium at ``path``, launched with the browser tests' flags."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def fresh_page(browser, url: str, **options) -> Iterator:
    """A page opened at ``url`` in a new context: an empty cache, like a first visit."""
    context = browser.new_context(**options)
    try:
        page = context.new_page()
        page.goto(url)
        yield page
    finally:
        context.close()


def visit_pages(
    url: str, runs: int, path: str, visit: Callable, names: Iterable[str]
) -> tuple[dict[str, list[float]], dict]:
    """Open ``url`` ``runs`` times in fresh contexts and call ``visit(page, samples, run)``.

    Returns the samples per name and facts about the browser and Pyodide.
    """
    samples: dict[str, list[float]] = {name: [] for name in names}
    with chromium(path) as browser:
        facts = {"chromium": browser.version}
        for run in range(runs):
            with fresh_page(browser, url) as page:
                visit(page, samples, run)
                if run == 0:
                    facts.update(pyodide_facts(page))
    return samples, facts


def pyodide_facts(page) -> dict:
    """The versions of Pyodide and of its Python, as the site serves them to ``page``."""
    return page.evaluate(
        """async () => {
            const url = new URL("pyodide/", location.origin + "/");
            const lock = await (await fetch(url + "pyodide-lock.json")).json();
            const { version } = await import(url + "pyodide.mjs");
            return { pyodide: version, python: lock.info.python };
        }"""
    )


def machine() -> str:
    """The platform and its number of cores."""
    return f"{platform.platform()}, {os.cpu_count()} cores"


def print_versions(facts: dict) -> None:
    """The machine, and the versions of Chromium, Pyodide and CPython the figures come from."""
    print(
        f"machine: {machine()}; "
        f"Chromium {facts['chromium']} (headless); Pyodide {facts['pyodide']} "
        f"(Python {facts['python']}); CPython {platform.python_version()}"
    )


def verdict(worst: float, sign: str, limit: float, unit: str) -> tuple[bool, str]:
    """Whether the worst sample is on the right side (``<`` or ``>=``) of ``limit``, and says so."""
    ok = worst >= limit if sign == ">=" else worst < limit
    return ok, f"{sign} {limit:g} {unit}: {'PASS' if ok else 'FAIL'}"


def print_table(rows: list[tuple[str, list[float], float | None]], width: int) -> bool:
    """Median and max in ms per row, against its target if it has one; whether all pass.

    A target passes when every sample (the max) is under it, not just the typical one.
    """
    print(f"{'measure':<{width}} {'median':>10} {'max':>10}   target")
    passed = True
    for name, values, target in rows:
        median, worst = statistics.median(values), max(values)
        text = ""
        if target is not None:
            ok, text = verdict(worst, "<", target, "ms")
            passed &= ok
        print(f"{name:<{width}} {median:>7.1f} ms {worst:>7.1f} ms   {text}")
    return passed
