"""Checkpoints: everything needed to use a trained model, or to continue training it exactly.

A checkpoint is a folder of four files:

    model.safetensors       the weights, by parameter name
    optimizer.safetensors   AdamW's running averages, by parameter name (not in a
                            checkpoint exported for use only: ``export_weights``)
    tokenizer.json          the tokenizer (``lessons.tokenizer.load`` reads it)
    checkpoint.json         the step, the model and training settings, the states of the
                            random number generators, and a SHA-256 of each other file

Safe by design: safetensors and JSON hold only numbers and text. PyTorch's own format
(``torch.save``) is a Python pickle, and unpickling a file can run any code in it.

Written atomically: the files go into a temporary folder first, which then replaces the
old checkpoint. A crash in the middle leaves the old checkpoint as it was, and the
checksums catch a file that was cut short or damaged later.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import safetensors.torch
import torch
from safetensors import SafetensorError
from torch import Tensor

from lessons import tokenizer as tokenizers
from lessons.gpt import GPT, GPTConfig

FORMAT = "lessons-checkpoint"
VERSION = 1
MODEL_FILE = "model.safetensors"
OPTIMIZER_FILE = "optimizer.safetensors"
TOKENIZER_FILE = "tokenizer.json"
INFO_FILE = "checkpoint.json"


class CheckpointError(Exception):
    """A checkpoint is missing, damaged, or does not fit; the message says which and why."""


@dataclass
class Checkpoint:
    """A checkpoint read back by ``load_checkpoint``, its files already verified."""

    path: Path
    step: int  # optimizer steps done
    model_config: GPTConfig
    train_config: dict  # the training settings as saved (``TrainConfig`` fields)
    tokenizer: tokenizers.Tokenizer
    weights: dict[str, Tensor]  # parameter name -> tensor, shapes checked against the config
    optimizer_state: dict[str, Tensor]  # "<parameter name>.<state name>" -> tensor
    rng: dict[str, Tensor]  # generator name -> its state
    extra: dict  # whatever else the trainer saved (elapsed time, a data fingerprint ...)

    def build_model(self, device: str | torch.device = "cpu") -> GPT:
        """A new GPT with the checkpoint's config and weights."""
        with torch.device(device):
            model = GPT(self.model_config)
        self.load_weights(model)
        return model

    def load_weights(self, model: GPT) -> None:
        """Copy the saved weights into ``model``, which must have the checkpoint's config."""
        if model.config != self.model_config:
            raise CheckpointError(
                f"The model does not fit the checkpoint in {self.path}: "
                f"{config_differences(model.config, self.model_config)}."
            )
        with torch.no_grad():
            for name, param in model.named_parameters():
                param.copy_(self.weights[name])

    def load_optimizer(self, optimizer: torch.optim.Optimizer, model: GPT) -> None:
        """Give ``optimizer`` (made for ``model``'s parameters) the saved state back."""
        names = {param: name for name, param in model.named_parameters()}
        saved: dict[str, dict[str, Tensor]] = {}
        for key, value in self.optimizer_state.items():
            name, state_name = key.rsplit(".", 1)
            saved.setdefault(name, {})[state_name] = value
        unknown = saved.keys() - set(names.values())
        if unknown:
            raise CheckpointError(f"The optimizer state has unknown parameters: {sorted(unknown)}")
        params = [param for group in optimizer.param_groups for param in group["params"]]
        state = {}
        for index, param in enumerate(params):  # state_dict() numbers them in this order
            entry = saved.get(names[param], {})
            for state_name, value in entry.items():
                if value.dim() > 0 and value.shape != param.shape:
                    raise CheckpointError(
                        f"The optimizer's {state_name!r} for {names[param]!r} has shape "
                        f"{tuple(value.shape)}, the parameter {tuple(param.shape)}."
                    )
            if entry:
                state[index] = entry
        # Keep the optimizer's own settings (fused or not, say): they depend on the device.
        groups = optimizer.state_dict()["param_groups"]
        optimizer.load_state_dict({"state": state, "param_groups": groups})


def save_checkpoint(
    path: str | Path,
    model: GPT,
    optimizer: torch.optim.Optimizer | None,
    tokenizer: tokenizers.Tokenizer,
    *,
    step: int,
    train_config: object = None,
    rng: dict[str, Tensor] | None = None,
    extra: dict | None = None,
) -> Path:
    """Write a checkpoint folder at ``path``, replacing the one there only once all is written.

    ``model`` is the bare GPT (not wrapped by DDP or ``torch.compile``); ``train_config`` a
    dataclass or dict of training settings; ``rng`` maps names to generator states
    (``generator.get_state()``); ``extra`` is anything else that JSON can hold. Without an
    ``optimizer`` the checkpoint holds the weights only: enough to use the model, not to
    continue its training.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for leftover in path.parent.glob(f".{path.name}.tmp-*"):  # from a save that was killed
        shutil.rmtree(leftover, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    try:
        weights = {name: param.detach() for name, param in model.named_parameters()}
        blobs = {MODEL_FILE: safetensors.torch.save(_on_cpu(weights))}
        if optimizer is not None:
            blobs[OPTIMIZER_FILE] = safetensors.torch.save(_optimizer_tensors(optimizer, model))
        for name, data in blobs.items():
            _write_synced(tmp / name, data)
        tokenizer.save(tmp / TOKENIZER_FILE)
        blobs[TOKENIZER_FILE] = (tmp / TOKENIZER_FILE).read_bytes()
        _fsync(tmp / TOKENIZER_FILE)
        if dataclasses.is_dataclass(train_config):
            train_config = dataclasses.asdict(train_config)
        info = {
            "format": FORMAT,
            "version": VERSION,
            "step": step,
            "model_config": dataclasses.asdict(model.config),
            "train_config": train_config or {},
            "rng": {name: _state_to_text(state) for name, state in (rng or {}).items()},
            "extra": extra or {},
            "sha256": {name: hashlib.sha256(data).hexdigest() for name, data in blobs.items()},
        }
        _write_synced(tmp / INFO_FILE, json.dumps(info, indent=1, ensure_ascii=False).encode())
        _fsync(tmp)
        _swap_in(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read and verify a checkpoint folder; any problem raises ``CheckpointError``.

    Every file must have the SHA-256 recorded at saving time (so a cut-off or damaged file
    is caught before it is used), and every weight the shape that the config implies.
    """
    path = _find(Path(path))
    info = _read_info(path)
    blobs = {}
    names = [MODEL_FILE, TOKENIZER_FILE]
    if OPTIMIZER_FILE in info["sha256"]:  # not in a checkpoint of the weights only
        names.append(OPTIMIZER_FILE)
    for name in names:
        try:
            blobs[name] = (path / name).read_bytes()
        except OSError as error:
            raise CheckpointError(f"The checkpoint in {path} is incomplete: {error}") from None
        if hashlib.sha256(blobs[name]).hexdigest() != info["sha256"].get(name):
            raise CheckpointError(
                f"{path / name} is damaged (cut short or changed): its SHA-256 is not the one "
                f"recorded in {INFO_FILE}. Use an older checkpoint or train again."
            )
    try:
        model_config = GPTConfig(**info["model_config"])
        tokenizer = tokenizers.load(path / TOKENIZER_FILE)
        weights = safetensors.torch.load(blobs[MODEL_FILE])
        optimizer_state = (
            safetensors.torch.load(blobs[OPTIMIZER_FILE]) if OPTIMIZER_FILE in blobs else {}
        )
        rng = {name: _text_to_state(text) for name, text in info["rng"].items()}
        step = info["step"]
    except (KeyError, TypeError, ValueError, AttributeError, SafetensorError) as error:
        what = f"{type(error).__name__}: {error}"
        raise CheckpointError(f"{path} is not a valid checkpoint ({what})") from None
    check_shapes(weights, model_config, source=str(path / MODEL_FILE))
    if tokenizer.vocab_size != model_config.vocab_size:
        raise CheckpointError(
            f"In {path} the tokenizer has {tokenizer.vocab_size} tokens, but the model's "
            f"vocab_size is {model_config.vocab_size}."
        )
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise CheckpointError(f"{path / INFO_FILE}: step must be a whole number >= 0, not {step!r}")
    return Checkpoint(
        path=path,
        step=step,
        model_config=model_config,
        train_config=info["train_config"],
        tokenizer=tokenizer,
        weights=weights,
        optimizer_state=optimizer_state,
        rng=rng,
        extra=info["extra"],
    )


def export_weights(
    source: str | Path, path: str | Path, dtype: torch.dtype = torch.bfloat16
) -> Checkpoint:
    """Write the weights of the checkpoint at ``source`` as a checkpoint of its own at ``path``.

    For passing a trained model on: no optimizer state (two thirds of a checkpoint's size)
    and the weights in ``dtype``; bfloat16 halves them again, and loading turns them back
    into float32 (exactly: every bfloat16 number is a float32 number). Returns it, loaded.
    """
    saved = load_checkpoint(source)
    model = saved.build_model().to(dtype)
    save_checkpoint(
        path,
        model,
        None,
        saved.tokenizer,
        step=saved.step,
        train_config=saved.train_config,
        extra={**saved.extra, "exported_from": str(saved.path), "dtype": str(dtype)},
    )
    return load_checkpoint(path)


def exists(path: str | Path) -> bool:
    """Whether there is a checkpoint at ``path`` (verified or not)."""
    try:
        _find(Path(path))
    except CheckpointError:
        return False
    return True


def check_shapes(weights: dict[str, Tensor], config: GPTConfig, source: str = "weights") -> None:
    """Raise ``CheckpointError``, naming the parameter, if ``weights`` do not fit ``config``.

    A GPT built on the "meta" device has every shape but no numbers: a free way to learn
    which shapes a config needs.
    """
    with torch.device("meta"):
        expected = {name: param.shape for name, param in GPT(config).named_parameters()}
    for name, shape in expected.items():
        if name not in weights:
            raise CheckpointError(f"{source} has no weight {name!r}.")
        if weights[name].shape != shape:
            raise CheckpointError(
                f"{source} does not fit the model config: {name!r} has shape "
                f"{tuple(weights[name].shape)}, the config needs {tuple(shape)}."
            )
    unknown = weights.keys() - expected.keys()
    if unknown:
        raise CheckpointError(f"{source} has weights the model lacks: {sorted(unknown)}.")


def config_differences(ours: GPTConfig, theirs: GPTConfig) -> str:
    """The settings in which two configs differ, readable: "n_layer 2 (checkpoint: 4)"."""
    mine, saved = dataclasses.asdict(ours), dataclasses.asdict(theirs)
    return ", ".join(f"{k} {mine[k]} (checkpoint: {saved[k]})" for k in mine if mine[k] != saved[k])


def tokenizer_json(tokenizer: tokenizers.Tokenizer) -> dict:
    """What ``tokenizer.save`` writes, as a dict: two tokenizers are the same if these are."""
    with tempfile.TemporaryDirectory() as folder:
        tokenizer.save(Path(folder) / TOKENIZER_FILE)
        return json.loads((Path(folder) / TOKENIZER_FILE).read_text(encoding="utf-8"))


# --- Inside: files, folders, and optimizer state -------------------------------------------


def _on_cpu(tensors: dict[str, Tensor]) -> dict[str, Tensor]:
    return {name: t.detach().to("cpu").contiguous() for name, t in tensors.items()}


def _optimizer_tensors(optimizer: torch.optim.Optimizer, model: GPT) -> dict[str, Tensor]:
    """The optimizer's state by parameter name, e.g. "blocks.0.mlp.up.weight.exp_avg"."""
    names = {param: name for name, param in model.named_parameters()}
    tensors = {}
    for group in optimizer.param_groups:
        for param in group["params"]:
            for state_name, value in optimizer.state.get(param, {}).items():
                if not isinstance(value, Tensor):  # AdamW keeps only tensors; others would
                    value = torch.tensor(value)  # be plain numbers such as a step count
                tensors[f"{names[param]}.{state_name}"] = value
    return _on_cpu(tensors)


def _state_to_text(state: Tensor) -> str:
    """A generator state (a tensor of bytes) as text for JSON."""
    return base64.b64encode(state.to("cpu").numpy().tobytes()).decode("ascii")


def _text_to_state(text: str) -> Tensor:
    return torch.frombuffer(bytearray(base64.b64decode(text, validate=True)), dtype=torch.uint8)


def _write_synced(path: Path, data: bytes) -> None:
    """Write a file and wait until the bytes are on the disk, not just in a cache."""
    with open(path, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())


def _fsync(path: Path) -> None:
    """Flush a file, or a folder's list of names, to the disk (folders: POSIX only)."""
    if path.is_dir() and os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _backup(path: Path) -> Path:
    return path.with_name(path.name + ".old")


def _swap_in(new: Path, path: Path) -> None:
    """Put the finished folder ``new`` in the place of ``path``.

    One rename cannot replace a folder that has files in it, so it takes two: the old one
    moves aside to ``<path>.old``, the new one moves in, then the old one is deleted. If
    the program dies between the two renames, ``_find`` still finds the old checkpoint.
    """
    backup = _backup(path)
    if path.exists():
        shutil.rmtree(backup, ignore_errors=True)
        os.replace(path, backup)
    os.replace(new, path)
    _fsync(path.parent)
    shutil.rmtree(backup, ignore_errors=True)


def _find(path: Path) -> Path:
    """The folder holding the checkpoint for ``path``: itself, or its backup after a crash."""
    if (path / INFO_FILE).is_file():
        return path
    if not path.exists() and (_backup(path) / INFO_FILE).is_file():
        return _backup(path)
    raise CheckpointError(f"There is no checkpoint in {path} (no {INFO_FILE}).")


def _read_info(path: Path) -> dict:
    try:
        info = json.loads((path / INFO_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:  # ValueError: not JSON, or not UTF-8
        raise CheckpointError(f"{path / INFO_FILE} cannot be read: {error}") from None
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise CheckpointError(f"{path / INFO_FILE} is not a {FORMAT!r} file.")
    if info.get("version") != VERSION:
        raise CheckpointError(
            f"{path / INFO_FILE} has format version {info.get('version')!r}; "
            f"this code reads version {VERSION}."
        )
    required = ("step", "model_config", "train_config", "rng", "extra", "sha256")
    missing = [key for key in required if key not in info]
    if missing or not isinstance(info["sha256"], dict):
        raise CheckpointError(f"{path / INFO_FILE} lacks {missing or ['sha256']}.")
    return info
