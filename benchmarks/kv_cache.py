"""Generation with and without the KV cache, on the CPU, against the target of 5 times faster.

    python benchmarks/kv_cache.py [--tokens 256] [--runs 3]

Writes ``--tokens`` new tokens after a short prompt with ``lessons.sampling.generate_ids``,
once with the KV cache and once without (the model reads its whole window at every step),
and checks that both give the same tokens. Three models:

- the course model, as the site uses it (``lessons.course.load()``), the window moving on
  by one token (``slide=1``, the default) and by half the context (``slide=32``);
- the same shape with a context of 256 tokens (random weights): no window to move;
- a GPT the size of nanoGPT's Shakespeare model (6 layers, 6 heads, 384 wide, context 256,
  random weights): where the work per token outweighs PyTorch's fixed cost per call.

Each figure is the fastest of ``--runs`` runs. The target (the cache at least 5 times as
fast, 256 tokens, the course model) is checked for the course model; exit status 1 if it
is missed.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lessons import course, sampling, train  # noqa: E402
from lessons.gpt import GPT, GPTConfig  # noqa: E402

TARGET = 5.0
PROMPT = "Als Gregor Samsa eines Morgens"


def fastest(model: GPT, ids: list[int], tokens: int, runs: int, **settings) -> tuple[float, list]:
    """The shortest time of ``runs`` generations (seconds), and the ids written."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        written = sampling.generate_ids(model, ids, tokens, seed=1, **settings)
        times.append(time.perf_counter() - start)
    return min(times), written


def compare(name: str, model: GPT, ids: list[int], tokens: int, runs: int, slide: int) -> float:
    """Print both times and the speed-up; return the speed-up."""
    sampling.generate_ids(model, ids, 8)  # warm up
    plain, plain_ids = fastest(model, ids, tokens, runs, kv_cache=False, slide=slide)
    cached, cached_ids = fastest(model, ids, tokens, runs, kv_cache=True, slide=slide)
    if plain_ids != cached_ids:
        raise SystemExit(f"{name}: the KV cache changed the tokens; that is a bug.")
    config = model.config
    print(
        f"{name}: {model.num_parameters() / 1e6:.2f}M parameters, {config.n_layer} layers, "
        f"width {config.n_embd}, context {config.context_length}, slide {slide}: "
        f"{tokens} tokens without cache {plain * 1e3:.0f} ms, with cache {cached * 1e3:.0f} ms: "
        f"{plain / cached:.1f} x, same tokens",
        flush=True,
    )
    return plain / cached


def random_gpt(**sizes) -> GPT:
    return train.build_model(GPTConfig(**sizes), seed=0).eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=256)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(
        f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, {torch.get_num_threads()} PyTorch threads; "
        f"Python {platform.python_version()}, torch {torch.__version__}; "
        f"{time.strftime('%Y-%m-%d %H:%M')}"
    )
    gpt = course.load()
    ids = gpt.tokenizer.encode(PROMPT)
    print(f"course model: {gpt.description}")
    context = gpt.model.config.context_length
    speedup = compare("course model", gpt.model, ids, args.tokens, args.runs, slide=1)
    compare("course model", gpt.model, ids, args.tokens, args.runs, slide=context // 2)
    shape = dict(vars(gpt.model.config), context_length=256)
    compare("course shape, context 256", random_gpt(**shape), ids, args.tokens, args.runs, 1)
    vocab = gpt.model.config.vocab_size  # the prompt is in the course tokenizer's ids
    sizes = dict(vocab_size=vocab, context_length=256, n_layer=6, n_head=6, n_embd=384)
    compare("nanoGPT Shakespeare size", random_gpt(**sizes), ids, args.tokens, args.runs, 1)
    passed = speedup >= TARGET
    print(
        f"target: the course model {TARGET:.0f} x faster with the cache ({args.tokens} tokens, "
        f"slide 1): {speedup:.1f} x: {'PASS' if passed else 'FAIL'}"
    )
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    main()
