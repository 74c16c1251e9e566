"""Tests for lessons.spam: reading e-mails, and getting the package from npm, a mirror or the cache.

The download tests use a tiny tarball built here in the package's layout; the cache is a
temporary folder. The last test reads the real package where ``npm ci`` has installed it.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections import Counter
from pathlib import Path

import pytest

from lessons import spam
from lessons.corpora import CorpusError

PLAIN = b"Subject: Lunch on Friday?\n\nHi Anna,\n  are you free\nfor lunch on Friday?\n"
HTML = (
    b"Subject: =?utf-8?q?Gewinn_=E2=82=AC?=\nContent-Type: text/html; charset=utf-8\n\n"
    b"<html><style>p {color: red}</style><p>You <b>won</b> &amp; more!</p></html>\n"
)
MULTIPART = (
    b'Subject: Both\nContent-Type: multipart/alternative; boundary="XX"\n\n'
    b"--XX\nContent-Type: text/html\n\n<p>the html part</p>\n"
    b"--XX\nContent-Type: text/plain\n\nthe plain part\n--XX--\n"
)


def make_tarball(path: Path, mails: dict[str, bytes]) -> Path:
    """A .tgz laid out like the npm package: package/data/<group>/<name>.txt (+ .json)."""
    with tarfile.open(path, "w:gz") as archive:
        for name, data in {"package/package.json": b"{}", **mails}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def fake_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A mirror folder with a tiny tarball whose checksum is the pinned one; no node_modules."""
    mirror = tmp_path / "mirror"
    (mirror / spam.MIRROR_ID).mkdir(parents=True)
    mails = {
        "package/data/easy-ham-1/00001.a.txt": PLAIN,
        "package/data/easy-ham-1/00001.a.json": b'{"not": "an e-mail"}',
        "package/data/spam-2/00002.b.txt": HTML,
        "package/data/other/00003.c.txt": PLAIN,  # not one of the five groups
    }
    tgz = make_tarball(mirror / spam.MIRROR_ID / spam.TARBALL, mails)
    monkeypatch.setattr(spam, "SHA256", hashlib.sha256(tgz.read_bytes()).hexdigest())
    monkeypatch.setattr(spam, "package_folder", lambda: None)
    monkeypatch.delenv("LESSONS_CORPUS_MIRROR", raising=False)
    return mirror


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file())


def test_parse_keeps_subject_and_the_first_words_of_the_plain_text():
    assert spam.parse(PLAIN) == "Lunch on Friday?\nHi Anna, are you free for lunch on Friday?"
    assert spam.parse(PLAIN, words=3) == "Lunch on Friday?\nHi Anna, are"


def test_parse_turns_html_into_text_and_decodes_the_subject():
    assert spam.parse(HTML) == "Gewinn €\nYou won & more!"


def test_parse_prefers_the_plain_text_part():
    assert spam.parse(MULTIPART) == "Both\nthe plain part"


def test_parse_survives_an_unknown_charset():
    raw = b"Subject: x\nContent-Type: text/plain; charset=no-such-charset\n\nhello\n"
    assert spam.parse(raw).startswith("x\n")


def test_the_tarball_comes_from_the_mirror_and_then_from_the_cache(fake_package, tmp_path):
    cache = tmp_path / "cache"
    path = spam.tarball(cache=cache, mirror=fake_package)
    assert path == cache / spam.MIRROR_ID / spam.TARBALL
    assert files_in(cache) == [spam.TARBALL]  # no temporary file left behind
    (fake_package / spam.MIRROR_ID / spam.TARBALL).unlink()
    assert spam.tarball(cache=cache, mirror=fake_package) == path  # the mirror is not asked


def test_a_tarball_with_the_wrong_checksum_is_refused_and_not_cached(
    fake_package, tmp_path, monkeypatch
):
    monkeypatch.setattr(spam, "SHA256", "0" * 64)
    cache = tmp_path / "cache"
    with pytest.raises(CorpusError, match="Checksum mismatch"):
        spam.tarball(cache=cache, mirror=fake_package)
    assert files_in(cache) == []


def test_a_damaged_cached_tarball_is_fetched_again(fake_package, tmp_path):
    cache = tmp_path / "cache"
    path = spam.tarball(cache=cache, mirror=fake_package)
    good = path.read_bytes()
    path.write_bytes(b"damaged")
    assert spam.tarball(cache=cache, mirror=fake_package).read_bytes() == good


def test_a_mirror_without_the_tarball_says_what_to_do(fake_package, tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("LESSONS_CORPUS_MIRROR", str(empty))
    with pytest.raises(CorpusError, match="npm ci"):
        spam.tarball(cache=tmp_path / "cache")


def test_raw_mails_reads_only_the_e_mails_of_the_five_groups(fake_package, tmp_path):
    mails = list(spam.raw_mails(cache=tmp_path / "cache", mirror=fake_package))
    assert mails == [("easy-ham-1", "00001.a.txt", PLAIN), ("spam-2", "00002.b.txt", HTML)]


def test_raw_mails_prefers_the_installed_package(tmp_path, monkeypatch):
    folder = tmp_path / "node_modules" / spam.PACKAGE
    (folder / "data" / "hard-ham-1").mkdir(parents=True)
    (folder / "data" / "hard-ham-1" / "00001.a.txt").write_bytes(PLAIN)
    monkeypatch.setattr(spam, "package_folder", lambda: folder)
    monkeypatch.setattr(spam, "tarball", lambda **_: pytest.fail("the tarball is not needed"))
    assert list(spam.raw_mails()) == [("hard-ham-1", "00001.a.txt", PLAIN)]


def test_load_labels_the_mails_by_their_group(fake_package, tmp_path):
    mails = spam.load(cache=tmp_path / "cache", mirror=fake_package)
    assert [(m.label, m.group, m.text) for m in mails] == [
        ("ham", "easy-ham-1", spam.parse(PLAIN)),
        ("spam", "spam-2", spam.parse(HTML)),
    ]


@pytest.mark.skipif(spam.package_folder() is None, reason="run `npm ci` to install the package")
def test_the_real_package_has_4150_ham_and_1896_spam():
    mails = spam.load()
    assert Counter(m.label for m in mails) == {"ham": 4150, "spam": 1896}
    assert Counter(m.group for m in mails)["hard-ham-1"] == 250
    assert all(m.text.strip() for m in mails)
