"""Pretraining: teach a GPT to predict the next token of a text.

One training step:

    1. draw a batch of pieces of the text (``lessons.data``)
    2. forward: the loss, how surprised the model is by each real next token
    3. backward: the gradient, which way each weight should move to lower the loss
    4. clip the gradient's length, so that one odd batch cannot throw the model off
    5. AdamW moves every weight a little; the learning rate first rises (warm-up),
       then falls along a cosine curve to ``min_lr``

Every ``eval_interval`` steps the loss is measured on training and on validation text, and
a checkpoint is written (``lessons.checkpoint``), from which a run can continue exactly.
The metrics go to ``metrics.jsonl`` (one JSON object per line) and a plot to ``loss.png``.

    >>> from lessons import corpora, train
    >>> from lessons.gpt import GPTConfig
    >>> text = corpora.load("tinyshakespeare")
    >>> preset = train.PRESETS["cpu-char-shakespeare"]
    >>> tokenizer = train.build_tokenizer("char", text)
    >>> model = train.build_model(GPTConfig(vocab_size=tokenizer.vocab_size, **preset.model))
    >>> metrics = train.train(model, tokenizer, text, preset.train)  # doctest: +SKIP

It runs on a CUDA GPU (with bfloat16 and, if asked, ``torch.compile``), an Apple GPU (MPS)
or the CPU, and on several GPUs or processes at once when started by ``torchrun``.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.distributed as dist
from torch import Tensor
from torch.nn.parallel import DistributedDataParallel

from lessons import data
from lessons.checkpoint import (
    Checkpoint,
    CheckpointError,
    config_differences,
    load_checkpoint,
    save_checkpoint,
    tokenizer_json,
)
from lessons.checkpoint import exists as checkpoint_exists
from lessons.gpt import GPT, GPTConfig
from lessons.tokenizer import EOT, BPETokenizer, CharTokenizer, Tokenizer

if TYPE_CHECKING:  # matplotlib is needed only for the plot
    from matplotlib.figure import Figure

CHECKPOINT_DIR = "checkpoint"  # in out_dir, next to these:
METRICS_FILE = "metrics.jsonl"
PLOT_FILE = "loss.png"


class TrainError(ValueError):
    """Training cannot start with these settings or files; the message says what to change."""


@dataclass
class TrainConfig:
    """How to train: batches, steps, the learning rate and its schedule, evaluation, output."""

    batch_size: int = 12  # sequences per optimizer step, all processes together
    context_length: int | None = None  # tokens per sequence; None: the model's context length
    max_steps: int = 2000  # optimizer steps in all
    learning_rate: float = 1e-3  # the peak, reached at the end of the warm-up
    min_lr: float = 1e-4  # where the cosine ends, at max_steps
    warmup_steps: int = 100  # steps in which the learning rate rises from 0
    weight_decay: float = 0.1  # pulls the matrices a little towards 0, against overfitting
    betas: tuple[float, float] = (0.9, 0.99)  # how slowly AdamW's two averages forget
    grad_clip: float = 1.0  # the longest gradient allowed (its norm); 0: no clipping
    grad_accum: int = 1  # micro-batches per step: the same batch in pieces, less memory
    eval_interval: int = 250  # evaluate and write a checkpoint every this many steps
    eval_steps: int = 20  # batches per evaluation
    log_interval: int = 10  # record the training loss every this many steps
    val_fraction: float = 0.1  # the end of each document, kept back for validation
    seed: int = 1337  # fixes the batches and the dropout (not the model's start: build_model)
    device: str = "auto"  # "auto" (CUDA, else MPS, else CPU), "cpu", "cuda", "cuda:1", "mps"
    compile: bool = False  # torch.compile the model: faster steps after a slow start
    out_dir: str | None = None  # for checkpoint, metrics and plot; None: write nothing

    def __post_init__(self):
        self.betas = tuple(self.betas)  # JSON gives a list back
        whole = dict(batch_size=1, max_steps=1, warmup_steps=0, grad_accum=1, eval_interval=1)
        whole.update(eval_steps=1, log_interval=1, seed=0)
        if self.context_length is not None:
            whole["context_length"] = 1
        for name, smallest in whole.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < smallest:
                raise TrainError(f"{name} must be a whole number >= {smallest}, not {value!r}.")
        if not _number(self.learning_rate) or self.learning_rate <= 0:
            raise TrainError(f"learning_rate must be > 0, not {self.learning_rate!r}.")
        if not _number(self.min_lr) or not 0 <= self.min_lr <= self.learning_rate:
            raise TrainError(
                f"min_lr must be between 0 and learning_rate ({self.learning_rate}), "
                f"not {self.min_lr!r}."
            )
        for name in ("weight_decay", "grad_clip"):
            if not _number(getattr(self, name)) or getattr(self, name) < 0:
                raise TrainError(f"{name} must be >= 0, not {getattr(self, name)!r}.")
        if len(self.betas) != 2 or not all(_number(b) and 0 <= b < 1 for b in self.betas):
            raise TrainError(f"betas must be two numbers from 0 to below 1, not {self.betas!r}.")
        if not _number(self.val_fraction) or not 0 <= self.val_fraction < 1:
            raise TrainError(
                f"val_fraction must be at least 0 and below 1, not {self.val_fraction!r}."
            )
        if self.batch_size % self.grad_accum:
            raise TrainError(
                f"batch_size ({self.batch_size}) must be divisible by grad_accum "
                f"({self.grad_accum}): each micro-batch gets the same number of sequences."
            )
        if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", str(self.device)):
            raise TrainError(f"device must be auto, cpu, cuda, cuda:N or mps, not {self.device!r}.")


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# --- Presets: ready-made runs ----------------------------------------------------------------


@dataclass(frozen=True)
class Preset:
    """A ready-made run: which texts, which tokenizer, how big a model, how to train it."""

    description: str
    corpora: tuple[str, ...]  # the texts, by corpus id (``lessons.corpora``)
    tokenizer: str  # "char" or "bpe"
    vocab_size: int | None  # for "bpe"; a CharTokenizer takes the characters of the text
    model: dict  # GPTConfig settings except vocab_size, which the tokenizer decides
    train: TrainConfig
    tokenizer_chars: int | None = None  # learn BPE from the first this many chars of each text


PRESETS = {
    "cpu-char-shakespeare": Preset(
        description="A character-level GPT on Shakespeare, sized like nanoGPT's CPU example "
        "(0.8M parameters): about two minutes on two CPU cores to a validation loss near 1.67.",
        corpora=("tinyshakespeare",),
        tokenizer="char",
        vocab_size=None,
        model=dict(context_length=64, n_layer=4, n_head=4, n_embd=128, dropout=0.0),
        # nanoGPT's CPU example: batch 12, lr 1e-3, 2000 steps (val loss 1.89). Twice the
        # learning rate and 3500 steps: about 1.67 in two minutes (benchmarks/train_cpu.py).
        train=TrainConfig(batch_size=12, max_steps=3500, learning_rate=2e-3, min_lr=2e-4),
    ),
    "course": Preset(
        description="A small BPE GPT on German and English literature (0.5M parameters), "
        "trained while the course site is built: under two minutes on two CPU cores.",
        corpora=("kafka-die-verwandlung", "goethe-faust-1", "austen-pride-and-prejudice"),
        tokenizer="bpe",
        vocab_size=1024,
        # With two minutes of CPU time, two blocks that see more text beat four that see
        # less (benchmarks/train_cpu.py and its README).
        model=dict(context_length=64, n_layer=2, n_head=4, n_embd=128, dropout=0.0),
        train=TrainConfig(
            batch_size=32,
            max_steps=1800,
            learning_rate=4e-3,
            min_lr=4e-4,
            warmup_steps=100,
            eval_interval=300,
            eval_steps=10,
        ),
    ),
    "course-gpu": Preset(
        description="The course's larger GPT (23M parameters, context 512) on 98 German and 55 "
        "English novels (ELTeC) and the course's three books: about 5 minutes on one H100.",
        corpora=(
            "kafka-die-verwandlung",
            "goethe-faust-1",
            "austen-pride-and-prejudice",
            "eltec-deu",
            "eltec-eng",
        ),
        tokenizer="bpe",
        vocab_size=8192,
        tokenizer_chars=100_000,  # 15M characters of 156 texts: the merges in seconds, not minutes
        model=dict(context_length=512, n_layer=6, n_head=8, n_embd=512, dropout=0.1),
        # 24M training tokens; 4000 steps of 64 x 512 read them about five times over.
        train=TrainConfig(
            batch_size=64,
            max_steps=4000,
            learning_rate=1e-3,
            min_lr=1e-4,
            warmup_steps=200,
            eval_interval=500,
            eval_steps=20,
            log_interval=50,
            compile=True,
        ),
    ),
}
DEFAULT_PRESET = "cpu-char-shakespeare"


# --- The parts: tokenizer, model, device, optimizer, schedule --------------------------------


def build_tokenizer(
    kind: str, text: str | Iterable[str], vocab_size: int | None = None
) -> CharTokenizer | BPETokenizer:
    """A "char" or "bpe" tokenizer trained on ``text`` (a string or a list of documents)."""
    text = text if isinstance(text, str) else EOT.join(text)  # merges never cross EOT
    if kind == "char":
        return CharTokenizer.train(text)
    if kind == "bpe":
        if vocab_size is None:
            raise TrainError("a BPE tokenizer needs a vocab_size, such as 1024.")
        return BPETokenizer.train(text, vocab_size)
    raise TrainError(f"tokenizer must be 'char' or 'bpe', not {kind!r}.")


def build_model(config: GPTConfig, seed: int = 0) -> GPT:
    """A new GPT whose random starting weights are fixed by ``seed``."""
    with torch.random.fork_rng(devices=[]):  # seeds a copy: the caller's random state stays
        torch.manual_seed(seed)
        return GPT(config)


def pick_device(name: str = "auto") -> torch.device:
    """The device to train on: "auto" takes a CUDA GPU, else an Apple GPU (MPS), else the CPU.

    Under torchrun each process takes the GPU of its local rank.
    """
    if name == "auto":
        if torch.cuda.is_available():
            name = "cuda"
        elif torch.backends.mps.is_available():
            name = "mps"
        else:
            name = "cpu"
    try:
        device = torch.device(name)
    except RuntimeError:
        raise TrainError(f"unknown device {name!r}: use auto, cpu, cuda or mps.") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise TrainError("device cuda asked for, but PyTorch finds no CUDA GPU here.")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise TrainError("device mps asked for, but PyTorch finds no Apple GPU here.")
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return device


def autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """bfloat16 on CUDA: matrix products in half the bits, about twice as fast on a modern GPU.

    Weights, gradients and optimizer state stay in float32; bfloat16 has float32's range,
    so unlike float16 it needs no loss scaling. Elsewhere everything stays float32.
    """
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def make_optimizer(model: GPT, config: TrainConfig, device: torch.device) -> torch.optim.AdamW:
    """AdamW with weight decay on the matrices only (linear layers and embeddings).

    Biases and LayerNorm gains are few numbers that set offsets and scales; pulling them
    towards 0 would not keep the model simpler, only worse. On CUDA the fused kernel
    updates all parameters at once.
    """
    params = list(model.parameters())
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": config.weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    fused = device.type == "cuda"
    return torch.optim.AdamW(groups, lr=config.learning_rate, betas=config.betas, fused=fused)


class LossOnly(torch.nn.Module):
    """``model(x, y)``'s loss alone, for the training step.

    The GPT also hands back its logits, one score per vocabulary entry for every token
    of the batch. Compiled (``torch.compile``) as a whole, this wrapper lets the compiler
    keep them inside: for GPT-2 small at batch 32 that is 6 GiB less memory and 3% less
    time per step (benchmarks/README.md). The weights are the model's own.
    """

    def __init__(self, model: GPT) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return self.model(x, y)[1]


def to_device(batch: Tensor, device: torch.device) -> Tensor:
    """``batch`` on ``device``; to a GPU from pinned memory, so the CPU need not wait.

    A copy from ordinary memory makes the CPU wait until the GPU has finished all the
    work queued before it; from pinned (page-locked) memory the copy joins the queue,
    and the CPU goes on preparing the next step meanwhile.
    """
    if device.type == "cuda":
        return batch.pin_memory().to(device, non_blocking=True)
    return batch.to(device)


def learning_rate_at(step: int, config: TrainConfig) -> float:
    """The learning rate for step ``step`` (1, 2, ..., max_steps).

    Linear warm-up from near 0 to ``learning_rate`` over ``warmup_steps`` (AdamW's averages
    start empty, so early steps are unreliable), then half a cosine wave down to ``min_lr``
    at ``max_steps``: big steps while far from the goal, small ones to settle in.
    """
    lr, warmup = config.learning_rate, config.warmup_steps
    if step <= warmup:
        return lr * step / warmup
    if step >= config.max_steps:
        return config.min_lr
    progress = (step - warmup) / (config.max_steps - warmup)  # from 0 to 1
    return config.min_lr + 0.5 * (1 + math.cos(math.pi * progress)) * (lr - config.min_lr)


# --- Several processes (torchrun) ------------------------------------------------------------


def start_distributed(device: torch.device) -> tuple[int, int]:
    """Join the other processes if torchrun started this one; returns (rank, world_size).

    torchrun tells each process its RANK, the WORLD_SIZE and where to meet in environment
    variables (LOCAL_RANK among them). GPUs exchange gradients through NCCL, CPUs through
    gloo. Under torchrun even a single process forms a group (of one) and trains through
    DDP: the same code path as on many GPUs.
    """
    launched = "LOCAL_RANK" in os.environ or int(os.environ.get("WORLD_SIZE", "1")) > 1
    if launched and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return _rank_and_world_size()


def stop_distributed(wait: bool = True) -> None:
    """Leave the group of processes (if in one).

    ``wait``: first wait for all the others, so they leave together (process 0 may still
    be writing a checkpoint). Not after an error: some processes may never arrive.
    """
    if dist.is_initialized():
        if wait:
            dist.barrier()
        dist.destroy_process_group()


def _rank_and_world_size() -> tuple[int, int]:
    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise TrainError("torchrun started several processes: call start_distributed() first.")
    return 0, 1


def _mean_over_processes(value: Tensor, world_size: int) -> float:
    if world_size > 1:
        value = value.detach().clone()
        dist.all_reduce(value)  # the sum over all processes (gloo cannot average directly)
        value /= world_size
    return value.item()


# --- Training ---------------------------------------------------------------------------------


def train(
    model: GPT,
    tokenizer: Tokenizer,
    text: str | Iterable[str],
    config: TrainConfig,
    *,
    resume: bool = False,
    progress: bool = True,
    on_record: Callable[[dict], None] | None = None,
) -> list[dict]:
    """Train ``model`` on ``text`` (a string or a list of documents); returns the metrics.

    With ``config.out_dir`` it writes a checkpoint at every evaluation, ``metrics.jsonl``
    and ``loss.png``; ``resume=True`` continues from that checkpoint, exactly where it
    stopped, and the metrics returned then include those from before. Each metrics record
    is a dict with ``step``, ``lr``, ``loss`` (of that step's batch), ``tokens_per_s`` and
    ``elapsed`` (seconds), and at evaluations ``train_loss`` and ``val_loss``;
    ``on_record`` is called with each as it is made. Bad settings or text raise an error
    before anything is written. Under torchrun call ``start_distributed`` first. The model
    ends in eval mode, on the training device.
    """
    # Check everything first: an error must not leave half a run behind.
    rank, world_size = _rank_and_world_size()
    context = config.context_length or model.config.context_length
    if context > model.config.context_length:
        raise TrainError(
            f"context_length {context} is above the model's {model.config.context_length}: "
            "it has no position embeddings for more tokens."
        )
    if config.batch_size % (config.grad_accum * world_size):
        raise TrainError(
            f"batch_size ({config.batch_size}) must split evenly into {world_size} processes x "
            f"{config.grad_accum} micro-batches."
        )
    train_ids, val_ids = data.split(
        data.encode_documents(text, tokenizer), config.val_fraction, context
    )
    fingerprint = data.fingerprint(train_ids, val_ids)
    device = pick_device(config.device)
    out = Path(config.out_dir) if config.out_dir else None
    saved = _checkpoint_to_resume(out, resume, model, tokenizer, fingerprint)

    model.to(device)
    model.train()
    optimizer = make_optimizer(model, config, device)
    batches = torch.Generator().manual_seed(config.seed)  # where the training pieces start
    torch.manual_seed(config.seed + rank)  # dropout: different in every process
    step, elapsed = 0, 0.0
    if saved is not None:
        saved.load_weights(model)
        saved.load_optimizer(optimizer, model)
        _restore_rng(saved.rng, batches, device, rank, config.seed + rank + saved.step)
        step, elapsed = saved.step, float(saved.extra.get("elapsed", 0.0))
    if device.type == "cuda":
        torch.set_float32_matmul_precision("high")  # TF32 for what stays float32

    net = LossOnly(model)
    net = torch.compile(net) if config.compile else net  # compiled: the same weights
    trained = net
    if dist.is_initialized():  # DDP averages the gradients of all processes in backward()
        device_ids = [device.index] if device.type == "cuda" else None
        trained = DistributedDataParallel(net, device_ids=device_ids)

    writes = out is not None and rank == 0  # one process writes the files
    log = MetricsLog(out / METRICS_FILE if writes else None, keep_until=step)
    bar = Progress(config.max_steps, step, enabled=progress and rank == 0)
    where = (
        f"{world_size} process(es), DDP, on {device}" if dist.is_initialized() else f"on {device}"
    )
    bar.message(
        f"model {model.num_parameters() / 1e6:.2f}M parameters | {tokenizer.kind} tokenizer, "
        f"{tokenizer.vocab_size} tokens | {len(train_ids):,} training + {len(val_ids):,} "
        f"validation tokens | {where} | from step {step}"
    )

    def evaluate_and_save(record: dict) -> None:
        record["train_loss"] = _evaluate(net, train_ids, config, context, device)
        if len(val_ids):
            record["val_loss"] = _evaluate(net, val_ids, config, context, device)
        bar.message(
            f"step {record['step']}: train loss {record['train_loss']:.4f}"
            + (f", val loss {record['val_loss']:.4f}" if "val_loss" in record else "")
        )
        if writes and record["step"] > 0:
            save_checkpoint(
                out / CHECKPOINT_DIR,
                model,
                optimizer,
                tokenizer,
                step=record["step"],
                train_config=config,
                rng=_rng_states(batches, device),
                extra={"elapsed": record["elapsed"], "data": fingerprint},
            )
        if writes:
            _save_plot(out / PLOT_FILE, [*log.records, record])

    def add(record: dict) -> None:
        log.add(record)
        if on_record is not None:
            on_record(record)

    started = time.perf_counter() - elapsed
    if step == 0:  # the loss before any training: about ln(vocab_size), a uniform guess
        record = {"step": 0, "lr": 0.0, "elapsed": 0.0}
        evaluate_and_save(record)
        add(record)
    tokens_per_step = config.batch_size * context  # all processes together
    window_start, window_tokens = time.perf_counter(), 0
    try:
        while step < config.max_steps:
            step += 1
            lr = learning_rate_at(step, config)
            for group in optimizer.param_groups:
                group["lr"] = lr
            # The loss stays on the device: reading it would make the CPU wait for the GPU,
            # which then idles while the CPU prepares the next step. It is read to log it.
            loss = _train_step(trained, optimizer, train_ids, batches, config, context, device)
            window_tokens += tokens_per_step
            evaluate_now = step % config.eval_interval == 0 or step == config.max_steps
            if step % config.log_interval == 0 or evaluate_now:
                record = {"step": step, "lr": lr, "loss": _mean_over_processes(loss, world_size)}
                now = time.perf_counter()  # after reading the loss: the GPU has caught up
                record["tokens_per_s"] = window_tokens / (now - window_start)
                record["elapsed"] = now - started
                bar.update(step, record["loss"], record["tokens_per_s"])
                if evaluate_now:
                    evaluate_and_save(record)
                add(record)
                window_start, window_tokens = time.perf_counter(), 0  # evaluation not counted
    finally:
        bar.close()
    model.eval()
    return log.records


def _checkpoint_to_resume(
    out: Path | None, resume: bool, model: GPT, tokenizer: Tokenizer, fingerprint: str
) -> Checkpoint | None:
    """The checkpoint to continue from (after checking that it fits), or None for a new run."""
    if out is None:
        if resume:
            raise TrainError("resume=True needs out_dir, the folder with the checkpoint.")
        return None
    folder = out / CHECKPOINT_DIR
    if not resume:
        if checkpoint_exists(folder):
            raise TrainError(
                f"{folder} already holds a checkpoint. Continue it with resume=True "
                "(lessons train --resume), or choose another output folder."
            )
        return None
    saved = load_checkpoint(folder)
    if model.config != saved.model_config:
        differences = config_differences(model.config, saved.model_config)
        raise TrainError(f"Cannot resume: the model differs from the checkpoint's: {differences}.")
    if tokenizer_json(tokenizer) != tokenizer_json(saved.tokenizer):
        raise TrainError(
            "Cannot resume: the tokenizer differs from the checkpoint's. Use the checkpoint's "
            "own (load_checkpoint(folder).tokenizer)."
        )
    if saved.extra.get("data") != fingerprint:
        raise TrainError(
            "Cannot resume: the text (or val_fraction) differs from the "
            "checkpoint's. A resumed run continues on the same data; start a new run instead."
        )
    if not saved.optimizer_state:
        raise TrainError(
            f"Cannot resume: {folder} holds the weights only (exported for use), without the "
            "optimizer's state. Resume from the training run's own checkpoint."
        )
    if not {"batches", "torch"} <= saved.rng.keys():
        raise TrainError(f"Cannot resume: {folder} lacks the random generators' states.")
    return saved


def _train_step(
    net: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    ids: Tensor,
    batches: torch.Generator,
    config: TrainConfig,
    context: int,
    device: torch.device,
) -> Tensor:
    """One optimizer step on one batch of ``config.batch_size`` sequences.

    ``net`` is ``LossOnly(model)``, maybe compiled, maybe in DDP. Returns this process's
    loss as a tensor on the device (``_mean_over_processes`` reads the mean of all).
    """
    rank, world_size = _rank_and_world_size()
    x, y = data.get_batch(ids, config.batch_size, context, batches)  # the same in every process
    x, y = data.shard(x, world_size, rank), data.shard(y, world_size, rank)  # this one's share
    total = torch.zeros((), device=device)
    for micro in range(config.grad_accum):
        xm = to_device(data.shard(x, config.grad_accum, micro), device)
        ym = to_device(data.shard(y, config.grad_accum, micro), device)
        # With DDP, exchange gradients only after the last micro-batch, not after each.
        last = micro == config.grad_accum - 1
        in_sync = contextlib.nullcontext() if last or world_size == 1 else net.no_sync()
        with in_sync:
            with autocast(device):
                loss = net(xm, ym)
            (loss / config.grad_accum).backward()  # gradients add up: the mean over the batch
        total += loss.detach().float()
    if config.grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(net.parameters(), config.grad_clip)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return total / config.grad_accum


@torch.no_grad()
def _evaluate(
    net: torch.nn.Module, ids: Tensor, config: TrainConfig, context: int, device: torch.device
) -> float:
    """The mean loss over ``eval_steps`` batches of ``ids``, in eval mode (no dropout).

    A new generator with a fixed seed draws the same batches at every evaluation, so the
    numbers change only because the model does, and training's batches stay untouched.
    """
    rank, world_size = _rank_and_world_size()
    generator = torch.Generator().manual_seed(config.seed + 1)
    rows = config.batch_size // config.grad_accum  # one micro-batch in all processes together
    net.eval()
    total = torch.zeros((), device=device)
    for _ in range(config.eval_steps):
        x, y = data.get_batch(ids, rows, context, generator)
        x, y = (to_device(data.shard(t, world_size, rank), device) for t in (x, y))
        with autocast(device):
            loss = net(x, y)
        total += loss.float()
    net.train()
    return _mean_over_processes(total / config.eval_steps, world_size)


def _rng_states(batches: torch.Generator, device: torch.device) -> dict[str, Tensor]:
    """The states of the random generators: batches, and dropout on the CPU and the GPU."""
    states = {"batches": batches.get_state(), "torch": torch.get_rng_state()}
    if device.type == "cuda":
        states["cuda"] = torch.cuda.get_rng_state(device)
    if device.type == "mps":
        states["mps"] = torch.mps.get_rng_state()
    return states


def _restore_rng(
    states: dict[str, Tensor], batches: torch.Generator, device: torch.device, rank: int, seed: int
) -> None:
    """Put the random generators back as they were saved.

    The batches' generator is the same in every process. The dropout generator differs;
    a checkpoint holds that of process 0, so the others take a new seed (after a resume
    with several processes, only their dropout masks differ from an uninterrupted run).
    """
    try:
        batches.set_state(states["batches"])
        if rank > 0:
            torch.manual_seed(seed)
            return
        torch.set_rng_state(states["torch"])
        if device.type == "cuda" and "cuda" in states:
            torch.cuda.set_rng_state(states["cuda"], device)
        if device.type == "mps" and "mps" in states:
            torch.mps.set_rng_state(states["mps"])
    except RuntimeError as error:  # a state of the wrong size or kind
        message = f"The checkpoint's random generator states are damaged: {error}"
        raise CheckpointError(message) from None


# --- Metrics, progress and the loss plot ------------------------------------------------------


class MetricsLog:
    """The metrics records in a list and, with a ``path``, as JSON lines in a file.

    A resumed run keeps the lines up to its checkpoint's step (``keep_until``) and drops
    those a crashed run wrote after it; a new run (``keep_until=0``) starts a new file.
    """

    def __init__(self, path: Path | None, keep_until: int = 0) -> None:
        self.path = path
        self.records: list[dict] = []
        if path is None:
            return
        if keep_until and path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                with contextlib.suppress(ValueError):  # a line cut short by a crash
                    record = json.loads(line)
                    if isinstance(record, dict) and record.get("step", math.inf) <= keep_until:
                        self.records.append(record)
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_atomic(path, "".join(json.dumps(r) + "\n" for r in self.records).encode())

    def add(self, record: dict) -> None:
        self.records.append(record)
        if self.path is not None:
            with open(self.path, "a", encoding="utf-8") as file:
                file.write(json.dumps(record) + "\n")


class Progress:
    """A progress line on stderr: step, bar, loss, tokens per second, time left.

    On a terminal the line redraws itself in place; otherwise (a log file) a line is
    printed every 5% of the steps.
    """

    def __init__(self, total: int, start: int = 0, enabled: bool = True, stream=None) -> None:
        self.stream = stream or sys.stderr
        self.total, self.start, self.enabled = total, start, enabled
        self.live = enabled and self.stream.isatty()
        self.every = max(1, total // 20)
        self.printed = start // self.every
        self.began = time.perf_counter()
        self.drawn_at = 0.0
        self.width = 0

    def update(self, step: int, loss: float, tokens_per_s: float) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if self.live and now - self.drawn_at < 0.1 and step < self.total:
            return  # redrawing more often than 10 times a second would only slow training
        if not self.live and step // self.every == self.printed and step < self.total:
            return  # in a log file: a line whenever another 5% of the steps are done
        self.drawn_at, self.printed = now, step // self.every
        filled = round(20 * step / self.total)
        left = (now - self.began) / max(1, step - self.start) * (self.total - step)
        line = (
            f"step {step:>{len(str(self.total))}}/{self.total} [{'#' * filled:<20}] "
            f"loss {loss:.4f} | {tokens_per_s:,.0f} tokens/s | {_clock(left)} left"
        )
        self._write(line, newline=not self.live)

    def message(self, text: str) -> None:
        """A line of its own (above the live line, which the next update draws again)."""
        if self.enabled:
            self._write(text, newline=True)

    def close(self) -> None:
        if self.live and self.width:
            self.stream.write("\n")
            self.stream.flush()

    def _write(self, text: str, newline: bool) -> None:
        if self.live:
            self.width = max(self.width, len(text))
            text = "\r" + text.ljust(self.width)
        self.stream.write(text + ("\n" if newline else ""))
        self.stream.flush()
        if newline:
            self.width = 0


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02}:{seconds:02}"


def loss_figure(
    metrics: list[dict],
    *,
    labels: tuple[str, str, str] = ("training batch", "training text", "validation text"),
    xlabel: str = "step",
    ylabel: str = "loss",
    title: str = "",
) -> Figure:
    """The loss curves of a run: each recorded batch (thin) and the evaluations (dots).

    Pass translated ``labels`` (batch, training, validation) for a page in another
    language; ``lessons.plots.figure`` turns the figure into HTML.
    """
    from lessons.plots import label_axes, plt  # matplotlib with the course's style; only here

    fig, ax = plt.subplots()
    for key, label, style in zip(
        ("loss", "train_loss", "val_loss"),
        labels,
        (dict(lw=0.8, alpha=0.45, color="#5c6bc0"), dict(marker="o", ms=3), dict(marker="s", ms=3)),
        strict=True,
    ):
        points = [(r["step"], r[key]) for r in metrics if r.get(key) is not None]
        if points:
            ax.plot(*zip(*points, strict=True), label=label, **style)
    label_axes(ax, xlabel, ylabel, title)
    return fig


def _save_plot(path: Path, metrics: list[dict]) -> None:
    try:
        import matplotlib.pyplot as plt

        fig = loss_figure(metrics)
    except ImportError:  # matplotlib is optional: pip install 'lessons[plots]'
        return
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    _write_atomic(path, buffer.getvalue())


def _write_atomic(path: Path, content: bytes) -> None:
    """Write to a temporary file, then rename it: readers see the old file or the new one."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_bytes(content)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
