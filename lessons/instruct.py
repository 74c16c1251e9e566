"""Instruction fine-tuning: teach a pretrained GPT to answer instead of only continuing.

Pretraining taught the model one thing: how a text goes on. Asked "What is a novel?", it
writes on as if the question stood in a book. Instruction tuning trains it further on pairs
of an instruction and a good answer, all written in one fixed *prompt template*:

    What is a novel?                      the instruction
    (a text to work on, if the task has one)
    A: A long made-up story.<|endoftext|>  "A:", the answer, the end token

The loss counts only the answer: at the prompt's positions the targets are -100, which
``F.cross_entropy`` (in ``GPT.forward``) ignores. The model learns to answer, not to write
instructions, and from the end token ``<|endoftext|>`` it learns to stop.

Too long for the context? The pair is cut at the end: the model learns the prompt's answer
as far as it fits (without the end token). A prompt that leaves no room for a single answer
token is an error that says how many tokens to cut.

The data: ``load_examples()`` reads ``lessons/data/instructions.jsonl``, 300 short pairs in
German and English written for this course (license CC0-1.0: free for any use), and
``corpus_examples`` derives one more task from the course's novels: which book is this from?
``run(preset)`` does it all: the data, the model (with or without LoRA), the training.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import math
import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import torch
from torch import Tensor, nn

from lessons import lora, sampling, train
from lessons.tokenizer import Tokenizer

DATA_FILE = "data/instructions.jsonl"  # in the package
DATA_LICENSE = "CC0-1.0"
LANGUAGES = ("de", "en")
ANSWER_MARK = "A:"  # ends every prompt: "Antwort" / "Answer"; the model's answer follows
IGNORE = -100  # the target F.cross_entropy skips (its ignore_index)


class InstructError(ValueError):
    """Bad data or settings for instruction tuning; the message says what to change."""


@dataclass(frozen=True)
class Example:
    """One instruction with its answer; ``input`` is the text to work on (may be empty)."""

    instruction: str
    output: str
    input: str = ""
    language: str = ""  # "de" or "en"
    task: str = ""  # "rewrite", "explain", "translate", "answer", "source"
    id: str = ""


# --- The data --------------------------------------------------------------------------------


def load_examples(path: str | Path | None = None) -> list[Example]:
    """The instruction data set: one JSON object per line (the package's own by default).

    Each line needs "instruction" and "output" (non-empty texts) and may have "input",
    "language", "task" and "id". Raises ``InstructError``, naming the line, for anything else.
    """
    if path is None:
        text = resources.files("lessons").joinpath(DATA_FILE).read_text(encoding="utf-8")
        where = DATA_FILE
    else:
        text, where = Path(path).read_text(encoding="utf-8"), str(path)
    examples = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            examples.append(_parse(line, f"{where}, line {number}"))
    if not examples:
        raise InstructError(
            f"{where} holds no examples. Write one JSON object per line, such as "
            '{"instruction": "What is a novel?", "output": "A long made-up story."}.'
        )
    return examples


def _parse(line: str, where: str) -> Example:
    try:
        record = json.loads(line)
    except ValueError as error:
        raise InstructError(f"{where} is not valid JSON ({error}).") from None
    if not isinstance(record, dict):
        raise InstructError(f"{where} must be a JSON object, not {type(record).__name__}.")
    fields = {field.name for field in dataclasses.fields(Example)}
    unknown = set(record) - fields
    if unknown:
        raise InstructError(f"{where} has unknown fields {sorted(unknown)}; use {sorted(fields)}.")
    for name in fields:
        value = record.get(name, "")
        if not isinstance(value, str):
            raise InstructError(f"{where}: {name!r} must be a text, not {value!r}.")
        if name in ("instruction", "output") and not value.strip():
            raise InstructError(f"{where} needs a non-empty {name!r}.")
    return Example(**record)


# Which book a passage is from, as the answer says it in each language.
BOOKS = {
    "kafka-die-verwandlung": {
        "de": "Aus „Die Verwandlung“ von Kafka.",
        "en": "From The Metamorphosis by Kafka.",
    },
    "goethe-faust-1": {"de": "Aus „Faust“ von Goethe.", "en": "From Faust by Goethe."},
    "austen-pride-and-prejudice": {
        "de": "Aus „Stolz und Vorurteil“ von Austen.",
        "en": "From Pride and Prejudice by Austen.",
    },
}
SOURCE_QUESTIONS = {"de": "Aus welchem Buch ist das?", "en": "Which book is this from?"}


def corpus_examples(per_book: int, seed: int = 0) -> list[Example]:
    """A task derived from the course's novels: a short passage, and which book it is from.

    ``per_book`` passages of 30 to 70 characters are drawn from each book (``lessons.corpora``),
    a line or a sentence each; the question is asked in German or English at random. The
    texts stay out of the repository: the examples are made from the cached corpora.
    """
    from lessons import corpora  # the texts are needed only here

    rng = random.Random(seed)
    examples = []
    for corpus_id, answers in BOOKS.items():
        text = "\n".join(corpora.documents(corpus_id))
        pieces = [
            piece.strip()
            for line in text.splitlines()
            for piece in re.split(r"(?<=[.!?;])\s+", line)
            if 30 <= len(piece.strip()) <= 70 and piece.strip()[0].isupper()
        ]
        for number, passage in enumerate(rng.sample(sorted(set(pieces)), per_book), start=1):
            language = rng.choice(LANGUAGES)
            examples.append(
                Example(
                    instruction=SOURCE_QUESTIONS[language],
                    input=passage,
                    output=answers[language],
                    language=language,
                    task="source",
                    id=f"{corpus_id}-{number:03}",
                )
            )
    return examples


def split(
    examples: Sequence[Example], held_out: float = 0.1, seed: int = 0
) -> tuple[list[Example], list[Example]]:
    """Training and held-out examples: from each (language, task) group the same share.

    The held-out examples are never trained on; they show what the model does with
    instructions it has not seen.
    """
    if not examples:
        raise InstructError("There are no examples to split; load or write some first.")
    if not 0 < held_out < 1:
        raise InstructError(f"held_out must be a share between 0 and 1, not {held_out!r}.")
    groups: dict[tuple[str, str], list[Example]] = {}
    for example in examples:
        groups.setdefault((example.language, example.task), []).append(example)
    rng = random.Random(seed)
    kept, held = [], []
    for key in sorted(groups):
        group = groups[key][:]
        rng.shuffle(group)
        count = round(len(group) * held_out)
        held += group[:count]
        kept += group[count:]
    return kept, held


# --- The template and the masked targets -----------------------------------------------------


def format_prompt(instruction: str, input: str = "") -> str:
    """The prompt in the course's template: the instruction, the text if any, then "A:"."""
    return "\n".join([instruction, input] if input else [instruction]) + "\n" + ANSWER_MARK


@dataclass(frozen=True)
class Encoded:
    """One example as token ids: what the model reads, and what it should predict."""

    ids: list[int]  # prompt + answer + end token, without the last token
    targets: list[int]  # the next token at each position; IGNORE inside the prompt
    prompt_length: int  # how many of ids are the prompt
    truncated: bool  # cut at the end to fit the context


def encode(tokenizer: Tokenizer, example: Example, context_length: int) -> Encoded:
    """The token ids and masked targets of ``example`` for a model with ``context_length``.

    The texts are encoded as plain text: "<|endoftext|>" typed into an instruction stays
    letters, only the real end token after the answer is special.
    """
    prompt = tokenizer.encode(format_prompt(example.instruction, example.input), "none")
    if len(prompt) >= context_length:
        raise InstructError(
            f"The prompt of example {example.id or example.instruction[:30]!r} has "
            f"{len(prompt)} tokens, but the context holds only {context_length}: not one "
            f"answer token fits. Shorten its instruction or text by at least "
            f"{len(prompt) - context_length + 1} tokens."
        )
    answer = tokenizer.encode(" " + example.output, "none") + [tokenizer.eot_id]
    tokens = prompt + answer
    truncated = len(tokens) > context_length + 1
    tokens = tokens[: context_length + 1]
    # Position i predicts token i + 1; the last prompt position predicts the first answer token.
    targets = [IGNORE] * (len(prompt) - 1) + tokens[len(prompt) :]
    return Encoded(tokens[:-1], targets, len(prompt), truncated)


def collate(batch: Sequence[Encoded], pad_id: int) -> tuple[Tensor, Tensor]:
    """Ids and targets of several examples as two (B, T) tensors, padded on the right.

    A padded position reads ``pad_id`` and has the target IGNORE; as attention looks only
    back, padding after a text does not change what the model computes for the text.
    """
    length = max(len(item.ids) for item in batch)
    ids = [item.ids + [pad_id] * (length - len(item.ids)) for item in batch]
    targets = [item.targets + [IGNORE] * (length - len(item.targets)) for item in batch]
    return torch.tensor(ids), torch.tensor(targets)


# --- Training --------------------------------------------------------------------------------


@dataclass(frozen=True)
class FinetuneConfig:
    """How to fine-tune: steps, batches, learning rate, evaluation."""

    steps: int = 300  # optimizer steps
    batch_size: int = 16  # examples per step
    learning_rate: float = 1e-3  # constant: fine-tuning is short
    weight_decay: float = 0.0
    grad_clip: float = 1.0  # the longest gradient allowed; 0: no clipping
    eval_interval: int = 50  # measure the held-out loss every this many steps (and at 0)
    context_length: int | None = None  # None: the model's
    seed: int = 0  # fixes the order of the examples (and dropout)
    device: str = "cpu"  # as in lessons.train: "auto", "cpu", "cuda", "mps"

    def __post_init__(self):
        for name in ("steps", "batch_size", "eval_interval"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise InstructError(f"{name} must be a whole number > 0, not {value!r}.")
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise InstructError(f"learning_rate must be > 0, not {self.learning_rate!r}.")


def finetune(
    model: nn.Module,
    tokenizer: Tokenizer,
    examples: Sequence[Example],
    held_out: Sequence[Example],
    config: FinetuneConfig,
) -> tuple[list[dict], torch.optim.Optimizer]:
    """Train the trainable parameters of ``model`` on ``examples``, answers only.

    Returns the records (``{"step", "loss"}`` for every step, ``{"step", "val_loss"}`` for
    each evaluation on ``held_out``, as ``lessons.train.loss_figure`` draws them) and the
    optimizer, whose state ``memory`` measures. The model ends in eval mode.
    """
    if not examples or not held_out:
        raise InstructError(
            "finetune needs training examples and held-out examples; split() makes both."
        )
    context = config.context_length or model.config.context_length
    data = [encode(tokenizer, example, context) for example in examples]
    val = [encode(tokenizer, example, context) for example in held_out]
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise InstructError("The model has no trainable parameters (requires_grad is off).")
    device = train.pick_device(config.device)
    model.to(device)
    optimizer = torch.optim.AdamW(
        params, lr=config.learning_rate, weight_decay=config.weight_decay, betas=(0.9, 0.99)
    )
    order = torch.Generator().manual_seed(config.seed)
    queue: list[int] = []
    records = [{"step": 0, "val_loss": answer_loss(model, val, tokenizer.eot_id, device)}]
    with torch.random.fork_rng(devices=[]):  # dropout, if any, draws from a seeded copy
        torch.manual_seed(config.seed)
        for step in range(1, config.steps + 1):
            if len(queue) < config.batch_size:  # a new pass over the data, in a new order
                queue += torch.randperm(len(data), generator=order).tolist()
            chosen, queue = queue[: config.batch_size], queue[config.batch_size :]
            ids, targets = collate([data[i] for i in chosen], tokenizer.eot_id)
            model.train()
            with train.autocast(device):
                _, loss = model(ids.to(device), targets.to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip > 0:
                nn.utils.clip_grad_norm_(params, config.grad_clip)
            optimizer.step()
            records.append({"step": step, "loss": loss.item()})
            if step % config.eval_interval == 0 or step == config.steps:
                val_loss = answer_loss(model, val, tokenizer.eot_id, device)
                records.append({"step": step, "val_loss": val_loss})
    model.eval()
    return records, optimizer


@torch.no_grad()
def answer_loss(
    model: nn.Module, data: Sequence[Encoded], pad_id: int, device: torch.device, batch: int = 64
) -> float:
    """The loss on the answer tokens of ``data``, averaged over all of them."""
    model.eval()
    total, count = 0.0, 0
    for start in range(0, len(data), batch):
        ids, targets = collate(data[start : start + batch], pad_id)
        with train.autocast(device):
            logits, _ = model(ids.to(device))
        losses = nn.functional.cross_entropy(
            logits.float().flatten(0, 1), targets.to(device).flatten(), reduction="sum"
        )
        total += losses.item()
        count += int((targets != IGNORE).sum())
    return total / count


@dataclass(frozen=True)
class Reply:
    """A model's answer to an instruction, and whether it ended it with the end token."""

    text: str
    stopped: bool


@torch.no_grad()
def reply(
    model: nn.Module, tokenizer: Tokenizer, example: Example, max_new_tokens: int = 40
) -> Reply:
    """The model's answer to ``example``'s instruction: greedy, up to the end token.

    At most ``max_new_tokens``, and never past the model's context.
    """
    prompt = tokenizer.encode(format_prompt(example.instruction, example.input), "none")
    room = min(max_new_tokens, model.config.context_length - len(prompt))
    if room < 1:
        raise InstructError(
            f"The prompt has {len(prompt)} tokens and fills the model's context "
            f"({model.config.context_length}); shorten it."
        )
    model.eval()
    ids = sampling.generate_ids(model, prompt, room, temperature=0, stop_token=tokenizer.eot_id)
    new = ids[len(prompt) :]  # the end token, if drawn, is not in ids: fewer than room
    return Reply(tokenizer.decode(new).strip(), stopped=len(new) < room)


def memory(model: nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, int]:
    """Bytes that training keeps besides the activations, measured on the tensors.

    "weights": all parameters; "gradients": their ``.grad``; "optimizer": AdamW's two
    averages per trained number (and its step counters).
    """
    sizes = {"weights": 0, "gradients": 0, "optimizer": 0}
    for p in model.parameters():
        sizes["weights"] += p.numel() * p.element_size()
        if p.grad is not None:
            sizes["gradients"] += p.grad.numel() * p.grad.element_size()
    for state in optimizer.state.values():
        for value in state.values():
            if torch.is_tensor(value):
                sizes["optimizer"] += value.numel() * value.element_size()
    return sizes


# --- Presets: ready-made runs ----------------------------------------------------------------


@dataclass(frozen=True)
class Preset:
    """A ready-made fine-tuning run: which model, full or LoRA, the data, the training."""

    description: str
    model: str  # a key of MODELS
    method: str  # "full": train every weight; "lora": only LoRA's A and B
    finetune: FinetuneConfig
    rank: int = 8  # for "lora"
    alpha: float = 16.0
    corpus_per_book: int = 40  # examples of the "source" task from each novel
    seed: int = 0  # the held-out split, the corpus passages, LoRA's start


def _course_model() -> tuple[nn.Module, Tokenizer]:
    from lessons import course

    gpt = course.load_small()  # trained at build on the CPU: the small model
    return copy.deepcopy(gpt.model), gpt.tokenizer  # train a copy: the pages share the original


def _smollm2_model() -> tuple[nn.Module, Tokenizer]:
    from lessons import gguf_model

    smol = gguf_model.smollm2()
    return copy.deepcopy(smol.model), smol.tokenizer


MODELS: dict[str, Callable[[], tuple[nn.Module, Tokenizer]]] = {
    "course": _course_model,  # the course GPT (lessons.course): 0.5M parameters, context 64
    "smollm2": _smollm2_model,  # SmolLM2-135M-Instruct (lessons.gguf_model), a Llama
}

_CPU = FinetuneConfig(steps=150, batch_size=16, eval_interval=25, seed=0)
PRESETS = {
    "cpu-full": Preset(
        "The course GPT, every weight trained: 150 steps on the CPU.",
        model="course",
        method="full",
        finetune=dataclasses.replace(_CPU, learning_rate=3e-4),
    ),
    "cpu-lora": Preset(
        "The course GPT with LoRA (rank 8) on its attention and MLP layers: 150 steps on the CPU.",
        model="course",
        method="lora",
        finetune=dataclasses.replace(_CPU, learning_rate=5e-3),
    ),
    "gpu-smollm2-full": Preset(
        "SmolLM2-135M-Instruct, every weight trained, on a GPU: 135M numbers to train.",
        model="smollm2",
        method="full",
        finetune=FinetuneConfig(
            steps=300, batch_size=32, learning_rate=2e-5, context_length=128, device="auto"
        ),
    ),
    "gpu-smollm2-lora": Preset(
        "SmolLM2-135M-Instruct with LoRA (rank 16) on a GPU: about 4% of its numbers trained.",
        model="smollm2",
        method="lora",
        rank=16,
        alpha=32.0,
        finetune=FinetuneConfig(
            steps=300, batch_size=32, learning_rate=1e-3, context_length=128, device="auto"
        ),
    ),
}


@dataclass
class Result:
    """What ``run`` made: the tuned model, its data, its records and what it cost."""

    preset: Preset
    model: nn.Module  # in eval mode; LoRA layers merged
    tokenizer: Tokenizer
    train_examples: list[Example]
    held_out: list[Example]
    records: list[dict]  # as ``finetune`` returns them
    trainable: int  # numbers trained
    total: int  # numbers in the model, LoRA's included
    memory: dict[str, int]  # as ``memory`` measures them, after training
    seconds: float  # the training's wall-clock time (measured; varies from run to run)


def run(preset: str | Preset) -> Result:
    """Fine-tune as ``preset`` (a name in PRESETS, or a Preset) says; the same run once only.

    Both languages of a page share one result, so the site trains each preset once per build.
    """
    if isinstance(preset, str):
        if preset not in PRESETS:
            raise InstructError(f"Unknown preset {preset!r}; choose one of {list(PRESETS)}.")
        preset = PRESETS[preset]
    return _run(preset)


@functools.cache
def _run(preset: Preset) -> Result:
    if preset.method not in ("full", "lora"):
        raise InstructError(f"method must be 'full' or 'lora', not {preset.method!r}.")
    if preset.model not in MODELS:
        raise InstructError(f"Unknown model {preset.model!r}; choose one of {list(MODELS)}.")
    examples = load_examples()
    if preset.corpus_per_book:
        examples += corpus_examples(preset.corpus_per_book, seed=preset.seed)
    kept, held = split(examples, seed=preset.seed)
    model, tokenizer = MODELS[preset.model]()
    if preset.method == "lora":
        lora.add_lora(model, preset.rank, preset.alpha, seed=preset.seed)
    else:
        model.requires_grad_(True)
    started = time.perf_counter()
    records, optimizer = finetune(model, tokenizer, kept, held, preset.finetune)
    seconds = time.perf_counter() - started
    sizes = memory(model, optimizer)
    lora.merge(model)  # no-op without LoRA
    return Result(
        preset=preset,
        model=model,
        tokenizer=tokenizer,
        train_examples=kept,
        held_out=held,
        records=records,
        trainable=lora.trainable_parameters(model),
        total=sum(p.numel() for p in model.parameters()),
        memory=sizes,
        seconds=seconds,
    )
