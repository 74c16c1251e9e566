"""Time lesson 5's word vectors: the training at site build, and the word navigator in a browser.

    python benchmarks/navigator.py [--site DIR] [--runs 2] [--visits 3] [--only train|browser]

- **train**: ``embeddings.course_vectors`` for German and English, as the site build runs it
  (the sentence sets from the cached corpora, then word2vec), each run in a fresh Python
  process. Target: both languages together in under 60 s.
- **browser**: builds the site (unless ``--site`` names a built one), serves it on 127.0.0.1
  and opens the German lesson page ``--visits`` times, each in a fresh browser context (an
  empty cache). It asks for the neighbours of ten words and for three analogies, in German and
  then in English vectors, and reads what the widget records: the Python call alone
  (``data-query-ms``) and, measured in the page, from the click until the answer is drawn.
  Target: every question answered in under 200 ms. The same questions run in CPython on the
  same file, as the reference.

Exit status 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # benchmarks/ and the helpers the browser tests use, from tests/
from benchmarks.common import (  # noqa: E402
    built,
    chromium,
    fresh_page,
    machine,
    print_table,
    verdict,  # noqa: E402
)
from tests.conftest import find_chromium, serve  # noqa: E402

PAGE = "/lessons/05-word-embeddings/"
WORDS = {
    "de": ["tag", "vater", "drei", "sagte", "ging", "tür", "rot", "gut", "hund", "könig"],
    "en": ["day", "father", "three", "said", "went", "door", "red", "good", "dog", "king"],
}
ANALOGIES = {
    "de": [("vater", "mann", "frau"), ("ging", "gehen", "kommen"), ("zwei", "eins", "drei")],
    "en": [("father", "man", "woman"), ("went", "go", "come"), ("two", "one", "three")],
}
TARGETS = {"train": 60.0, "query": 200.0}  # seconds for both languages; ms per question

TRAIN = """
import json, time
from lessons import embeddings
times = {}
for lang in embeddings.LANGS:
    start = time.perf_counter()
    sentences = embeddings.sentence_set(lang)
    prepared = time.perf_counter()
    trained = embeddings.course_vectors(lang)
    times[lang] = {"sentences": prepared - start, "train": trained.seconds,
                   "total": time.perf_counter() - start}
print(json.dumps(times))
"""


def train_runs(runs: int) -> list[dict]:
    """The times of ``runs`` fresh processes, each preparing and training both languages."""
    results = []
    for run in range(runs):
        load = os.getloadavg()[0]
        done = subprocess.run(
            [sys.executable, "-c", TRAIN], cwd=ROOT, capture_output=True, text=True, check=True
        )
        times = json.loads(done.stdout.splitlines()[-1])
        times["load"] = load
        results.append(times)
        total = sum(times[lang]["total"] for lang in ("de", "en"))
        print(f"run {run + 1}: both languages {total:.1f} s (load average before: {load:.1f})")
    return results


CLICK_TO_ANSWER = """async ([root, button]) => {
    const runs = Number(root.dataset.runs);
    const start = performance.now();
    root.querySelector(`[data-part="${button}"]`).click();
    while (Number(root.dataset.runs) === runs) await new Promise((done) => setTimeout(done, 0));
    return performance.now() - start;
}"""


def in_browser(url: str, visits: int, path: str) -> tuple[dict[str, list[float]], str]:
    """Times in ms: ready, and per question the Python call and click-to-answer."""
    times: dict[str, list[float]] = {"ready": [], "call": [], "answer": []}
    with chromium(path) as browser:
        for number in range(visits):
            with fresh_page(browser, url + PAGE) as page:
                visit(page, times, number)
        return times, browser.version


def visit(page, times: dict[str, list[float]], number: int) -> None:
    """Ask all questions on an open page; add its times to ``times`` and print them."""
    page.wait_for_selector(".word-navigator[data-state=ready]", timeout=60_000)
    root = page.locator(".word-navigator")
    page.wait_for_function("root => Number(root.dataset.runs) > 0", arg=root.element_handle())
    times["ready"].append(float(root.get_attribute("data-ready-ms")))
    for lang in ("de", "en"):
        if root.locator('[data-part="vectors"]').input_value() != lang:
            runs = int(root.get_attribute("data-runs"))
            root.locator('[data-part="vectors"]').select_option(lang)
            page.wait_for_function(
                "([root, runs]) => Number(root.dataset.runs) > runs",
                arg=[root.element_handle(), runs],
            )
        questions = [("neighbours", {"word": word}) for word in WORDS[lang]]
        questions += [
            ("calculate", dict(zip("abc", task, strict=True))) for task in ANALOGIES[lang]
        ]
        for button, fields in questions:
            for name, word in fields.items():
                root.locator(f'[data-part="{name}"]').fill(word)
            answer = page.evaluate(CLICK_TO_ANSWER, [root.element_handle(), button])
            status = root.locator('[data-part="status"]')
            if "is-error" in (status.get_attribute("class") or ""):
                raise SystemExit(f"{fields}: {status.text_content()}")
            times["call"].append(float(root.get_attribute("data-query-ms")))
            times["answer"].append(answer)
    print(
        f"visit {number + 1}: ready {times['ready'][-1]:.0f} ms, slowest question "
        f"{max(times['answer'][-26:]):.1f} ms (Python call "
        f"{max(times['call'][-26:]):.1f} ms)"
    )


def in_cpython(site: Path, visits: int) -> list[float]:
    """The same questions in CPython, over the same files, timed the same way (the call)."""
    from lessons import navigator

    manifest = json.loads((site / "browser" / "manifest.json").read_text(encoding="utf-8"))
    entry = manifest["word_vectors"]
    times = []
    for lang in ("de", "en"):
        file = entry[lang]["files"]["vectors"]
        text = (site / "browser" / entry["folder"] / file["name"]).read_text(encoding="utf-8")
        nav = navigator.Navigator.from_json(text, file["sha256"])
        for _ in range(visits):
            for word in WORDS[lang]:
                start = time.perf_counter()
                nav.neighbours_json(word)
                times.append(1000 * (time.perf_counter() - start))
            for task in ANALOGIES[lang]:
                start = time.perf_counter()
                nav.analogy_json(*task)
                times.append(1000 * (time.perf_counter() - start))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, help="a built site (default: build one now)")
    parser.add_argument("--runs", type=int, default=2, help="training runs (default 2)")
    parser.add_argument("--visits", type=int, default=3, help="page visits (default 3)")
    parser.add_argument("--only", choices=["train", "browser"])
    parser.add_argument("--chromium", default=find_chromium())
    args = parser.parse_args()

    failed = False
    print(f"machine: {machine()}; CPython {platform.python_version()}")
    if args.only != "browser":
        print("\ntraining at site build (fresh process per run):")
        results = train_runs(args.runs)
        print(
            f"\n{'measure':<34} " + " ".join(f"{'run ' + str(i + 1):>9}" for i in range(args.runs))
        )
        for lang in ("de", "en"):
            for part in ("sentences", "train"):
                values = " ".join(f"{r[lang][part]:>7.1f} s" for r in results)
                print(f"{lang}: {part:<30} {values}")
        totals = [sum(r[lang]["total"] for lang in ("de", "en")) for r in results]
        ok, text = verdict(max(totals), "<", TARGETS["train"], "s")
        failed |= not ok
        values = " ".join(f"{total:>7.1f} s" for total in totals)
        print(f"{'both languages, all':<34} {values}   {text}")

    if args.only != "train":
        with tempfile.TemporaryDirectory() as tmp:
            site = built(args.site, tmp, lead="\n")
            server, url = serve(site)
            try:
                browser, version = in_browser(url, args.visits, args.chromium)
            finally:
                server.shutdown()
            cpython = in_cpython(site, args.visits)
        print(f"\nChromium {version} (headless); {args.visits} visits of {PAGE}")
        rows = [
            ("ready (navigation → ready)", browser["ready"], None),
            ("question, Python call, Pyodide", browser["call"], TARGETS["query"]),
            ("question, click → answer drawn", browser["answer"], TARGETS["query"]),
            ("question, Python call, CPython", cpython, None),
        ]
        failed |= not print_table(rows, 36)
        ratio = statistics.median(browser["call"]) / statistics.median(cpython)
        print(f"\nPyodide / CPython, Python call (medians): {ratio:.1f}x")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
