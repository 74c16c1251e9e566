"""The ``lessons`` command: run the course's code from a terminal.

lessons corpora                      list the texts the course can load
lessons corpora fetch ID [ID ...]    download (or copy from the mirror) and check them
lessons markov --corpus kafka-die-verwandlung --order 4 --length 300 --seed 1
lessons train --preset cpu-char-shakespeare  pretrain a GPT (into runs/<preset>)
lessons train --preset course --resume       continue it from its last checkpoint
torchrun --standalone --nproc_per_node=2 -m lessons train ...   on 2 processes or GPUs
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

    args = parser.parse_args(argv)
    if args.command == "train":
        return _train(args)  # it needs PyTorch, and catches its own kinds of error
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
        "settings (cpu-char-shakespeare, the default, or course); the options below change "
        "them. Writes checkpoint/, metrics.jsonl and loss.png into --out.",
    )
    text = trainer.add_mutually_exclusive_group()
    text.add_argument("--corpus", action="append", metavar="ID", help="repeat for several")
    text.add_argument("--file", action="append", type=Path, help="a UTF-8 text file; repeatable")
    trainer.add_argument("--preset", help="cpu-char-shakespeare (default) or course")
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
        tokenizer = train.build_tokenizer(kind, documents, args.vocab_size or preset.vocab_size)
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
