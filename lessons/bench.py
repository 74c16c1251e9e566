"""How fast does the course's GPT train on a GPU? Timed training steps of the GPT-2 small shape.

The shape is GPT-2 small's (12 layers, 12 heads, d=768, context 1024), with the vocabulary
padded from 50,257 to 50,304 (a multiple of 64, which the GPU's matrix units like). The
tokens are random: this measures the arithmetic, not the data. It prints

- tokens per second and milliseconds per optimizer step;
- the peak GPU memory;
- the MFU (model FLOPs utilization): how much of the GPU's dense bfloat16 peak the model's
  arithmetic uses. A training step costs about ``6 N`` FLOPs per token for ``N`` weights
  (2 forward, 4 backward) plus attention's ``12 L H Q T`` (``flops_per_token``).

The step is the training step of ``lessons.train``: bfloat16 autocast, fused AdamW, the
model's loss ``torch.compile``-d (``train.LossOnly``), PyTorch's fused attention kernel, and
the loss left on the GPU until the end, as training reads it only to log it. Settings below
select the batch size, the attention kernel and the compile mode, so each one's effect can
be measured.

    lessons bench                             # batch 32, what the training uses
    lessons bench --batch-size 64 --attention cudnn
    python benchmarks/gpu_train.py --nanogpt PATH   # against nanoGPT's bench.py, same run
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import asdict, dataclass

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from lessons import train
from lessons.gpt import GPTConfig

# Dense bfloat16 tensor-core peaks (TFLOP/s, no sparsity) from the vendors' data sheets,
# matched against torch.cuda.get_device_name(); the first name that fits wins.
PEAK_BF16_TFLOPS = {
    "H100 PCIe": 756.0,
    "H100 NVL": 835.0,
    "H100": 989.4,  # SXM (HBM3)
    "H200": 989.4,
    "GH200": 989.4,
    "A100": 312.0,
    "L40S": 362.1,
    "L4": 121.0,
    "A10G": 70.0,
    "RTX 4090": 165.2,
}
ATTENTION = {
    "auto": None,  # PyTorch picks (on an H100: FlashAttention-2)
    "flash": SDPBackend.FLASH_ATTENTION,
    "cudnn": SDPBackend.CUDNN_ATTENTION,
    "efficient": SDPBackend.EFFICIENT_ATTENTION,
}


@dataclass
class BenchConfig:
    """What to time: the model's shape, the batch, and the settings under test."""

    batch_size: int = 32
    context_length: int = 1024
    n_layer: int = 12
    n_head: int = 12
    n_embd: int = 768
    vocab_size: int = 50304  # GPT-2's 50,257, padded to a multiple of 64
    warmup_steps: int = 10  # not timed: compilation and the GPU's clocks settle
    steps: int = 20  # timed
    compile: bool = True
    compile_mode: str | None = None  # torch.compile's mode, e.g. "max-autotune-no-cudagraphs"
    attention: str = "auto"  # the fused attention kernel: auto, flash, cudnn, efficient
    device: str = "cuda"
    seed: int = 1337

    def __post_init__(self):
        if self.attention not in ATTENTION:
            names = ", ".join(ATTENTION)
            raise ValueError(f"attention must be one of {names}, not {self.attention!r}.")
        for name in ("batch_size", "context_length", "warmup_steps", "steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, not {getattr(self, name)}.")

    def model_config(self) -> GPTConfig:
        return GPTConfig(
            vocab_size=self.vocab_size,
            context_length=self.context_length,
            n_layer=self.n_layer,
            n_head=self.n_head,
            n_embd=self.n_embd,
            dropout=0.0,
            bias=False,  # as nanoGPT's benchmark: no biases
        )


@dataclass
class BenchResult:
    """The figures of one run."""

    config: BenchConfig
    device_name: str
    torch_version: str
    parameters: int
    tokens_per_s: float
    ms_per_step: float
    peak_memory_gib: float
    flops_per_token: float
    mfu: float | None  # None where the GPU's peak is not known
    first_loss: float
    last_loss: float

    def summary(self) -> str:
        mfu = f"{self.mfu:.1%}" if self.mfu is not None else "n/a (unknown GPU peak)"
        c = self.config
        return (
            f"{self.device_name}, PyTorch {self.torch_version}: batch {c.batch_size} x "
            f"{c.context_length} tokens, attention {c.attention}, compile "
            f"{c.compile_mode or 'default' if c.compile else 'off'}\n"
            f"  {self.tokens_per_s:,.0f} tokens/s | {self.ms_per_step:.2f} ms/step | "
            f"peak memory {self.peak_memory_gib:.1f} GiB | MFU {mfu} | "
            f"loss {self.first_loss:.3f} -> {self.last_loss:.3f}"
        )

    def as_dict(self) -> dict:
        return asdict(self)


def flops_per_token(config: GPTConfig, parameters: int) -> float:
    """The FLOPs of one training step per token: ``6 N + 12 L H Q T`` (as nanoGPT counts).

    ``N`` counts the weights without the position embedding (a lookup, no arithmetic);
    ``L`` layers, ``H`` heads of size ``Q``, context ``T``: attention's two matrix products.
    """
    n = parameters - config.context_length * config.n_embd
    head_size = config.n_embd // config.n_head
    return 6 * n + 12 * config.n_layer * config.n_head * head_size * config.context_length


def peak_tflops(device_name: str) -> float | None:
    """The GPU's dense bfloat16 peak in TFLOP/s, or None for a GPU not in the table."""
    return next((tf for name, tf in PEAK_BF16_TFLOPS.items() if name in device_name), None)


def _setup(config: BenchConfig):
    """The model, its training step (returns the loss) and the attention-kernel context."""
    device = train.pick_device(config.device)
    if device.type != "cuda":
        raise train.TrainError("The benchmark needs a CUDA GPU (device cuda).")
    torch.set_float32_matmul_precision("high")
    torch.manual_seed(config.seed)
    model = train.build_model(config.model_config(), seed=config.seed).to(device)
    optimizer = train.make_optimizer(
        model, train.TrainConfig(learning_rate=1e-4, weight_decay=0.01), device
    )
    net = train.LossOnly(model)
    net = torch.compile(net, mode=config.compile_mode) if config.compile else net
    shape = (config.batch_size, config.context_length)
    x = torch.randint(config.vocab_size, shape, device=device)
    y = torch.randint(config.vocab_size, shape, device=device)
    backend = ATTENTION[config.attention]
    kernel = sdpa_kernel(backend) if backend is not None else contextlib.nullcontext()

    def step() -> torch.Tensor:
        with train.autocast(device):
            loss = net(x, y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        # Not read here: that would make the CPU wait for the GPU. A copy, as CUDA graphs
        # (compile mode reduce-overhead) reuse the output's memory in the next step.
        return loss.detach().clone()

    return model, step, kernel, device


def run(config: BenchConfig) -> BenchResult:
    """Build the model, take ``warmup_steps`` untimed and ``steps`` timed training steps."""
    model, step, kernel, device = _setup(config)
    torch.cuda.reset_peak_memory_stats(device)
    with kernel:
        first = step()
        for _ in range(config.warmup_steps - 1):
            step()
        torch.cuda.synchronize(device)
        start = time.perf_counter()
        for _ in range(config.steps):
            last = step()
        torch.cuda.synchronize(device)
        seconds = time.perf_counter() - start
    tokens = config.steps * config.batch_size * config.context_length
    name = torch.cuda.get_device_name(device)
    per_token = flops_per_token(model.config, model.num_parameters())
    peak = peak_tflops(name)
    return BenchResult(
        config=config,
        device_name=name,
        torch_version=torch.__version__,
        parameters=model.num_parameters(),
        tokens_per_s=tokens / seconds,
        ms_per_step=1000 * seconds / config.steps,
        peak_memory_gib=torch.cuda.max_memory_allocated(device) / 2**30,
        flops_per_token=per_token,
        mfu=tokens / seconds * per_token / (peak * 1e12) if peak else None,
        first_loss=first.item(),
        last_loss=last.item(),
    )


def profile(config: BenchConfig, steps: int = 3, rows: int = 25) -> str:
    """Where a step's time goes: the GPU kernels that take longest, as a table.

    Runs ``warmup_steps`` steps, then ``steps`` under PyTorch's profiler.
    """
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as profiler

    _, step, kernel, device = _setup(config)
    with kernel:
        for _ in range(config.warmup_steps):
            step()
        torch.cuda.synchronize(device)
        with profiler(activities=[ProfilerActivity.CUDA]) as prof:
            for _ in range(steps):
                step()
            torch.cuda.synchronize(device)
    return prof.key_averages().table(
        sort_by="cuda_time_total", row_limit=rows, max_name_column_width=70
    )
