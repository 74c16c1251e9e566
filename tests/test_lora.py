"""LoRA: the model starts unchanged, only A and B train, merging changes nothing, bad ranks."""

import pytest
import torch
from torch import nn

from lessons import lora
from lessons.gpt import GPT, GPTConfig
from lessons.llama import Llama, LlamaConfig
from lessons.lora import LoRAError, LoRALinear


def tiny_gpt(seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=50, context_length=16, n_layer=2, n_head=2, n_embd=16)).eval()


def tokens() -> torch.Tensor:
    return torch.randint(0, 50, (2, 12), generator=torch.Generator().manual_seed(1))


def test_b_starts_at_zero_so_the_model_starts_unchanged():
    model = tiny_gpt()
    before, _ = model(tokens())
    lora.add_lora(model, rank=4)
    after, _ = model(tokens())
    assert all(torch.equal(layer.B, torch.zeros_like(layer.B)) for layer in lora.lora_layers(model))
    assert torch.equal(before, after)


def test_only_a_and_b_are_trainable_and_counted():
    model = tiny_gpt()
    names = lora.add_lora(model, rank=4)
    assert names == [f"blocks.{i}.{part}" for i in (0, 1) for part in lora.TARGETS[:4]]
    trainable = [name for name, p in model.named_parameters() if p.requires_grad]
    assert trainable and all(name.endswith((".A", ".B")) for name in trainable)
    # per block: qkv 16 -> 48, proj 16 -> 16, up 16 -> 64, down 64 -> 16; rank * (in + out)
    assert lora.trainable_parameters(model) == 2 * 4 * (64 + 32 + 80 + 80)


def test_merged_and_unmerged_give_the_same_outputs():
    model = tiny_gpt()
    lora.add_lora(model, rank=4, alpha=8.0)
    with torch.no_grad():
        for layer in lora.lora_layers(model):
            layer.B.normal_(std=0.5)  # as if trained: now B A changes the outputs
    weights = [layer.base.weight.clone() for layer in lora.lora_layers(model)]
    unmerged, _ = model(tokens())
    lora.merge(model)
    merged, _ = model(tokens())
    assert all(layer.merged for layer in lora.lora_layers(model))
    assert torch.allclose(unmerged, merged, atol=1e-5)
    assert not torch.allclose(unmerged, tiny_gpt()(tokens())[0], atol=1e-3)  # B A mattered
    lora.unmerge(model)
    again, _ = model(tokens())
    assert torch.allclose(again, unmerged, atol=1e-5)
    for layer, weight in zip(lora.lora_layers(model), weights, strict=True):
        assert torch.allclose(layer.base.weight, weight, atol=1e-6)


def test_the_change_is_scaled_by_alpha_over_rank():
    layer = LoRALinear(nn.Linear(8, 6), rank=2, alpha=6.0)
    with torch.no_grad():
        layer.B.fill_(1.0)
    x = torch.randn(3, 8)
    expected = layer.base(x) + 3.0 * (x @ layer.A.t() @ layer.B.t())
    assert torch.allclose(layer(x), expected, atol=1e-6)
    assert torch.allclose(layer.delta(), 3.0 * layer.B @ layer.A)


def test_a_training_step_changes_only_a_and_b():
    model = tiny_gpt()
    lora.add_lora(model, rank=2)
    frozen = {name: p.clone() for name, p in model.named_parameters() if not p.requires_grad}
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    _, loss = model(tokens(), tokens())
    loss.backward()
    optimizer.step()
    assert all(
        torch.equal(p, frozen[name]) for name, p in model.named_parameters() if name in frozen
    )
    assert any(layer.B.abs().sum() > 0 for layer in lora.lora_layers(model))


def test_the_same_seed_gives_the_same_start():
    first, second = tiny_gpt(), tiny_gpt()
    lora.add_lora(first, rank=3, seed=7)
    lora.add_lora(second, rank=3, seed=7)
    pairs = zip(lora.lora_layers(first), lora.lora_layers(second), strict=True)
    assert all(torch.equal(a.A, b.A) for a, b in pairs)


@pytest.mark.parametrize("rank", [0, -1, 17, 2.5, True])
def test_a_rank_out_of_range_is_refused_before_anything_changes(rank):
    model = tiny_gpt()
    with pytest.raises(LoRAError, match="from 1 to 16"):
        lora.add_lora(model, rank=rank)
    assert lora.lora_layers(model) == [] and all(p.requires_grad for p in model.parameters())


def test_bad_alpha_and_unknown_targets_say_what_to_do():
    with pytest.raises(LoRAError, match="alpha must be a number > 0"):
        LoRALinear(nn.Linear(4, 4), rank=2, alpha=0)
    with pytest.raises(LoRAError, match="named_modules"):
        lora.add_lora(tiny_gpt(), targets=("nothing.here",))


def test_llama_gets_lora_on_all_seven_linear_layers():
    config = LlamaConfig(
        vocab_size=40, context_length=16, n_layer=1, n_head=4, n_kv_head=2, n_embd=16, mlp_size=24
    )
    torch.manual_seed(0)
    model = Llama(config).eval()
    ids = torch.randint(0, 40, (1, 10))
    before, _ = model(ids)
    names = lora.add_lora(model, rank=2)
    assert sorted(name.split(".", 2)[2] for name in names) == sorted(
        ["attn.q", "attn.k", "attn.v", "attn.proj", "mlp.gate", "mlp.up", "mlp.down"]
    )
    assert torch.equal(model(ids)[0], before)
