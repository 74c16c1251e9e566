"""From text to training batches: encode, split into training and validation, draw batches.

A GPT learns from pieces of text of ``context_length`` tokens. For each piece ``x`` the
answers ``y`` are the same tokens shifted by one: at every position the model must predict
the token that really came next. A batch is a stack of such pieces, cut at random places:

    ids      = [12, 7, 3, 9, 30, 4, 8, ...]       the whole text as token ids
    x        = [ 7, 3, 9, 30]                     a piece that starts at a random offset
    y        = [ 3, 9, 30, 4]                     the tokens that follow, one position later

The last part of each document is kept back for validation: text the model never trains
on, so its loss there shows how well it has learned the language rather than the text.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import torch
from torch import Tensor

from lessons.tokenizer import EOT, Tokenizer


class DataError(ValueError):
    """The text does not fit the training settings (empty, too short); the message says why."""


def encode_documents(documents: str | Iterable[str], tokenizer: Tokenizer) -> list[Tensor]:
    """Each document as a tensor of token ids, with ``<|endoftext|>`` after it if the
    tokenizer has that token (so the model learns where one text ends and the next begins).

    A character the tokenizer cannot encode raises its ``TokenizerError``, which names it.
    A byte-level BPE tokenizer encodes any text, so that only happens with a CharTokenizer.
    """
    documents = [documents] if isinstance(documents, str) else list(documents)
    end = [tokenizer.special_tokens[EOT]] if EOT in tokenizer.special_tokens else []
    encoded = []
    for document in documents:
        if document:
            ids = tokenizer.encode(document) + end
            encoded.append(torch.tensor(ids, dtype=torch.int32))  # int32: half of int64's memory
    return encoded


def split(
    documents: list[Tensor], val_fraction: float, context_length: int
) -> tuple[Tensor, Tensor]:
    """The training and the validation ids: the last ``val_fraction`` of each document.

    Cutting every document (not just the joined text) puts every language and author of a
    mixed collection into both parts. Raises ``DataError`` if a part is too short for one
    example of ``context_length`` tokens plus the one that follows.
    """
    train_parts, val_parts = [], []
    for ids in documents:
        cut = len(ids) - int(len(ids) * val_fraction)
        train_parts.append(ids[:cut])
        val_parts.append(ids[cut:])
    total = sum(len(ids) for ids in documents)
    if total == 0:
        raise DataError("The text is empty: there is nothing to train on.")
    train_ids = torch.cat(train_parts)
    val_ids = torch.cat(val_parts)
    need = context_length + 1
    if len(train_ids) < need:
        raise DataError(
            f"Too little text: {len(train_ids)} training tokens, but one example of "
            f"context_length {context_length} needs {need}. Use a longer text or a shorter "
            "context length."
        )
    if val_fraction > 0 and len(val_ids) < need:
        raise DataError(
            f"Too little validation text: val_fraction {val_fraction} of the text gives "
            f"{len(val_ids)} tokens, but one example of context_length {context_length} needs "
            f"{need}. Use a longer text, a larger val_fraction or a shorter context length."
        )
    return train_ids, val_ids


def get_batch(
    ids: Tensor, batch_size: int, context_length: int, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """``batch_size`` random pieces of ``ids``: inputs x and targets y, both (B, T), int64.

    The offsets come from ``generator``, so a seed fixes the batches, and saving the
    generator's state lets a resumed run draw exactly the batches it would have drawn.
    """
    starts = torch.randint(len(ids) - context_length, (batch_size,), generator=generator)
    positions = starts[:, None] + torch.arange(context_length + 1)  # (B, T + 1)
    pieces = ids[positions].long()
    return pieces[:, :-1], pieces[:, 1:]


def shard(batch: Tensor, parts: int, index: int) -> Tensor:
    """Row block ``index`` of ``parts`` equal blocks: one process's share of a global batch.

    Every process draws the same global batch (their generators stay in step without
    talking to each other) and keeps its own block, so together they see exactly the
    batch that a single process would see.
    """
    if len(batch) % parts:
        raise ValueError(f"a batch of {len(batch)} rows does not split into {parts} equal parts")
    size = len(batch) // parts
    return batch[index * size : (index + 1) * size]


def fingerprint(*parts: Tensor) -> str:
    """A SHA-256 of token ids: a resumed run checks that it continues on the same data."""
    digest = hashlib.sha256()
    for ids in parts:
        digest.update(ids.to(torch.int32).numpy().tobytes())
        digest.update(b"|")
    return digest.hexdigest()
