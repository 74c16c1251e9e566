"""Time lesson 4's digits network: its training at site build, and the recognizer in a browser.

    python benchmarks/digits.py [--site DIR] [--runs 5] [--chromium /usr/bin/chromium]

1. Training, as the site build runs it (twice per build for the two languages, once more for
   the browser's copy): ``neural.train`` on the digits with the lesson's settings, ``--runs``
   times, each in a fresh Python process, timed from the process start to its end (imports of
   NumPy and scikit-learn, loading the digits, 30 epochs). Target: < 60 s each.
2. The recognizer in headless Chromium: builds the site (unless ``--site`` names a built one),
   serves it on 127.0.0.1, opens the German lesson page ``--runs`` times in a fresh browser
   context each, draws the digits 0, 4 and 7 with the mouse and reads what the widget records
   after every stroke: ``data-predict-ms``, from the stroke's end (the mouse button let go) to
   the probabilities drawn on screen. Target: < 100 ms for every stroke (the max).

Exit status 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # benchmarks/ and the helpers the browser tests use, from tests/
from benchmarks.common import built, chromium, fresh_page, machine, print_table  # noqa: E402
from tests.conftest import find_chromium, serve  # noqa: E402
from tests.test_digit_pad import DRAWN  # noqa: E402

PAGE = "/lessons/04-neural-networks/"
DIGITS = [0, 4, 7]
TARGETS_MS = {"train": 60_000.0, "predict": 100.0}
TRAIN = (
    "from lessons import neural; "
    "trained = neural.train(neural.load_digits(), neural.TrainConfig()); "
    "print(trained.history.test_accuracy[-1])"
)


def train_times(runs: int) -> tuple[list[float], str]:
    """Wall times in ms of a fresh process that trains the network, and its test accuracy."""
    times, accuracy = [], ""
    for _ in range(runs):
        start = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-c", TRAIN], cwd=ROOT, capture_output=True, text=True, check=True
        )
        times.append(1000 * (time.perf_counter() - start))
        accuracy = result.stdout.strip()
    return times, accuracy


def in_browser(url: str, runs: int, path: str) -> tuple[dict[str, list[float]], dict]:
    """Times in ms (ready, and predict per stroke), and facts about the browser."""
    times: dict[str, list[float]] = {"ready": [], "predict": []}
    with chromium(path) as browser:
        facts = {"chromium": browser.version}
        for run in range(runs):
            viewport = {"width": 1280, "height": 1000}
            with fresh_page(browser, url + PAGE, viewport=viewport) as page:
                visit(page, times, run)
    return times, facts


def visit(page, times: dict[str, list[float]], run: int) -> None:
    """Draw the digits on an open page; add its times to ``times`` and print them."""
    root = page.locator(".digit-recognizer")
    root.scroll_into_view_if_needed()
    page.wait_for_selector(".digit-recognizer[data-state=ready]", timeout=60_000)
    times["ready"].append(float(root.get_attribute("data-ready-ms")))
    box = page.locator(".digit-recognizer .dr-pad").bounding_box()
    named, strokes = [], []
    for digit in DIGITS:
        root.locator('[data-part="clear"]').click()
        for stroke in DRAWN[digit]:
            strokes.append(draw(page, root, box, stroke))
        named.append(f"{digit}→{root.get_attribute('data-digit')}")
    times["predict"] += strokes
    print(
        f"visit {run + 1}: ready {times['ready'][-1]:.0f} ms, strokes "
        f"{', '.join(f'{ms:.1f}' for ms in strokes)} ms  ({', '.join(named)})"
    )


def draw(page, root, box: dict, stroke: list[tuple[float, float]]) -> float:
    """Draw one stroke with the mouse; the widget's time from its end to the answer on screen."""

    def at(point):
        return box["x"] + point[0] * box["width"], box["y"] + point[1] * box["height"]

    page.mouse.move(*at(stroke[0]))
    page.mouse.down()
    for point in stroke[1:]:
        page.mouse.move(*at(point), steps=2)
    root.evaluate("root => delete root.dataset.predictMs")
    page.mouse.up()
    page.wait_for_function(
        "root => root.dataset.predictMs !== undefined", arg=root.element_handle(), timeout=10_000
    )
    return float(root.get_attribute("data-predict-ms"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, help="a built site (default: build one now)")
    parser.add_argument("--runs", type=int, default=5, help="trainings and visits (default 5)")
    parser.add_argument("--chromium", default=find_chromium())
    args = parser.parse_args()

    print("training in fresh processes…", flush=True)
    load_before = os.getloadavg()[0]
    train, accuracy = train_times(args.runs)
    load_after = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        site = built(args.site, tmp)
        server, url = serve(site)
        try:
            browser, facts = in_browser(url, args.runs, args.chromium)
        finally:
            server.shutdown()

    print()
    print(
        f"machine: {machine()}; CPython "
        f"{platform.python_version()}; Chromium {facts['chromium']} (headless); load average "
        f"{load_before:.1f} before and {load_after:.1f} after the trainings"
    )
    print(f"training: test accuracy {float(accuracy):.1%}; digits drawn: {DIGITS}")
    print()
    rows = [
        ("train, fresh process (start → end)", train, TARGETS_MS["train"]),
        ("ready (navigation → ready)", browser["ready"], None),
        ("stroke end → probabilities shown", browser["predict"], TARGETS_MS["predict"]),
    ]
    sys.exit(0 if print_table(rows, 36) else 1)


if __name__ == "__main__":
    main()
