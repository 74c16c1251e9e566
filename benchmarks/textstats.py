"""Lesson 3's build-time work, timed against the target of 60 s for both languages.

    python benchmarks/textstats.py [--runs 3]

Runs the code blocks (```python exec="on"```) of docs/lessons/03-properties-of-texts.de.md
and .en.md, as the site build does: in one process, each page's blocks one after the other
in one namespace (the page's session), their output captured. So the figures time exactly
what the pages compute and draw, not a copy of it. The first run includes loading and
cleaning the corpora (from the cache or ``LESSONS_CORPUS_MIRROR``), which later runs in the
same process reuse, as the second language does in a build. Exit status 1 if the first run
misses the target.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET = 60.0  # seconds for both pages together
PAGES = [ROOT / f"docs/lessons/03-properties-of-texts.{lang}.md" for lang in ("de", "en")]
BLOCK = re.compile(r'^```python exec="on"[^\n]*\n(.*?)^```$', flags=re.MULTILINE | re.DOTALL)


def run_page(page: Path) -> float:
    """Execute every code block of ``page`` in one namespace; the seconds it took."""
    blocks = BLOCK.findall(page.read_text(encoding="utf-8"))
    namespace: dict = {"__name__": "__main__"}
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        for block in blocks:
            exec(compile(block, str(page), "exec"), namespace)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load average before: {os.getloadavg()[0]:.1f}"
    )
    totals = []
    for run in range(1, args.runs + 1):
        times = [run_page(page) for page in PAGES]
        totals.append(sum(times))
        parts = ", ".join(f"{page.name}: {t:.1f} s" for page, t in zip(PAGES, times, strict=True))
        print(f"run {run}: {parts}, both: {totals[-1]:.1f} s")
    verdict = "PASS" if totals[0] < TARGET else "MISSED"
    print(
        f"both pages, first run (as in a build): {totals[0]:.1f} s; "
        f"median of {args.runs} runs: {statistics.median(totals):.1f} s; "
        f"target < {TARGET:.0f} s: {verdict}"
    )
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
