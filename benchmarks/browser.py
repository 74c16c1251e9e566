"""Time the nonsense texter in a real browser (headless Chromium), against its targets.

    python benchmarks/browser.py [--site DIR] [--runs 5] [--chromium /usr/bin/chromium]

Builds the site (unless ``--site`` names a built one), serves it on 127.0.0.1 and opens the
German nonsense-texter page ``--runs`` times, each time in a fresh browser context (an empty
cache, like a first visit). It measures what the widget records on itself:

- ready: from navigation start until Python and ``lessons`` are loaded (``data-ready-ms``);
- learn: ``markov.train`` on Kafka's "Die Verwandlung", letters, order 6 (``data-learn-ms``);
- generate: ``chain.generate(2000, seed)`` for five seeds per visit (``data-generate-ms``).

The same learning and generation run in CPython in the same run, as the reference figure.
A target passes when every sample (the max) is under it; exit status 1 if one is missed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/ and tests/
from benchmarks.common import built, print_table, print_versions, visit_pages  # noqa: E402
from tests.conftest import find_chromium, serve  # noqa: E402

PAGE = "/lessons/02-nonsense-texter/"
CORPUS = "kafka-die-verwandlung"
ORDER = 6
LENGTH = 2000
SEEDS = [1, 2, 3, 4, 5]
TARGETS_MS = {"ready": 5000.0, "generate": 200.0}


def visit(page, times: dict[str, list[float]], run: int) -> None:
    """Learn and generate on an open page; add its times to ``times`` and print them."""
    root = page.locator(".nonsense-texter")
    page.wait_for_selector(".nonsense-texter[data-state=ready]", timeout=60_000)
    times["ready"].append(float(root.get_attribute("data-ready-ms")))
    root.locator('[data-part="source"]').select_option(CORPUS)
    root.locator('[data-part="level"]').select_option("letters")
    root.locator('[data-part="order"]').fill(str(ORDER))
    root.locator('[data-part="length"]').fill(str(LENGTH))
    press(page, root, "learn")
    times["learn"].append(float(root.get_attribute("data-learn-ms")))
    for seed in SEEDS:
        root.locator('[data-part="seed"]').fill(str(seed))
        press(page, root, "generate")
        times["generate"].append(float(root.get_attribute("data-generate-ms")))
    status = root.locator('[data-part="status"]').text_content()
    print(
        f"visit {run + 1}: ready {times['ready'][-1]:.0f} ms, "
        f"learn {times['learn'][-1]:.0f} ms, "
        f"generate {', '.join(f'{ms:.1f}' for ms in times['generate'][-len(SEEDS) :])} ms"
        f"  ({status})"
    )


def press(page, root, button: str) -> None:
    """Click ``button`` of a widget and wait until its action is over; exit on an error."""
    runs = int(root.get_attribute("data-runs"))
    root.locator(f'[data-part="{button}"]').click()
    page.wait_for_function(
        "([root, runs]) => Number(root.dataset.runs) > runs",
        arg=[root.element_handle(), runs],
        timeout=60_000,
    )
    if "is-error" in (root.locator('[data-part="status"]').get_attribute("class") or ""):
        raise SystemExit(f"{button}: {root.locator('[data-part=status]').text_content()}")


def in_cpython(text: str, runs: int) -> dict[str, list[float]]:
    """The same work in CPython, timed the same way (the call alone)."""
    from lessons import markov

    times: dict[str, list[float]] = {"learn": [], "generate": []}
    for _ in range(runs):
        start = time.perf_counter()
        chain = markov.train(text, "letters", ORDER)
        times["learn"].append(1000 * (time.perf_counter() - start))
        for seed in SEEDS:
            start = time.perf_counter()
            chain.generate(LENGTH, seed)
            times["generate"].append(1000 * (time.perf_counter() - start))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, help="a built site (default: build one now)")
    parser.add_argument("--runs", type=int, default=5, help="page visits (default 5)")
    parser.add_argument("--chromium", default=find_chromium())
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        site = built(args.site, tmp)
        server, url = serve(site)
        try:
            browser, facts = visit_pages(
                url + PAGE, args.runs, args.chromium, visit, ("ready", "learn", "generate")
            )
        finally:
            server.shutdown()
        text = (site / "browser" / "corpora" / f"{CORPUS}.txt").read_text(encoding="utf-8")
    cpython = in_cpython(text, args.runs)

    print()
    print_versions(facts)
    print(
        f"{args.runs} visits of {PAGE}; {CORPUS} ({len(text):,} characters), letters, "
        f"order {ORDER}; generate {LENGTH:,} letters x {len(SEEDS)} seeds per visit"
    )
    print()
    rows = [
        ("ready (navigation → ready)", browser["ready"], TARGETS_MS["ready"]),
        ("learn, Pyodide", browser["learn"], None),
        ("learn, CPython", cpython["learn"], None),
        (f"generate {LENGTH}, Pyodide", browser["generate"], TARGETS_MS["generate"]),
        (f"generate {LENGTH}, CPython", cpython["generate"], None),
    ]
    passed = print_table(rows, 28)
    ratio = statistics.median(browser["generate"]) / statistics.median(cpython["generate"])
    print(f"\nPyodide / CPython, generate (medians): {ratio:.1f}x")
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    main()
