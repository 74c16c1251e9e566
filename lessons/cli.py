"""The ``lessons`` command: run the course's code from a terminal.

lessons corpora                      list the texts the course can load
lessons corpora fetch ID [ID ...]    download (or copy from the mirror) and check them
lessons markov --corpus kafka-die-verwandlung --order 4 --length 300 --seed 1
lessons train --preset cpu-char-shakespeare  pretrain a GPT (into runs/<preset>)
lessons train --preset course --resume       continue it from its last checkpoint
lessons train --preset course-gpu            the larger course model, on one GPU
torchrun --standalone --nproc_per_node=2 -m lessons train ...   on 2 processes or GPUs
lessons export runs/course-gpu course-gpu-model --archive   the weights only, to pass on
lessons bench                                training speed of GPT-2 small's shape on a GPU
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

from lessons import corpora, markov


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lessons", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    listing = commands.add_parser("corpora", help="list or fetch the course's texts")
    listing.add_argument("action", nargs="?", choices=["list", "fetch"], default="list")
    listing.add_argument("ids", nargs="*", help="corpus ids to fetch (default: all)")

    chain = commands.add_parser("markov", help="generate text with a Markov chain")
    source = chain.add_mutually_exclusive_group(required=True)
    source.add_argument("--corpus", help="a corpus id (see `lessons corpora`)")
    source.add_argument("--file", type=Path, help="a UTF-8 text file of your own")
    chain.add_argument("--level", choices=[markov.LETTERS, markov.WORDS], default="letters")
    chain.add_argument("--order", type=int, default=4)
    chain.add_argument("--length", type=int, default=300, help="new tokens to generate")
    chain.add_argument("--seed", type=int, default=0)
    chain.add_argument("--start", help="text to continue (its end must occur in the source)")
    chain.add_argument("--next", action="store_true", help="show the likely next tokens")

    _add_train_parser(commands)
    _add_bench_parser(commands)
    _add_export_parser(commands)

    args = parser.parse_args(argv)
    if args.command == "train":
        return _train(args)  # it needs PyTorch, and catches its own kinds of error
    if args.command == "bench":
        return _bench(args)
    if args.command == "export":
        return _export(args)
    try:
        if args.command == "corpora":
            return _corpora(args)
        return _markov(args)
    except (corpora.CorpusError, markov.MarkovError, OSError, UnicodeDecodeError) as error:
        print(f"lessons: error: {error}", file=sys.stderr)
        return 2


def _corpora(args: argparse.Namespace) -> int:
    if args.action == "fetch":
        for corpus_id in args.ids or corpora.ids():
            paths = corpora.fetch(corpus_id)
            print(f"{corpus_id}: {len(paths)} file(s) checked in {paths[0].parent}")
        return 0
    for corpus_id in corpora.ids():
        corpus = corpora.get(corpus_id)
        print(f"{corpus_id:28} {corpus.lang}  {corpus.author}: {corpus.title}")
    return 0


def _markov(args: argparse.Namespace) -> int:
    if args.corpus:
        text = corpora.load(args.corpus)
    else:
        text = args.file.read_text(encoding="utf-8")
    chain = markov.train(text, args.level, args.order)
    generated = chain.generate(args.length, seed=args.seed, start=args.start)
    print(generated)
    if args.next:
        print("\nnext:", end="")
        for token, probability in chain.distribution(generated)[:10]:
            print(f"  {token!r} {probability:.1%}", end="")
        print()
    return 0


# --- lessons bench ------------------------------------------------------------------------


def _add_bench_parser(commands: argparse._SubParsersAction) -> None:
    bench = commands.add_parser(
        "bench",
        help="time training steps of GPT-2 small's shape on a GPU",
        description="Time training steps of the GPT-2 small shape (12 layers, d=768, context "
        "1024) on random tokens: tokens/s, ms per step, peak memory and MFU (lessons.bench).",
    )
    bench.add_argument("--batch-size", type=int, default=32)
    bench.add_argument("--steps", type=int, default=20, help="timed steps")
    bench.add_argument("--warmup-steps", type=int, default=10, help="untimed steps first")
    bench.add_argument("--attention", default="auto", help="auto, flash, cudnn or efficient")
    bench.add_argument("--no-compile", dest="compile", action="store_false")
    bench.add_argument("--compile-mode", help="e.g. reduce-overhead (CUDA graphs)")
    bench.add_argument("--device", default="cuda")


def _bench(args: argparse.Namespace) -> int:
    from lessons import bench, train  # PyTorch, only for this command

    try:
        config = bench.BenchConfig(
            batch_size=args.batch_size,
            steps=args.steps,
            warmup_steps=args.warmup_steps,
            attention=args.attention,
            compile=args.compile,
            compile_mode=args.compile_mode,
            device=args.device,
        )
        print(bench.run(config).summary())
    except (ValueError, train.TrainError) as error:
        print(f"lessons: error: {error}", file=sys.stderr)
        return 2
    return 0


# --- lessons export -----------------------------------------------------------------------


def _add_export_parser(commands: argparse._SubParsersAction) -> None:
    export = commands.add_parser(
        "export",
        help="write a trained model's weights only, to use or pass on",
        description="Write the weights of a training run (or checkpoint) as a run folder of "
        "their own: checkpoint/ without the optimizer state, metrics.jsonl and loss.png. "
        "The site uses such a folder as its course model (LESSONS_COURSE_CHECKPOINT).",
    )
    export.add_argument(
        "source", type=Path, help="a run folder (lessons train --out) or checkpoint"
    )
    export.add_argument("out", type=Path, help="the new folder (must not exist)")
    export.add_argument("--dtype", choices=["bfloat16", "float32"], default="bfloat16")
    export.add_argument("--archive", action="store_true", help="also OUT.tar.gz and its SHA-256")


def _export(args: argparse.Namespace) -> int:
    import hashlib
    import shutil
    import tarfile

    import torch

    from lessons import checkpoint, train

    run = args.source if (args.source / train.CHECKPOINT_DIR).is_dir() else None
    try:
        if args.out.exists():
            raise OSError(f"{args.out} exists already: choose a new folder.")
        source = run / train.CHECKPOINT_DIR if run else args.source
        saved = checkpoint.export_weights(
            source, args.out / train.CHECKPOINT_DIR, getattr(torch, args.dtype)
        )
        for name in (train.METRICS_FILE, train.PLOT_FILE):
            if run and (run / name).is_file():
                shutil.copy2(run / name, args.out / name)
    except (checkpoint.CheckpointError, OSError) as error:
        print(f"lessons: error: {error}", file=sys.stderr)
        return 2
    size = sum(f.stat().st_size for f in args.out.rglob("*") if f.is_file())
    print(f"{args.out}: step {saved.step}, {args.dtype}, {size / 2**20:.1f} MiB")
    if args.archive:
        archive = args.out.with_name(args.out.name + ".tar.gz")
        with tarfile.open(archive, "w:gz") as tar:
            tar.add(args.out, arcname=args.out.name)
        digest = hashlib.sha256(archive.read_bytes()).hexdigest()
        print(f"{archive}: sha256 {digest}")
    return 0


# --- lessons train ------------------------------------------------------------------------

# Options that change the model (or the tokenizer): a resumed run must keep them.
_MODEL_OPTIONS = ("context_length", "n_layer", "n_head", "n_embd", "dropout")
# Options that override a field of the preset's TrainConfig (argparse dest = field name).
_TRAIN_OPTIONS = (
    "max_steps",
    "batch_size",
    "learning_rate",
    "min_lr",
    "warmup_steps",
    "weight_decay",
    "grad_clip",
    "grad_accum",
    "eval_interval",
    "eval_steps",
    "log_interval",
    "val_fraction",
    "seed",
    "device",
    "compile",
)


def _add_train_parser(commands: argparse._SubParsersAction) -> None:
    trainer = commands.add_parser(
        "train",
        help="pretrain a GPT on corpora or text files",
        description="Pretrain a GPT. A preset chooses texts, tokenizer, model and training "
        "settings (cpu-char-shakespeare, the default, course, or course-gpu for one GPU); "
        "the options below change "
        "them. Writes checkpoint/, metrics.jsonl and loss.png into --out.",
    )
    text = trainer.add_mutually_exclusive_group()
    text.add_argument("--corpus", action="append", metavar="ID", help="repeat for several")
    text.add_argument("--file", action="append", type=Path, help="a UTF-8 text file; repeatable")
    trainer.add_argument(
        "--preset", help="cpu-char-shakespeare (default), course or course-gpu (one GPU)"
    )
    trainer.add_argument("--out", type=Path, help="output folder (default: runs/<preset>)")
    trainer.add_argument("--resume", action="store_true", help="continue the checkpoint in --out")
    trainer.add_argument("--quiet", action="store_true", help="no progress line")
    model = trainer.add_argument_group("tokenizer and model")
    model.add_argument("--tokenizer", choices=["char", "bpe"])
    model.add_argument("--vocab-size", type=int, help="for --tokenizer bpe")
    model.add_argument("--context-length", type=int, help="tokens the model sees at once")
    model.add_argument("--n-layer", type=int)
    model.add_argument("--n-head", type=int)
    model.add_argument("--n-embd", type=int)
    model.add_argument("--dropout", type=float)
    training = trainer.add_argument_group("training")
    training.add_argument("--steps", dest="max_steps", type=int)
    training.add_argument("--batch-size", type=int, help="sequences per step, all processes")
    training.add_argument("--lr", dest="learning_rate", type=float, help="peak learning rate")
    training.add_argument("--min-lr", type=float, help="learning rate at the last step")
    training.add_argument("--warmup", dest="warmup_steps", type=int, help="warm-up steps")
    training.add_argument("--weight-decay", type=float)
    training.add_argument("--grad-clip", type=float, help="0: no clipping")
    training.add_argument("--grad-accum", type=int, help="micro-batches per step")
    training.add_argument("--eval-interval", type=int, help="steps between evaluations")
    training.add_argument("--eval-steps", type=int, help="batches per evaluation")
    training.add_argument("--log-interval", type=int, help="steps between metrics records")
    training.add_argument("--val-fraction", type=float)
    training.add_argument("--seed", type=int)
    training.add_argument("--device", help="auto (default), cpu, cuda, cuda:N or mps")
    training.add_argument("--compile", action="store_true", default=None, help="torch.compile")
    training.add_argument("--no-compile", dest="compile", action="store_false")


def _train(args: argparse.Namespace) -> int:
    from lessons import checkpoint, data, tokenizer, train  # PyTorch, only for this command

    talks = int(os.environ.get("RANK", "0")) == 0  # under torchrun, only process 0 prints
    errors = (
        train.TrainError,
        data.DataError,
        tokenizer.TokenizerError,
        checkpoint.CheckpointError,
        corpora.CorpusError,
        OSError,
        UnicodeDecodeError,
    )
    try:
        return _run_training(args, talks)
    except errors as error:
        if talks:
            print(f"lessons: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if talks:
            print(
                "\nlessons: interrupted. Continue from the last checkpoint with --resume.",
                file=sys.stderr,
            )
        return 130


def _run_training(args: argparse.Namespace, talks: bool) -> int:
    from lessons import train
    from lessons.checkpoint import CheckpointError, load_checkpoint
    from lessons.gpt import GPTConfig

    name = args.preset or train.DEFAULT_PRESET
    if name not in train.PRESETS:
        raise train.TrainError(f"Unknown preset {name!r}. Use one of: {', '.join(train.PRESETS)}.")
    preset = train.PRESETS[name]
    out = args.out or Path("runs") / name
    train_options = {key: getattr(args, key) for key in _TRAIN_OPTIONS}
    train_options = {key: value for key, value in train_options.items() if value is not None}
    model_options = {key: getattr(args, key) for key in _MODEL_OPTIONS}
    model_options = {key: value for key, value in model_options.items() if value is not None}
    if args.file:
        documents = [path.read_text(encoding="utf-8") for path in args.file]
    else:
        documents = [doc for c in args.corpus or preset.corpora for doc in corpora.documents(c)]

    if args.resume:
        saved = load_checkpoint(out / train.CHECKPOINT_DIR)
        _check_same_model(args, saved, train.PRESETS)
        tokenizer, model = saved.tokenizer, saved.build_model()
        try:
            config = train.TrainConfig(**{**saved.train_config, **train_options})
        except TypeError as error:
            raise CheckpointError(f"{saved.path} has bad training settings: {error}") from None
    else:
        kind = args.tokenizer or preset.tokenizer
        if kind == "char" and args.vocab_size is not None:
            raise train.TrainError("--vocab-size is for --tokenizer bpe: char takes the text's.")
        chars = preset.tokenizer_chars if not args.file and not args.corpus else None
        sample = [document[:chars] for document in documents] if chars else documents
        tokenizer = train.build_tokenizer(kind, sample, args.vocab_size or preset.vocab_size)
        try:
            model_config = GPTConfig(
                vocab_size=tokenizer.vocab_size, **{**preset.model, **model_options}
            )
        except ValueError as error:
            raise train.TrainError(str(error)) from None
        config = dataclasses.replace(preset.train, **train_options)
        model = train.build_model(model_config, seed=config.seed)
    config = dataclasses.replace(config, out_dir=str(out))

    train.start_distributed(train.pick_device(config.device))
    try:
        train.train(
            model, tokenizer, documents, config, resume=args.resume, progress=not args.quiet
        )
    except BaseException:
        train.stop_distributed(wait=False)
        raise
    train.stop_distributed()
    if talks:
        print(f"Trained to step {config.max_steps}. In {out}: checkpoint/, metrics.jsonl, loss.png")
    return 0


def _check_same_model(args: argparse.Namespace, saved, presets: dict) -> None:
    """A resumed run keeps its model and tokenizer: refuse options that would change them."""
    from lessons.train import TrainError

    wanted = {}
    if args.preset:  # a known one: _run_training checked
        preset = presets[args.preset]
        wanted.update(preset.model, tokenizer=preset.tokenizer)
        if preset.tokenizer == "bpe":
            wanted["vocab_size"] = preset.vocab_size
    for key in (*_MODEL_OPTIONS, "tokenizer", "vocab_size"):
        if getattr(args, key) is not None:
            wanted[key] = getattr(args, key)
    have = {**dataclasses.asdict(saved.model_config), "tokenizer": saved.tokenizer.kind}
    different = [f"{k} {v} (checkpoint: {have[k]})" for k, v in wanted.items() if have[k] != v]
    if different:
        raise TrainError(
            "--resume continues the checkpoint's model and tokenizer, but you asked for "
            f"{', '.join(different)}. Leave these options out, or start a new run in "
            "another --out folder."
        )


if __name__ == "__main__":
    sys.exit(main())
