"""The course model: the small GPT that the pages show, trained once and then kept.

Several pages (and both languages of each) show the same trained GPT. ``load()`` gives it
to them and trains it only when it has to:

1. ``$LESSONS_COURSE_CHECKPOINT`` set: the model comes from that folder, a checkpoint
   trained elsewhere, say the larger course model on a GPU (``lessons train --preset
   course-gpu``, then ``lessons export``). Either the run's folder (with ``checkpoint/``
   and ``metrics.jsonl``) or a checkpoint folder itself.
   Or ``$LESSONS_COURSE_CHECKPOINT_URL`` and ``$LESSONS_COURSE_CHECKPOINT_SHA256``: the
   archive that ``lessons export --archive`` wrote, downloaded once into the cache,
   checked against its SHA-256, and unpacked (``fetch_checkpoint``).
2. Otherwise the cache: ``<cache>/models/course-<key>/``, written by an earlier call. The
   key is a hash of everything that changes the trained model: the preset's settings,
   the texts (their files' SHA-256 and the cleaned text), the code of the model, the
   tokenizer and the training, and the PyTorch version. Change any of them, and the next
   call trains a new model; the old folder stays until someone deletes it.
3. Otherwise it trains the preset "course" on the CPU (about two minutes on two cores)
   and stores the result in the cache.

``load_small()`` skips step 1: the small CPU model, for work at build time that a larger
model would make too slow (fine-tuning on the pages, the playground in the browser).

Training goes into a temporary folder that is renamed to its final name only when it is
complete, so a crash (or Ctrl-C) in the middle leaves no half-trained model behind.
Within one process, ``load()`` returns the same object every time.

    >>> from lessons import course, sampling
    >>> gpt = course.load()  # doctest: +SKIP
    >>> sampling.generate(gpt.model, gpt.tokenizer, "Gregor", 20)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import re
import shutil
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import safetensors.torch
import torch

from lessons import corpora, playground, train
from lessons.checkpoint import CheckpointError, load_checkpoint
from lessons.checkpoint import exists as checkpoint_exists
from lessons.gpt import GPT, GPTConfig
from lessons.tokenizer import Tokenizer

PRESET = "course"  # the preset in ``lessons.train.PRESETS`` that the pages show
ENV_CHECKPOINT = "LESSONS_COURSE_CHECKPOINT"
ENV_URL = "LESSONS_COURSE_CHECKPOINT_URL"  # an archive of ``lessons export --archive`` ...
ENV_SHA256 = "LESSONS_COURSE_CHECKPOINT_SHA256"  # ... pinned by its SHA-256
CODE = Path(__file__).parent  # the package's folder, with the modules below in it
SOURCES = ("gpt.py", "attention.py", "tokenizer.py", "train.py", "data.py")  # shape the model
INFO_FILE = "course.json"  # next to checkpoint/ and metrics.jsonl: what went into the model


@dataclass
class CourseModel:
    """A trained GPT with its tokenizer, its training record, and where it came from."""

    model: GPT  # in eval mode, on the CPU
    tokenizer: Tokenizer
    metrics: list[dict]  # the records of ``lessons.train.train`` (empty if none were found)
    directory: Path  # the folder it was loaded from
    trained_now: bool  # True if this process trained it, False if it was loaded
    description: str  # which model this is, in English (``describe("de")`` for German)
    origin: str  # "trained" (here, by ``load``) or "checkpoint" ($LESSONS_COURSE_CHECKPOINT)
    step: int  # optimizer steps it was trained for
    seconds: float | None  # how long training took, evaluations included, if recorded
    train_config: train.TrainConfig  # the settings it was trained with, as its checkpoint says

    @property
    def preset(self) -> train.Preset:
        """The preset of ``lessons.train.PRESETS`` with this model's shape and vocabulary size,
        and so its texts: "course" for the small model, "course-gpu" for the larger one.

        A checkpoint from another run raises ``CheckpointError``: the pages would not know
        which texts it read.
        """
        config = self.model.config
        for preset in train.PRESETS.values():
            same_shape = all(getattr(config, key) == value for key, value in preset.model.items())
            same_tokens = preset.vocab_size in (None, config.vocab_size)
            if same_shape and same_tokens and preset.tokenizer == self.tokenizer.kind:
                return preset
        raise CheckpointError(
            f"The course model in {self.directory} fits none of the presets "
            f"({', '.join(train.PRESETS)}): train it with `lessons train --preset course-gpu`."
        )

    @property
    def val_loss(self) -> float | None:
        """The validation loss at the last evaluation, if there was one."""
        losses = [r["val_loss"] for r in self.metrics if r.get("val_loss") is not None]
        return losses[-1] if losses else None

    def describe(self, lang: str = "en") -> str:
        """One sentence on which model this is, in English ("en") or German ("de")."""
        if lang not in ("de", "en"):
            raise ValueError(f"lang must be 'de' or 'en', not {lang!r}.")
        german = lang == "de"
        size = self.model.num_parameters() / 1e6
        bpe = self.tokenizer.kind == "bpe"
        if german:
            kind = "BPE" if bpe else "Zeichen"
            what = (
                f"Ein GPT mit {_de(size, 2)} Mio. Parametern und einem {kind}-Tokenizer mit "
                f"{self.tokenizer.vocab_size} Tokens"
            )
        else:
            kind = "BPE" if bpe else "character"
            what = (
                f"A GPT with {size:.2f}M parameters and a {kind} tokenizer of "
                f"{self.tokenizer.vocab_size} tokens"
            )
        if self.origin == "checkpoint":
            where = (
                f"aus dem Checkpoint in {self.directory.name}/ geladen ({ENV_CHECKPOINT}), "
                f"also außerhalb des Site-Builds trainiert: {self.step} Schritte"
                if german
                else f"loaded from the checkpoint in {self.directory.name}/ ({ENV_CHECKPOINT}), "
                f"so trained outside the site build: {self.step} steps"
            )
        else:
            took = f" in {self.seconds:.0f} s" if self.seconds is not None else ""
            where = (
                f"mit dem Preset „{PRESET}“ beim Bauen der Website auf der CPU trainiert: "
                f"{self.step} Schritte{took}"
                if german
                else f"trained on the CPU when the site was built, with the preset "
                f"'{PRESET}': {self.step} steps{took}"
            )
        loss = self.val_loss
        if loss is not None:
            where += (
                f", Validierungs-Loss {_de(loss, 2)}" if german else f", validation loss {loss:.2f}"
            )
        return f"{what}, {where}."


_LOADED: dict[tuple, CourseModel] = {}  # memo: each model is loaded once per process


def load(*, cache: Path | None = None, progress: bool = False) -> CourseModel:
    """The course model: from ``$LESSONS_COURSE_CHECKPOINT``, the cache, or trained now.

    ``cache`` is the cache folder (default: ``lessons.corpora.cache_dir()``); the models go
    into its ``models/`` folder, next to the texts. ``progress=True`` shows a progress line
    (on stderr) while it trains.
    """
    given = os.environ.get(ENV_CHECKPOINT)
    if os.environ.get(ENV_URL):
        given = str(fetch_checkpoint(os.environ[ENV_URL], os.environ.get(ENV_SHA256, ""), cache))
    if given:
        folder = Path(given).expanduser().resolve()
        if ("checkpoint", folder) not in _LOADED:
            _LOADED["checkpoint", folder] = _from_folder(folder, "checkpoint", trained_now=False)
        return _LOADED["checkpoint", folder]
    return load_small(cache=cache, progress=progress)


def load_small(*, cache: Path | None = None, progress: bool = False) -> CourseModel:
    """The small course model of the preset "course": from the cache, or trained now.

    Unlike ``load``, it ignores a checkpoint given from outside: for work that a larger
    model would make too slow on the CPU at build time.
    """
    cache = Path(cache) if cache is not None else corpora.cache_dir()
    documents = _documents(cache)
    folder = model_dir(cache, documents)
    if ("cache", folder) not in _LOADED:
        trained_now = not checkpoint_exists(folder / train.CHECKPOINT_DIR)
        if trained_now:
            _train_into(folder, documents, progress)
        _LOADED["cache", folder] = _from_folder(folder, "trained", trained_now)
    return _LOADED["cache", folder]


def fetch_checkpoint(url: str, sha256: str, cache: Path | None = None) -> Path:
    """The folder of a model archive (``lessons export --archive``), downloaded and unpacked.

    The archive must have the SHA-256 ``sha256``; it is downloaded once into the cache's
    ``models/`` folder and unpacked next to it, into a folder that appears only once it is
    complete. Raises ``CheckpointError`` for a missing or wrong checksum or a bad archive.
    """
    if not re.fullmatch(r"[0-9a-f]{64}", sha256 or ""):
        raise CheckpointError(
            f"{ENV_URL} needs {ENV_SHA256}: the archive's SHA-256 (64 hex digits, as "
            f"`lessons export --archive` prints it), not {sha256!r}."
        )
    models = (Path(cache) if cache is not None else corpora.cache_dir()) / "models"
    folder = models / f"download-{sha256[:16]}"
    if folder.is_dir():
        return folder
    models.mkdir(parents=True, exist_ok=True)
    archive = models / f"download-{sha256[:16]}.tar.gz"
    try:
        offline = f"set {ENV_CHECKPOINT} to the unpacked folder instead"
        corpora.download(url, sha256, archive, offline=offline)  # checks the SHA-256 first
    except corpora.CorpusError as error:
        raise CheckpointError(str(error)) from None
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=models))
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")  # no links out, no absolute paths
        inner = [path for path in tmp.iterdir() if path.is_dir()]
        if len(inner) != 1:
            raise CheckpointError(f"{url} is not an archive of one model folder.")
        os.rename(inner[0], folder)
    except (tarfile.TarError, OSError) as error:
        raise CheckpointError(f"{url} cannot be unpacked: {error}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def model_dir(cache: Path | None = None, documents: list[str] | None = None) -> Path:
    """The cache folder of the course model for the current preset, texts and code."""
    cache = Path(cache) if cache is not None else corpora.cache_dir()
    if documents is None:
        documents = _documents(cache)
    return cache / "models" / f"{PRESET}-{cache_key(inputs(documents))}"


def inputs(documents: list[str]) -> dict:
    """Everything that decides what training produces, as JSON-ready data.

    ``documents`` are the preset's texts as ``lessons.corpora.documents`` gives them.
    """
    preset = train.PRESETS[PRESET]
    config = _train_config(preset, out_dir=None)
    texts = {}
    for corpus_id in preset.corpora:
        corpus = corpora.get(corpus_id)
        texts[corpus.id] = [file.sha256 for file in corpus.files]
    return {
        "preset": PRESET,
        "corpora": texts,
        "text_sha256": _sha256("\x00".join(documents).encode("utf-8")),  # after cleaning
        "tokenizer": preset.tokenizer,
        "vocab_size": preset.vocab_size,
        "model": preset.model,
        "train": dataclasses.asdict(config),
        "code": {name: _sha256((CODE / name).read_bytes()) for name in SOURCES},
        "torch": torch.__version__.split("+")[0],
    }


def cache_key(inputs: dict) -> str:
    """16 hex digits of the SHA-256 of ``inputs``: the same inputs, the same key."""
    text = json.dumps(inputs, sort_keys=True, ensure_ascii=True, default=list)
    return _sha256(text.encode("ascii"))[:16]


# --- For the browser: the files that lessons.playground reads --------------------------------


def export(folder: Path) -> dict:
    """Write the course model for the playground in the browser into ``folder``.

    Returns its entry for the site's ``browser/manifest.json``: each file's name, size and
    SHA-256 (``save_for_browser``), and which model it is, in German and English.
    """
    gpt = load_small()  # pure Python in the browser: a larger model would be far too slow
    characters = set().union(*_documents(corpora.cache_dir()))
    files = save_for_browser(folder, gpt.model, gpt.tokenizer, characters)
    return {"files": files, "description": {lang: gpt.describe(lang) for lang in ("de", "en")}}


def save_for_browser(
    folder: Path, model: GPT, tokenizer: Tokenizer, characters: set[str]
) -> dict[str, dict]:
    """Write a GPT as ``lessons.playground`` reads it: ``playground.FILES``, into ``folder``.

    The weights as float32 safetensors (the format ``lessons.checkpoint`` uses), the
    GPTConfig and the tokenizer as JSON, and ``characters`` (those of the training texts) as
    a sorted JSON list. Returns, for each file's key, its name, size and SHA-256.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    names = playground.FILES
    weights = {name: p.detach().to("cpu", torch.float32) for name, p in model.named_parameters()}
    (folder / names["model"]).write_bytes(safetensors.torch.save(weights))
    (folder / names["config"]).write_text(json.dumps(dataclasses.asdict(model.config)))
    tokenizer.save(folder / names["tokenizer"])
    chars = json.dumps(sorted(characters), ensure_ascii=False)
    (folder / names["characters"]).write_text(chars, encoding="utf-8")
    files = {}
    for key, name in names.items():
        data = (folder / name).read_bytes()
        files[key] = {"name": name, "bytes": len(data), "sha256": _sha256(data)}
    return files


# --- Inside: training into the cache, loading from a folder ----------------------------------


def _documents(cache: Path) -> list[str]:
    preset = train.PRESETS[PRESET]
    return [doc for corpus in preset.corpora for doc in corpora.documents(corpus, cache=cache)]


def _train_config(preset: train.Preset, out_dir: str | None) -> train.TrainConfig:
    """The preset's training settings, on the CPU: the same result on every machine."""
    return dataclasses.replace(preset.train, device="cpu", compile=False, out_dir=out_dir)


def _train_into(folder: Path, documents: list[str], progress: bool) -> None:
    """Train the preset into a temporary folder, then rename it to ``folder``."""
    preset = train.PRESETS[PRESET]
    folder.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(folder.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-{os.getpid()}-", dir=folder.parent))
    try:
        started = time.perf_counter()
        config = _train_config(preset, out_dir=str(tmp))
        tokenizer = train.build_tokenizer(preset.tokenizer, documents, preset.vocab_size)
        model_config = GPTConfig(vocab_size=tokenizer.vocab_size, **preset.model)
        model = train.build_model(model_config, seed=config.seed)
        train.train(model, tokenizer, documents, config, progress=progress)
        info = {
            "inputs": inputs(documents),
            "seconds": time.perf_counter() - started,  # the tokenizer and the model
            "trained_at": time.strftime("%Y-%m-%d %H:%M:%S %z"),
            "threads": torch.get_num_threads(),
        }
        (tmp / INFO_FILE).write_text(json.dumps(info, indent=1), encoding="utf-8")
        try:
            os.rename(tmp, folder)  # all at once: the folder is there complete, or not at all
        except OSError:
            if not checkpoint_exists(folder / train.CHECKPOINT_DIR):
                raise
            # another process (a second build) finished the same model first: keep its folder
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _remove_leftovers(models: Path) -> None:
    """Delete the temporary folders of trainings whose process is gone (killed, crashed)."""
    for leftover in models.glob(".*.tmp-*"):
        match = re.search(r"\.tmp-(\d+)-", leftover.name)
        if match and not _running(int(match.group(1))):
            shutil.rmtree(leftover, ignore_errors=True)


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)  # signal 0 only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, but belongs to someone else
        return True
    return True


def _from_folder(folder: Path, origin: str, trained_now: bool) -> CourseModel:
    """Load a model from a run's folder (checkpoint/ inside) or from a checkpoint folder."""
    run = folder if checkpoint_exists(folder / train.CHECKPOINT_DIR) else folder.parent
    try:
        saved = load_checkpoint(run / train.CHECKPOINT_DIR if run == folder else folder)
    except CheckpointError as error:
        if origin != "checkpoint":
            raise
        raise CheckpointError(
            f"{ENV_CHECKPOINT} is set to {folder}, but no model can be loaded from there: "
            f"{error} Give a folder that `lessons train` wrote (with checkpoint/ in it), "
            f"or unset {ENV_CHECKPOINT} to train the course model here."
        ) from None
    model = saved.build_model("cpu").eval()
    metrics = _read_metrics(run / train.METRICS_FILE)
    seconds = None
    if (folder / INFO_FILE).is_file():
        seconds = json.loads((folder / INFO_FILE).read_text(encoding="utf-8")).get("seconds")
    elif metrics and "elapsed" in metrics[-1]:
        seconds = metrics[-1]["elapsed"]
    course_model = CourseModel(
        model=model,
        tokenizer=saved.tokenizer,
        metrics=metrics,
        directory=folder,
        trained_now=trained_now,
        description="",
        origin=origin,
        step=saved.step,
        seconds=seconds,
        train_config=train.TrainConfig(**saved.train_config),
    )
    course_model.description = course_model.describe("en")
    return course_model


def _read_metrics(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:  # a line cut short
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _de(number: float, digits: int) -> str:
    """A number the German way: a decimal comma."""
    return f"{number:.{digits}f}".replace(".", ",") if math.isfinite(number) else str(number)
