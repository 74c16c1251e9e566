"""The course model: trained once, then loaded from the cache; its key; a given checkpoint."""

import dataclasses
import hashlib
import random
import shutil
from pathlib import Path

import pytest
import torch

from lessons import course, train
from lessons.checkpoint import CheckpointError
from lessons.cli import main
from lessons.corpora import Corpus, CorpusFile
from lessons.gpt import GPTConfig

WORDS = "the cat sat on a mat and a dog ran to the old tree by the river while birds sang"


def toy_corpus(text: str, corpus_id: str = "toy") -> tuple[Corpus, bytes]:
    data = text.encode("utf-8")
    file = CorpusFile(
        path="toy.txt",
        url="https://example.invalid/toy.txt",
        sha256=hashlib.sha256(data).hexdigest(),
        bytes=len(data),
    )
    corpus = Corpus(corpus_id, "en", "Toy", "Nobody", None, "public domain", "", "x@0", (file,))
    return corpus, data


def tiny_preset(corpus: Corpus, **train_changes) -> train.Preset:
    settings = dict(
        batch_size=4,
        max_steps=4,
        learning_rate=3e-3,
        min_lr=3e-4,
        warmup_steps=1,
        eval_interval=2,
        eval_steps=1,
        log_interval=1,
    )
    return train.Preset(
        description="tiny, for the tests",
        corpora=(corpus,),
        tokenizer="bpe",
        vocab_size=270,
        model=dict(context_length=16, n_layer=1, n_head=2, n_embd=16),
        train=train.TrainConfig(**{**settings, **train_changes}),
    )


@pytest.fixture
def setup(tmp_path, monkeypatch):
    """A tiny course preset on a toy text in a mirror; a private cache; an empty memo."""
    text = " ".join(random.Random(0).choices(WORDS.split(), k=1500))
    corpus, data = toy_corpus(text)
    mirror = tmp_path / "mirror"
    (mirror / corpus.id).mkdir(parents=True)
    (mirror / corpus.id / "toy.txt").write_bytes(data)
    monkeypatch.setenv("LESSONS_CORPUS_MIRROR", str(mirror))
    monkeypatch.delenv(course.ENV_CHECKPOINT, raising=False)
    monkeypatch.setitem(train.PRESETS, course.PRESET, tiny_preset(corpus))
    monkeypatch.setattr(course, "_LOADED", {})
    return tmp_path / "cache", corpus


def count_trainings(monkeypatch) -> list:
    calls = []
    real = train.train

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(train, "train", counted)
    return calls


def test_trains_once_then_loads_from_the_cache(setup, monkeypatch):
    cache, _ = setup
    calls = count_trainings(monkeypatch)
    first = course.load(cache=cache)
    assert calls == [1] and first.trained_now and first.origin == "trained"
    assert first.directory == course.model_dir(cache)
    assert first.directory.parent == cache / "models"
    assert first.directory.name.startswith("course-")
    assert {"checkpoint", "metrics.jsonl", "course.json"} <= {
        p.name for p in first.directory.iterdir()
    }
    assert not first.model.training and first.step == 4
    assert first.val_loss is not None and first.metrics[-1]["step"] == 4
    assert "trained on the CPU when the site was built" in first.description
    assert "auf der CPU trainiert" in first.describe("de")
    assert course.load(cache=cache) is first  # the memo: the same object
    assert calls == [1]

    monkeypatch.setattr(course, "_LOADED", {})  # as in a new process, e.g. the next build
    again = course.load(cache=cache)
    assert calls == [1] and not again.trained_now
    assert again.directory == first.directory and again.metrics == first.metrics
    for a, b in zip(first.model.parameters(), again.model.parameters(), strict=True):
        assert torch.equal(a, b)
    assert again.description == first.description


def test_a_crash_leaves_no_half_written_model(setup, monkeypatch):
    cache, _ = setup
    models = cache / "models"
    models.mkdir(parents=True)
    (models / ".course-0.tmp-999999999-x").mkdir()  # left by a process that is gone

    def crash(model, tokenizer, text, config, **kwargs):
        (Path(config.out_dir) / "metrics.jsonl").write_text("{}\n")
        raise KeyboardInterrupt

    monkeypatch.setattr(train, "train", crash)
    with pytest.raises(KeyboardInterrupt):
        course.load(cache=cache)
    assert list(models.iterdir()) == []


def test_the_key_changes_with_every_input(setup, monkeypatch, tmp_path):
    cache, corpus = setup
    documents = course._documents(cache)
    key = course.cache_key(course.inputs(documents))
    assert course.cache_key(course.inputs(documents)) == key
    assert course.model_dir(cache).name == f"course-{key}"

    preset = train.PRESETS[course.PRESET]
    changed = {
        "steps": dataclasses.replace(preset, train=dataclasses.replace(preset.train, max_steps=5)),
        "model": dataclasses.replace(preset, model={**preset.model, "n_embd": 32}),
        "vocab": dataclasses.replace(preset, vocab_size=280),
    }
    keys = {key}
    for name, other in changed.items():
        monkeypatch.setitem(train.PRESETS, course.PRESET, other)
        keys.add(course.cache_key(course.inputs(documents)))
        assert len(keys) == 2 + list(changed).index(name), name
    monkeypatch.setitem(train.PRESETS, course.PRESET, preset)

    keys.add(course.cache_key(course.inputs(documents[:-1] + [documents[-1] + "!"])))  # text
    other_corpus, _ = toy_corpus("another text")
    monkeypatch.setitem(
        train.PRESETS, course.PRESET, dataclasses.replace(preset, corpora=(other_corpus,))
    )
    keys.add(course.cache_key(course.inputs(documents)))  # the files' checksums
    monkeypatch.setitem(train.PRESETS, course.PRESET, preset)

    code = tmp_path / "code"  # a copy of the package, with one line of the model changed
    shutil.copytree(Path(train.__file__).parent, code, ignore=shutil.ignore_patterns("data"))
    (code / "gpt.py").write_text((code / "gpt.py").read_text() + "\n# changed\n")
    monkeypatch.setattr(course, "CODE", code)
    keys.add(course.cache_key(course.inputs(documents)))
    assert len(keys) == 7


def test_a_checkpoint_given_in_the_environment_is_used(setup, monkeypatch, tmp_path):
    cache, corpus = setup
    calls = count_trainings(monkeypatch)
    run = tmp_path / "gpu-run"  # as `lessons train --preset course --out gpu-run` writes it
    preset = train.PRESETS[course.PRESET]
    documents = course._documents(cache)
    tokenizer = train.build_tokenizer("bpe", documents, 270)
    config = GPTConfig(vocab_size=tokenizer.vocab_size, **{**preset.model, "n_embd": 32})
    model = train.build_model(config)
    settings = dataclasses.replace(preset.train, max_steps=6, device="cpu", out_dir=str(run))
    train.train(model, tokenizer, documents, settings, progress=False)
    calls.clear()

    monkeypatch.setenv(course.ENV_CHECKPOINT, str(run))
    given = course.load(cache=cache)
    assert calls == [] and not (cache / "models").exists()
    assert given.origin == "checkpoint" and not given.trained_now
    assert given.directory == run and given.step == 6 and given.model.config.n_embd == 32
    assert given.metrics[-1]["step"] == 6
    assert course.ENV_CHECKPOINT in given.description and "gpu-run" in given.description
    assert course.ENV_CHECKPOINT in given.describe("de")
    assert course.load(cache=cache) is given

    monkeypatch.setenv(course.ENV_CHECKPOINT, str(run / "checkpoint"))  # the folder itself
    assert course.load(cache=cache).step == 6

    monkeypatch.setenv(course.ENV_CHECKPOINT, str(tmp_path / "nothing"))
    with pytest.raises(CheckpointError, match=course.ENV_CHECKPOINT):
        course.load(cache=cache)


def exported_run(setup, tmp_path) -> Path:
    """A run of the tiny preset, exported as `lessons export` does (weights only)."""
    cache, _ = setup
    run = tmp_path / "run"
    preset = train.PRESETS[course.PRESET]
    documents = course._documents(cache)
    tokenizer = train.build_tokenizer("bpe", documents, 270)
    model = train.build_model(GPTConfig(vocab_size=tokenizer.vocab_size, **preset.model))
    settings = dataclasses.replace(preset.train, device="cpu", out_dir=str(run))
    train.train(model, tokenizer, documents, settings, progress=False)
    assert main(["export", str(run), str(tmp_path / "gpu-model"), "--archive"]) == 0
    return tmp_path / "gpu-model"


def test_a_pinned_archive_is_downloaded_checked_and_unpacked_once(setup, monkeypatch, tmp_path):
    cache, _ = setup
    folder = exported_run(setup, tmp_path)
    archive = folder.with_name("gpu-model.tar.gz")
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    monkeypatch.setenv(course.ENV_URL, archive.as_uri())
    monkeypatch.setenv(course.ENV_SHA256, digest)
    given = course.load(cache=cache)
    assert given.origin == "checkpoint" and given.step == 4 and given.metrics[-1]["step"] == 4
    assert given.directory == cache / "models" / f"download-{digest[:16]}"
    archive.unlink()  # a second process finds it unpacked in the cache
    monkeypatch.setattr(course, "_LOADED", {})
    assert course.load(cache=cache).step == 4
    assert course.load_small(cache=cache).origin == "trained"  # the small one ignores it


@pytest.mark.parametrize("sha256", ["", "0" * 64])
def test_a_missing_or_wrong_checksum_is_refused(setup, monkeypatch, tmp_path, sha256):
    cache, _ = setup
    archive = exported_run(setup, tmp_path).with_name("gpu-model.tar.gz")
    monkeypatch.setenv(course.ENV_URL, archive.as_uri())
    monkeypatch.setenv(course.ENV_SHA256, sha256)
    with pytest.raises(CheckpointError, match="SHA-256|sha256"):
        course.load(cache=cache)
    assert not list(cache.glob("models/download-*"))  # nothing kept, nothing unpacked


def test_the_preset_of_a_course_model_names_its_texts(setup, monkeypatch, tmp_path):
    cache, corpus = setup
    small = course.load_small(cache=cache)
    assert small.preset is train.PRESETS[course.PRESET]
    assert small.preset.corpora == (corpus,)
    run = tmp_path / "other"
    documents = course._documents(cache)
    tokenizer = train.build_tokenizer("bpe", documents, 270)
    other = GPTConfig(
        vocab_size=tokenizer.vocab_size, context_length=16, n_layer=1, n_head=2, n_embd=8
    )
    settings = dataclasses.replace(train.PRESETS[course.PRESET].train, out_dir=str(run))
    train.train(train.build_model(other), tokenizer, documents, settings, progress=False)
    monkeypatch.setenv(course.ENV_CHECKPOINT, str(run))
    with pytest.raises(CheckpointError, match="fits none of the presets"):
        _ = course.load(cache=cache).preset
