"""Pretraining: schedule, batches, settings, errors, exact resume, and several processes."""

import dataclasses
import io
import json
import math
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from lessons import checkpoint, data, train
from lessons.checkpoint import CheckpointError, load_checkpoint
from lessons.gpt import GPTConfig
from lessons.tokenizer import BPETokenizer, CharTokenizer, TokenizerError
from lessons.train import TrainConfig, TrainError

ROOT = Path(__file__).resolve().parents[1]
SENTENCE = "the cat sat on a mat and a dog ran to the old tree by the river while birds sang"
TEXT = " ".join(random.Random(0).choices(SENTENCE.split(), k=2500))  # 10,000 characters
TINY_MODEL = dict(context_length=16, n_layer=2, n_head=2, n_embd=32)


def tiny_config(**changes) -> TrainConfig:
    settings = dict(
        batch_size=8,
        max_steps=30,
        learning_rate=3e-3,
        min_lr=3e-4,
        warmup_steps=5,
        eval_interval=10,
        eval_steps=2,
        log_interval=1,
        device="cpu",
    )
    return TrainConfig(**{**settings, **changes})


def tiny_setup(text: str = TEXT, seed: int = 0, **model_changes):
    tokenizer = CharTokenizer.train(text)
    config = GPTConfig(vocab_size=tokenizer.vocab_size, **{**TINY_MODEL, **model_changes})
    return train.build_model(config, seed=seed), tokenizer


def losses(metrics: list[dict]) -> list[tuple]:
    """What must repeat exactly: the step, its learning rate and every loss."""
    keys = ("step", "lr", "loss", "train_loss", "val_loss")
    return [tuple(record.get(key) for key in keys) for record in metrics]


def run_train_command(
    tmp_path: Path, args: list[str], processes: int = 0, timeout: int = 120
) -> subprocess.CompletedProcess:
    """``python -m lessons train`` on TEXT with a char tokenizer and ``args``; must succeed.

    With ``processes`` > 0 under ``torchrun --standalone --nproc_per_node=processes``.
    """
    text = tmp_path / "text.txt"
    text.write_text(TEXT, encoding="utf-8")
    launcher = ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
    command = [sys.executable, *(launcher if processes else [])]
    command += ["-m", "lessons", "train", "--file", str(text), "--tokenizer", "char", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


# --- The parts ---------------------------------------------------------------------------------


def test_learning_rate_warms_up_then_follows_a_cosine():
    config = TrainConfig(max_steps=110, warmup_steps=10, learning_rate=1e-3, min_lr=1e-4)
    lr = [train.learning_rate_at(step, config) for step in range(1, 111)]
    assert lr[0] == pytest.approx(1e-4)  # step 1 of 10
    assert lr[9] == pytest.approx(1e-3)  # the peak at the end of the warm-up
    assert all(a < b for a, b in zip(lr[:9], lr[1:10], strict=True))
    assert all(a >= b for a, b in zip(lr[9:], lr[10:], strict=False))
    assert train.learning_rate_at(60, config) == pytest.approx(5.5e-4)  # halfway: the mean
    assert lr[-1] == pytest.approx(1e-4)
    assert train.learning_rate_at(500, config) == pytest.approx(1e-4)  # beyond: stays at min
    no_warmup = dataclasses.replace(config, warmup_steps=0)
    assert train.learning_rate_at(1, no_warmup) == pytest.approx(1e-3, rel=1e-3)


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(learning_rate=-0.001), "learning_rate"),
        (dict(learning_rate=float("nan")), "learning_rate"),
        (dict(batch_size=0), "batch_size"),
        (dict(max_steps=2.5), "max_steps"),
        (dict(min_lr=0.1), "min_lr"),
        (dict(val_fraction=1.0), "val_fraction"),
        (dict(batch_size=12, grad_accum=5), "divisible"),
        (dict(betas=(0.9, 1.0)), "betas"),
        (dict(grad_clip=-1.0), "grad_clip"),
        (dict(context_length=0), "context_length"),
        (dict(eval_interval=0), "eval_interval"),
        (dict(device="gpu"), "device"),
    ],
)
def test_bad_hyperparameters_are_named(change, message):
    with pytest.raises(TrainError, match=message):
        tiny_config(**change)


def test_batches_are_shifted_seeded_and_split_into_shards():
    ids = torch.arange(100, dtype=torch.int32)
    x, y = data.get_batch(ids, 6, 8, torch.Generator().manual_seed(3))
    assert x.shape == y.shape == (6, 8) and x.dtype == torch.int64
    assert torch.equal(y[:, :-1], x[:, 1:])  # y is x one token later
    assert torch.equal(y[:, -1], x[:, -1] + 1)
    again, _ = data.get_batch(ids, 6, 8, torch.Generator().manual_seed(3))
    assert torch.equal(x, again)
    shards = [data.shard(x, 3, rank) for rank in range(3)]
    assert torch.equal(torch.cat(shards), x)  # the processes' shares make up the whole batch
    with pytest.raises(ValueError, match="equal parts"):
        data.shard(x, 4, 0)


def test_each_document_gives_its_end_to_validation():
    tokenizer = CharTokenizer.train("abcdefghij")
    documents = data.encode_documents(["abcdefghij" * 2, "jihgfedcba" * 2], tokenizer)
    assert [len(ids) for ids in documents] == [21, 21]  # with <|endoftext|> after each
    train_ids, val_ids = data.split(documents, 0.2, context_length=4)
    assert len(train_ids) == 2 * 17 and len(val_ids) == 2 * 4
    eot = tokenizer.eot_id
    assert tokenizer.decode(val_ids[:3].tolist()) == "hij" and val_ids[3] == eot
    assert tokenizer.decode(val_ids[4:7].tolist()) == "cba" and val_ids[7] == eot


def test_weight_decay_only_on_matrices():
    model, _ = tiny_setup()
    optimizer = train.make_optimizer(model, tiny_config(weight_decay=0.1), torch.device("cpu"))
    decayed, plain = optimizer.param_groups
    assert decayed["weight_decay"] == 0.1 and plain["weight_decay"] == 0.0
    assert all(p.dim() == 2 for p in decayed["params"])
    assert all(p.dim() == 1 for p in plain["params"])
    assert len(decayed["params"]) + len(plain["params"]) == len(list(model.parameters()))


def test_device_is_picked_automatically():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    if expected == "cpu" and torch.backends.mps.is_available():
        expected = "mps"
    assert train.pick_device("auto").type == expected
    assert train.pick_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(TrainError, match="no CUDA GPU"):
            train.pick_device("cuda")


def test_build_model_is_seeded_and_leaves_the_global_generator_alone():
    torch.manual_seed(5)
    before = torch.get_rng_state()
    a, _ = tiny_setup(seed=1)
    b, _ = tiny_setup(seed=1)
    c, _ = tiny_setup(seed=2)
    assert torch.equal(torch.get_rng_state(), before)
    assert torch.equal(a.token_embedding.weight, b.token_embedding.weight)
    assert not torch.equal(a.token_embedding.weight, c.token_embedding.weight)


# --- Bad input: a clear error, and nothing written ---------------------------------------------


def test_context_longer_than_the_model_is_refused(tmp_path):
    model, tokenizer = tiny_setup()
    out = tmp_path / "run"
    with pytest.raises(TrainError, match="above the model's 16"):
        train.train(model, tokenizer, TEXT, tiny_config(context_length=32, out_dir=str(out)))
    assert not out.exists()


@pytest.mark.parametrize(
    "text, message",
    [("", "empty"), ("the cat sat", "Too little text"), ("a" * 60, "Too little validation")],
    ids=["empty", "short", "short-validation"],
)
def test_too_little_text_is_refused(tmp_path, text, message):
    model, tokenizer = tiny_setup()
    out = tmp_path / "run"
    with pytest.raises(data.DataError, match=message):
        train.train(model, tokenizer, text, tiny_config(out_dir=str(out)), progress=False)
    assert not out.exists()


def test_characters_the_tokenizer_lacks_are_named(tmp_path):
    model, tokenizer = tiny_setup()
    out = tmp_path / "run"
    with pytest.raises(TokenizerError, match="'Z'"):
        train.train(model, tokenizer, TEXT + " Zebra", tiny_config(out_dir=str(out)))
    assert not out.exists()
    # a byte-level BPE tokenizer encodes any text: emoji and all
    bpe = BPETokenizer.train(TEXT, vocab_size=300)
    ids = data.encode_documents("Zebra 🦓", bpe)[0]
    assert bpe.decode(ids[:-1].tolist()) == "Zebra 🦓"


# --- Training, checkpoints and resuming --------------------------------------------------------


def test_training_lowers_the_loss_and_writes_its_files(tmp_path):
    model, tokenizer = tiny_setup()
    config = tiny_config(out_dir=str(tmp_path))
    metrics = train.train(model, tokenizer, TEXT, config, progress=False)
    first, last = metrics[0], metrics[-1]
    assert first["step"] == 0 and last["step"] == 30
    assert first["train_loss"] == pytest.approx(math.log(tokenizer.vocab_size), abs=0.3)
    assert last["val_loss"] < first["val_loss"] - 0.5
    assert len(metrics) == 31 and all(r["tokens_per_s"] > 0 for r in metrics[1:])
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == metrics
    assert (tmp_path / "loss.png").read_bytes()[:4] == b"\x89PNG"
    saved = load_checkpoint(tmp_path / "checkpoint")
    assert saved.step == 30 and saved.train_config["max_steps"] == 30
    idx = torch.randint(
        0, tokenizer.vocab_size, (2, 16), generator=torch.Generator().manual_seed(0)
    )
    assert torch.equal(saved.build_model().eval()(idx)[0], model(idx)[0])
    assert not model.training


def test_an_interrupted_and_resumed_run_repeats_the_uninterrupted_one(tmp_path):
    whole = train.train(
        *tiny_setup(), TEXT, tiny_config(out_dir=str(tmp_path / "a")), progress=False
    )

    class Interrupted(Exception):
        pass

    first_part = []

    def record_then_stop_at_step_17(record):
        first_part.append(record)
        if record["step"] == 17:
            raise Interrupted  # after the checkpoint of step 10 and before that of step 20

    config = tiny_config(out_dir=str(tmp_path / "b"))
    with pytest.raises(Interrupted):
        train.train(
            *tiny_setup(), TEXT, config, progress=False, on_record=record_then_stop_at_step_17
        )
    assert load_checkpoint(tmp_path / "b" / "checkpoint").step == 10
    # a new model, tokenizer and optimizer, as in a new process: all state comes from the files
    model, tokenizer = tiny_setup(seed=99)
    resumed = train.train(model, tokenizer, TEXT, config, resume=True, progress=False)
    assert losses(first_part) == losses(whole[:18])
    assert losses(resumed) == losses(whole)  # exactly equal floats, steps 11 to 30 included
    assert resumed[-1]["elapsed"] > resumed[10]["elapsed"]
    final_a = load_checkpoint(tmp_path / "a" / "checkpoint")
    final_b = load_checkpoint(tmp_path / "b" / "checkpoint")
    for name, tensor in final_a.weights.items():
        assert torch.equal(tensor, final_b.weights[name]), name


def test_gradient_accumulation_equals_the_whole_batch():
    one = train.train(*tiny_setup(), TEXT, tiny_config(max_steps=8), progress=False)
    four = train.train(*tiny_setup(), TEXT, tiny_config(max_steps=8, grad_accum=4), progress=False)
    assert [r["loss"] for r in four[1:]] == pytest.approx([r["loss"] for r in one[1:]], abs=1e-5)


def test_the_training_step_takes_the_models_loss_with_its_weights():
    model, tokenizer = tiny_setup()
    x, y = data.get_batch(torch.tensor(tokenizer.encode(TEXT)), 4, 16, torch.Generator())
    net = train.LossOnly(model)
    assert torch.equal(net(x, y), model(x, y)[1])
    assert list(net.parameters()) == list(model.parameters())  # the same tensors, not copies


def test_progress_in_a_log_file_prints_a_line_per_5_percent():
    every_step, every_7th = io.StringIO(), io.StringIO()
    for stream, steps in ((every_step, range(1, 101)), (every_7th, [*range(7, 100, 7), 100])):
        bar = train.Progress(100, stream=stream)  # a StringIO is no terminal
        for step in steps:
            bar.update(step, 1.0, 1000.0)
    assert len(every_step.getvalue().splitlines()) == 20
    # Updated only when the loss is logged (here every 7 steps): still every 5% a line.
    assert len(every_7th.getvalue().splitlines()) == 15
    assert every_7th.getvalue().splitlines()[-1].startswith("step 100/100")


def test_a_new_run_does_not_overwrite_a_checkpoint(tmp_path):
    config = tiny_config(max_steps=10, out_dir=str(tmp_path))
    train.train(*tiny_setup(), TEXT, config, progress=False)
    before = (tmp_path / "checkpoint" / "model.safetensors").read_bytes()
    with pytest.raises(TrainError, match="already holds a checkpoint"):
        train.train(*tiny_setup(), TEXT, config, progress=False)
    assert (tmp_path / "checkpoint" / "model.safetensors").read_bytes() == before


def test_resuming_with_another_model_tokenizer_or_text_is_refused(tmp_path):
    config = tiny_config(max_steps=10, out_dir=str(tmp_path))
    train.train(*tiny_setup(), TEXT, config, progress=False)
    metrics_before = (tmp_path / "metrics.jsonl").read_text()
    longer = dataclasses.replace(config, max_steps=20)
    with pytest.raises(TrainError, match=r"n_layer 3 \(checkpoint: 2\)"):
        train.train(*tiny_setup(n_layer=3), TEXT, longer, resume=True, progress=False)
    other_tokenizer = CharTokenizer.train(TEXT + "?")
    model, _ = tiny_setup()
    with pytest.raises(TrainError, match="tokenizer differs"):
        train.train(model, other_tokenizer, TEXT, longer, resume=True, progress=False)
    with pytest.raises(TrainError, match="text"):
        train.train(*tiny_setup(), TEXT[::-1], longer, resume=True, progress=False)
    assert (tmp_path / "metrics.jsonl").read_text() == metrics_before


def test_loss_figure_draws_batches_and_evaluations():
    metrics = [
        {"step": 0, "train_loss": 4.0, "val_loss": 4.1},
        {"step": 1, "lr": 1e-3, "loss": 3.9},
        {"step": 2, "lr": 1e-3, "loss": 3.5, "train_loss": 3.4, "val_loss": 3.6},
    ]
    fig = train.loss_figure(metrics, labels=("Stapel", "Training", "Validierung"))
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.get_lines()] == ["Stapel", "Training", "Validierung"]
    assert list(ax.get_lines()[2].get_ydata()) == [4.1, 3.6]


def test_presets_are_valid_and_sized_as_documented():
    shakespeare = train.PRESETS["cpu-char-shakespeare"]
    assert shakespeare.tokenizer == "char" and shakespeare.corpora == ("tinyshakespeare",)
    assert shakespeare.model == dict(context_length=64, n_layer=4, n_head=4, n_embd=128, dropout=0)
    assert shakespeare.train.batch_size == 12
    for preset in train.PRESETS.values():
        GPTConfig(vocab_size=preset.vocab_size or 65, **preset.model)


# --- Several processes -------------------------------------------------------------------------


@pytest.mark.slow
def test_two_processes_match_one_with_the_same_global_batch(tmp_path):
    """torchrun with 2 CPU processes (gloo) against 1 process: the same run up to rounding.

    Each process computes the gradient of its half of the batch and DDP averages the two;
    one process computes it on the whole batch. That is the same sum in another order, so
    float32 rounding differs in the last bits, and AdamW carries that from step to step.
    Measured after 8 steps: losses differ by about 5e-7 and weights by about 2e-6, so the
    tolerances (1e-5 for losses, 1e-4 for weights) leave a margin of 20 to 50 times. A
    real mistake shows far above them: one step moves a weight by up to the learning rate,
    3e-3, and a lost or doubled shard changes the gradient, and so the loss, visibly.
    """
    args = ["--context-length", "16", "--n-layer", "2", "--n-head", "2", "--n-embd", "32"]
    args += ["--batch-size", "8", "--steps", "8", "--eval-interval", "4", "--eval-steps", "2"]
    args += ["--log-interval", "1", "--warmup", "2", "--lr", "3e-3", "--device", "cpu", "--quiet"]
    run_train_command(tmp_path, [*args, "--out", str(tmp_path / "two")], processes=2)
    run_train_command(tmp_path, [*args, "--out", str(tmp_path / "one")])

    def run(name):
        lines = (tmp_path / name / "metrics.jsonl").read_text().splitlines()
        return [json.loads(line) for line in lines], load_checkpoint(tmp_path / name / "checkpoint")

    (two, two_saved), (one, one_saved) = run("two"), run("one")
    assert [r["step"] for r in two] == [r["step"] for r in one] == list(range(9))
    for a, b in zip(two, one, strict=True):
        for key in ("loss", "train_loss", "val_loss"):
            assert (key in a) == (key in b)
            if key in a:
                assert a[key] == pytest.approx(b[key], abs=1e-5), (a["step"], key)
    assert two_saved.step == one_saved.step == 8
    for name, tensor in one_saved.weights.items():
        torch.testing.assert_close(two_saved.weights[name], tensor, rtol=0, atol=1e-4)
    start = train.build_model(one_saved.model_config, seed=TrainConfig().seed)  # as the CLI does
    change = max(
        (one_saved.weights[name] - weight).abs().max().item()
        for name, weight in start.named_parameters()
    )
    assert change > 1e-3  # training did move the weights far more than the tolerance


def test_damaged_generator_states_are_caught_before_anything_is_written(tmp_path):
    config = tiny_config(max_steps=10, out_dir=str(tmp_path))
    train.train(*tiny_setup(), TEXT, config, progress=False)
    metrics_before = (tmp_path / "metrics.jsonl").read_text()
    info_file = tmp_path / "checkpoint" / "checkpoint.json"
    info = json.loads(info_file.read_text())
    info["rng"]["batches"] = info["rng"]["batches"][:40]  # valid base64, far too short
    info_file.write_text(json.dumps(info))
    longer = dataclasses.replace(config, max_steps=20)
    with pytest.raises(CheckpointError, match="random generator states are damaged"):
        train.train(*tiny_setup(), TEXT, longer, resume=True, progress=False)
    assert (tmp_path / "metrics.jsonl").read_text() == metrics_before


def test_an_exported_checkpoint_cannot_be_resumed(tmp_path):
    config = tiny_config(max_steps=4, eval_interval=2, out_dir=str(tmp_path / "run"))
    model, tokenizer = tiny_setup()
    train.train(model, tokenizer, TEXT, config, progress=False)
    checkpoint.export_weights(tmp_path / "run" / "checkpoint", tmp_path / "weights" / "checkpoint")
    longer = dataclasses.replace(config, max_steps=8, out_dir=str(tmp_path / "weights"))
    with pytest.raises(TrainError, match="holds the weights only"):
        train.train(*tiny_setup(), TEXT, longer, resume=True, progress=False)


@pytest.mark.slow
def test_one_process_under_torchrun_trains_through_ddp(tmp_path):
    """torchrun with a single process still forms a group and wraps the model in DDP."""
    args = ["--context-length", "16", "--n-layer", "1", "--n-head", "2", "--n-embd", "16"]
    args += ["--batch-size", "4", "--steps", "4", "--eval-interval", "2", "--eval-steps", "1"]
    args += ["--device", "cpu", "--out", str(tmp_path / "run")]
    result = run_train_command(tmp_path, args, processes=1)
    assert "1 process(es), DDP, on cpu" in result.stderr
    assert (tmp_path / "run" / "checkpoint").is_dir()
