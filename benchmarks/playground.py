"""Time the GPT playground of lesson 8 in a real browser (headless Chromium), against its targets.

    python benchmarks/playground.py [--site DIR] [--runs 5] [--chromium /usr/bin/chromium]

Builds the site (unless ``--site`` names a built one), serves it on 127.0.0.1 and opens the
German lesson 8 page ``--runs`` times, each time in a fresh browser context (an empty cache,
like a first visit), scrolled to the playground so that it loads. It measures what the widget
records on itself:

- ready: from navigation start until Python and the course model are loaded (``data-ready-ms``);
- model load: fetching the model's files (``data-download-ms``, while Pyodide starts) and
  Python checking their SHA-256 and reading them (``data-model-ms``);
- first token: from the click on "Schreiben" to the first token on screen, with a prompt of one
  short sentence (``data-first-token-ms``), for the first run after loading and two more;
- tokens per second: over a run of 100 new tokens, from the first to the last token on screen
  (``data-tokens-per-s``).

The same runs in CPython (``lessons.playground`` on the files of the built site) give the
reference. A target passes when every sample is on the right side of it; exit status 1 if one
is missed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/ and tests/
from benchmarks.browser import press  # noqa: E402
from benchmarks.common import built, print_versions, verdict, visit_pages  # noqa: E402
from tests.conftest import find_chromium, serve  # noqa: E402

PAGE = "/lessons/08-tokenize-continue/"
PROMPT = "Gregor Samsa erwachte eines Morgens aus unruhigen Träumen."
FIRST_TOKEN_RUNS = 3  # short runs per visit, each timed from the click to the first token
LENGTH = 100
SETTINGS = {"temperature": "0.8", "top-k": "", "top-p": "", "seed": "1"}
MEASURES = ("ready", "download", "model", "first token", "tokens/s")
TARGETS = {"first token": ("<", 2000.0, "ms"), "tokens/s": (">=", 5.0, "tokens/s")}


def visit(page, samples: dict[str, list[float]], run: int) -> None:
    """Load the playground on an open page and write; add its samples and print them."""
    root = page.locator(".gpt-playground")
    root.scroll_into_view_if_needed()
    page.wait_for_selector(
        ".gpt-playground:is([data-state=ready], [data-state=failed])", timeout=60_000
    )
    if root.get_attribute("data-state") != "ready":
        sys.exit(f"the playground failed: {root.locator('[data-part=status]').inner_text()}")
    for name in ("ready", "download", "model"):
        samples[name].append(float(root.get_attribute(f"data-{name}-ms")))
    fill(root, prompt=PROMPT, length="1", **SETTINGS)
    for _ in range(FIRST_TOKEN_RUNS):
        press(page, root, "generate")
        samples["first token"].append(float(root.get_attribute("data-first-token-ms")))
    fill(root, length=str(LENGTH))
    press(page, root, "generate")
    tokens = int(root.get_attribute("data-tokens"))
    samples["tokens/s"].append(float(root.get_attribute("data-tokens-per-s")))
    firsts = samples["first token"][-FIRST_TOKEN_RUNS:]
    print(
        f"visit {run + 1}: ready {samples['ready'][-1]:.0f} ms (model: download "
        f"{samples['download'][-1]:.0f} ms, read {samples['model'][-1]:.0f} ms), "
        f"first token {', '.join(f'{ms:.0f}' for ms in firsts)} ms, "
        f"{samples['tokens/s'][-1]:.1f} tokens/s over {tokens} tokens"
    )


def fill(root, **fields: str) -> None:
    for name, value in fields.items():
        root.locator(f'[data-part="{name}"]').fill(value)


def in_cpython(site: Path, runs: int) -> tuple[dict[str, list[float]], int]:
    """The same work in CPython, on the files the browser loads: the Python calls alone.

    Also returns how many tokens the prompt has.
    """
    import json

    from lessons import playground

    entry = json.loads((site / "browser" / "manifest.json").read_text())["course_gpt"]
    folder = site / "browser" / entry["folder"]
    files = {key: (folder / file["name"]).read_bytes() for key, file in entry["files"].items()}
    samples: dict[str, list[float]] = {"model": [], "first token": [], "tokens/s": []}
    settings = {"temperature": "0.8", "seed": "1", "lang": "de"}
    for _ in range(runs):
        start = time.perf_counter()
        gpt = playground.load(files, entry)
        samples["model"].append(1000 * (time.perf_counter() - start))
        for _ in range(FIRST_TOKEN_RUNS):
            start = time.perf_counter()
            next(gpt.start(PROMPT, length="1", **settings))
            samples["first token"].append(1000 * (time.perf_counter() - start))
        run = gpt.start(PROMPT, length=str(LENGTH), **settings)
        next(run)
        start = time.perf_counter()
        count = sum(1 for _ in run)  # the tokens after the first, as the browser counts
        samples["tokens/s"].append(count / (time.perf_counter() - start))
    return samples, len(run.prompt_ids)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, help="a built site (default: build one now)")
    parser.add_argument("--runs", type=int, default=5, help="page visits (default 5)")
    parser.add_argument("--chromium", default=find_chromium())
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        site = built(args.site, tmp)
        load_before = os.getloadavg()[0]
        server, url = serve(site)
        try:
            browser, facts = visit_pages(url + PAGE, args.runs, args.chromium, visit, MEASURES)
        finally:
            server.shutdown()
        cpython, prompt_tokens = in_cpython(site, args.runs)
        load_after = os.getloadavg()[0]

    print()
    print_versions(facts)
    print(
        f"{args.runs} visits of {PAGE}; prompt {PROMPT!r} ({prompt_tokens} tokens); "
        f"temperature 0.8, seed 1; "
        f"{FIRST_TOKEN_RUNS} runs timed to the first token and one of {LENGTH} tokens per visit"
    )
    print(f"load average (1 min): {load_before:.1f} before, {load_after:.1f} after")
    print()
    print(f"{'measure':<34} {'median':>14} {'worst':>14}   target")
    failed = False
    rows = [
        ("ready (navigation → ready)", browser["ready"], "ms", None),
        ("model download, Pyodide page", browser["download"], "ms", None),
        ("model check + read, Pyodide", browser["model"], "ms", None),
        ("model check + read, CPython", cpython["model"], "ms", None),
        ("click → first token, Pyodide", browser["first token"], "ms", "first token"),
        ("first token (Python alone), CPython", cpython["first token"], "ms", None),
        (f"tokens/s over {LENGTH}, Pyodide", browser["tokens/s"], "tokens/s", "tokens/s"),
        (f"tokens/s over {LENGTH}, CPython", cpython["tokens/s"], "tokens/s", None),
    ]
    for name, values, unit, target in rows:
        higher_is_better = unit == "tokens/s"
        median = statistics.median(values)
        worst = min(values) if higher_is_better else max(values)
        text = ""
        if target:
            sign, limit, _ = TARGETS[target]
            ok, text = verdict(worst, sign, limit, unit)  # every sample
            failed |= not ok
        print(f"{name:<34} {median:>7.1f} {unit:<6} {worst:>7.1f} {unit:<6}   {text}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
