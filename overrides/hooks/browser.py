"""MkDocs hook: put what the in-browser widgets need into the built site.

- ``pyodide/``: the Pyodide core from the npm package ``pyodide`` (no CDN);
- ``browser/lessons-*.whl``: the ``lessons`` package as a pure-Python wheel, built now;
- ``browser/corpora/<id>.txt``: the cleaned small corpora, prepared by ``lessons.corpora``;
- ``browser/course-gpt/``: the course model for the GPT playground (``lessons.course.export``);
- ``browser/digits/network.json``: the digits network of lesson 4, trained now (``_digit_network``);
- ``browser/word-vectors/``: lesson 5's word vectors and their training sentences, per language
  (``_word_vectors``);
- ``browser/manifest.json``: what the widgets load (wheel name, corpora with their titles, the
  course model's files with their SHA-256 and its description).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from lessons import corpora, course, embeddings, neural

ROOT = Path(__file__).resolve().parents[2]
PYODIDE = ROOT / "node_modules" / "pyodide"
PYODIDE_FILES = [
    "pyodide.mjs",
    "pyodide.asm.mjs",
    "pyodide.asm.wasm",
    "python_stdlib.zip",
    "pyodide-lock.json",
]
# The corpora offered in the browser: small enough to learn from in a second or two.
BROWSER_CORPORA = [
    "kafka-die-verwandlung",
    "goethe-faust-1",
    "wharton-the-verdict",
    "austen-pride-and-prejudice",
    "tinyshakespeare",
]
COURSE_GPT = "course-gpt"  # the course model's folder in browser/, for the GPT playground


def on_post_build(config, **kwargs) -> None:
    site = Path(config["site_dir"])
    _copy_pyodide(site / "pyodide")
    browser = site / "browser"
    (browser / "corpora").mkdir(parents=True, exist_ok=True)
    wheel = _build_wheel(browser)
    offered = []
    for corpus_id in BROWSER_CORPORA:
        corpus = corpora.get(corpus_id)
        text = corpora.load(corpus_id)
        (browser / "corpora" / f"{corpus_id}.txt").write_text(text, encoding="utf-8")
        offered.append(
            {
                "id": corpus_id,
                "lang": corpus.lang,
                "title": corpus.title,
                "author": corpus.author,
                "chars": len(text),
            }
        )
    course_gpt = {"folder": COURSE_GPT, **course.export(browser / COURSE_GPT)}
    manifest = {"wheel": wheel.name, "corpora": offered, "course_gpt": course_gpt}
    manifest["digit_network"] = _digit_network(browser)
    manifest["word_vectors"] = _word_vectors(browser, folder="word-vectors")
    (browser / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1))


def _digit_network(browser: Path) -> dict:
    """Train lesson 4's network as its page does (the default settings: the same network)
    and write it for the digit recognizer; its manifest entry: file, size, SHA-256."""
    file = "digits/network.json"
    network = neural.train(neural.load_digits(), neural.TrainConfig()).network
    return {"file": file, **neural.export(network, browser / file)}


def _word_vectors(browser: Path, folder: str) -> dict:
    """Write the word navigator's vectors (the lesson page trained them already, in this
    process) and the sentences they come from; per language the files, sizes and SHA-256."""
    entry = {lang: embeddings.export(lang, browser / folder) for lang in embeddings.LANGS}
    return {"folder": folder, **entry}


def _copy_pyodide(target: Path) -> None:
    missing = [name for name in PYODIDE_FILES if not (PYODIDE / name).is_file()]
    if missing:
        raise SystemExit(
            f"Pyodide is missing in {PYODIDE} ({', '.join(missing)}). "
            "Run `npm ci` in the repository (or `make serve`, which does it for you)."
        )
    target.mkdir(parents=True, exist_ok=True)
    for name in PYODIDE_FILES:
        shutil.copy2(PYODIDE / name, target / name)


def _build_wheel(target: Path) -> Path:
    """Build the pure-Python wheel of ``lessons`` with pip, into ``target``."""
    shutil.rmtree(ROOT / "build", ignore_errors=True)  # setuptools would reuse stale files
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
        command += ["--quiet", "--wheel-dir", tmp, str(ROOT)]
        subprocess.run(command, check=True, cwd=ROOT)
        (wheel,) = Path(tmp).glob("lessons-*-py3-none-any.whl")
        return Path(shutil.copy2(wheel, target / wheel.name))
