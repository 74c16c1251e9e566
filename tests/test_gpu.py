"""Training on a CUDA GPU: bfloat16 steps, compiled against eager, DDP under torchrun.

Marked ``gpu`` and skipped where PyTorch finds no CUDA GPU (as in CI): run them on a GPU
machine with ``pytest -m gpu`` (the workflow .github/workflows/gpu.yml does).
"""

import json

import pytest
import torch

from lessons import bench, train
from lessons.gpt import GPTConfig
from lessons.tokenizer import CharTokenizer
from tests.test_train import TEXT, run_train_command

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]
SMALL = dict(context_length=64, n_layer=2, n_head=4, n_embd=128)


def small_model(seed: int = 0, **changes):
    tokenizer = CharTokenizer.train(TEXT)
    config = GPTConfig(vocab_size=tokenizer.vocab_size, **{**SMALL, **changes})
    return train.build_model(config, seed=seed), tokenizer


def test_bfloat16_training_is_finite_and_the_loss_falls():
    model, tokenizer = small_model()
    config = train.TrainConfig(
        batch_size=16,
        max_steps=60,
        learning_rate=3e-3,
        warmup_steps=5,
        eval_interval=30,
        eval_steps=2,
        log_interval=1,
        device="cuda",
    )
    metrics = train.train(model, tokenizer, TEXT, config, progress=False)
    step_losses = [r["loss"] for r in metrics if "loss" in r]
    assert all(torch.isfinite(torch.tensor(step_losses)))
    assert next(p for p in model.parameters()).device.type == "cuda"
    evaluations = [r["val_loss"] for r in metrics if "val_loss" in r]
    assert evaluations[-1] < 0.8 * evaluations[0]  # ln(vocab) at the start, far lower after


def test_autocast_is_bfloat16_on_cuda():
    with train.autocast(torch.device("cuda")):
        product = torch.ones(4, 4, device="cuda") @ torch.ones(4, 4, device="cuda")
    assert product.dtype == torch.bfloat16


def test_compiled_and_eager_models_agree():
    """The same weights and batch: logits, loss and gradients match within float32 rounding.

    Also for ``train.LossOnly``, the compiled loss the training step uses.
    """
    torch.backends.cuda.matmul.allow_tf32 = False  # exact float32 products on both sides
    model, tokenizer = small_model()
    model = model.cuda()
    ids = torch.tensor([tokenizer.encode(TEXT[:65])], device="cuda")
    x, y = ids[:, :-1], ids[:, 1:]
    logits, loss = model(x, y)
    loss.backward()
    eager_grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad(set_to_none=True)
    compiled_logits, compiled_loss = torch.compile(model)(x, y)
    compiled_loss.backward()
    torch.testing.assert_close(compiled_logits, logits, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(compiled_loss, loss, rtol=1e-5, atol=1e-5)
    for name, parameter in model.named_parameters():
        torch.testing.assert_close(parameter.grad, eager_grads[name], rtol=1e-3, atol=1e-5)
    model.zero_grad(set_to_none=True)
    training_loss = torch.compile(train.LossOnly(model))(x, y)  # what training compiles
    training_loss.backward()
    torch.testing.assert_close(training_loss, loss, rtol=1e-5, atol=1e-5)
    for name, parameter in model.named_parameters():
        torch.testing.assert_close(parameter.grad, eager_grads[name], rtol=1e-3, atol=1e-5)


def test_ddp_on_one_gpu_under_torchrun(tmp_path):
    """``torchrun --nproc_per_node=1 -m lessons train``: DDP over NCCL, the files written."""
    args = ["--context-length", "32", "--n-layer", "2", "--n-head", "2", "--n-embd", "64"]
    args += ["--batch-size", "8", "--steps", "20", "--eval-interval", "10", "--eval-steps", "2"]
    args += ["--device", "cuda", "--out", str(tmp_path / "run")]
    result = run_train_command(tmp_path, args, processes=1, timeout=300)
    assert "1 process(es), DDP, on cuda:0" in result.stderr  # a group of one, through DDP
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    assert records[-1]["step"] == 20 and records[-1]["val_loss"] < records[0]["val_loss"]
    assert (tmp_path / "run" / "checkpoint").is_dir()


def test_the_benchmark_times_a_small_model():
    config = bench.BenchConfig(
        batch_size=4,
        context_length=128,
        n_layer=2,
        n_head=2,
        n_embd=128,
        vocab_size=512,
        warmup_steps=2,
        steps=3,
        compile=False,
    )
    result = bench.run(config)
    assert result.tokens_per_s > 0 and result.ms_per_step > 0 and result.peak_memory_gib > 0
    assert torch.isfinite(torch.tensor([result.first_loss, result.last_loss])).all()
