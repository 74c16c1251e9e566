"""The GPT playground's Python side: loading the exported files, checking the reader's input,
explaining it in both languages, and writing step by step with ``lessons.pure_gpt``."""

import dataclasses
import json
import sys

import pytest
import torch

from lessons import course, playground, pure_gpt
from lessons.gpt import GPT, GPTConfig
from lessons.playground import MAX_LENGTH, MAX_PROMPT_CHARS, TOP, PlaygroundError
from lessons.tokenizer import EOT, BPETokenizer

TEXT = "Gregor Samsa erwachte eines Morgens. It is a truth universally acknowledged. " * 20
CONTEXT = 16


def tiny_gpt(tok: BPETokenizer) -> GPT:
    """A small random GPT for ``tok``, its weights nudged so that the distribution is uneven."""
    torch.manual_seed(0)
    config = GPTConfig(
        vocab_size=tok.vocab_size, context_length=CONTEXT, n_layer=2, n_head=2, n_embd=16
    )
    model = GPT(config).eval()
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn_like(param) * 0.5)
    return model


def export(folder, model: GPT, tok: BPETokenizer) -> tuple[dict, dict]:
    """The files as the browser gets them (key -> bytes), and their manifest entry."""
    entry = {"files": course.save_for_browser(folder, model, tok, set(TEXT))}
    files = {key: (folder / info["name"]).read_bytes() for key, info in entry["files"].items()}
    return files, entry


@pytest.fixture(scope="module")
def tok() -> BPETokenizer:
    return BPETokenizer.train(TEXT, vocab_size=300)


@pytest.fixture(scope="module")
def exported(tmp_path_factory, tok) -> tuple[dict, dict]:
    return export(tmp_path_factory.mktemp("tiny"), tiny_gpt(tok), tok)


@pytest.fixture(scope="module")
def gpt(exported) -> playground.Playground:
    return playground.load(*exported)


def write(gpt, prompt="Gregor", **settings) -> tuple[playground.Run, list[playground.Step]]:
    run = gpt.start(prompt, **{"seed": "1", "length": "20", **settings})
    return run, list(run)


# --- Loading -----------------------------------------------------------------------------------


def test_loads_the_exported_files(gpt, tok):
    assert gpt.context_length == CONTEXT
    assert gpt.tokenizer.vocab_size == tok.vocab_size == gpt.model.vocab_size
    assert gpt.characters == set(TEXT)
    assert set(playground.FILES) == {"model", "config", "tokenizer", "characters"}


@pytest.mark.parametrize("key", sorted(playground.FILES))
def test_a_damaged_or_missing_file_is_named_and_nothing_is_loaded(exported, key):
    files, entry = exported
    damaged = dict(files)
    damaged[key] = files[key][:-1] + bytes([files[key][-1] ^ 1])  # one bit flipped
    name = playground.FILES[key]
    for broken in (damaged, {k: v for k, v in files.items() if k != key}):
        with pytest.raises(PlaygroundError) as caught:
            playground.load(broken, json.dumps(entry))
        assert caught.value.code == "damaged"
        assert str(caught.value).startswith(f"The file {name} arrived damaged")
        assert caught.value.message("de").startswith(f"Die Datei {name} ist beschädigt")


def test_loads_memoryviews_as_the_browser_passes_them(exported):
    files, entry = exported
    gpt = playground.load({key: memoryview(data) for key, data in files.items()}, entry)
    assert gpt.context_length == CONTEXT


# --- The reader's settings ---------------------------------------------------------------------


def test_reads_the_fields_as_typed():
    settings = playground.read_settings(" 0,8 ", "", "0.9", "42", "15")
    assert settings == playground.Settings(0.8, None, 0.9, 42, 15)
    settings = playground.read_settings("0", "5", "1", "-3", str(MAX_LENGTH))
    assert settings == playground.Settings(0, 5, 1, -3, MAX_LENGTH)


FIELDS = {"temperature": "1", "top_k": "", "top_p": "", "seed": "1", "length": "10"}  # all fine
LENGTH_EN = f"The length must be a whole number from 1 to {MAX_LENGTH}, not"
LENGTH_DE = f"Die Länge muss eine ganze Zahl von 1 bis {MAX_LENGTH} sein, nicht"
BAD = [
    ("temperature", "-0.1", "The temperature must be", "Die Temperatur muss"),
    ("temperature", "warm", "The temperature must be", "Die Temperatur muss"),
    ("temperature", "inf", "The temperature must be", "Die Temperatur muss"),
    ("temperature", "", "The temperature must be", "Die Temperatur muss"),
    ("top_k", "0", "Top-k must be a whole number", "Top-k muss eine ganze Zahl"),
    ("top_k", "2.5", "Top-k must be a whole number", "Top-k muss eine ganze Zahl"),
    ("top_p", "0", "Top-p must be a number above 0", "Top-p muss eine Zahl über 0"),
    ("top_p", "1.01", "Top-p must be a number above 0", "Top-p muss eine Zahl über 0"),
    ("seed", "1.5", "The seed must be a whole number", "Der Seed muss eine ganze Zahl"),
    ("seed", "", "The seed must be a whole number", "Der Seed muss eine ganze Zahl"),
    ("length", "0", LENGTH_EN, LENGTH_DE),
    ("length", str(MAX_LENGTH + 1), LENGTH_EN, LENGTH_DE),
    ("length", "zehn", LENGTH_EN, LENGTH_DE),
]


@pytest.mark.parametrize(("field", "typed", "english", "german"), BAD)
def test_a_bad_setting_is_explained_in_both_languages(field, typed, english, german):
    with pytest.raises(PlaygroundError) as caught:
        playground.read_settings(**{**FIELDS, field: typed})
    error = caught.value
    assert error.code == field
    assert str(error).startswith(english) and error.message("en") == str(error)
    assert error.message("de").startswith(german)
    if typed:  # what the reader typed, quoted the language's way
        assert f"“{typed}”" in str(error) and f"„{typed}“" in error.message("de")
    else:
        assert str(error).endswith("not empty.") and error.message("de").endswith("nicht leer.")


def test_a_long_bad_value_is_shortened_in_the_message():
    with pytest.raises(PlaygroundError) as caught:
        playground.read_settings(**{**FIELDS, "seed": "x" * 500})
    assert str(caught.value) == f"The seed must be a whole number, not “{'x' * 20}…”."


def test_every_message_exists_in_both_languages():
    assert playground.MESSAGES["de"].keys() == playground.MESSAGES["en"].keys()
    with pytest.raises(ValueError, match="'fr'"):
        playground.message("seed", "fr", value="1")


TYPED = {  # what a reader may type, and the number it stands for (None: an empty field)
    "temperature": [
        ("-1", -1),
        ("-0.0001", -0.0001),
        ("0", 0),
        ("0,5", 0.5),
        ("1e9", 1e9),
        ("nan", float("nan")),
        ("inf", float("inf")),
    ],
    "top_k": [("", None), ("-1", -1), ("0", 0), ("1", 1), ("1.0", 1.0), ("7", 7)],
    "top_p": [
        ("", None),
        ("0", 0),
        ("1e-9", 1e-9),
        ("0.5", 0.5),
        ("1", 1),
        ("1.0000001", 1.0000001),
    ],
}


@pytest.mark.parametrize("setting", sorted(TYPED))
def test_the_rules_are_those_of_pure_gpt(setting):
    """A setting passes exactly when pure_gpt.check_settings lets its number through."""
    for typed, value in TYPED[setting]:
        try:
            pure_gpt.check_settings(**{setting: value})
            allowed = True
        except pure_gpt.SamplingError:
            allowed = False
        try:
            playground.read_settings(**{**FIELDS, setting: typed})
            taken = True
        except PlaygroundError:
            taken = False
        assert taken == allowed, (setting, typed)


# --- The prompt --------------------------------------------------------------------------------


def test_a_prompt_over_the_limit_says_the_limit(gpt):
    gpt.start("a" * MAX_PROMPT_CHARS, length="1")
    with pytest.raises(PlaygroundError) as caught:
        gpt.start("a" * (MAX_PROMPT_CHARS + 1))
    assert caught.value.code == "prompt"
    assert f"{MAX_PROMPT_CHARS + 1} characters" in str(caught.value)
    assert f"at most {MAX_PROMPT_CHARS}" in str(caught.value)
    assert f"höchstens {MAX_PROMPT_CHARS}" in caught.value.message("de")


@pytest.mark.parametrize("lang", ["de", "en"])
def test_an_empty_prompt_starts_from_endoftext(gpt, lang):
    run, steps = write(gpt, "", lang=lang)
    assert run.prompt_ids == [gpt.tokenizer.eot_id] and run.prompt == ""
    (note,) = run.notes
    assert EOT in note and note == playground.message("empty_prompt", lang)
    assert steps


def test_unknown_characters_are_named_and_split_into_bytes(gpt):
    run, steps = write(gpt, "Gregor € 😀 Gregor", lang="de")
    (note,) = run.notes
    assert note.startswith("Nie im Trainingstext: €, 😀. Der Tokenizer") and "UTF-8-Bytes" in note
    assert len(run.prompt_ids) > len(gpt.tokenizer.encode("Gregor  Gregor"))  # the bytes
    assert run.prompt == "Gregor € 😀 Gregor" and steps
    run = gpt.start("Gregor\tGregor", lang="en")  # an invisible character by its code point
    assert run.notes == [playground.message("unknown_chars", "en", chars="U+0009")]
    assert write(gpt, "Gregor Samsa")[0].notes == []


def test_a_lone_surrogate_is_explained(gpt):
    with pytest.raises(PlaygroundError) as caught:
        gpt.start("Gregor \ud83d")
    assert caught.value.code == "encoding" and "U+D83D" in caught.value.message("de")


def test_a_start_with_a_bad_language_fails_at_once(gpt):
    with pytest.raises(ValueError, match="'fr'"):
        gpt.start("Gregor", lang="fr")


# --- Writing -----------------------------------------------------------------------------------


def test_the_same_seed_writes_the_same_text(gpt):
    def text(seed: str) -> str:
        return "".join(step.text for step in write(gpt, seed=seed, temperature="1.5")[1])

    assert text("7") == text("7")
    assert text("7") != text("8")


def test_the_steps_join_up_to_the_decoded_text(gpt):
    run, steps = write(gpt, "Gregor ä", length="40", temperature="1.5")
    ids = run.prompt_ids + [step.id for step in steps]
    assert run.prompt + "".join(step.text for step in steps) == gpt.tokenizer.decode(ids)
    assert [step.index for step in steps] == list(range(1, len(steps) + 1))
    assert all(step.token == gpt.tokenizer.token_text(step.id) for step in steps)


@pytest.mark.parametrize("top_k", ["1", "3", str(TOP)])
def test_the_top_candidates_are_sorted_and_hold_the_chosen_one(gpt, top_k):
    _, steps = write(gpt, top_k=top_k, temperature="1.5")
    for step in steps:
        ps = [choice.p for choice in step.top]
        assert ps == sorted(ps, reverse=True) and len(step.top) == step.possible == int(top_k)
        assert step.top[step.rank - 1].id == step.id and step.top[step.rank - 1].p == step.p
        assert sum(ps) == pytest.approx(1.0)


def test_without_limits_the_top_ten_of_all_tokens(gpt):
    _, steps = write(gpt, temperature="1.5", length="40")
    assert all(len(step.top) == TOP and step.possible == gpt.model.vocab_size for step in steps)
    assert any(step.rank > TOP for step in steps)  # drawn from outside the top ten, too
    for step in steps:
        if step.rank <= TOP:
            assert step.top[step.rank - 1].id == step.id
        else:
            assert step.id not in {choice.id for choice in step.top}
            assert step.p <= step.top[-1].p


def test_temperature_zero_is_greedy_for_every_seed(gpt):
    texts = set()
    for seed in ("1", "2", "3"):
        _, steps = write(gpt, temperature="0", seed=seed)
        assert all(step.rank == 1 and step.p == 1.0 and step.possible == 1 for step in steps)
        texts.add(tuple(step.id for step in steps))
    assert len(texts) == 1


def test_top_p_keeps_the_most_likely_tokens_up_to_p(gpt):
    _, steps = write(gpt, top_p="0.5", temperature="1")
    assert all(sum(choice.p for choice in step.top) == pytest.approx(1.0) for step in steps)
    assert all(step.possible <= TOP for step in steps)


def test_says_when_the_window_moves_on(gpt):
    prompt_ids = gpt.tokenizer.encode("Gregor Samsa erwachte")
    run, steps = write(gpt, "Gregor Samsa erwachte", length="30", lang="en")
    first_unseen = CONTEXT - len(prompt_ids) + 2  # the first step after more than CONTEXT tokens
    assert [step.sees_beginning for step in steps] == [step.index < first_unseen for step in steps]
    notes = [(step.index, step.note) for step in steps if step.note]
    assert notes == [
        (first_unseen, playground.message("slid", "en", index=first_unseen, context=CONTEXT))
    ]
    assert f"than the {CONTEXT} tokens" in notes[0][1]


def test_a_prompt_longer_than_the_context_is_cut_and_said_so(gpt):
    prompt = "Gregor Samsa erwachte eines Morgens. It is a truth universally acknowledged."
    tokens = len(gpt.tokenizer.encode(prompt))
    assert tokens > CONTEXT
    run, steps = write(gpt, prompt, lang="de")
    assert run.notes == [playground.message("long_prompt", "de", tokens=tokens, context=CONTEXT)]
    assert not any(step.sees_beginning for step in steps)
    assert not any(step.note for step in steps)


def test_endoftext_ends_the_run(tmp_path, tok):
    model = tiny_gpt(tok)
    eot = tok.eot_id
    with torch.no_grad():  # make <|endoftext|> by far the most likely next token
        model.token_embedding.weight[eot] *= 10
        model.final_norm.weight.zero_()
        model.final_norm.bias.copy_(model.token_embedding.weight[eot])
    gpt = playground.load(*export(tmp_path, model, tok))
    run, steps = write(gpt, temperature="0", length="10", lang="de")
    (step,) = steps
    assert step.id == eot and step.text == EOT
    assert step.note == playground.message("ended", "de")


# --- What JavaScript sees ----------------------------------------------------------------------


def test_the_json_for_javascript(gpt):
    run = gpt.start("", seed="3", length="5", lang="de")
    info = json.loads(run.info_json())
    assert info == {"prompt": "", "prompt_tokens": 1, "length": 5, "notes": run.notes}
    steps = [json.loads(run.next_json()) for _ in range(5)]
    assert run.next_json() is None
    again = [dataclasses.asdict(step) for step in write(gpt, "", seed="3", length="5")[1]]
    assert steps == json.loads(json.dumps(again))
    assert set(steps[0]) == {field.name for field in dataclasses.fields(playground.Step)}


def test_explain_reads_the_last_python_error(monkeypatch):
    error = PlaygroundError("length", value="0", limit=MAX_LENGTH)
    monkeypatch.setattr(sys, "last_exc", error, raising=False)
    explained = json.loads(playground.explain("de"))
    assert explained == {"code": "length", "message": error.message("de")}
    monkeypatch.setattr(sys, "last_exc", KeyError("not the reader's"), raising=False)
    assert playground.explain("de") is None


# --- The course model, as the site exports it ---------------------------------------------------


@pytest.fixture(scope="module")
def course_export(tmp_path_factory) -> tuple[dict, dict]:
    folder = tmp_path_factory.mktemp("course-gpt")
    entry = course.export(folder)
    files = {key: (folder / info["name"]).read_bytes() for key, info in entry["files"].items()}
    return files, entry


def test_the_exported_course_model_computes_the_pytorch_logits(course_export):
    files, entry = course_export
    gpt = playground.load(files, entry)
    model = course.load().model
    assert gpt.model.config == {
        key: value for key, value in dataclasses.asdict(model.config).items() if key != "dropout"
    }
    ids = gpt.tokenizer.encode("Als Gregor Samsa eines Morgens aus unruhigen Träumen erwachte")
    ids = ids[: min(20, gpt.context_length)]
    assert len(ids) == min(20, gpt.context_length)
    with torch.no_grad():
        expected = model(torch.tensor([ids]))[0][0]
    got = torch.tensor(gpt.model.logits(ids))
    assert (got - expected).abs().max() < 1e-4


def test_the_course_export_describes_the_model(course_export):
    files, entry = course_export
    gpt = course.load()
    assert entry["description"] == {"de": gpt.describe("de"), "en": gpt.describe("en")}
    characters = json.loads(files["characters"])
    assert characters == sorted(set(characters)) and {"a", "ä", "ß", " ", "\n"} <= set(characters)
    assert json.loads(files["config"])["context_length"] == gpt.model.config.context_length
