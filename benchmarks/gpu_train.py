"""Training speed on one GPU: the course's GPT against nanoGPT's ``bench.py``, in one run.

    python benchmarks/gpu_train.py --nanogpt PATH [--batch-size 32] [--sweep] [--json FILE]

nanoGPT (https://github.com/karpathy/nanoGPT) is not part of this repository: clone it
anywhere and pass its folder. Its ``bench.py`` runs first, in its own process, on random
tokens (``--real_data=False``, torch.compile, bfloat16), then ``lessons.bench`` times the
course's GPT of the same shape with the same batch on the same GPU. The target: at least
1.25 times nanoGPT's tokens per second; exit status 1 if it is missed.

``--sweep`` also times the settings ``lessons bench`` offers one at a time (the attention
kernels, batch 64, CUDA graphs), and ``--profile`` prints the kernels that take the most
time in the course GPT's step. ``--json`` writes every figure to a file.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lessons import bench  # noqa: E402

TARGET = 1.25  # times nanoGPT's tokens per second
NANOGPT_LINE = re.compile(r"time per iteration: ([\d.]+)ms")


def nanogpt(path: Path, batch_size: int) -> dict:
    """Run nanoGPT's bench.py; its milliseconds per step and tokens per second."""
    command = [sys.executable, "bench.py", f"--batch_size={batch_size}", "--real_data=False"]
    result = subprocess.run(command, cwd=path, capture_output=True, text=True)
    found = NANOGPT_LINE.search(result.stdout)
    if result.returncode != 0 or not found:
        raise SystemExit(
            f"nanoGPT's bench.py failed:\n{result.stdout[-2000:]}{result.stderr[-4000:]}"
        )
    ms = float(found.group(1))
    return {"ms_per_step": ms, "tokens_per_s": batch_size * 1024 / (ms / 1000)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nanogpt", type=Path, required=True, help="a clone of nanoGPT")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--sweep", action="store_true", help="also time each setting alone")
    parser.add_argument("--profile", action="store_true", help="the slowest kernels")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()

    device = torch.cuda.get_device_name()
    print(f"{device}, PyTorch {torch.__version__}, CUDA {torch.version.cuda}")
    reference = nanogpt(args.nanogpt, args.batch_size)
    print(
        f"nanoGPT bench.py, batch {args.batch_size}: {reference['tokens_per_s']:,.0f} tokens/s "
        f"| {reference['ms_per_step']:.2f} ms/step"
    )
    ours = bench.BenchConfig(batch_size=args.batch_size)
    configs = [ours]
    if args.sweep:
        configs += [
            dataclasses.replace(ours, attention="cudnn"),
            dataclasses.replace(ours, batch_size=2 * args.batch_size),
            dataclasses.replace(ours, compile_mode="reduce-overhead"),
        ]
    results = []
    for config in configs:
        torch._dynamo.reset()  # compile each setting afresh
        result = bench.run(config)
        results.append(result)
        ratio = result.tokens_per_s / reference["tokens_per_s"]
        print(f"course GPT: {result.summary()}\n  {ratio:.3f} x nanoGPT")
    if args.profile:
        torch._dynamo.reset()
        print(bench.profile(ours))
    best = results[0].tokens_per_s / reference["tokens_per_s"]
    ok = best >= TARGET
    print(
        f"course GPT, batch {args.batch_size}: {best:.3f} x nanoGPT; target >= {TARGET}: "
        f"{'PASS' if ok else 'FAIL'}"
    )
    if args.json:
        figures = {
            "device": device,
            "torch": torch.__version__,
            "nanogpt": reference,
            "course_gpt": [r.as_dict() for r in results],
        }
        args.json.write_text(json.dumps(figures, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
