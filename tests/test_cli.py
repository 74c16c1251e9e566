"""The ``lessons`` command: generate from a file of your own, train a GPT, and clear errors."""

import json

import pytest

from lessons.checkpoint import load_checkpoint
from lessons.cli import main


def test_markov_from_a_file(tmp_path, capsys):
    text = tmp_path / "text.txt"
    text.write_text("abracadabra " * 20, encoding="utf-8")
    args = ["markov", "--file", str(text), "--order", "2", "--length", "40", "--seed", "3"]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert main(args) == 0
    assert capsys.readouterr().out == first  # same seed, same text
    assert len(first.strip()) == 42


def test_markov_shows_next_tokens(tmp_path, capsys):
    text = tmp_path / "text.txt"
    text.write_text("the cat sat on the mat. " * 5, encoding="utf-8")
    args = ["markov", "--file", str(text), "--level", "words", "--order", "1", "--length", "5"]
    assert main([*args, "--start", "the", "--next"]) == 0
    assert "next:" in capsys.readouterr().out


def test_bad_input_gives_a_message_not_a_traceback(tmp_path, capsys):
    text = tmp_path / "short.txt"
    text.write_text("abc", encoding="utf-8")
    assert main(["markov", "--file", str(text), "--order", "5"]) == 2
    assert "needs at least 6" in capsys.readouterr().err
    assert main(["markov", "--corpus", "no-such-text"]) == 2
    assert "kafka-die-verwandlung" in capsys.readouterr().err  # the known ids are listed
    assert main(["markov", "--file", str(tmp_path / "missing.txt")]) == 2
    assert "missing.txt" in capsys.readouterr().err


# --- lessons train -------------------------------------------------------------------------------

TEXT = "the quick brown fox jumps over the lazy dog. " * 40
TINY = ["--tokenizer", "char", "--context-length", "8", "--n-layer", "1", "--n-head", "2"]
TINY += ["--n-embd", "16", "--batch-size", "4", "--eval-interval", "2", "--eval-steps", "1"]
TINY += ["--log-interval", "1", "--device", "cpu"]


def train_args(tmp_path, *more, text=TEXT):
    source = tmp_path / "text.txt"
    source.write_text(text, encoding="utf-8")
    return ["train", "--file", str(source), "--out", str(tmp_path / "run"), *more]


def metrics_steps(out):
    lines = (out / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["step"] for line in lines]


def test_train_writes_a_run_and_resumes_it(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(train_args(tmp_path, *TINY, "--steps", "3")) == 0
    captured = capsys.readouterr()
    assert "Trained to step 3" in captured.out
    assert "tokens/s" in captured.err and "val loss" in captured.err  # the progress lines
    assert {p.name for p in out.iterdir()} == {"checkpoint", "metrics.jsonl", "loss.png"}
    assert metrics_steps(out) == [0, 1, 2, 3]
    # continue to step 5: the model, tokenizer and settings come from the checkpoint
    assert main(train_args(tmp_path, "--resume", "--steps", "5", "--quiet")) == 0
    assert "Trained to step 5" in capsys.readouterr().out
    assert metrics_steps(out) == [0, 1, 2, 3, 4, 5]
    assert load_checkpoint(out / "checkpoint").step == 5


@pytest.mark.parametrize(
    "options, message",
    [
        (["--lr", "-1"], "learning_rate must be > 0"),
        (["--batch-size", "0"], "batch_size must be a whole number >= 1"),
        (["--n-embd", "15"], "divisible by n_head"),
        (["--preset", "huge"], "Unknown preset 'huge'"),
        (["--vocab-size", "300"], "--vocab-size is for --tokenizer bpe"),
        (["--resume"], "no checkpoint"),
    ],
)
def test_train_rejects_bad_options_without_writing(tmp_path, capsys, options, message):
    assert main(train_args(tmp_path, *TINY, "--steps", "2", *options)) == 2
    error = capsys.readouterr().err
    assert message in error and "Traceback" not in error
    assert not (tmp_path / "run").exists()


def test_train_rejects_text_too_short_for_the_context(tmp_path, capsys):
    assert main(train_args(tmp_path, *TINY, "--steps", "2", text="tiny")) == 2
    assert "Too little text" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_train_protects_an_existing_checkpoint(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(train_args(tmp_path, *TINY, "--steps", "2", "--quiet")) == 0
    weights = (out / "checkpoint" / "model.safetensors").read_bytes()
    assert main(train_args(tmp_path, *TINY, "--steps", "2")) == 2
    assert "already holds a checkpoint" in capsys.readouterr().err
    assert main(train_args(tmp_path, "--resume", "--n-layer", "2", "--steps", "4")) == 2
    assert "n_layer 2 (checkpoint: 1)" in capsys.readouterr().err
    assert main(train_args(tmp_path, "--resume", "--steps", "4", text=TEXT.upper())) == 2
    assert "not in the vocabulary" in capsys.readouterr().err  # the char tokenizer lacks capitals
    assert (out / "checkpoint" / "model.safetensors").read_bytes() == weights
    damaged = out / "checkpoint" / "optimizer.safetensors"
    damaged.write_bytes(damaged.read_bytes()[:-1])
    assert main(train_args(tmp_path, "--resume", "--steps", "4")) == 2
    error = capsys.readouterr().err
    assert "optimizer.safetensors is damaged" in error and "Traceback" not in error
