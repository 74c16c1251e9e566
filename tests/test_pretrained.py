"""GPT-2 in Hugging Face's format: a tiny checkpoint written here loads with transformers' logits;
bad folders; downloads checked against the Hub's listing (the Hub itself faked: offline)."""

import hashlib
import json
import shutil
from types import SimpleNamespace

import pytest
import torch

from lessons import pretrained
from lessons.gpt import GPT
from lessons.pretrained import PretrainedError, check_download, download_hf_gpt2, load_hf_gpt2
from lessons.tokenizer import gpt2_files

TINY = dict(n_positions=32, n_embd=16, n_layer=2, n_head=2)  # GPT-2's vocabulary, tiny sizes


def write_checkpoint(folder, **changes):
    """What ``save_pretrained`` writes for a small random GPT-2, plus GPT-2's tokenizer files."""
    transformers = pytest.importorskip("transformers", reason="transformers is not installed")
    files = gpt2_files()
    if files is None:
        pytest.skip("GPT-2's tokenizer files are missing: run `npm ci`")
    config = transformers.GPT2Config(**{**TINY, **changes})
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(config).eval()
    model.save_pretrained(folder)
    shutil.copy(files[0], folder / "vocab.json")  # Hugging Face's names for OpenAI's files
    shutil.copy(files[1], folder / "merges.txt")
    return model


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gpt2")
    return folder, write_checkpoint(folder)


def test_same_logits_as_transformers(checkpoint):
    folder, theirs = checkpoint
    loaded = load_hf_gpt2(folder)
    assert loaded.model.config.n_embd == 16 and loaded.model.config.context_length == 32
    assert loaded.model.lm_head.weight is loaded.model.token_embedding.weight
    ids = torch.tensor([loaded.tokenizer.encode("Hello world, wie geht es dir?")])
    assert ids[0, :2].tolist() == [15496, 995]  # GPT-2's ids
    with torch.no_grad():
        logits, _ = loaded.model(ids)
        expected = theirs(ids).logits
    assert logits.dtype == torch.float32
    assert (logits - expected).abs().max().item() <= 1e-5


def test_gpt2_config_of_the_published_sizes():
    sizes = {  # config.json of openai-community/gpt2, -medium, -large, -xl: the sizes
        124_439_808: dict(n_layer=12, n_head=12, n_embd=768),
        354_823_168: dict(n_layer=24, n_head=16, n_embd=1024),
        774_030_080: dict(n_layer=36, n_head=20, n_embd=1280),
        1_557_611_200: dict(n_layer=48, n_head=25, n_embd=1600),
    }
    for parameters, size in sizes.items():
        config = pretrained.gpt2_config(
            dict(model_type="gpt2", vocab_size=50257, n_positions=1024, **size)
        )
        with torch.device("meta"):
            assert GPT(config).num_parameters() == parameters


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (dict(model_type="llama"), "a 'llama' model; this loader builds only 'gpt2'"),
        (dict(model_type="gpt2", activation_function="relu"), "activation_function 'relu'"),
        (dict(model_type="gpt2", n_inner=100), "differs from our GPT in n_inner 100"),
        (dict(model_type="gpt2", n_embd=100), "n_embd .100. must be divisible by n_head"),
    ],
)
def test_configs_the_loader_cannot_build(config, message):
    with pytest.raises(PretrainedError, match=message):
        pretrained.gpt2_config(config)


def test_a_folder_without_the_files(tmp_path):
    with pytest.raises(PretrainedError, match="lacks config.json, model.safetensors, vocab.json"):
        load_hf_gpt2(tmp_path)


def test_pickled_weights_are_refused(tmp_path, checkpoint):
    folder, _ = checkpoint
    for name in ("config.json", "vocab.json", "merges.txt"):
        shutil.copy(folder / name, tmp_path / name)
    (tmp_path / "pytorch_model.bin").write_bytes(b"a pickle could run any code")
    with pytest.raises(PretrainedError, match="pytorch_model.bin is a pickle, which this code"):
        load_hf_gpt2(tmp_path)


def test_damaged_weights(tmp_path, checkpoint):
    folder, _ = checkpoint
    shutil.copytree(folder, tmp_path, dirs_exist_ok=True)
    data = (folder / "model.safetensors").read_bytes()
    (tmp_path / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(PretrainedError, match="model.safetensors is damaged"):
        load_hf_gpt2(tmp_path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (dict(vocab_size=97), "the tokenizer has 50257 tokens, but the model's vocab_size is 97"),
        (dict(n_layer=3), "no 'transformer.h.2.ln_1.weight'"),
        (dict(n_embd=32), "Shape mismatch for 'token_embedding.weight'"),
    ],
)
def test_config_tokenizer_and_weights_must_fit(tmp_path, checkpoint, change, message):
    folder, _ = checkpoint
    shutil.copytree(folder, tmp_path, dirs_exist_ok=True)
    config = json.loads((folder / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, **change}))
    with pytest.raises(PretrainedError, match=message):
        load_hf_gpt2(tmp_path)


# --- Downloads ------------------------------------------------------------------------------


def listed(name: str, data: bytes, lfs: bool):
    """The Hub's entry for a file with these bytes, as ``HfApi.model_info`` returns it."""
    hf_api = pytest.importorskip("huggingface_hub.hf_api", reason="huggingface_hub is missing")
    oid = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
    if not lfs:
        return hf_api.RepoSibling(rfilename=name, size=len(data), blob_id=oid)
    sha = hashlib.sha256(data).hexdigest()
    lfs_info = hf_api.BlobLfsInfo(size=len(data), sha256=sha, pointer_size=134)
    return hf_api.RepoSibling(rfilename=name, size=len(data), blob_id="pointer", lfs=lfs_info)


def test_check_download_against_known_checksums(tmp_path):
    hf_api = pytest.importorskip("huggingface_hub.hf_api", reason="huggingface_hub is missing")
    path = tmp_path / "hello.txt"
    path.write_bytes(b"hello\n")
    git_oid = "ce013625030ba8dba906f756967f9e9ca394464a"  # `git hash-object hello.txt`
    sha256 = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
    check_download(path, hf_api.RepoSibling("hello.txt", blob_id=git_oid))
    lfs = hf_api.BlobLfsInfo(size=6, sha256=sha256, pointer_size=0)
    check_download(path, hf_api.RepoSibling("hello.txt", blob_id="?", lfs=lfs))
    path.write_bytes(b"hallo\n")
    with pytest.raises(PretrainedError, match="hello.txt is not the file the Hub lists"):
        check_download(path, hf_api.RepoSibling("hello.txt", blob_id=git_oid))


@pytest.fixture
def fake_hub(monkeypatch, checkpoint):
    """The Hub, offline: lists the checkpoint's files and 'downloads' them from its folder."""
    huggingface_hub = pytest.importorskip("huggingface_hub", reason="huggingface_hub is missing")
    folder, _ = checkpoint
    hub = SimpleNamespace(files={}, error=None, calls=[])
    for name in pretrained.HF_FILES:
        hub.files[name] = listed(name, (folder / name).read_bytes(), name.endswith("safetensors"))

    class FakeApi:
        def model_info(self, repo_id, revision=None, files_metadata=False):
            if hub.error:
                raise hub.error
            assert files_metadata  # without it, the Hub lists no checksums
            return SimpleNamespace(sha="0123abc", siblings=list(hub.files.values()))

    def fake_download(repo_id, filename, revision=None):
        hub.calls.append((repo_id, filename, revision))
        return str(folder / filename)

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    return hub


def test_download_checks_every_file_and_pins_the_commit(fake_hub, checkpoint):
    folder, _ = checkpoint
    assert download_hf_gpt2("openai-community/gpt2") == folder
    assert {call[1] for call in fake_hub.calls} == set(pretrained.HF_FILES)
    assert {call[2] for call in fake_hub.calls} == {"0123abc"}  # the commit that was listed


def test_a_download_that_differs_from_the_listing_is_refused(fake_hub):
    entry = fake_hub.files["model.safetensors"]
    entry.lfs = type(entry.lfs)(size=entry.lfs.size, sha256="0" * 64, pointer_size=134)
    with pytest.raises(PretrainedError, match="model.safetensors is not the file the Hub lists"):
        download_hf_gpt2("openai-community/gpt2")


def test_a_repository_with_only_pickled_weights(fake_hub):
    del fake_hub.files["model.safetensors"]
    with pytest.raises(PretrainedError, match="has no model.safetensors"):
        download_hf_gpt2("someone/gpt2-pickle")


def test_offline_the_error_says_what_to_do(fake_hub):
    fake_hub.error = ConnectionError("no network")
    with pytest.raises(PretrainedError, match=r"ConnectionError: no network.*load_hf_gpt2\(folder"):
        download_hf_gpt2("openai-community/gpt2")
