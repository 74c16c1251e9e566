"""Checkpoints: a faithful round trip, no pickle, atomic saving, and clear errors for bad files."""

import json

import pytest
import safetensors
import torch

from lessons import checkpoint
from lessons.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from lessons.gpt import GPT, GPTConfig
from lessons.tokenizer import BPETokenizer, CharTokenizer

TEXT = "to be or not to be, that is the question " * 20
CONFIG = dict(context_length=16, n_layer=2, n_head=2, n_embd=16)


def trained(seed: int = 0, steps: int = 2, **changes):
    """A tiny model, its tokenizer and an AdamW that has taken a few steps (so it has state)."""
    tokenizer = CharTokenizer.train(TEXT)
    torch.manual_seed(seed)
    model = GPT(GPTConfig(vocab_size=tokenizer.vocab_size, **{**CONFIG, **changes}))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    idx = torch.tensor([tokenizer.encode(TEXT[:17])])
    for _ in range(steps):
        _, loss = model(idx[:, :-1], idx[:, 1:])
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    return model, optimizer, tokenizer


def save(path, seed: int = 0, step: int = 2, **changes):
    model, optimizer, tokenizer = trained(seed, **changes)
    generator = torch.Generator().manual_seed(seed)
    save_checkpoint(
        path,
        model,
        optimizer,
        tokenizer,
        step=step,
        train_config={"batch_size": 4},
        rng={"batches": generator.get_state()},
        extra={"note": "ä"},
    )
    return model, optimizer, tokenizer


def test_round_trip_restores_everything(tmp_path):
    path = tmp_path / "checkpoint"
    model, optimizer, tokenizer = save(path)
    assert sorted(p.name for p in path.iterdir()) == [
        "checkpoint.json",
        "model.safetensors",
        "optimizer.safetensors",
        "tokenizer.json",
    ]
    saved = load_checkpoint(path)
    assert saved.step == 2 and saved.train_config == {"batch_size": 4}
    assert saved.extra == {"note": "ä"} and saved.model_config == model.config
    assert saved.tokenizer.encode(TEXT) == tokenizer.encode(TEXT)
    assert torch.equal(saved.rng["batches"], torch.Generator().manual_seed(0).get_state())
    copy = saved.build_model()
    for (name, ours), (_, theirs) in zip(
        model.named_parameters(), copy.named_parameters(), strict=True
    ):
        assert torch.equal(ours, theirs), name
    assert copy.lm_head.weight is copy.token_embedding.weight  # still tied
    fresh = torch.optim.AdamW(copy.parameters(), lr=1e-2)
    saved.load_optimizer(fresh, copy)
    for ours, theirs in zip(model.parameters(), copy.parameters(), strict=True):
        for key, value in optimizer.state[ours].items():
            assert torch.equal(fresh.state[theirs][key], value), key


def test_the_files_are_safetensors_and_json_not_pickle(tmp_path):
    path = tmp_path / "checkpoint"
    save(path)
    for name in ("model.safetensors", "optimizer.safetensors"):
        with safetensors.safe_open(path / name, framework="pt") as file:
            assert file.keys()
        assert not (path / name).read_bytes().startswith(b"\x80")  # a pickle's first byte
    names = safetensors.safe_open(path / "optimizer.safetensors", framework="pt").keys()
    assert "blocks.0.mlp.up.weight.exp_avg" in names  # by parameter name, not by position
    info = json.loads((path / "checkpoint.json").read_text(encoding="utf-8"))
    assert info["format"] == "lessons-checkpoint" and info["model_config"]["n_layer"] == 2
    assert set(info["sha256"]) == {"model.safetensors", "optimizer.safetensors", "tokenizer.json"}


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete"])
def test_a_damaged_file_is_caught(tmp_path, damage):
    path = tmp_path / "checkpoint"
    save(path)
    weights = path / "model.safetensors"
    content = weights.read_bytes()
    if damage == "truncate":
        weights.write_bytes(content[: len(content) // 2])
    elif damage == "flip":
        weights.write_bytes(content[:-10] + bytes([content[-10] ^ 1]) + content[-9:])
    else:
        weights.unlink()
    message = "incomplete" if damage == "delete" else "model.safetensors is damaged"
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(path)


def test_a_broken_info_file_is_caught(tmp_path):
    path = tmp_path / "checkpoint"
    save(path)
    info_file = path / "checkpoint.json"
    info = json.loads(info_file.read_text(encoding="utf-8"))
    info_file.write_text(info_file.read_text(encoding="utf-8")[:100], encoding="utf-8")
    with pytest.raises(CheckpointError, match="cannot be read"):
        load_checkpoint(path)
    info_file.write_text(json.dumps({**info, "version": 99}), encoding="utf-8")
    with pytest.raises(CheckpointError, match="version 99"):
        load_checkpoint(path)
    info_file.write_text(json.dumps({**info, "step": -1}), encoding="utf-8")
    with pytest.raises(CheckpointError, match="step"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_checkpoint(tmp_path / "elsewhere")


def test_weights_that_do_not_fit_the_config_name_the_parameter(tmp_path):
    path = tmp_path / "checkpoint"
    save(path)
    info_file = path / "checkpoint.json"
    info = json.loads(info_file.read_text(encoding="utf-8"))
    info["model_config"]["n_embd"] = 32
    info_file.write_text(json.dumps(info), encoding="utf-8")
    with pytest.raises(CheckpointError, match=r"'token_embedding.weight' has shape \(\d+, 16\)"):
        load_checkpoint(path)
    info["model_config"].update(n_embd=16, n_layer=3)
    info_file.write_text(json.dumps(info), encoding="utf-8")
    with pytest.raises(CheckpointError, match="no weight 'blocks.2"):
        load_checkpoint(path)


def test_loading_into_a_different_model_is_refused(tmp_path):
    path = tmp_path / "checkpoint"
    save(path)
    saved = load_checkpoint(path)
    other, _, _ = trained(n_embd=32)
    with pytest.raises(CheckpointError, match=r"n_embd 32 \(checkpoint: 16\)"):
        saved.load_weights(other)
    model, _, _ = trained()
    saved.optimizer_state["blocks.0.mlp.up.weight.exp_avg"] = torch.zeros(3)
    with pytest.raises(CheckpointError, match="'blocks.0.mlp.up.weight' has shape"):
        saved.load_optimizer(torch.optim.AdamW(model.parameters()), model)


def test_an_interrupted_save_leaves_the_old_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint"
    save(path, step=2)

    def fail(*args, **kwargs):
        raise KeyboardInterrupt  # as if the user pressed Ctrl+C while the tokenizer is saved

    monkeypatch.setattr(CharTokenizer, "save", fail)
    with pytest.raises(KeyboardInterrupt):
        save(path, seed=1, step=4)
    monkeypatch.undo()
    assert load_checkpoint(path).step == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint"]  # no leftovers
    save(path, step=6)
    assert load_checkpoint(path).step == 6


def test_a_crash_between_the_two_renames_keeps_the_old_checkpoint(tmp_path):
    path = tmp_path / "checkpoint"
    save(path, step=2)
    path.rename(tmp_path / "checkpoint.old")  # moved aside; the new one never moved in
    assert checkpoint.exists(path)
    assert load_checkpoint(path).step == 2
    save(path, step=4)
    assert load_checkpoint(path).step == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint"]


def test_a_bpe_tokenizer_survives_the_round_trip(tmp_path):
    tokenizer = BPETokenizer.train(TEXT, vocab_size=270)
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=tokenizer.vocab_size, **CONFIG))
    optimizer = torch.optim.AdamW(model.parameters())
    save_checkpoint(tmp_path / "c", model, optimizer, tokenizer, step=0)
    saved = load_checkpoint(tmp_path / "c")
    assert checkpoint.tokenizer_json(saved.tokenizer) == checkpoint.tokenizer_json(tokenizer)
    assert saved.optimizer_state == {}  # no step taken yet: nothing to save


def test_exported_weights_are_bfloat16_and_load_without_optimizer(tmp_path):
    model, _, tokenizer = save(tmp_path / "full", step=7)
    exported = checkpoint.export_weights(tmp_path / "full", tmp_path / "small")
    assert not (tmp_path / "small" / checkpoint.OPTIMIZER_FILE).exists()
    assert exported.optimizer_state == {} and exported.step == 7
    stored = safetensors.safe_open(tmp_path / "small" / checkpoint.MODEL_FILE, "pt")
    assert all(stored.get_tensor(name).dtype == torch.bfloat16 for name in stored.keys())  # noqa: SIM118
    rebuilt = exported.build_model()
    for name, weight in model.named_parameters():
        rounded = weight.detach().to(torch.bfloat16).float()  # exactly what bfloat16 keeps
        assert torch.equal(dict(rebuilt.named_parameters())[name].detach(), rounded)
    assert exported.tokenizer.encode(TEXT) == tokenizer.encode(TEXT)
    full = (tmp_path / "full" / checkpoint.MODEL_FILE).stat().st_size
    assert (tmp_path / "small" / checkpoint.MODEL_FILE).stat().st_size < 0.6 * full
