"""The ``lessons`` command: run the course's code from a terminal.

lessons corpora                      list the texts the course can load
lessons corpora fetch ID [ID ...]    download (or copy from the mirror) and check them
lessons markov --corpus kafka-die-verwandlung --order 4 --length 300 --seed 1
"""

from __future__ import annotations

import argparse
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

    args = parser.parse_args(argv)
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


if __name__ == "__main__":
    sys.exit(main())
