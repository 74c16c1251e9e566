"""GPT-2's published weights, in Hugging Face's format, loaded into the course's own GPT.

OpenAI published GPT-2 in four sizes, from 124 million to 1.5 billion parameters. Hugging
Face's Hub keeps them as the repositories ``openai-community/gpt2`` (``-medium``, ``-large``,
``-xl``). Each is a folder of files, and four of them are all our GPT needs:

    config.json         the sizes: n_layer, n_head, n_embd, n_positions, vocab_size
    model.safetensors   the weights, under Hugging Face's names
    vocab.json          GPT-2's tokenizer: every token and its id (OpenAI's encoder.json)
    merges.txt          its merges, in order (OpenAI's vocab.bpe)

``load_hf_gpt2(folder)`` reads such a folder; ``download_hf_gpt2(repo_id)`` fetches the four
files from the Hub first (this needs a network) and checks each one against the checksum the
Hub lists for it. Safe by design: weights come only from safetensors files, which hold
nothing but numbers. The repositories also offer ``pytorch_model.bin``, a Python pickle, and
loading a pickle can run any code someone put into it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import safetensors.torch
import torch
from safetensors import SafetensorError
from torch import nn

from lessons.gpt import GPT, GPTConfig, load_hf_gpt2_state_dict
from lessons.tokenizer import BPETokenizer, TokenizerError

if TYPE_CHECKING:
    from huggingface_hub.hf_api import RepoSibling

    from lessons.llama import LlamaConfig

HF_FILES = ("config.json", "model.safetensors", "vocab.json", "merges.txt")
INSTALL = "pip install 'lessons[models]'"


class PretrainedError(ValueError):
    """A pretrained model is missing, damaged or not what the loader builds; says which."""


@dataclass
class Pretrained:
    """A pretrained GPT-2 and its tokenizer, read from ``folder``."""

    model: GPT
    tokenizer: BPETokenizer
    folder: Path


def gpt2_config(hf_config: dict) -> GPTConfig:
    """Our ``GPTConfig`` for the settings of a Hugging Face GPT-2 (its config.json).

    Raises ``PretrainedError`` for another architecture, or for a GPT-2 variant whose
    settings our GPT does not have (another activation, MLP width or norm).
    """
    if hf_config.get("model_type") != "gpt2":
        raise PretrainedError(
            f"The config describes a {hf_config.get('model_type')!r} model; this loader builds "
            "only 'gpt2' (for Llama-style models see lessons.gguf_model)."
        )
    n_embd = hf_config.get("n_embd", 768)
    expected = {  # setting: (GPT-2's value, the value in the config)
        "activation_function": ("gelu_new", hf_config.get("activation_function", "gelu_new")),
        "n_inner": (4 * n_embd, hf_config.get("n_inner") or 4 * n_embd),
        "layer_norm_epsilon": (1e-5, hf_config.get("layer_norm_epsilon", 1e-5)),
        "tie_word_embeddings": (True, hf_config.get("tie_word_embeddings", True)),
        "scale_attn_by_inverse_layer_idx": (
            False,
            hf_config.get("scale_attn_by_inverse_layer_idx", False),
        ),
    }
    different = [f"{k} {theirs!r}" for k, (ours, theirs) in expected.items() if ours != theirs]
    if different:
        raise PretrainedError(f"This GPT-2 variant differs from our GPT in {', '.join(different)}.")
    try:
        return GPTConfig(
            vocab_size=hf_config.get("vocab_size", 50257),
            context_length=hf_config.get("n_positions", 1024),
            n_layer=hf_config.get("n_layer", 12),
            n_head=hf_config.get("n_head", 12),
            n_embd=n_embd,
        )
    except ValueError as error:
        raise PretrainedError(f"The GPT-2 config does not work: {error}") from None


def load_hf_gpt2(folder: str | Path) -> Pretrained:
    """GPT-2 and its tokenizer from a folder in Hugging Face's format (see ``HF_FILES``)."""
    folder = Path(folder)
    missing = [name for name in HF_FILES if not (folder / name).is_file()]
    if missing:
        pickle_only = "model.safetensors" in missing and (folder / "pytorch_model.bin").is_file()
        raise PretrainedError(
            f"{folder} is not a GPT-2 checkpoint in Hugging Face's format: it lacks "
            f"{', '.join(missing)}."
            + (
                " Its pytorch_model.bin is a pickle, which this code never loads (a pickle can "
                "run code); get model.safetensors from the same repository instead."
                if pickle_only
                else ""
            )
        )
    try:
        hf_config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        config = gpt2_config(hf_config)
    except (OSError, ValueError, AttributeError) as error:  # AttributeError: JSON, but no dict
        raise PretrainedError(f"{folder / 'config.json'}: {error}") from None
    try:
        weights = safetensors.torch.load_file(folder / "model.safetensors")
    except (SafetensorError, OSError) as error:
        raise PretrainedError(
            f"{folder / 'model.safetensors'} is damaged or no safetensors file ({error})."
        ) from None
    try:
        tokenizer = BPETokenizer.from_gpt2_files(folder / "vocab.json", folder / "merges.txt")
    except TokenizerError as error:
        raise PretrainedError(str(error)) from None
    if tokenizer.vocab_size != config.vocab_size:
        raise PretrainedError(
            f"In {folder} the tokenizer has {tokenizer.vocab_size} tokens, but the model's "
            f"vocab_size is {config.vocab_size}: they do not belong together."
        )
    model = empty_model(GPT, config)
    try:
        load_hf_gpt2_state_dict(model, weights)
    except (KeyError, ValueError) as error:
        raise PretrainedError(f"The weights in {folder} do not fit its config: {error}") from None
    return Pretrained(model.eval(), tokenizer, folder)


def empty_model(cls: type[nn.Module], config: GPTConfig | LlamaConfig) -> nn.Module:
    """A ``GPT`` or ``Llama`` with memory for its weights but no values yet, to load into.

    Building it on the "meta" device skips drawing millions of random starting values that
    the loaded weights would overwrite anyway.
    """
    with torch.device("meta"):
        model = cls(config)
    model.to_empty(device="cpu")
    if config.tie_weights:  # to_empty gave both their own memory: tie them again
        model.lm_head.weight = model.token_embedding.weight
    return model


def download_hf_gpt2(repo_id: str = "openai-community/gpt2", revision: str | None = None) -> Path:
    """Download ``HF_FILES`` of a GPT-2 repository from the Hub; the folder that holds them.

    Files the Hub has already given are taken from its cache (``~/.cache/huggingface``).
    Each file is checked against the Hub's listing: a large file by its SHA-256, a small
    one by its git object id. Any difference raises ``PretrainedError``.
    """
    try:
        import huggingface_hub
    except ImportError:
        raise PretrainedError(f"Downloading needs huggingface_hub: `{INSTALL}`.") from None
    try:
        info = huggingface_hub.HfApi().model_info(repo_id, revision=revision, files_metadata=True)
        listed = {file.rfilename: file for file in info.siblings or []}
        missing = [name for name in HF_FILES if name not in listed]
        if missing:
            raise PretrainedError(f"The repository {repo_id} has no {', '.join(missing)}.")
        paths = [
            Path(huggingface_hub.hf_hub_download(repo_id, name, revision=info.sha))
            for name in HF_FILES
        ]
    except PretrainedError:
        raise
    except Exception as error:  # offline, no such repository, a server error ...
        raise PretrainedError(
            f"Could not download {repo_id} from the Hugging Face Hub ({type(error).__name__}: "
            f"{error}). Without a network, put the files {', '.join(HF_FILES)} into a folder "
            "and use load_hf_gpt2(folder)."
        ) from None
    for path in paths:
        check_download(path, listed[path.name])
    return paths[0].parent


def check_download(path: Path, listed: RepoSibling) -> None:
    """Raise ``PretrainedError`` unless the file at ``path`` is the one the Hub lists.

    ``listed`` is the Hub's entry for it: a file in Git LFS has the SHA-256 of its bytes
    (``listed.lfs.sha256``), any other file a git object id (``listed.blob_id``), the SHA-1
    of "blob <size>\\0" followed by its bytes.
    """
    if listed.lfs is not None:
        expected, digest = listed.lfs.sha256, hashlib.sha256()
    else:
        expected, digest = listed.blob_id, hashlib.sha1()
        digest.update(b"blob %d\0" % path.stat().st_size)
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):  # a megabyte at a time: the file may be gigabytes
            digest.update(chunk)
    if digest.hexdigest() != expected:
        raise PretrainedError(
            f"{path} is not the file the Hub lists (checksum {digest.hexdigest()}, listed "
            f"{expected}): delete it and download it again."
        )
