"""The GPT playground: the course model writes in the reader's browser, token by token.

Lesson 8's playground runs this module in Pyodide, Python in the browser, where there is no
PyTorch and no numpy. The site build exports the course model (``lessons.course.export``):
its weights, config and tokenizer, and the characters of its training texts.
``docs/javascripts/gpt-playground.js`` fetches those files, hands their bytes to ``load``, passes
the reader's settings to ``Playground.start`` exactly as typed, and asks for one step after
another. The model is ``lessons.pure_gpt``, and so is the sampling: this module checks the
reader's input, explains it in the page's language, and turns token ids back into text.

    gpt = playground.load(files, entry)  # the files' bytes, and their entry in the manifest
    run = gpt.start("Gregor", temperature="0.8", top_k="", top_p="0.9", seed="1", length="20")
    for step in run:
        print(step.text, [(choice.token, choice.p) for choice in step.top])
"""

from __future__ import annotations

import codecs
import hashlib
import json
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from lessons import pure_gpt, tokenizer
from lessons.pure_gpt import PureGPT

# The files the site build writes (``lessons.course.export``) and the playground reads.
FILES = {
    "model": "model.safetensors",  # the weights, float32
    "config": "config.json",  # the GPTConfig, as a JSON object
    "tokenizer": "tokenizer.json",  # as ``Tokenizer.save`` writes it
    "characters": "characters.json",  # every character of the training texts, one list
}
MAX_PROMPT_CHARS = 500  # the page's limits: long enough to play, short enough to stay quick
MAX_LENGTH = 200  # new tokens per run
TOP = 10  # candidates shown for each step
ECHO_CHARS = 20  # of a bad value, the message repeats at most this many characters

# What the reader is told, by code: errors (PlaygroundError) and notes on a run.
MESSAGES = {
    "en": {
        "temperature": "The temperature must be a number of at least 0 (0 means greedy: always "
        "the most likely token), not {value}.",
        "top_k": "Top-k must be a whole number of at least 1, or empty (no limit), not {value}.",
        "top_p": "Top-p must be a number above 0 and at most 1, or empty (no limit), not {value}.",
        "seed": "The seed must be a whole number, not {value}.",
        "length": "The length must be a whole number from 1 to {limit}, not {value}.",
        "prompt": "The prompt has {chars} characters; this page allows at most {limit}.",
        "encoding": "The prompt contains {char}, which is no character but half of one (a lone "
        "surrogate), and has no UTF-8 bytes. Type or paste the text again.",
        "damaged": "The file {name} arrived damaged: its SHA-256 checksum is not the one the "
        "site recorded. Reload the page.",
        "empty": "empty",
        "empty_prompt": "No prompt: the model starts from the special token <|endoftext|>, as "
        "at the beginning of a new text.",
        "unknown_chars": "Never in the training text: {chars}. The tokenizer splits such "
        "characters into their UTF-8 bytes, tokens the model has learned next to nothing about.",
        "long_prompt": "The prompt has {tokens} tokens, but the model sees at most {context} at "
        "once: it sees only the last {context}.",
        "slid": "From new token {index} on, the text is longer than the {context} tokens the "
        "model sees at once: the window moves along, and the model no longer sees the beginning.",
        "ended": "The model ended the text: it chose <|endoftext|>, the token that separates "
        "texts.",
    },
    "de": {
        "temperature": "Die Temperatur muss eine Zahl ab 0 sein (0 heißt greedy: immer das "
        "wahrscheinlichste Token), nicht {value}.",
        "top_k": "Top-k muss eine ganze Zahl ab 1 sein oder leer bleiben (keine Grenze), nicht "
        "{value}.",
        "top_p": "Top-p muss eine Zahl über 0 und höchstens 1 sein oder leer bleiben (keine "
        "Grenze), nicht {value}.",
        "seed": "Der Seed muss eine ganze Zahl sein, nicht {value}.",
        "length": "Die Länge muss eine ganze Zahl von 1 bis {limit} sein, nicht {value}.",
        "prompt": "Der Prompt hat {chars} Zeichen; auf dieser Seite sind höchstens {limit} "
        "erlaubt.",
        "encoding": "Der Prompt enthält {char}: kein Zeichen, sondern die Hälfte von einem (ein "
        "einzelnes Surrogat), und das hat keine UTF-8-Bytes. Tippe oder füge den Text noch "
        "einmal ein.",
        "damaged": "Die Datei {name} ist beschädigt angekommen: Ihre SHA-256-Prüfsumme ist "
        "nicht die, die die Website vermerkt hat. Lade die Seite neu.",
        "empty": "leer",
        "empty_prompt": "Kein Prompt: Das Modell beginnt beim Sondertoken <|endoftext|>, wie "
        "am Anfang eines neuen Textes.",
        "unknown_chars": "Nie im Trainingstext: {chars}. Der Tokenizer zerlegt solche Zeichen in "
        "ihre UTF-8-Bytes, Tokens, über die das Modell so gut wie nichts gelernt hat.",
        "long_prompt": "Der Prompt hat {tokens} Tokens, das Modell sieht aber höchstens "
        "{context} auf einmal: Es sieht nur die letzten {context}.",
        "slid": "Ab dem {index}. neuen Token ist der Text länger als die {context} Tokens, die "
        "das Modell auf einmal sieht: Das Fenster wandert mit, und den Anfang sieht es nicht mehr.",
        "ended": "Das Modell hat den Text beendet: Es hat <|endoftext|> gewählt, das Token, das "
        "Texte voneinander trennt.",
    },
}
QUOTES = {"en": "“{}”", "de": "„{}“"}


def message(code: str, lang: str, **details: object) -> str:
    """The message ``code`` in ``lang`` ("de" or "en"), filled in with ``details``."""
    _check_lang(lang)
    return MESSAGES[lang][code].format(**details)


def _check_lang(lang: str) -> None:
    if lang not in MESSAGES:
        raise ValueError(f"lang must be one of {sorted(MESSAGES)}, not {lang!r}.")


class PlaygroundError(ValueError):
    """Input the playground cannot use, or a damaged download; says what, in either language.

    ``code`` names the problem (for a setting: the setting's name), ``details`` fill in the
    message; ``str(error)`` is English, ``error.message("de")`` German.
    """

    def __init__(self, code: str, **details: object):
        self.code, self.details = code, details
        super().__init__(self.message("en"))

    def message(self, lang: str) -> str:
        """The message in ``lang``; a value the reader typed is quoted the language's way."""
        details = dict(self.details)
        if "value" in details:
            value = str(details["value"]).strip()
            if len(value) > ECHO_CHARS:  # enough to recognise it
                value = value[:ECHO_CHARS] + "…"
            details["value"] = QUOTES[lang].format(value) if value else message("empty", lang)
        return message(self.code, lang, **details)


def explain(lang: str) -> str | None:
    """The last Python error as JSON {"message", "code"} in ``lang``, if it is the reader's.

    In the browser, Pyodide keeps the Python exception behind a JavaScript error as
    ``sys.last_exc``; errors that are not about the reader's input give ``None``.
    """
    error = getattr(sys, "last_exc", None) or getattr(sys, "last_value", None)
    if isinstance(error, PlaygroundError):
        return json.dumps({"message": error.message(lang), "code": error.code})
    return None


# --- The reader's settings, as typed ---------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """The settings of one run, checked: as ``pure_gpt.generate_steps`` takes them."""

    temperature: float
    top_k: int | None
    top_p: float | None
    seed: int
    length: int


def read_settings(temperature: str, top_k: str, top_p: str, seed: str, length: str) -> Settings:
    """The settings from the text of the form's fields; ``PlaygroundError`` for the first bad one.

    Numbers may have a decimal comma ("0,8"); an empty top-k or top-p means no limit. The
    sampling settings are checked by ``pure_gpt.check_settings``, one at a time, so that the
    error names the field; its rules are the rules here.
    """
    typed = {"temperature": temperature, "top_k": top_k, "top_p": top_p}
    values = {name: _number(text, optional=name != "temperature") for name, text in typed.items()}
    for name, value in values.items():
        try:
            pure_gpt.check_settings(**{name: value})
        except pure_gpt.SamplingError:
            raise PlaygroundError(name, value=typed[name]) from None
    whole_seed = _number(seed)
    if not _is_whole(whole_seed):
        raise PlaygroundError("seed", value=seed)
    new_tokens = _number(length)
    if not _is_whole(new_tokens) or not 1 <= new_tokens <= MAX_LENGTH:
        raise PlaygroundError("length", value=length, limit=MAX_LENGTH)
    return Settings(values["temperature"], values["top_k"], values["top_p"], whole_seed, new_tokens)


def _number(text: str, optional: bool = False) -> int | float | str | None:
    """The number in a field: an int if it is whole ("3"), else a float; else the text itself.

    ``optional``: an empty field gives None.
    """
    cleaned = text.strip().replace(",", ".")
    if optional and not cleaned:
        return None
    for kind in (int, float):
        try:
            return kind(cleaned)
        except ValueError:
            pass
    return text


def _is_whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# --- The model, ready to write ---------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """One candidate for the next token."""

    id: int
    token: str  # the token's text; bytes that are only part of a character show as \xNN
    p: float  # its probability in the distribution the token was drawn from


@dataclass(frozen=True)
class Step:
    """One written token: what it adds to the text, and what the model could have chosen."""

    index: int  # 1 for the first new token
    id: int
    token: str  # the token's text, as in ``Choice``
    text: str  # the characters this token completes (a character can take several tokens)
    p: float  # the probability it was drawn with
    rank: int  # its place among the candidates, 1 for the most likely
    possible: int  # how many tokens had a probability above 0
    top: list[Choice]  # the TOP most likely, most likely first
    sees_beginning: bool  # the whole text so far fits into the model's context
    note: str | None  # something the reader should know from this step on


class Playground:
    """The course model with its tokenizer, and the characters its training texts contain."""

    def __init__(self, model: PureGPT, tok: tokenizer.Tokenizer, characters: set[str]):
        self.model = model
        self.tokenizer = tok
        self.characters = frozenset(characters)

    @property
    def context_length(self) -> int:
        """How many tokens the model sees at once."""
        return self.model.context_length

    def start(
        self,
        prompt: str,
        temperature: str = "1",
        top_k: str = "",
        top_p: str = "",
        seed: str = "0",
        length: str = "50",
        lang: str = "en",
    ) -> Run:
        """A run that writes after ``prompt``, with the settings as typed into the form.

        Raises ``PlaygroundError`` for a bad setting or a prompt over ``MAX_PROMPT_CHARS``; the
        run's ``notes`` (in ``lang``) say what else the reader should know about the prompt.
        """
        _check_lang(lang)  # here, not halfway through the run
        if len(prompt) > MAX_PROMPT_CHARS:
            raise PlaygroundError("prompt", chars=len(prompt), limit=MAX_PROMPT_CHARS)
        settings = read_settings(temperature, top_k, top_p, seed, length)
        try:
            ids = self.tokenizer.encode(prompt, allowed_special="none")  # typed text is text
        except tokenizer.TokenizerError:
            lone = next(char for char in prompt if 0xD800 <= ord(char) <= 0xDFFF)
            raise PlaygroundError("encoding", char=f"U+{ord(lone):04X}") from None
        notes = []
        if not ids:
            ids = [self.tokenizer.eot_id]
            notes.append(message("empty_prompt", lang))
        unknown = dict.fromkeys(char for char in prompt if char not in self.characters)
        if unknown:
            chars = ", ".join(_visible(char) for char in unknown)
            notes.append(message("unknown_chars", lang, chars=chars))
        if len(ids) > self.context_length:
            notes.append(message("long_prompt", lang, tokens=len(ids), context=self.context_length))
        return Run(self, ids, settings, notes, lang)


class Run:
    """One generation: the prompt's tokens, notes on them, and the steps as they are asked for."""

    def __init__(
        self, gpt: Playground, ids: list[int], settings: Settings, notes: list[str], lang: str
    ):
        self.gpt = gpt
        self.prompt_ids = ids
        self.settings = settings
        self.notes = notes
        self.lang = lang
        context = gpt.context_length
        self._steps = pure_gpt.generate_steps(
            gpt.model,
            ids,
            settings.length,
            settings.temperature,
            settings.top_k,
            settings.top_p,
            settings.seed,
            top=None,  # all candidates, to know the drawn token's rank
            stop_token=gpt.tokenizer.eot_id,  # the end of a text: the run ends too
            slide=max(1, context // 2),  # re-read the window every context/2 tokens, not always
        )
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._count = 0

    @property
    def prompt(self) -> str:
        """The prompt as the model reads it (empty if it starts from <|endoftext|>)."""
        if self.prompt_ids == [self.gpt.tokenizer.eot_id]:
            return ""
        return self.gpt.tokenizer.decode(self.prompt_ids)

    def __iter__(self) -> Iterator[Step]:
        return self

    def __next__(self) -> Step:
        step = next(self._steps)  # StopIteration at the end: so ends the run, too
        self._count += 1
        tok = self.gpt.tokenizer
        rank = 1 + next(
            i for i, (token_id, _) in enumerate(step.choices) if token_id == step.token_id
        )
        seen = len(self.prompt_ids) + self._count - 1  # tokens before this one
        context = self.gpt.context_length
        last = self._count == self.settings.length or step.token_id == tok.eot_id
        text = self._decoder.decode(tok.vocab[step.token_id], final=last)
        note = None
        if step.token_id == tok.eot_id:
            note = message("ended", self.lang)
        elif seen == context + 1 and len(self.prompt_ids) <= context:
            note = message("slid", self.lang, index=self._count, context=context)
        return Step(
            index=self._count,
            id=step.token_id,
            token=tok.token_text(step.token_id),
            text=text,
            p=step.probability,
            rank=rank,
            possible=len(step.choices),
            top=[Choice(i, tok.token_text(i), p) for i, p in step.choices[:TOP]],
            sees_beginning=seen <= context,
            note=note,
        )

    # --- for JavaScript: plain JSON instead of Python objects --------------------------------

    def info_json(self) -> str:
        """The run's start as JSON: the prompt as read, its tokens, the length, the notes."""
        return json.dumps(
            {
                "prompt": self.prompt,
                "prompt_tokens": len(self.prompt_ids),
                "length": self.settings.length,
                "notes": self.notes,
            }
        )

    def next_json(self) -> str | None:
        """The next step as JSON (the fields of ``Step``), or None when the run is over."""
        step = next(self, None)
        return None if step is None else json.dumps(asdict(step))


def _visible(char: str) -> str:
    """A character as the reader can see it: itself, or its code point if it is invisible."""
    return char if char.isprintable() and not char.isspace() else f"U+{ord(char):04X}"


# --- Loading the exported files --------------------------------------------------------------


def load(files: Mapping[str, bytes], entry: Mapping | str) -> Playground:
    """The playground from the exported files (``FILES``'s keys -> their bytes).

    ``entry`` is the model's entry in the site's ``browser/manifest.json`` (a dict, or its
    JSON): every file's SHA-256 must be the one recorded there, or ``PlaygroundError`` says
    which file arrived damaged, before anything is read from it.
    """
    if isinstance(entry, str):
        entry = json.loads(entry)
    for key in FILES:
        recorded = entry["files"][key]
        if key not in files or hashlib.sha256(files[key]).hexdigest() != recorded["sha256"]:
            raise PlaygroundError("damaged", name=recorded["name"])
    model = PureGPT.from_safetensors(files["model"], json.loads(bytes(files["config"])))
    return Playground(
        model, _read_tokenizer(files["tokenizer"]), set(json.loads(bytes(files["characters"])))
    )


def _read_tokenizer(data: bytes) -> tokenizer.Tokenizer:
    """``lessons.tokenizer.load`` reads a file: write one (in the browser, into memory)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / FILES["tokenizer"]
        path.write_bytes(bytes(data))
        return tokenizer.load(path)
