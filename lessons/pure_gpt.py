"""The GPT of ``lessons.gpt`` in plain Python: the whole forward pass, no PyTorch, no numpy.

This is how the course model writes in the reader's browser (Pyodide has no PyTorch). It
computes what ``GPT.forward`` computes, with lists of floats instead of tensors, and one
token at a time:

    x = token embedding[id] + position embedding[position]
    for each block:
        x = x + attention(layer_norm(x))   the token looks back at the tokens before it
        x = x + mlp(layer_norm(x))         then thinks about what it gathered, on its own
    logits = token embedding matrix @ layer_norm(x)   one score per vocabulary entry

A matrix is a list of rows, stored as PyTorch stores ``nn.Linear`` weights: (out, in). Then
``W @ x`` is one dot product per row, and the dot product is the one operation that almost
all the time goes to. ``math.sumprod`` (Python 3.12 and later, so also in Pyodide) does it
in one C loop; older Pythons get ``sum(map(operator.mul, a, b))``, two to three times slower.

The *KV cache*: attention compares a token's query with the keys of all earlier tokens and
mixes their values. Those keys and values never change (a token cannot see later ones), so
``State`` keeps them, and each new token costs one token's work instead of the whole text's.

    model = PureGPT.from_checkpoint("checkpoints/course")  # or .from_safetensors(bytes, config)
    state = model.start()                                   # an empty KV cache
    logits = model.feed(state, prompt_ids)                  # the prompt, token by token
    logits = model.step(state, greedy(logits))              # and one more token

The sampling helpers at the end are pure-Python twins of ``lessons.sampling``: the same
settings, the same rules. The checks of the settings are the ones ``lessons.sampling`` uses.
"""

from __future__ import annotations

import array
import hashlib
import heapq
import json
import math
import operator
import random
import struct
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

Vector = list[float]
Matrix = list[Vector]  # a list of rows

LAYER_NORM_EPS = 1e-5  # nn.LayerNorm's default


class PureGPTError(ValueError):
    """A weights file, config or input that does not fit; the message says what and why."""


class SamplingError(ValueError):
    """A sampling setting is out of range; the message says which and what is allowed."""


# --- The building blocks ---------------------------------------------------------------------


def sum_of_products(a: Vector, b: Vector) -> float:
    """The dot product a[0]*b[0] + a[1]*b[1] + ...: multiply pairwise, add up."""
    return sum(map(operator.mul, a, b))


# The same, in one C loop where there is one (Python 3.12+): the hot spot of the whole model.
dot = getattr(math, "sumprod", sum_of_products)


def add(a: Vector, b: Vector) -> Vector:
    """Elementwise a + b (the residual connection "x + ...")."""
    return list(map(operator.add, a, b))


def linear(x: Vector, weight: Matrix, bias: Vector | None) -> Vector:
    """``nn.Linear``: weight @ x + bias, the weight stored (out, in): a dot product per row."""
    y = [dot(row, x) for row in weight]
    return y if bias is None else add(y, bias)


def layer_norm(x: Vector, weight: Vector, bias: Vector | None) -> Vector:
    """``nn.LayerNorm``: shift x to mean 0 and scale it to variance 1, then weight and bias.

    Keeps the numbers in a range where the next layer works well, whatever came before.
    """
    mean = sum(x) / len(x)
    centered = [v - mean for v in x]
    variance = dot(centered, centered) / len(x)
    scale = 1.0 / math.sqrt(variance + LAYER_NORM_EPS)
    y = [c * scale * w for c, w in zip(centered, weight, strict=True)]
    return y if bias is None else add(y, bias)


def gelu(x: Vector) -> Vector:
    """GELU, GPT-2's tanh formula: about x for large x, about 0 for negative x, smooth between."""
    c = math.sqrt(2.0 / math.pi)
    tanh = math.tanh
    return [0.5 * v * (1.0 + tanh(c * (v + 0.044715 * v * v * v))) for v in x]


def softmax(scores: Vector) -> Vector:
    """Probabilities from scores: e^score, divided by the sum. A score of -inf gives 0.

    The largest score is subtracted first (it changes nothing in the result), so that
    e^score cannot overflow.
    """
    top = max(scores)
    exps = [math.exp(s - top) for s in scores]
    total = sum(exps)
    return [e / total for e in exps]


# --- Reading the weights ---------------------------------------------------------------------

_DTYPES = {"F32": 4, "F64": 8, "F16": 2, "BF16": 2}  # name -> bytes per number


def read_safetensors(data: bytes | bytearray | memoryview) -> dict[str, tuple[list[int], Vector]]:
    """The tensors in a ``.safetensors`` file: name -> (shape, all numbers in one flat list).

    The format is simple enough to read by hand: 8 bytes (a little-endian integer) give the
    length of a JSON header; the header gives each tensor's dtype, shape and where its bytes
    lie (``data_offsets``, counted from the end of the header); the raw numbers follow,
    little-endian, row after row. Floats of 16, 32 or 64 bits become Python floats.
    """
    data = memoryview(data).cast("B")
    if len(data) < 8:
        raise PureGPTError(f"This is no safetensors file: it has only {len(data)} bytes.")
    (header_size,) = struct.unpack_from("<Q", data, 0)
    if header_size > len(data) - 8:
        raise PureGPTError(
            f"This is no safetensors file (or it was cut short): the header would be "
            f"{header_size} bytes, but only {len(data) - 8} follow."
        )
    try:
        header = json.loads(bytes(data[8 : 8 + header_size]))
    except ValueError as error:  # not UTF-8, or not JSON
        raise PureGPTError(f"The safetensors header cannot be read: {error}") from None
    if not isinstance(header, dict):
        raise PureGPTError("The safetensors header is not a JSON object.")
    body = data[8 + header_size :]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":  # free text about the file, no tensor
            continue
        try:
            dtype, shape, (start, end) = info["dtype"], list(info["shape"]), info["data_offsets"]
        except (TypeError, KeyError, ValueError):
            raise PureGPTError(f"The safetensors header entry for {name!r} is broken.") from None
        if dtype not in _DTYPES:
            raise PureGPTError(
                f"Tensor {name!r} has dtype {dtype}; this reader knows {', '.join(_DTYPES)}."
            )
        count = math.prod(shape)
        if not 0 <= start <= end <= len(body) or end - start != count * _DTYPES[dtype]:
            raise PureGPTError(
                f"Tensor {name!r} ({dtype}, shape {shape}) does not fit its bytes "
                f"{start}..{end} of {len(body)}: the file is damaged or cut short."
            )
        tensors[name] = (shape, _floats(body[start:end], dtype))
    return tensors


def _floats(raw: memoryview, dtype: str) -> Vector:
    """Little-endian floats of ``dtype`` as a list of Python floats."""
    if dtype == "F16":  # struct knows half precision ("e"); array does not
        return list(struct.unpack(f"<{len(raw) // 2}e", raw))
    numbers = array.array({"F32": "f", "F64": "d", "BF16": "H"}[dtype])
    numbers.frombytes(raw)
    if sys.byteorder == "big":  # array reads the machine's byte order
        numbers.byteswap()
    if dtype == "BF16":  # a bfloat16 is the upper half of a float32: shift it into place
        numbers = array.array("f", array.array("I", [h << 16 for h in numbers]).tobytes())
    return numbers.tolist()


def _rows(flat: Vector, width: int) -> Matrix:
    """A flat list cut into rows of ``width`` numbers."""
    return [flat[i : i + width] for i in range(0, len(flat), width)]


# --- The model -------------------------------------------------------------------------------


@dataclass
class Layer:
    """The weights of one transformer block (``lessons.gpt.Block``); biases None if bias=False.

    The fields are in the order of ``_LAYER_TENSORS``: the names they are saved under.
    """

    norm1_weight: Vector
    norm1_bias: Vector | None
    qkv_weight: Matrix  # (3 * n_embd, n_embd): queries, keys, values of all heads at once
    qkv_bias: Vector | None
    proj_weight: Matrix  # (n_embd, n_embd): mixes the heads
    proj_bias: Vector | None
    norm2_weight: Vector
    norm2_bias: Vector | None
    up_weight: Matrix  # (4 * n_embd, n_embd)
    up_bias: Vector | None
    down_weight: Matrix  # (n_embd, 4 * n_embd)
    down_bias: Vector | None


@dataclass
class State:
    """What the model remembers of the tokens it has read so far: the KV cache.

    For every layer and head: one key vector per token (``keys[layer][head][position]``), and
    the values stored the other way round, one list per dimension over the tokens
    (``values[layer][head][dimension][position]``), so that mixing the values by the
    attention weights is one dot product per dimension.
    """

    tokens: list[int] = field(default_factory=list)
    keys: list[list[Matrix]] = field(default_factory=list)
    values: list[list[Matrix]] = field(default_factory=list)

    @property
    def position(self) -> int:
        """How many tokens the state holds: the position the next token gets."""
        return len(self.tokens)


_LAYER_TENSORS = (  # "blocks.<i>." + name, in the order of Layer's fields
    "norm1.weight",
    "norm1.bias",
    "attn.qkv.weight",
    "attn.qkv.bias",
    "attn.proj.weight",
    "attn.proj.bias",
    "norm2.weight",
    "norm2.bias",
    "mlp.up.weight",
    "mlp.up.bias",
    "mlp.down.weight",
    "mlp.down.bias",
)
_CONFIG_SIZES = ("vocab_size", "context_length", "n_layer", "n_head", "n_embd")


class PureGPT:
    """A GPT (``lessons.gpt.GPT``) for inference only, in plain Python lists."""

    def __init__(self, config: Mapping[str, object], tensors: Mapping[str, tuple[list, Vector]]):
        """Build from a GPTConfig as a dict and ``read_safetensors``'s tensors (checked here)."""
        self.config = _check_config(config)
        self.vocab_size = self.config["vocab_size"]
        self.context_length = self.config["context_length"]
        self.n_layer = self.config["n_layer"]
        self.n_head = self.config["n_head"]
        self.n_embd = self.config["n_embd"]
        self.head_size = self.n_embd // self.n_head
        _check_shapes(tensors, self.config)

        def weight(name: str) -> Vector | Matrix | None:
            """A vector, or a matrix as a list of rows; None for a bias the model lacks."""
            if name not in tensors:
                return None
            shape, flat = tensors[name]
            return _rows(flat, shape[1]) if len(shape) == 2 else flat

        self.token_embedding = weight("token_embedding.weight")  # (vocab_size, n_embd)
        self.position_embedding = weight("position_embedding.weight")  # (context, n_embd)
        self.layers = [
            Layer(*(weight(f"blocks.{i}.{name}") for name in _LAYER_TENSORS))
            for i in range(self.n_layer)
        ]
        self.final_norm_weight = weight("final_norm.weight")
        self.final_norm_bias = weight("final_norm.bias")
        if "lm_head.weight" in tensors:
            self.lm_head = weight("lm_head.weight")
        else:  # tied: the same rows that read tokens in score them out
            self.lm_head = self.token_embedding

    @classmethod
    def from_safetensors(cls, data: bytes, config: Mapping[str, object]) -> PureGPT:
        """A model from the bytes of a ``model.safetensors`` file and its GPTConfig as a dict.

        This is the browser's way: it fetches the file and passes the bytes (in Pyodide,
        ``uint8array.to_bytes()``; a ``bytearray`` or ``memoryview`` will do too).
        """
        return cls(config, read_safetensors(data))

    @classmethod
    def from_checkpoint(cls, path: str | Path) -> PureGPT:
        """A model from a checkpoint folder (``lessons.checkpoint``): the weights and the config.

        Reads ``model.safetensors``, and from ``checkpoint.json`` the ``model_config``; the
        file's SHA-256 must be the one recorded there.
        """
        path = Path(path)
        try:
            info = json.loads((path / "checkpoint.json").read_text(encoding="utf-8"))
            data = (path / "model.safetensors").read_bytes()
        except (OSError, ValueError) as error:
            raise PureGPTError(f"No readable checkpoint in {path}: {error}") from None
        if not isinstance(info, dict) or not isinstance(info.get("model_config"), dict):
            raise PureGPTError(f"{path / 'checkpoint.json'} has no model_config.")
        expected = (info.get("sha256") or {}).get("model.safetensors")
        if expected is not None and hashlib.sha256(data).hexdigest() != expected:
            raise PureGPTError(
                f"{path / 'model.safetensors'} is damaged: its SHA-256 is not the one recorded."
            )
        return cls.from_safetensors(data, info["model_config"])

    # --- Running it -------------------------------------------------------------------------

    def start(self) -> State:
        """An empty state (no tokens read yet) to feed tokens into with ``step`` or ``feed``."""
        heads = range(self.n_head)
        return State(
            tokens=[],
            keys=[[[] for _ in heads] for _ in self.layers],
            values=[[[[] for _ in range(self.head_size)] for _ in heads] for _ in self.layers],
        )

    def step(self, state: State, token_id: int) -> Vector:
        """Read one more token; returns the logits for the token after it.

        The state holds at most ``context_length`` tokens (there are no position embeddings
        for more), and a full state raises ``PureGPTError``. To go on writing, slide the
        window: start a new state and ``feed`` it the last ``context_length`` tokens, the
        new one included (``generate_steps`` does this). Each slide costs a whole window of
        work, because every token then sits at a new position.
        """
        return self._advance(state, token_id, want_logits=True)

    def feed(self, state: State, ids: Sequence[int]) -> Vector:
        """Read several tokens (a prompt); returns the logits after the last one.

        The same as ``step`` for each id, but the output layer (the largest matrix) runs only
        for the last one.
        """
        if len(ids) == 0:
            raise PureGPTError("feed needs at least one token id.")
        for token_id in ids[:-1]:
            self._advance(state, token_id, want_logits=False)
        return self._advance(state, ids[-1], want_logits=True)

    def logits(self, ids: Sequence[int]) -> list[Vector]:
        """The logits at every position, as ``GPT.forward`` gives them for one sequence."""
        if len(ids) > self.context_length:
            raise PureGPTError(
                f"The input has {len(ids)} tokens, but the model's context_length is "
                f"{self.context_length}. Pass at most the last {self.context_length} tokens."
            )
        state = self.start()
        return [self.step(state, token_id) for token_id in ids]

    def _advance(self, state: State, token_id: int, want_logits: bool) -> Vector | None:
        """One token through the whole model, its keys and values into the state."""
        if state.position >= self.context_length:
            raise PureGPTError(
                f"The state already holds {state.position} tokens, the model's context_length. "
                f"Start a new state and feed it the last {self.context_length} tokens."
            )
        if isinstance(token_id, bool) or not isinstance(token_id, int):
            raise PureGPTError(f"A token id must be a whole number, not {token_id!r}.")
        if not 0 <= token_id < self.vocab_size:
            raise PureGPTError(f"{token_id} is no token id (ids: 0 to {self.vocab_size - 1}).")
        x = add(self.token_embedding[token_id], self.position_embedding[state.position])
        for layer, keys, values in zip(self.layers, state.keys, state.values, strict=True):
            h = layer_norm(x, layer.norm1_weight, layer.norm1_bias)
            x = add(x, self._attention(layer, h, keys, values))  # look back at earlier tokens
            h = layer_norm(x, layer.norm2_weight, layer.norm2_bias)
            x = add(x, self._mlp(layer, h))  # think about what was gathered
        state.tokens.append(token_id)
        if not want_logits:
            return None
        x = layer_norm(x, self.final_norm_weight, self.final_norm_bias)
        return [dot(row, x) for row in self.lm_head]

    def _attention(
        self, layer: Layer, x: Vector, keys: list[Matrix], values: list[Matrix]
    ) -> Vector:
        """Causal self-attention for the newest token (``lessons.attention``), head by head.

        The earlier tokens' keys and values come from the cache; this token's are added to it.
        """
        qkv = linear(x, layer.qkv_weight, layer.qkv_bias)
        d = self.n_embd
        query, key, value = qkv[:d], qkv[d : 2 * d], qkv[2 * d :]
        scale = 1.0 / math.sqrt(self.head_size)
        out = []
        for head in range(self.n_head):
            part = slice(head * self.head_size, (head + 1) * self.head_size)  # this head's slice
            q = query[part]
            keys[head].append(key[part])
            for column, v in zip(values[head], value[part], strict=True):
                column.append(v)
            # How well the query matches each key so far (its own included): the scores.
            # No mask is needed: the later tokens are not there yet.
            weights = softmax([dot(q, k) * scale for k in keys[head]])
            out += [dot(weights, column) for column in values[head]]  # a mix of the values
        return linear(out, layer.proj_weight, layer.proj_bias)  # the heads side by side, mixed

    @staticmethod
    def _mlp(layer: Layer, x: Vector) -> Vector:
        """The MLP: widen to 4 x n_embd, GELU, back to n_embd."""
        hidden = gelu(linear(x, layer.up_weight, layer.up_bias))
        return linear(hidden, layer.down_weight, layer.down_bias)


def _check_config(config: Mapping[str, object]) -> dict:
    """The GPTConfig settings that matter for inference, checked like ``GPTConfig`` does."""
    if not isinstance(config, Mapping):
        raise PureGPTError(f"config must be a dict of GPTConfig settings, not {config!r}.")
    missing = [name for name in _CONFIG_SIZES if name not in config]
    if missing:
        raise PureGPTError(f"The config lacks {', '.join(missing)}.")
    checked = {"bias": bool(config.get("bias", True))}
    checked["tie_weights"] = bool(config.get("tie_weights", True))
    for name in _CONFIG_SIZES:
        value = config[name]
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise PureGPTError(f"{name} must be a whole number > 0, not {value!r}.")
        checked[name] = value
    if checked["n_embd"] % checked["n_head"] != 0:
        raise PureGPTError(
            f"n_embd ({checked['n_embd']}) must be divisible by n_head ({checked['n_head']})."
        )
    return checked


def _check_shapes(tensors: Mapping[str, tuple[list, Vector]], config: Mapping) -> None:
    """Raise ``PureGPTError``, naming the tensor, if ``tensors`` do not fit ``config``."""
    shapes = _expected_shapes(config)
    missing = [name for name in shapes if name not in tensors]
    if missing:
        raise PureGPTError(f"The weights lack {', '.join(missing)}.")
    unknown = sorted(set(tensors) - set(shapes) - {"lm_head.weight"})
    if unknown:
        raise PureGPTError(f"The weights have tensors the model lacks: {', '.join(unknown)}.")
    if "lm_head.weight" in tensors:  # an untied output layer, or a tied one saved twice
        shapes["lm_head.weight"] = [config["vocab_size"], config["n_embd"]]
    for name, shape in shapes.items():
        if tensors[name][0] != shape:
            raise PureGPTError(
                f"The weights do not fit the config: {name!r} has shape "
                f"{tensors[name][0]}, the config needs {shape}."
            )


def _expected_shapes(config: Mapping[str, object]) -> dict[str, list[int]]:
    """Every parameter of ``lessons.gpt.GPT`` with its shape, by the names it saves them under."""
    vocab, context, d = config["vocab_size"], config["context_length"], config["n_embd"]
    shapes = {"token_embedding.weight": [vocab, d], "position_embedding.weight": [context, d]}
    for i in range(config["n_layer"]):
        for name, out, inp in (
            ("attn.qkv", 3 * d, d),
            ("attn.proj", d, d),
            ("mlp.up", 4 * d, d),
            ("mlp.down", d, 4 * d),
        ):
            shapes[f"blocks.{i}.{name}.weight"] = [out, inp]
            if config["bias"]:
                shapes[f"blocks.{i}.{name}.bias"] = [out]
        for norm in ("norm1", "norm2"):
            shapes[f"blocks.{i}.{norm}.weight"] = [d]
            if config["bias"]:
                shapes[f"blocks.{i}.{norm}.bias"] = [d]
    shapes["final_norm.weight"] = [d]
    if config["bias"]:
        shapes["final_norm.bias"] = [d]
    if not config["tie_weights"]:
        shapes["lm_head.weight"] = [vocab, d]
    return shapes


# --- Sampling: from logits to the next token (the twin of lessons.sampling) ------------------


def greedy(logits: Vector) -> int:
    """The id of the highest score (on a tie, the lowest id)."""
    return max(range(len(logits)), key=logits.__getitem__)


def apply_temperature(logits: Vector, temperature: float) -> Vector:
    """The scores divided by ``temperature`` (> 0): below 1 sharper, above 1 flatter."""
    _check_temperature(temperature)
    if temperature == 0:
        raise SamplingError("apply_temperature needs a temperature > 0; for 0 use greedy().")
    return [s / temperature for s in logits]


def top_k_filter(logits: Vector, k: int) -> Vector:
    """Keep the ``k`` highest scores, set all others to -inf (ties with the k-th stay too)."""
    _check_top_k(k)
    kth_highest = heapq.nlargest(k, logits)[-1]
    return [s if s >= kth_highest else -math.inf for s in logits]


def top_p_filter(logits: Vector, p: float) -> Vector:
    """Keep the most likely tokens until their probabilities add up to at least ``p``.

    A token stays if the better-ranked ones add up to less than ``p``: the most likely token
    always stays, and ``p = 1`` keeps every token.
    """
    _check_top_p(p)
    if p == 1:
        return list(logits)
    probs = softmax(logits)
    kept = list(logits)
    before = 0.0  # what the better-ranked tokens add up to
    for i in sorted(range(len(logits)), key=probs.__getitem__, reverse=True):
        if before >= p:
            kept[i] = -math.inf
        before += probs[i]
    return kept


def probabilities(
    logits: Vector, temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None
) -> Vector:
    """The distribution a token is drawn from: temperature, then top-k, then top-p, softmax.

    Temperature 0 gives all the probability to the most likely token (greedy).
    """
    check_settings(temperature=temperature, top_k=top_k, top_p=top_p)
    if temperature == 0:
        probs = [0.0] * len(logits)
        probs[greedy(logits)] = 1.0
        return probs
    logits = apply_temperature(logits, temperature)
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    if top_p is not None:
        logits = top_p_filter(logits, top_p)
    return softmax(logits)


def draw(probs: Vector, rng: random.Random) -> int:
    """A token id drawn at random by ``probs``; a token with probability 0 is never drawn."""
    candidates = [i for i, p in enumerate(probs) if p > 0]
    return rng.choices(candidates, weights=[probs[i] for i in candidates])[0]


def check_settings(
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    max_new_tokens: int = 0,
) -> None:
    """Raise ``SamplingError`` for a setting out of range, naming it and its allowed values."""
    _check_temperature(temperature)
    if top_k is not None:
        _check_top_k(top_k)
    if top_p is not None:
        _check_top_p(top_p)
    if not_whole(max_new_tokens) or max_new_tokens < 0:
        raise SamplingError(f"max_new_tokens must be a whole number >= 0, not {max_new_tokens!r}.")


def not_whole(value: object) -> bool:
    """True unless ``value`` is a whole number (an int; True and False do not count)."""
    return isinstance(value, bool) or not isinstance(value, int)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_temperature(temperature: float) -> None:
    if not _is_number(temperature) or temperature < 0:
        raise SamplingError(
            f"temperature must be a number >= 0 (0 means greedy), not {temperature!r}."
        )


def _check_top_k(k: int) -> None:
    if not_whole(k) or k < 1:
        raise SamplingError(f"top_k must be a whole number >= 1 (or None: no limit), not {k!r}.")


def _check_top_p(p: float) -> None:
    if not _is_number(p) or not 0 < p <= 1:
        raise SamplingError(
            f"top_p must be a number above 0 and at most 1 (or None: no limit), not {p!r}."
        )


# --- Writing with the model ------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One step of generation: what the model could choose, and what it chose."""

    choices: list[tuple[int, float]]  # (token id, probability), most likely first
    token_id: int  # the drawn token
    probability: float  # the probability it was drawn with


def generate_steps(
    model: PureGPT,
    ids: Sequence[int],
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int = 0,
    top: int | None = 10,
    stop_token: int | None = None,
    slide: int = 1,
) -> Iterator[Step]:
    """Write up to ``max_new_tokens`` tokens after ``ids`` (at least one), a ``Step`` for each.

    The settings are those of ``lessons.sampling.generate`` and are checked at once. Each
    token is drawn with ``random.Random(seed)``: the same seed and settings give the same
    tokens (not the PyTorch version's, which draws with PyTorch's generator). ``choices``
    hold the ``top`` most likely tokens (None: all) with a probability above 0. A drawn
    ``stop_token`` is the last step. The work for a token is done when its step is asked for.

    The model sees at most ``context_length`` tokens. Once the text is longer, the window
    slides, and the state must be built anew: every token in it sits at a new position. With
    ``slide=1`` the model sees the last ``context_length`` tokens at every step, exactly as in
    ``lessons.sampling``, but each new token then costs a whole window of work. A larger
    ``slide`` moves the window on by that many tokens at once, so the window is re-read only
    every ``slide`` tokens; in between the model sees fewer tokens (down to
    ``context_length - slide + 1``). ``slide = context_length // 2`` costs about twice a
    plain step per token.
    """
    check_settings(temperature=temperature, top_k=top_k, top_p=top_p, max_new_tokens=max_new_tokens)
    ids = list(ids)
    if not ids:
        raise SamplingError("generation needs at least one token to start from.")
    if not_whole(seed):
        raise SamplingError(f"seed must be a whole number, not {seed!r}.")
    if top is not None and (not_whole(top) or top < 1):
        raise SamplingError(f"top must be a whole number >= 1 (or None: all), not {top!r}.")
    if not_whole(slide) or not 1 <= slide <= model.context_length:
        raise SamplingError(
            f"slide must be a whole number from 1 to the context length "
            f"{model.context_length}, not {slide!r}."
        )
    return _walk(
        model, ids, max_new_tokens, temperature, top_k, top_p, seed, top, stop_token, slide
    )


def generate_ids(
    model: PureGPT,
    ids: Sequence[int],
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int = 0,
    stop_token: int | None = None,
    slide: int = 1,
) -> list[int]:
    """``ids`` and the ids written after them; a drawn ``stop_token`` ends, and is not added."""
    steps = generate_steps(
        model, ids, max_new_tokens, temperature, top_k, top_p, seed, 1, stop_token, slide
    )
    return list(ids) + [step.token_id for step in steps if step.token_id != stop_token]


def _walk(
    model: PureGPT,
    ids: list[int],
    max_new_tokens: int,
    temperature: float,
    top_k: int | None,
    top_p: float | None,
    seed: int,
    top: int | None,
    stop_token: int | None,
    slide: int,
) -> Iterator[Step]:
    """The loop: logits, probabilities, draw, and feed the drawn token back in."""
    rng = random.Random(seed)
    context = model.context_length
    state = model.start()
    logits = model.feed(state, ids[-context:])
    for n in range(max_new_tokens):
        probs = probabilities(logits, temperature, top_k, top_p)
        token_id = draw(probs, rng)
        ids.append(token_id)
        ranked = heapq.nlargest(top or len(probs), range(len(probs)), key=probs.__getitem__)
        choices = [(i, probs[i]) for i in ranked if probs[i] > 0]
        yield Step(choices, token_id, probs[token_id])
        if token_id == stop_token or n == max_new_tokens - 1:
            return
        if state.position < context:
            logits = model.step(state, token_id)
        else:  # the window is full: it moves on by ``slide`` tokens, all to new positions
            state = model.start()
            logits = model.feed(state, ids[-(context - slide + 1) :])
