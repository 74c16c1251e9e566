"""LoRA: fine-tune a model by training two small matrices next to each frozen weight matrix.

Full fine-tuning changes every weight, so every weight needs a gradient and AdamW's two
running averages: four numbers to keep per weight. LoRA (low-rank adaptation, Hu et al. 2021)
freezes a linear layer's weight W (out x in) and learns only a low-rank change to it:

    y = W x + (alpha / rank) * B (A x)        A: rank x in,  B: out x rank

With rank 8 on a 128 x 384 layer that is 8 * (128 + 384) = 4096 numbers to train instead of
49,152. B starts at zero, so B A is zero and the model starts out exactly as it was; A starts
random, so that B gets a gradient from the first step on. alpha / rank scales the change, so a
different rank needs no different learning rate.

After training, ``merge`` adds (alpha / rank) * B A into W: the model is as fast as before and
needs no LoRA code to run. ``unmerge`` subtracts it again, to go on training or to swap in
another adapter.

    >>> layer = LoRALinear(nn.Linear(16, 32), rank=4, alpha=8.0)
    >>> [name for name, p in layer.named_parameters() if p.requires_grad]
    ['A', 'B']
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

# The linear layers that get LoRA by default: those of lessons.gpt (attention and MLP) and
# the extra ones of lessons.llama (separate q, k, v and the SwiGLU gate).
TARGETS = ("attn.qkv", "attn.proj", "mlp.up", "mlp.down", "attn.q", "attn.k", "attn.v", "mlp.gate")


class LoRAError(ValueError):
    """LoRA cannot be set up with these settings; the message says what to change."""


def check_rank(rank: int, layer: nn.Linear, name: str = "the layer") -> None:
    """Raise ``LoRAError`` unless 1 <= rank <= the smaller side of ``layer``'s weight."""
    largest = min(layer.in_features, layer.out_features)
    if isinstance(rank, bool) or not isinstance(rank, int) or not 1 <= rank <= largest:
        raise LoRAError(
            f"rank must be a whole number from 1 to {largest} (the smaller side of "
            f"{name}, {layer.out_features} x {layer.in_features}), not {rank!r}. A rank "
            "of 4 to 16 is usual; above the smaller side, B A would be no low-rank change."
        )


class LoRALinear(nn.Module):
    """A frozen ``nn.Linear`` plus a trainable low-rank change (alpha / rank) * B A."""

    def __init__(self, base: nn.Linear, rank: int, alpha: float):
        super().__init__()
        check_rank(rank, base)
        if not (isinstance(alpha, (int, float)) and math.isfinite(alpha) and alpha > 0):
            raise LoRAError(f"alpha must be a number > 0, such as 2 * rank, not {alpha!r}.")
        self.base = base.requires_grad_(False)  # W (and the bias) stay as they are
        like = dict(dtype=base.weight.dtype, device=base.weight.device)
        self.A = nn.Parameter(torch.empty(rank, base.in_features, **like))
        nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))  # the start nn.Linear gives its weight
        self.B = nn.Parameter(torch.zeros(base.out_features, rank, **like))
        self.rank, self.alpha = rank, alpha
        self.scale = alpha / rank
        self.merged = False  # True while B A sits inside base.weight

    def forward(self, x: Tensor) -> Tensor:
        y = self.base(x)
        if not self.merged:
            y = y + (x @ self.A.t() @ self.B.t()) * self.scale  # two thin products, no out x in
        return y

    def delta(self) -> Tensor:
        """The change to the weight, (alpha / rank) * B A, as a full out x in matrix."""
        return (self.B @ self.A) * self.scale

    @torch.no_grad()
    def merge(self) -> None:
        """Add the change into the frozen weight: one matrix again, as fast as before."""
        if not self.merged:
            self.base.weight += self.delta()
            self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:
        """Take the change out of the weight again (up to rounding)."""
        if self.merged:
            self.base.weight -= self.delta()
            self.merged = False

    def extra_repr(self) -> str:
        return f"rank={self.rank}, alpha={self.alpha}, merged={self.merged}"


def add_lora(
    model: nn.Module,
    rank: int = 8,
    alpha: float = 16.0,
    targets: tuple[str, ...] = TARGETS,
    seed: int = 0,
) -> list[str]:
    """Freeze all of ``model`` and put a ``LoRALinear`` around each targeted linear layer.

    A layer is targeted when its name is one of ``targets`` or ends in "." plus one of them
    ("blocks.0.attn.qkv" ends in "attn.qkv"). ``seed`` fixes the random start of every A.
    Returns the names of the wrapped layers; afterwards only their A and B are trainable.
    """
    chosen = [
        (name, module)
        for name, module in model.named_modules()
        if isinstance(module, nn.Linear)
        and any(name == target or name.endswith("." + target) for target in targets)
    ]
    if not chosen:
        raise LoRAError(
            f"No linear layer of the model is named like one of {list(targets)}; pass the "
            "names of its layers as targets (see model.named_modules())."
        )
    for name, module in chosen:  # check every layer before changing anything
        check_rank(rank, module, name)
    model.requires_grad_(False)
    with torch.random.fork_rng(devices=[]):  # seeds a copy: the caller's random state stays
        torch.manual_seed(seed)
        for name, module in chosen:
            parent, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent), child, LoRALinear(module, rank, alpha))
    return [name for name, _ in chosen]


def lora_layers(model: nn.Module) -> list[LoRALinear]:
    """The ``LoRALinear`` layers of ``model``, in order."""
    return [module for module in model.modules() if isinstance(module, LoRALinear)]


def merge(model: nn.Module) -> None:
    """Merge every LoRA layer of ``model`` into its weight (for inference)."""
    for layer in lora_layers(model):
        layer.merge()


def unmerge(model: nn.Module) -> None:
    """Take every LoRA change out of its weight again (to train on)."""
    for layer in lora_layers(model):
        layer.unmerge()


def trainable_parameters(model: nn.Module) -> int:
    """How many numbers training changes: the parameters that need a gradient."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
