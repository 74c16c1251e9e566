"""Instruction tuning: the data set, the template, the masked targets, training, bad input."""

import collections
import dataclasses
import json
import os
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from lessons import instruct, lora
from lessons.gpt import GPT, GPTConfig
from lessons.instruct import IGNORE, Example, FinetuneConfig, InstructError
from lessons.llama import Llama, LlamaConfig
from lessons.tokenizer import EOT, BPETokenizer

ROOT = Path(__file__).resolve().parents[1]
TASKS = {"rewrite", "explain", "translate", "answer"}


@pytest.fixture(scope="module")
def examples() -> list[Example]:
    return instruct.load_examples()


@pytest.fixture(scope="module")
def tok(examples) -> BPETokenizer:
    """A small BPE tokenizer learned on the data set itself."""
    text = "\n".join(
        instruct.format_prompt(e.instruction, e.input) + " " + e.output for e in examples
    )
    return BPETokenizer.train(text, vocab_size=400)


def tiny_gpt(vocab_size: int, context_length: int = 96) -> GPT:
    torch.manual_seed(0)
    config = GPTConfig(vocab_size, context_length, n_layer=1, n_head=2, n_embd=32)
    return GPT(config)


# --- The data set ------------------------------------------------------------------------------


def test_the_data_set_has_enough_pairs_per_language_and_task(examples):
    counts = collections.Counter((e.language, e.task) for e in examples)
    assert set(counts) == {(language, task) for language in ("de", "en") for task in TASKS}
    assert all(count >= 30 for count in counts.values())
    assert len(examples) == 300
    assert sum(1 for e in examples if e.input) == 80  # the "answer" task has a text to read


def test_the_data_set_has_no_duplicates(examples):
    assert len({e.id for e in examples}) == len(examples)
    prompts = [(e.instruction, e.input) for e in examples]
    assert len(set(prompts)) == len(prompts)


def test_every_record_is_well_formed(examples):
    lines = (ROOT / "lessons" / instruct.DATA_FILE).read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(examples)
    for line, example in zip(lines, examples, strict=True):
        record = json.loads(line)
        assert set(record) == {"id", "language", "task", "instruction", "input", "output"}
        assert re.fullmatch(rf"{example.language}-{example.task}-\d{{3}}", example.id)
        assert example.language in instruct.LANGUAGES and example.task in TASKS
        for text in (example.instruction, example.input, example.output):
            assert text == text.strip() and "\n" not in text and EOT not in text
        assert example.output[-1] in ".!?"
        assert (example.task == "answer") == bool(example.input)


def test_the_package_ships_the_data_set():
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"data/*.jsonl"' in pyproject


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "holds no examples"),
        ("\n  \n", "holds no examples"),
        ("{not json", "line 1 is not valid JSON"),
        ('["a list"]', "must be a JSON object"),
        ('{"instruction": "Hi?"}', "needs a non-empty 'output'"),
        ('{"instruction": " ", "output": "Hi."}', "needs a non-empty 'instruction'"),
        ('{"instruction": "Hi?", "output": 3}', "'output' must be a text"),
        ('{"instruction": "Hi?", "output": "Hi.", "answer": "x"}', "unknown fields"),
    ],
)
def test_bad_data_files_are_refused_with_the_line(tmp_path, content, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InstructError, match=message):
        instruct.load_examples(path)


def test_a_file_of_own_examples_loads(tmp_path):
    path = tmp_path / "own.jsonl"
    path.write_text('\n{"instruction": "Hi?", "output": "Hello."}\n', encoding="utf-8")
    assert instruct.load_examples(path) == [Example("Hi?", "Hello.")]


def test_split_keeps_a_share_of_every_group_and_is_seeded(examples):
    kept, held = instruct.split(examples, held_out=0.1, seed=3)
    assert sorted(kept + held, key=lambda e: e.id) == sorted(examples, key=lambda e: e.id)
    counts = collections.Counter((e.language, e.task) for e in held)
    assert counts == {(e.language, e.task): 3 if e.task == "translate" else 4 for e in held}
    assert instruct.split(examples, held_out=0.1, seed=3) == (kept, held)
    assert instruct.split(examples, held_out=0.1, seed=4)[1] != held
    with pytest.raises(InstructError, match="no examples"):
        instruct.split([])
    with pytest.raises(InstructError, match="between 0 and 1"):
        instruct.split(examples, held_out=1.0)


@pytest.mark.skipif(
    not os.environ.get("LESSONS_CORPUS_MIRROR"),
    reason="set LESSONS_CORPUS_MIRROR to a local copy of the corpora",
)
def test_corpus_examples_ask_which_book():
    derived = instruct.corpus_examples(5, seed=1)
    assert len(derived) == 15 and derived == instruct.corpus_examples(5, seed=1)
    for example in derived:
        assert example.task == "source" and 30 <= len(example.input) <= 70
        assert example.instruction == instruct.SOURCE_QUESTIONS[example.language]
        assert example.output in {book[example.language] for book in instruct.BOOKS.values()}


# --- The template and the masked targets -------------------------------------------------------


def test_the_template():
    assert instruct.format_prompt("What is a novel?") == "What is a novel?\nA:"
    assert instruct.format_prompt("Who?", "Anna sings.") == "Who?\nAnna sings.\nA:"


def test_prompt_positions_are_masked_and_answer_positions_hold_the_next_tokens(tok):
    example = Example("How many cats does Anna have?", "Two.", "Anna has two cats.")
    encoded = instruct.encode(tok, example, context_length=64)
    prompt = tok.encode(instruct.format_prompt(example.instruction, example.input))
    answer = tok.encode(" Two.") + [tok.eot_id]
    assert encoded.prompt_length == len(prompt) and not encoded.truncated
    assert encoded.ids == prompt + answer[:-1]
    assert encoded.targets[: len(prompt) - 1] == [IGNORE] * (len(prompt) - 1)
    assert encoded.targets[len(prompt) - 1 :] == answer  # from the last prompt position on
    assert len(encoded.targets) == len(encoded.ids)


def test_the_masked_loss_counts_only_the_answer(tok):
    encoded = instruct.encode(tok, Example("What is a clock?", "A device."), 64)
    model = tiny_gpt(tok.vocab_size, 64)
    ids, targets = torch.tensor([encoded.ids]), torch.tensor([encoded.targets])
    logits, loss = model(ids, targets)
    start = encoded.prompt_length - 1
    answer_only = F.cross_entropy(logits[0, start:], targets[0, start:])
    assert torch.allclose(loss, answer_only)


def test_a_long_pair_is_cut_at_the_end(tok):
    example = Example("Say it longer.", "The cat sat on the mat and the dog ran. " * 10)
    encoded = instruct.encode(tok, example, context_length=32)
    assert encoded.truncated and len(encoded.ids) == len(encoded.targets) == 32
    assert tok.eot_id not in encoded.targets  # the end did not fit
    assert encoded.targets[encoded.prompt_length - 1] != IGNORE


def test_a_prompt_that_fills_the_context_says_how_much_to_cut(tok):
    example = Example("Explain this: " + "word " * 40, "No.", id="en-explain-999")
    with pytest.raises(InstructError, match=r"'en-explain-999'.*Shorten .* by at least \d+ tokens"):
        instruct.encode(tok, example, context_length=16)


def test_typed_special_token_text_stays_plain_text(tok):
    encoded = instruct.encode(tok, Example(f"Say {EOT}", f"No {EOT}."), 64)
    assert encoded.ids.count(tok.eot_id) == 0 and encoded.targets.count(tok.eot_id) == 1


def test_collate_pads_on_the_right(tok):
    short = instruct.encode(tok, Example("Hi?", "Yes."), 64)
    long = instruct.encode(tok, Example("What is a harbour?", "A place for ships."), 64)
    ids, targets = instruct.collate([short, long], pad_id=tok.eot_id)
    assert ids.shape == targets.shape == (2, len(long.ids))
    padding = len(long.ids) - len(short.ids)
    assert ids[0, len(short.ids) :].tolist() == [tok.eot_id] * padding
    assert targets[0, len(short.ids) :].tolist() == [IGNORE] * padding


# --- Training and answering --------------------------------------------------------------------


def test_a_tiny_training_run_lowers_the_loss(tok, examples):
    kept, held = instruct.split(examples, seed=0)
    model = tiny_gpt(tok.vocab_size)
    config = FinetuneConfig(steps=30, batch_size=16, learning_rate=3e-3, eval_interval=15)
    records, optimizer = instruct.finetune(model, tok, kept[::4], held, config)
    losses = [r["loss"] for r in records if "loss" in r]
    val = [r["val_loss"] for r in records if "val_loss" in r]
    assert [r["step"] for r in records if "val_loss" in r] == [0, 15, 30]
    assert len(losses) == 30 and sum(losses[-5:]) < sum(losses[:5])
    assert val[-1] < val[0]
    sizes = instruct.memory(model, optimizer)
    assert sizes["gradients"] == sizes["weights"]  # every weight trained
    assert sizes["optimizer"] >= 2 * sizes["weights"]  # AdamW's two averages


def test_the_same_seed_trains_the_same_model(tok, examples):
    config = FinetuneConfig(steps=3, batch_size=4, eval_interval=3)
    runs = [
        instruct.finetune(tiny_gpt(tok.vocab_size), tok, examples[:20], examples[20:24], config)
    ]
    runs.append(
        instruct.finetune(tiny_gpt(tok.vocab_size), tok, examples[:20], examples[20:24], config)
    )
    assert runs[0][0] == runs[1][0]


def test_a_model_trained_on_one_pair_answers_it_and_stops(tok):
    example = Example("What is a key for?", "It opens doors.")
    model = tiny_gpt(tok.vocab_size)
    config = FinetuneConfig(steps=60, batch_size=2, learning_rate=1e-2, eval_interval=60)
    instruct.finetune(model, tok, [example], [example], config)
    assert instruct.reply(model, tok, example) == instruct.Reply("It opens doors.", stopped=True)


def test_finetune_refuses_missing_data_and_frozen_models(tok, examples):
    config = FinetuneConfig(steps=1, batch_size=1)
    with pytest.raises(InstructError, match="split"):
        instruct.finetune(tiny_gpt(tok.vocab_size), tok, [], examples[:2], config)
    frozen = tiny_gpt(tok.vocab_size).requires_grad_(False)
    with pytest.raises(InstructError, match="no trainable parameters"):
        instruct.finetune(frozen, tok, examples[:2], examples[:2], config)


@pytest.mark.parametrize(
    ("change", "message"),
    [({"steps": 0}, "steps"), ({"batch_size": 1.5}, "batch_size"), ({"learning_rate": 0}, "lr")],
)
def test_bad_settings_are_refused(change, message):
    with pytest.raises(InstructError, match=message.replace("lr", "learning_rate")):
        FinetuneConfig(**change)


def test_lora_training_changes_only_the_adapter(tok, examples):
    model = tiny_gpt(tok.vocab_size)
    lora.add_lora(model, rank=4)
    frozen = {name: p.clone() for name, p in model.named_parameters() if not p.requires_grad}
    config = FinetuneConfig(steps=5, batch_size=8, learning_rate=1e-2, eval_interval=5)
    _, optimizer = instruct.finetune(model, tok, examples[:40], examples[40:48], config)
    for name, p in model.named_parameters():
        if name in frozen:
            assert torch.equal(p, frozen[name])
    sizes = instruct.memory(model, optimizer)
    assert sizes["gradients"] == 4 * lora.trainable_parameters(model)


def test_unknown_presets_are_named():
    with pytest.raises(InstructError, match="cpu-lora"):
        instruct.run("nope")


def test_the_gpu_preset_runs_on_the_cpu_with_a_tiny_llama(tok, monkeypatch):
    """The code path of gpu-smollm2-lora, with a tiny Llama in place of SmolLM2."""

    def tiny_llama():
        torch.manual_seed(0)
        config = LlamaConfig(
            tok.vocab_size, 256, n_layer=1, n_head=4, n_kv_head=2, n_embd=32, mlp_size=48
        )
        return Llama(config), tok

    monkeypatch.setitem(instruct.MODELS, "smollm2", tiny_llama)
    preset = instruct.PRESETS["gpu-smollm2-lora"]
    preset = dataclasses.replace(
        preset,
        corpus_per_book=0,
        finetune=dataclasses.replace(preset.finetune, steps=3, batch_size=4, device="cpu"),
    )
    result = instruct.run(preset)
    # rank 16 times (in + out) of q, k, v, proj, gate, up, down
    assert result.trainable == 16 * (64 + 48 + 48 + 64 + 80 + 80 + 80)
    assert all(layer.merged for layer in lora.lora_layers(result.model))
    assert [r["step"] for r in result.records if "val_loss" in r] == [0, 3]
    assert len(result.train_examples) + len(result.held_out) == 300
