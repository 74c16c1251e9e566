"""The GPU benchmark's arithmetic and settings (the timing itself is in tests/test_gpu.py)."""

import pytest
import torch

from lessons import bench, train


def test_flops_per_token_of_gpt2_small_follow_the_formula():
    config = bench.BenchConfig().model_config()
    d, layers, vocab, context = 768, 12, 50304, 1024
    per_layer = 3 * d * d + d * d + 4 * d * d * 2 + 2 * d  # qkv, proj, mlp, two LayerNorms
    weights = layers * per_layer + d + vocab * d  # the final LayerNorm, the tied embedding
    model = train.build_model(config)
    assert model.num_parameters() == weights + context * d  # the position embedding too
    expected = 6 * weights + 12 * layers * 12 * 64 * context
    assert bench.flops_per_token(config, model.num_parameters()) == expected


@pytest.mark.parametrize(
    ("name", "peak"),
    [
        ("NVIDIA H100 80GB HBM3", 989.4),
        ("NVIDIA H100 PCIe", 756.0),
        ("NVIDIA H200", 989.4),
        ("NVIDIA A100-SXM4-80GB", 312.0),
        ("Some Future GPU", None),
    ],
)
def test_peak_flops_by_gpu_name(name, peak):
    assert bench.peak_tflops(name) == peak


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="attention must be one of auto, flash"):
        bench.BenchConfig(attention="fast")
    with pytest.raises(ValueError, match="steps must be >= 1"):
        bench.BenchConfig(steps=0)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message without a GPU")
def test_without_a_gpu_the_benchmark_says_so():
    with pytest.raises(train.TrainError, match="needs a CUDA GPU"):
        bench.run(bench.BenchConfig(device="cpu"))
