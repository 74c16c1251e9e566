"""The texts the course trains on: public-domain German and English literature.

A language model is only as good as its training text, so this module is careful with it:

* the registry (``lessons/data/corpora.json``) pins every file to a URL at a fixed commit,
  with its SHA-256 checksum;
* ``fetch`` downloads each file once into a local cache and refuses bytes whose checksum
  differs, so everyone trains on exactly the same text;
* ``load`` strips what the author did not write: title pages, prefaces, Project Gutenberg
  lines, illustration captions, transcribers' notes and typographic markup.

    >>> from lessons import corpora
    >>> text = corpora.load("kafka-die-verwandlung")
    >>> text[:34]
    'I.\\n\\nAls Gregor Samsa eines Morgens'

Set ``LESSONS_CORPUS_MIRROR`` to a folder with a copy (``<folder>/<id>/<file>``) to work
offline, and ``LESSONS_CACHE`` to choose where the cache lives. Standard library only.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import sys
import tempfile
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import BinaryIO


@dataclass(frozen=True)
class CorpusFile:
    """One raw file of a corpus: where it comes from and what its bytes must hash to."""

    path: str
    url: str
    sha256: str
    bytes: int

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Corpus:
    """A text collection: its metadata and its files (``source`` is ``repo@commit``)."""

    id: str
    lang: str
    title: str
    author: str
    year: int | None
    license: str
    attribution: str
    source: str
    files: tuple[CorpusFile, ...]


class CorpusError(Exception):
    """A corpus could not be found, fetched or cleaned; the message says what to do."""


def _read_registry() -> dict[str, Corpus]:
    text = resources.files("lessons").joinpath("data/corpora.json").read_text(encoding="utf-8")
    registry = {}
    for entry in json.loads(text)["corpora"]:
        files = tuple(CorpusFile(**file) for file in entry.pop("files"))
        registry[entry["id"]] = Corpus(**entry, files=files)
    return registry


CORPORA: dict[str, Corpus] = _read_registry()


def get(corpus_id: str | Corpus) -> Corpus:
    """The registry entry of a corpus (a ``Corpus`` passes through unchanged)."""
    if isinstance(corpus_id, Corpus):
        return corpus_id
    if corpus_id not in CORPORA:
        known = ", ".join(CORPORA)
        raise CorpusError(f"Unknown corpus {corpus_id!r}. Use one of: {known}.")
    return CORPORA[corpus_id]


def ids(lang: str | None = None) -> list[str]:
    """The ids of all corpora, or of those in one language ('de' or 'en')."""
    langs = sorted({corpus.lang for corpus in CORPORA.values()})
    if lang is not None and lang not in langs:
        raise CorpusError(f"No corpora in language {lang!r}. Use one of: {', '.join(langs)}.")
    return [corpus.id for corpus in CORPORA.values() if lang in (None, corpus.lang)]


def cache_dir() -> Path:
    """Where downloads are kept: $LESSONS_CACHE, else $XDG_CACHE_HOME/lessons, else ~/.cache."""
    if os.environ.get("LESSONS_CACHE"):
        return Path(os.environ["LESSONS_CACHE"]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]) / "lessons"
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "lessons"
    return Path.home() / ".cache" / "lessons"


# --- Getting the raw files -------------------------------------------------------------


def _save_verified(source: BinaryIO, sha256: str, dest: Path, origin: str) -> Path:
    """Copy a byte stream to dest, but only if its SHA-256 is the expected one.

    The bytes go to a temporary file next to dest first; only a verified file is renamed
    into place (``os.replace`` is atomic), so dest is never left half-written.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        with os.fdopen(handle, "wb") as out:
            while chunk := source.read(1 << 16):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != sha256:
            raise CorpusError(
                f"Checksum mismatch for {origin}: expected sha256 {sha256}, "
                f"got {digest.hexdigest()}. Nothing was cached. The file is damaged or has "
                "changed at its source; try again, or report it if it keeps happening."
            )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def download(
    url: str,
    sha256: str,
    dest: Path,
    *,
    timeout: float = 60,
    offline: str = "set LESSONS_CORPUS_MIRROR to a folder that holds a copy",
) -> Path:
    """Download url (http, https or file) to dest and check its SHA-256.

    ``offline`` completes the error message: what to do without the download.
    """
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return _save_verified(response, sha256, Path(dest), origin=url)
    except (OSError, http.client.HTTPException) as err:  # HTTPError, URLError, timeouts
        raise CorpusError(
            f"Could not download {url} ({err}). Nothing was cached. Check your internet "
            f"connection, or {offline}."
        ) from err


def _is_intact(path: Path, file: CorpusFile) -> bool:
    """Has a cached file still the right size and checksum?"""
    if path.stat().st_size != file.bytes:
        return False
    return hashlib.sha256(path.read_bytes()).hexdigest() == file.sha256


def _fetch_file(file: CorpusFile, dest: Path, mirrored: Path | None) -> Path:
    if dest.is_file():
        if _is_intact(dest, file):
            return dest
        dest.unlink()  # damaged or outdated: get it again
    if mirrored is None:
        return download(file.url, file.sha256, dest)
    if not mirrored.is_file():
        raise CorpusError(
            f"The corpus mirror has no file {mirrored}. Put a copy there, or unset "
            f"LESSONS_CORPUS_MIRROR to download it from {file.url}."
        )
    with mirrored.open("rb") as source:
        return _save_verified(source, file.sha256, dest, origin=str(mirrored))


def fetch(
    corpus_id: str | Corpus, *, cache: Path | None = None, mirror: Path | None = None
) -> list[Path]:
    """The verified raw files of a corpus, in <cache>/corpora/<id>/, fetched if needed.

    Files come from ``mirror`` (or $LESSONS_CORPUS_MIRROR) if given, else from their URLs.
    """
    corpus = get(corpus_id)
    folder = Path(cache or cache_dir()) / "corpora" / corpus.id
    mirror = mirror or os.environ.get("LESSONS_CORPUS_MIRROR")
    mirrored = Path(mirror) / corpus.id if mirror else None
    return [
        _fetch_file(file, folder / file.name, mirrored / file.name if mirrored else None)
        for file in corpus.files
    ]


# --- Cleaning: one function per text ----------------------------------------------------


def tidy(text: str) -> str:
    """Unix line endings, no trailing spaces, at most one blank line in a row."""
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u00a0", " ")  # no-break spaces only letter-space title pages here
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")


def _find(pattern: str, text: str) -> re.Match[str]:
    match = re.search(pattern, text, flags=re.MULTILINE)
    if match is None:
        raise CorpusError(f"Marker {pattern!r} not found: the text is not in the expected format.")
    return match


def _cut(text: str, start: str | None = None, end: str | None = None) -> str:
    """Keep the text from the first match of the regex `start` up to that of `end`."""
    if start:
        text = text[_find(start, text).start() :]
    if end:
        text = text[: _find(end, text).start()]
    return text


def _unwrap(text: str, mark: str) -> str:
    """Drop markup signs around a span and keep the span: '_italics_' -> 'italics'."""
    sign = re.escape(mark)
    return re.sub(f"{sign}([^{sign}]+){sign}", r"\1", text)


def join_lines(text: str) -> str:
    """Prose hard-wrapped at ~72 columns: each paragraph becomes one line.

    Line breaks inside a paragraph are typesetting, not writing; a model that learns from
    them would put line breaks in the middle of its sentences.
    """
    paragraphs = text.split("\n\n")
    return "\n\n".join(" ".join(line.strip() for line in p.split("\n")) for p in paragraphs)


def keep(text: str) -> str:
    """Tiny Shakespeare: already clean; we keep it byte for byte, as char-rnn and nanoGPT do."""
    return text


def clean_wharton(text: str) -> str:
    """The Verdict: the file is just the story; only _italics_ marks go."""
    return _unwrap(tidy(text), "_")


def clean_kafka(text: str) -> str:
    """Die Verwandlung: from chapter 'I.' to the Project Gutenberg closing line, unwrapped."""
    text = _cut(tidy(text), start=r"^I\.$", end=r"^End of the Project Gutenberg")
    return join_lines(tidy(text))


def clean_faust(text: str) -> str:
    """Faust I: from 'Zueignung' to before the transcriber's notes, without markup.

    A later edition's correction right after a word, 'Leid[Lied]', is dropped: we keep the
    1808 first edition, as the transcription does, also because for gaps such as
    'H — —[Hintern]' it is unclear how much text the correction replaces.
    """
    text = _cut(tidy(text), start=r"^_Zueignung\._$", end=r"^\[Anmerkungen zur Transkription")
    text = re.sub(r"(?<=\S)\[[^\]\n]*\]", "", text)
    text = _unwrap(text, "_")  # _Faust._: letter-spaced (gesperrt) names and directions
    text = _unwrap(text, "#")  # #Mater dolorosa#: Latin set in Antiqua type
    return tidy(text)


# '[Illustration: ...]' blocks span lines and may hold one level of nested [...].
_ILLUSTRATION = re.compile(r"\[Illustration(?:[^\[\]]|\[[^\[\]]*\])*\]")
_CHAPTER = re.compile(r"Chapter [IVXLC]+\.", flags=re.IGNORECASE)
_LAYOUT = re.compile(r"/\* *(?:NIND|RIGHT)? *(.*?) *\*/")  # '/* RIGHT “Hunsford, ... */'


def _chapter_heading(illustration: re.Match[str]) -> str:
    heading = _CHAPTER.search(illustration.group())
    return heading.group() if heading else ""


def clean_austen(text: str) -> str:
    """Pride and Prejudice: chapters I to LXI, without illustrations and markup.

    The novel starts with the illustration that holds the heading 'Chapter I.' (we keep the
    heading), right before 'It is a truth universally acknowledged'; it ends before the
    '[Illustration: THE END]' block and the printer's imprint.
    """
    text = _cut(
        tidy(text),
        start=r"^\[Illustration:[^\]]*Chapter I\.\]\s+It is a truth universally",
        end=r"^\s*\[Illustration:\s*THE\s+END\s*\]",
    )
    text = _ILLUSTRATION.sub(_chapter_heading, text)
    # Six illustrations sit inside a sentence: join the two halves of that paragraph again.
    text = re.sub(r"(?<=[a-z,;])\n\s*\n(?=[a-z])", "\n", text)
    text = _LAYOUT.sub(r"\1", text)  # letter openings: the typesetting hints go
    return join_lines(tidy(_unwrap(text, "_")))


TEI = "{http://www.tei-c.org/ns/1.0}"
_TEI_LINES = {"head", "p", "l", "label"}  # each becomes one line of plain text
_TEI_SKIPPED = {"ref", "trailer", "note"}  # endnote markers, 'THE END.', printers' imprints


def _tei_lines(body: ET.Element) -> list[tuple[str, str]]:
    """(tag, text) of every head/p/l/label in reading order, whitespace collapsed."""
    lines: list[tuple[str, str]] = []
    buffer: list[str] = []

    def flush(tag: str) -> None:
        text = " ".join("".join(buffer).split())  # also turns no-break spaces into spaces
        buffer.clear()
        if text:
            lines.append((tag, text))

    def walk(elem: ET.Element, tag: str) -> None:
        name = elem.tag.removeprefix(TEI)
        if name in _TEI_LINES:  # a verse line inside a paragraph ends the text before it
            flush(tag)
            tag = name
        buffer.append(elem.text or "")
        for child in elem:
            if child.tag.removeprefix(TEI) not in _TEI_SKIPPED:
                walk(child, tag)
            buffer.append(child.tail or "")
        if name in _TEI_LINES:
            flush(tag)

    walk(body, "p")
    flush("p")
    return lines


def clean_eltec(xml: str) -> str:
    """An ELTeC novel (TEI XML): the text of <body> only, so no header, front or back.

    One line per paragraph, heading or verse line; blank lines between all but verse lines.
    """
    body = ET.fromstring(xml).find(f"{TEI}text/{TEI}body")
    if body is None:
        raise CorpusError("No <text><body> in this TEI document: is it an ELTeC file?")
    parts: list[str] = []
    previous = ""
    for tag, line in _tei_lines(body):
        if parts:
            parts.append("\n" if tag == previous == "l" else "\n\n")
        parts.append(line)
        previous = tag
    return "".join(parts)


CLEANERS: dict[str, Callable[[str], str]] = {
    "wharton-the-verdict": clean_wharton,
    "tinyshakespeare": keep,
    "kafka-die-verwandlung": clean_kafka,
    "goethe-faust-1": clean_faust,
    "austen-pride-and-prejudice": clean_austen,
    "eltec-deu": clean_eltec,
    "eltec-eng": clean_eltec,
}

_CLEANED: dict[Corpus, tuple[str, ...]] = {}  # memo: each corpus is cleaned once per process


def documents(
    corpus_id: str | Corpus, *, cache: Path | None = None, mirror: Path | None = None
) -> list[str]:
    """The clean text of each file of a corpus (for ELTeC: one novel each)."""
    corpus = get(corpus_id)
    if corpus not in _CLEANED:
        clean = CLEANERS.get(corpus.id, tidy)
        paths = fetch(corpus, cache=cache, mirror=mirror)
        _CLEANED[corpus] = tuple(clean(path.read_bytes().decode("utf-8")) for path in paths)
    return list(_CLEANED[corpus])


def load(corpus_id: str | Corpus, *, cache: Path | None = None, mirror: Path | None = None) -> str:
    """The clean text of a corpus, its documents joined by a blank line."""
    return "\n\n".join(documents(corpus_id, cache=cache, mirror=mirror))
