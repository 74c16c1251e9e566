"""Tests for lessons.corpora: downloads, the cache, the mirror and the cleaning functions.

The cleaning tests use tiny texts written here that imitate each source's format. The
tests at the end read the real files, but only where $LESSONS_CORPUS_MIRROR points to a
local copy of them; the cache is always a temporary folder, never the real one in $HOME.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import re
import socket
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from lessons import corpora
from lessons.corpora import Corpus, CorpusError, CorpusFile

MIRROR = os.environ.get("LESSONS_CORPUS_MIRROR")
needs_mirror = pytest.mark.skipif(
    not MIRROR, reason="set LESSONS_CORPUS_MIRROR to a local copy of the corpora"
)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def leftovers(folder: Path) -> list[str]:
    """Every file and folder under folder (temporary files included)."""
    return sorted(p.name for p in folder.rglob("*")) if folder.exists() else []


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own cache and no mirror unless it asks for one."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("LESSONS_CACHE", str(cache))
    monkeypatch.delenv("LESSONS_CORPUS_MIRROR", raising=False)
    return cache


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A web server on 127.0.0.1 (random port) that serves the folder tmp_path/www."""
    monkeypatch.setenv("no_proxy", "*")
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(QuietHandler, directory=str(root))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def toy_corpus(files: dict[str, bytes], url: str = "https://example.invalid") -> Corpus:
    """A registry entry for our own little files (not in CORPORA)."""
    entries = tuple(
        CorpusFile(path=f"texts/{name}", url=f"{url}/{name}", sha256=sha256(data), bytes=len(data))
        for name, data in files.items()
    )
    return Corpus(
        id="toy",
        lang="en",
        title="Toy",
        author="Nobody",
        year=None,
        license="public domain",
        attribution="",
        source="nobody/toy@0",
        files=entries,
    )


def make_mirror(tmp_path: Path, files: dict[str, bytes]) -> Path:
    mirror = tmp_path / "mirror"
    (mirror / "toy").mkdir(parents=True)
    for name, data in files.items():
        (mirror / "toy" / name).write_bytes(data)
    return mirror


# --- Downloads -------------------------------------------------------------------------

TEXT = b"It was a dark and stormy night.\n"


def test_download_caches_the_verified_file(server, tmp_path):
    root, url = server
    (root / "a.txt").write_bytes(TEXT)
    dest = tmp_path / "cache" / "a.txt"
    assert corpora.download(f"{url}/a.txt", sha256(TEXT), dest) == dest
    assert dest.read_bytes() == TEXT
    assert leftovers(dest.parent) == ["a.txt"]


def test_download_refuses_wrong_bytes_and_leaves_nothing(server, tmp_path):
    root, url = server
    (root / "a.txt").write_bytes(b"It was a bright cold day in April.\n")
    folder = tmp_path / "cache"
    with pytest.raises(CorpusError, match="Nothing was cached") as error:
        corpora.download(f"{url}/a.txt", sha256(TEXT), folder / "a.txt")
    assert f"expected sha256 {sha256(TEXT)}" in str(error.value)
    assert leftovers(folder) == []


def test_download_http_error_leaves_nothing(server, tmp_path):
    _, url = server
    folder = tmp_path / "cache"
    with pytest.raises(CorpusError, match="404"):
        corpora.download(f"{url}/missing.txt", sha256(TEXT), folder / "a.txt")
    assert leftovers(folder) == []


def test_download_network_error_says_what_to_do(tmp_path):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(CorpusError, match="LESSONS_CORPUS_MIRROR"):
        corpora.download(f"http://127.0.0.1:{port}/a.txt", sha256(TEXT), tmp_path / "a.txt")
    assert not (tmp_path / "a.txt").exists()


def test_download_accepts_file_urls(tmp_path):
    source = tmp_path / "source.txt"
    source.write_bytes(TEXT)
    dest = corpora.download(source.as_uri(), sha256(TEXT), tmp_path / "out" / "a.txt")
    assert dest.read_bytes() == TEXT


# --- Fetching into the cache -------------------------------------------------------------

FILES = {"one.txt": b"First file.\n", "two.txt": b"Second file.\n"}


def test_fetch_copies_from_a_mirror(tmp_path, private_cache):
    mirror = make_mirror(tmp_path, FILES)
    paths = corpora.fetch(toy_corpus(FILES), mirror=mirror)
    assert paths == [private_cache / "corpora" / "toy" / name for name in FILES]
    assert [p.read_bytes() for p in paths] == list(FILES.values())
    # Once cached, the mirror is no longer needed.
    for name in FILES:
        (mirror / "toy" / name).unlink()
    assert corpora.fetch(toy_corpus(FILES), mirror=mirror) == paths


def test_fetch_reads_the_mirror_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("LESSONS_CORPUS_MIRROR", str(make_mirror(tmp_path, FILES)))
    cache = tmp_path / "elsewhere"
    paths = corpora.fetch(toy_corpus(FILES), cache=cache)
    assert paths[0] == cache / "corpora" / "toy" / "one.txt"
    assert paths[0].read_bytes() == FILES["one.txt"]


def test_fetch_downloads_without_a_mirror(server):
    root, url = server
    for name, data in FILES.items():
        (root / name).write_bytes(data)
    paths = corpora.fetch(toy_corpus(FILES, url=url))
    assert [p.read_bytes() for p in paths] == list(FILES.values())


@pytest.mark.parametrize("damage", [b"Frist file.\n", b"truncated", b""])
def test_fetch_repairs_a_damaged_cached_file(tmp_path, damage):
    mirror = make_mirror(tmp_path, FILES)
    first, _ = corpora.fetch(toy_corpus(FILES), mirror=mirror)
    first.write_bytes(damage)  # same size, shorter, empty
    first_again, _ = corpora.fetch(toy_corpus(FILES), mirror=mirror)
    assert first_again.read_bytes() == FILES["one.txt"]


def test_fetch_names_a_missing_mirror_file(tmp_path, private_cache):
    mirror = make_mirror(tmp_path, FILES)
    (mirror / "toy" / "two.txt").unlink()
    with pytest.raises(CorpusError, match=re.escape(str(mirror / "toy" / "two.txt"))):
        corpora.fetch(toy_corpus(FILES), mirror=mirror)


def test_fetch_refuses_a_wrong_mirror_file(tmp_path, private_cache):
    mirror = make_mirror(tmp_path, FILES)
    (mirror / "toy" / "one.txt").write_bytes(b"Not the first file.\n")
    with pytest.raises(CorpusError, match="Checksum mismatch"):
        corpora.fetch(toy_corpus(FILES), mirror=mirror)
    assert leftovers(private_cache / "corpora" / "toy") == []


def test_load_joins_the_tidied_documents(tmp_path):
    files = {
        "one.txt": b"Line one.  \r\nLine two.\r\n\r\n\r\n\r\nPara two.\r\n",
        "two.txt": b"End.",
    }
    corpus = toy_corpus(files)
    mirror = make_mirror(tmp_path, files)
    assert corpora.documents(corpus, mirror=mirror) == ["Line one.\nLine two.\n\nPara two.", "End."]
    assert corpora.load(corpus, mirror=mirror) == "Line one.\nLine two.\n\nPara two.\n\nEnd."


# --- The registry ------------------------------------------------------------------------


def test_unknown_id_lists_the_known_ones():
    with pytest.raises(CorpusError, match="kafka-die-verwandlung") as error:
        corpora.get("kafka")
    assert all(corpus_id in str(error.value) for corpus_id in corpora.CORPORA)


def test_ids_by_language():
    assert set(corpora.ids()) == set(corpora.CORPORA)
    assert {"kafka-die-verwandlung", "goethe-faust-1", "eltec-deu"} == set(corpora.ids("de"))
    assert "tinyshakespeare" in corpora.ids("en")
    with pytest.raises(CorpusError, match="de, en"):
        corpora.ids("fr")


def test_registry_pins_every_file():
    assert len(corpora.get("eltec-deu").files) == 98
    assert len(corpora.get("eltec-eng").files) == 55
    for corpus in corpora.CORPORA.values():
        repo, commit = corpus.source.split("@")
        names = [file.name for file in corpus.files]
        assert len(set(names)) == len(names), "cache file names must be unique"
        for file in corpus.files:
            assert re.fullmatch(r"[0-9a-f]{64}", file.sha256)
            assert file.bytes > 0
            assert file.url == f"https://raw.githubusercontent.com/{repo}/{commit}/{file.path}"
        if corpus.license.startswith("CC-BY"):
            assert "CC BY 4.0" in corpus.attribution


def test_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("LESSONS_CACHE", str(tmp_path / "mine"))
    assert corpora.cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("LESSONS_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert corpora.cache_dir() == tmp_path / "xdg" / "lessons"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setattr(corpora.sys, "platform", "linux")
    monkeypatch.setattr(Path, "home", lambda: tmp_path / "home")
    assert corpora.cache_dir() == tmp_path / "home" / ".cache" / "lessons"


# --- Cleaning, on little imitations of each format ---------------------------------------


def test_tidy():
    assert corpora.tidy("\ufeff\n\na  \r\nb\r\n\r\n\r\n\r\nc\u00a0d\n\n") == "a\nb\n\nc d"


def test_clean_wharton():
    text = 'I HAD _always_ thought--\n\n"_Mrs._ Thwing," he said.\n'
    assert corpora.clean_wharton(text) == 'I HAD always thought--\n\n"Mrs. Thwing," he said.'


def test_clean_kafka():
    text = (
        "\n                DIE VERWANDLUNG\n\n                     VON\n\n"
        "         K\u00a0U\u00a0R\u00a0T  W\u00a0O\u00a0L\u00a0F\u00a0F\n\n"
        "     COPYRIGHT KURT WOLFF VERLAG · LEIPZIG. 1917\n\n\n\n"
        "I.\n\n\nAls Gregor Samsa eines Morgens\r\nerwachte.\n\n\nII.\n\nZwei.\n\n\n\n"
        "End of the Project Gutenberg EBook of Die Verwandlung, by Franz Kafka\n"
    )
    assert corpora.clean_kafka(text) == (
        "I.\n\nAls Gregor Samsa eines Morgens erwachte.\n\nII.\n\nZwei."
    )


def test_clean_faust():
    text = (
        "\n          _Faust._\n\n     _Eine Tragödie._\n\n      1808.\n\n\n\n"
        "_Zueignung._\n\n\nMein Leid[Lied] ertönt der _unbekannten_ Menge,\n\n"
        "_Director, Theaterdichter,\nlustige Person._\n\n"
        "#Dies irae, dies illa\nSolvet saeclum in favilla.#\n\n"
        "        Es f—t[farzt] die Hexe, es st—t[stinckt] der Bock.\n\n\n\n"
        "[Anmerkungen zur Transkription: Korrekturen in eckigen Klammern.\n\n"
        "Sperrung:       _gesperrter Text_\nAntiquaschrift: #Antiquatext# ]\n\n"
        "[Transcriber’s Note: Spaced-out: _spaced out text_ ]\n\n"
        "End of the Project Gutenberg EBook of Faust, by Johann Wolfgang von Goethe\n"
    )
    assert corpora.clean_faust(text) == (
        "Zueignung.\n\nMein Leid ertönt der unbekannten Menge,\n\n"
        "Director, Theaterdichter,\nlustige Person.\n\n"
        "Dies irae, dies illa\nSolvet saeclum in favilla.\n\n"
        "        Es f—t die Hexe, es st—t der Bock."
    )


def test_clean_austen():
    text = (
        "                PRIDE AND PREJUDICE\n\nPREFACE.\n\nWalt Whitman has somewhere...\n\n"
        "List of Illustrations\n\n[Illustration: Heading to Chapter I.]\n\n"
        "Heading to Chapter I.          1\n\n\n\n"
        "[Illustration: ·PRIDE AND PREJUDICE·\n\n\n\n\nChapter I.]\n\n\n"
        "It is a truth universally acknowledged, that a single man\nmust want a wife.\n\n"
        "“_You_ want to tell me.”\n\n"
        "[Illustration:\n\n“He came down to see the place”\n\n"
        "[_Copyright 1894 by George Allen._]]\n\n"
        "When tea was over,\nglad to invite him\n\n"
        "[Illustration:\n\n“Protested\nthat he never read novels”      H.T Feb 94\n]\n\n"
        "to read aloud.\n\n\n\nCHAPTER II.\n\n\n[Illustration]\n\n"
        "     /* NIND “My dear friend, */\n\n     “Come as soon as you can.”\n\n"
        "                            [Illustration:\n\n"
        "                                  THE\n                                  END\n"
        "                                   ]\n\n\n\n"
        "             CHISWICK PRESS:--CHARLES WHITTINGHAM AND CO.\n"
    )
    assert corpora.clean_austen(text) == (
        "Chapter I.\n\nIt is a truth universally acknowledged, that a single man "
        "must want a wife.\n\n“You want to tell me.”\n\n"
        "When tea was over, glad to invite him to read aloud.\n\n"
        "CHAPTER II.\n\n“My dear friend,\n\n“Come as soon as you can.”"
    )


TEI_NOVEL = """<?xml version="1.0" encoding="UTF-8"?>
<TEI xmlns="http://www.tei-c.org/ns/1.0">
 <teiHeader><fileDesc><titleStmt><title>A Toy Novel</title></titleStmt></fileDesc></teiHeader>
 <text>
  <front><div type="preface"><p>A preface nobody reads.</p></div></front>
  <body>
   <div type="chapter">
    <head>CHAPTER I.</head>
    <p>It was a dark
       and   stormy night.<ref target="#N1">[1]</ref> The rain fell.</p>
    <pb n="2"/>
    <p>She sang: <l>Roses are red,</l> <l>violets are blue.</l> And stopped.</p>
    <quote><l>First verse line</l>
     <l>Second verse line</l></quote>
    <p>Zwei\u00a0Wörter, <hi>hervorgehoben</hi>.</p>
    <trailer>THE END.</trailer>
   </div>
  </body>
  <back><div type="notes"><note xml:id="N1">An endnote.</note></div></back>
 </text>
</TEI>
"""


def test_clean_eltec():
    assert corpora.clean_eltec(TEI_NOVEL) == (
        "CHAPTER I.\n\nIt was a dark and stormy night. The rain fell.\n\n"
        "She sang:\n\nRoses are red,\nviolets are blue.\n\nAnd stopped.\n\n"
        "First verse line\nSecond verse line\n\nZwei Wörter, hervorgehoben."
    )


def test_clean_eltec_needs_a_body():
    with pytest.raises(CorpusError, match="body"):
        corpora.clean_eltec('<TEI xmlns="http://www.tei-c.org/ns/1.0"><text/></TEI>')


def test_a_missing_marker_is_a_clear_error():
    with pytest.raises(CorpusError, match="not in the expected format"):
        corpora.clean_kafka("Just some text without a chapter heading.")


# --- The real corpora, from a local mirror -------------------------------------------------

SMALL = {  # id: (start, end, length range in characters)
    "wharton-the-verdict": ("I HAD always thought Jack Gisburn", 'our kind of art."', (19e3, 21e3)),
    "tinyshakespeare": (
        "First Citizen:\nBefore we proceed",
        "Whiles thou art waking.\n",
        (1.1e6, 1.2e6),
    ),
    "kafka-die-verwandlung": (
        "I.\n\nAls Gregor Samsa eines Morgens",
        "Körper dehnte.",
        (115e3, 125e3),
    ),
    "goethe-faust-1": ("Zueignung.\n\nIhr naht euch wieder", "Heinrich! Heinrich!", (185e3, 200e3)),
    "austen-pride-and-prejudice": (
        "Chapter I.\n\nIt is a truth universally acknowledged",
        "the means of uniting them.",
        (650e3, 720e3),
    ),
}


@needs_mirror
@pytest.mark.parametrize("corpus_id", SMALL)
def test_real_small_corpus(corpus_id):
    start, end, (shortest, longest) = SMALL[corpus_id]
    text = corpora.load(corpus_id, mirror=Path(MIRROR))
    assert text.startswith(start)
    assert text.endswith(end)
    assert shortest <= len(text) <= longest
    for leftover in ("Gutenberg", "[Illustration", "Transcri", "\r", "\u00a0"):
        assert leftover not in text


@needs_mirror
def test_real_corpora_lose_their_markup():
    mirror = Path(MIRROR)
    assert len(corpora.load("tinyshakespeare", mirror=mirror)) == 1_115_394  # byte for byte
    austen = corpora.load("austen-pride-and-prejudice", mirror=mirror)
    assert not re.search(r"[_\[\]]|/\*|CHISWICK|PREFACE", austen)
    assert len(re.findall(r"^CHAPTER [IVXLC]+\.?$", austen, flags=re.MULTILINE | re.I)) == 61
    faust = corpora.load("goethe-faust-1", mirror=mirror)
    assert not re.search(r"[_#\[\]]|Anmerkungen|Cotta", faust)
    assert "Mein Leid ertönt" in faust  # the 1808 reading, not the correction [Lied]
    assert "VERLAG" not in corpora.load("kafka-die-verwandlung", mirror=mirror)


@needs_mirror
@pytest.mark.parametrize("corpus_id", ["eltec-eng", "eltec-deu"])
def test_real_eltec_novel(corpus_id):
    full = corpora.get(corpus_id)
    first = dataclasses.replace(full, files=full.files[:1])  # one novel is enough (fast)
    [novel] = corpora.documents(first, mirror=Path(MIRROR))
    assert len(novel) > 100_000
    assert not re.search(r"<|>|ELTeC|\[\d+\]", novel)  # no markup, header or note markers
    assert not novel.endswith("THE END.")
    assert "\n\n\n" not in novel
