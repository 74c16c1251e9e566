"""Time a strict build of the whole site (both languages), against the target of 60 s.

    python benchmarks/site_build.py [--runs 3]

Each run builds into a fresh folder, as CI does. The corpora come from the cache (or the
mirror), so the time is the build itself: MkDocs, every code block of every page, and the
browser files (Pyodide, the lessons wheel, the corpora).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 60.0


def build_once(site_dir: Path) -> float:
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(site_dir)]
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    machine = f"{platform.platform()}, {os.cpu_count()} cores"
    print(f"machine: {machine}, Python {platform.python_version()}")
    times = []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            seconds = build_once(Path(tmp) / "site")
        times.append(seconds)
        print(f"run {run + 1}: {seconds:.1f} s")
    median = statistics.median(times)
    verdict = "PASS" if median < TARGET_S else "FAIL"
    print(
        f"site build (de + en): median {median:.1f} s, max {max(times):.1f} s; "
        f"target < {TARGET_S:.0f} s: {verdict}"
    )


if __name__ == "__main__":
    main()
