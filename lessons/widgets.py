"""In-browser demos for the lesson pages: the HTML that the site's JavaScript brings to life.

A lesson page prints a widget from a hidden code block at build time::

    from lessons.widgets import nonsense_texter
    print(nonsense_texter("de"))

The HTML holds only controls and labels; ``docs/javascripts/nonsense-texter.js`` fills in
the corpora from ``browser/manifest.json``, loads Python (Pyodide) and runs ``lessons.markov``
in the reader's browser. The messages the script shows travel in ``data-messages``, so the
script itself speaks no language. ``gpt_playground`` works the same way, with
``docs/javascripts/gpt-playground.js`` and ``lessons.playground``: the course GPT in the browser.
"""

from __future__ import annotations

import json
import sys
from html import escape

from lessons import digit_pad, eliza, markov, playground

MAX_LENGTH = 5000  # tokens per generation: enough to read, quick to draw

NONSENSE_TEXTER = {
    "de": {
        "aria": "Nonsense-Texter: eine Markow-Kette in deinem Browser",
        "source": "Quelle",
        "own": "Eigener Text",
        "own_text": "Dein Text",
        "own_placeholder": "Füge hier einen Text ein, je länger, desto besser.",
        "level": "Ebene",
        "letters": "Buchstaben",
        "words": "Wörter",
        "order": "Ordnung (Tokens im Kontext)",
        "length": "Länge (Tokens)",
        "seed": "Startwert des Zufalls (Seed)",
        "learn": "Lernen",
        "generate": "Erzeugen",
        "step": "Nächstes Token",
        "output": "Erzeugter Text",
        "next": "Was könnte als Nächstes kommen?",
        "context": "Kontext",
        "messages": {
            "loading": "Python wird geladen…",
            "ready": "bereit",
            "load_failed": "Python konnte nicht geladen werden. Lade die Seite neu.",
            "fetching": "Text wird geladen…",
            "learning": "lerne…",
            "learned_letters": "gelernt: {contexts} Kontexte aus {tokens} Zeichen",
            "learned_words": "gelernt: {contexts} Kontexte aus {tokens} Wörtern",
            "generated": "{tokens} Tokens erzeugt",
            "stepped": "ein Token angehängt",
            "no_own_text": "Füge zuerst einen eigenen Text ein.",
            "invalid_number": "„{label}“ muss eine ganze Zahl von {min} bis {max} sein.",
            "failed": "Etwas ist schiefgegangen (Details in der Browser-Konsole).",
            "no_context": "(keiner: Ordnung 0)",
            "chosen": "gewählt",
            "rest": "{count} weitere",
            "space": "Leerzeichen",
            "newline": "Zeilenumbruch",
        },
    },
    "en": {
        "aria": "Nonsense texter: a Markov chain in your browser",
        "source": "Source",
        "own": "Your own text",
        "own_text": "Your text",
        "own_placeholder": "Paste a text here; the longer, the better.",
        "level": "Level",
        "letters": "Letters",
        "words": "Words",
        "order": "Order (tokens in the context)",
        "length": "Length (tokens)",
        "seed": "Random seed",
        "learn": "Learn",
        "generate": "Generate",
        "step": "Next token",
        "output": "Generated text",
        "next": "What could come next?",
        "context": "Context",
        "messages": {
            "loading": "Loading Python…",
            "ready": "ready",
            "load_failed": "Python could not be loaded. Reload the page.",
            "fetching": "Loading the text…",
            "learning": "learning…",
            "learned_letters": "learned: {contexts} contexts from {tokens} characters",
            "learned_words": "learned: {contexts} contexts from {tokens} words",
            "generated": "generated {tokens} tokens",
            "stepped": "appended one token",
            "no_own_text": "Paste your own text first.",
            "invalid_number": "“{label}” must be a whole number from {min} to {max}.",
            "failed": "Something went wrong (details in the browser console).",
            "no_context": "(none: order 0)",
            "chosen": "chosen",
            "rest": "{count} more",
            "space": "space",
            "newline": "line break",
        },
    },
}


# lessons.markov's errors in German (its own messages are English); {level} is translated.
MARKOV_ERRORS_DE = {
    "level": "Die Ebene muss 'letters' oder 'words' sein, nicht {level!r}.",
    "order": "Die Ordnung für {level} muss eine ganze Zahl von 0 bis {limit} sein, "
    "nicht {order!r}.",
    "too_short": "Der Text hat {have} {level}; eine Markow-Kette der Ordnung {order} braucht "
    "mindestens {needed}. Nimm einen längeren Text oder eine kleinere Ordnung.",
    "short_context": "Eine Markow-Kette der Ordnung {order} braucht einen Kontext aus {order} "
    "{level}, der Anfang hat aber nur {have}. Gib einen längeren Anfang ein oder wähle eine "
    "kleinere Ordnung.",
    "unseen": "Der Kontext {context!r} kommt im Trainingstext nie vor, also kann die Kette ihn "
    "nicht fortsetzen. Beginne mit Text aus der Quelle, wähle eine kleinere Ordnung oder lass "
    "den Anfang leer.",
    "length": "Die Länge muss eine ganze Zahl ab 0 sein, nicht {length!r}.",
}
LEVELS_DE = {markov.LETTERS: "Zeichen", markov.WORDS: "Wörter"}


def error_message(error: markov.MarkovError, lang: str) -> str:
    """A Markov chain's error message in the page's language."""
    if lang != "de":
        return str(error)
    details = dict(error.details)
    if error.code != "level":
        details["level"] = LEVELS_DE.get(details.get("level"), details.get("level"))
    return MARKOV_ERRORS_DE[error.code].format(**details)


def explain(lang: str) -> str | None:
    """The reader's-language message of the error that Python last raised, if it is the reader's.

    In the browser, Pyodide keeps the Python exception behind a JavaScript error as
    ``sys.last_exc``; errors that are not about the reader's input give ``None``.
    """
    error = getattr(sys, "last_exc", None) or getattr(sys, "last_value", None)
    if isinstance(error, markov.MarkovError):
        return error_message(error, lang)
    return None


def nonsense_texter(lang: str) -> str:
    """The HTML of the nonsense texter (a Markov chain to train and sample) in ``lang``."""
    if lang not in NONSENSE_TEXTER:
        raise ValueError(
            f"No labels for language {lang!r}; choose one of {sorted(NONSENSE_TEXTER)}."
        )
    t = {key: escape(value) for key, value in NONSENSE_TEXTER[lang].items() if key != "messages"}
    messages = escape(json.dumps(NONSENSE_TEXTER[lang]["messages"], ensure_ascii=False))
    letters, words = markov.MAX_ORDER[markov.LETTERS], markov.MAX_ORDER[markov.WORDS]
    return f"""\
<div class="nonsense-texter" lang="{lang}" role="group" aria-label="{t["aria"]}" \
data-max-order-letters="{letters}" data-max-order-words="{words}" data-messages="{messages}">
<div class="nt-controls">
<label class="nt-field nt-field--wide">{t["source"]}
<select data-part="source"><option value="own">{t["own"]}</option></select></label>
<label class="nt-field">{t["level"]}
<select data-part="level"><option value="letters" selected>{t["letters"]}</option>\
<option value="words">{t["words"]}</option></select></label>
<label class="nt-field nt-field--full" data-part="own-field" hidden>{t["own_text"]}
<textarea data-part="own-text" rows="6" spellcheck="false" \
placeholder="{t["own_placeholder"]}"></textarea></label>
<label class="nt-field">{t["order"]}
<input data-part="order" type="number" inputmode="numeric" min="0" max="{letters}" step="1" \
value="3" required></label>
<label class="nt-field">{t["length"]}
<input data-part="length" type="number" inputmode="numeric" min="1" max="{MAX_LENGTH}" \
step="1" value="300" required></label>
<label class="nt-field">{t["seed"]}
<input data-part="seed" type="number" inputmode="numeric" min="0" max="2147483647" step="1" \
value="1" required></label>
</div>
<div class="nt-buttons">
<button type="button" class="md-button" data-part="learn" disabled>{t["learn"]}</button>
<button type="button" class="md-button md-button--primary" data-part="generate" \
disabled>{t["generate"]}</button>
<button type="button" class="md-button" data-part="step" disabled>{t["step"]}</button>
</div>
<p class="nt-status" data-part="status" role="status" aria-live="polite">\
{escape(NONSENSE_TEXTER[lang]["messages"]["loading"])}</p>
<div class="nt-result">
<div class="nt-output-box">
<p class="nt-heading">{t["output"]}</p>
<div class="nt-output" data-part="output" tabindex="0" role="textbox" aria-readonly="true" \
aria-multiline="true" aria-label="{t["output"]}"></div>
</div>
<div class="nt-next">
<p class="nt-heading">{t["next"]}</p>
<p class="nt-context">{t["context"]}: <code data-part="context">–</code></p>
<ol class="nt-choices" data-part="choices"></ol>
<p class="nt-note" data-part="note" hidden></p>
</div>
</div>
</div>"""


GPT_PLAYGROUND = {
    "de": {
        "aria": "GPT-Spielwiese: das Kursmodell in deinem Browser",
        "prompt": "Prompt",
        "prompt_hint": "höchstens {chars} Zeichen; Strg+Enter schreibt los",
        "prompt_value": "Als Gregor Samsa eines Morgens",
        "temperature": "Temperatur",
        "top_k": "Top-k",
        "top_p": "Top-p",
        "off": "aus",
        "seed": "Seed",
        "length": "Länge (neue Tokens, bis {length})",
        "generate": "Schreiben",
        "stop": "Stopp",
        "output": "Text",
        "tokens": "Erzeugte Tokens: wähle eines, um seinen Schritt zu sehen",
        "output_hint": "Klicke auf ein erzeugtes Token oder gehe mit Tab und den Pfeiltasten "
        "hinein, um seinen Schritt zu sehen.",
        "step": "Schritt",
        "rank": "Rang",
        "token": "Token",
        "probability": "Wahrscheinlichkeit",
        "model": "Modell",
        "messages": {
            "loading": "Python und das Sprachmodell werden geladen…",
            "ready": "bereit",
            "load_failed": "Das Sprachmodell konnte nicht geladen werden. Lade die Seite neu.",
            "writing": "schreibt bis zu {length} Tokens…",
            "done": "{tokens} Tokens geschrieben, {rate} pro Sekunde",
            "done_one": "ein Token geschrieben",
            "stopped": "angehalten nach {tokens} Tokens",
            "failed": "Etwas ist schiefgegangen (Details in der Browser-Konsole).",
            "no_step": "Schreib einen Text, dann siehst du hier für jedes Token, was zur Wahl "
            "stand.",
            "step_title": "Schritt {index}: {possible} Tokens möglich",
            "chosen": "gewählt",
            "chosen_rank": "Gewählt: „{token}“ mit {p} (Rang {rank}).",
            "no_beginning": "Den Anfang des Textes sah das Modell hier nicht mehr.",
            "space": "Leerzeichen",
            "newline": "Zeilenumbruch",
        },
    },
    "en": {
        "aria": "GPT playground: the course model in your browser",
        "prompt": "Prompt",
        "prompt_hint": "at most {chars} characters; Ctrl+Enter starts writing",
        "prompt_value": "It is a truth universally acknowledged",
        "temperature": "Temperature",
        "top_k": "Top-k",
        "top_p": "Top-p",
        "off": "off",
        "seed": "Seed",
        "length": "Length (new tokens, up to {length})",
        "generate": "Write",
        "stop": "Stop",
        "output": "Text",
        "tokens": "Generated tokens: choose one to see its step",
        "output_hint": "Click a generated token, or go into them with Tab and the arrow keys, "
        "to see its step.",
        "step": "Step",
        "rank": "Rank",
        "token": "Token",
        "probability": "Probability",
        "model": "Model",
        "messages": {
            "loading": "Loading Python and the language model…",
            "ready": "ready",
            "load_failed": "The language model could not be loaded. Reload the page.",
            "writing": "writing up to {length} tokens…",
            "done": "wrote {tokens} tokens, {rate} per second",
            "done_one": "wrote one token",
            "stopped": "stopped after {tokens} tokens",
            "failed": "Something went wrong (details in the browser console).",
            "no_step": "Write a text, then you see here, for every token, what the choice was.",
            "step_title": "Step {index}: {possible} possible tokens",
            "chosen": "chosen",
            "chosen_rank": "Chosen: “{token}” with {p} (rank {rank}).",
            "no_beginning": "Here the model no longer saw the beginning of the text.",
            "space": "space",
            "newline": "line break",
        },
    },
}


def gpt_playground(lang: str) -> str:
    """The HTML of the GPT playground (the course model writing in the browser) in ``lang``."""
    if lang not in GPT_PLAYGROUND:
        raise ValueError(
            f"No labels for language {lang!r}; choose one of {sorted(GPT_PLAYGROUND)}."
        )
    labels = dict(GPT_PLAYGROUND[lang])
    labels["prompt_hint"] = labels["prompt_hint"].format(chars=playground.MAX_PROMPT_CHARS)
    labels["length"] = labels["length"].format(length=playground.MAX_LENGTH)
    t = {key: escape(value) for key, value in labels.items() if key != "messages"}
    messages = escape(json.dumps(labels["messages"], ensure_ascii=False))

    def field(part: str, label: str, value: str, inputmode: str, placeholder: str = "") -> str:
        """A labelled one-line field; typed text goes to Python as it is, to check there."""
        hint = f' placeholder="{placeholder}"' if placeholder else ""
        return (
            f'<label class="pg-field">{label}\n<input data-part="{part}" type="text" '
            f'inputmode="{inputmode}" autocomplete="off" spellcheck="false" value="{value}"'
            f"{hint}></label>"
        )

    return f"""\
<div class="gpt-playground" lang="{lang}" role="group" aria-label="{t["aria"]}" \
data-messages="{messages}">
<div class="pg-controls">
<label class="pg-field pg-field--full">{t["prompt"]} <span class="pg-hint">({t["prompt_hint"]})\
</span>
<textarea data-part="prompt" rows="3" spellcheck="false">{t["prompt_value"]}</textarea></label>
{field("temperature", t["temperature"], "0.8", "decimal")}
{field("top-k", t["top_k"], "", "numeric", t["off"])}
{field("top-p", t["top_p"], "", "decimal", t["off"])}
{field("seed", t["seed"], "1", "numeric")}
{field("length", t["length"], "100", "numeric")}
</div>
<div class="pg-buttons">
<button type="button" class="md-button md-button--primary" data-part="generate" \
disabled>{t["generate"]}</button>
<button type="button" class="md-button" data-part="stop" disabled>{t["stop"]}</button>
</div>
<p class="pg-status" data-part="status" role="status" aria-live="polite">\
{escape(labels["messages"]["loading"])}</p>
<ul class="pg-notes" data-part="notes" aria-live="polite" hidden></ul>
<div class="pg-result">
<div class="pg-output-box">
<p class="pg-heading">{t["output"]}</p>
<div class="pg-output" data-part="output"><span class="pg-prompt" data-part="prompt-text">\
</span><span class="pg-tokens" data-part="tokens" role="listbox" aria-orientation="horizontal" \
aria-label="{t["tokens"]}"></span></div>
<p class="pg-hint">{t["output_hint"]}</p>
</div>
<div class="pg-step" data-part="step">
<p class="pg-heading" data-part="step-title">{t["step"]}</p>
<table class="pg-choices">
<thead><tr><th scope="col">{t["rank"]}</th><th scope="col">{t["token"]}</th>\
<th scope="col">{t["probability"]}</th></tr></thead>
<tbody data-part="choices"></tbody>
</table>
<p class="pg-note" data-part="step-note">{escape(labels["messages"]["no_step"])}</p>
</div>
</div>
<p class="pg-model">{t["model"]}: <span data-part="model">–</span></p>
</div>"""


DIGIT_RECOGNIZER = {
    "de": {
        "aria": "Ziffernerkennung: das neuronale Netz aus Lektion 4 in deinem Browser",
        "pad": "Hier zeichnen",
        "pad_aria": "Zeichenfläche für eine Ziffer",
        "pad_hint": "Mit Maus, Finger oder Stift zeichnen. Mit der Tastatur: Die Pfeiltasten "
        "bewegen den Stift, die Leertaste setzt ihn auf und hebt ihn ab, Entf löscht.",
        "clear": "Löschen",
        "seen": "Was das Netz sieht (8\u00a0×\u00a08 Pixel)",
        "hidden": "Verborgene Schicht: wie stark jedes Neuron feuert",
        "probabilities": "Wahrscheinlichkeit jeder Ziffer",
        "messages": {
            "loading": "Python und das Netz werden geladen…",
            "load_failed": "Das Netz konnte nicht geladen werden. Lade die Seite neu.",
            "empty": "Zeichne eine Ziffer von 0 bis 9.",
            "answer": "Das Netz meint: {digit} ({p})",
            "failed": "Etwas ist schiefgegangen (Details in der Browser-Konsole).",
            "pen_down": "Stift aufgesetzt: Die Pfeiltasten zeichnen.",
            "pen_up": "Stift abgehoben.",
            "neuron": "Neuron {number}: {value}",
            "pixel": "Zeile {row}, Spalte {column}: {value} von {max}",
        },
    },
    "en": {
        "aria": "Digit recogniser: the neural network of lesson 4 in your browser",
        "pad": "Draw here",
        "pad_aria": "Drawing pad for a digit",
        "pad_hint": "Draw with the mouse, a finger or a pen. With the keyboard: the arrow keys "
        "move the pen, the space bar puts it down and lifts it, Delete clears.",
        "clear": "Clear",
        "seen": "What the network sees (8\u00a0×\u00a08 pixels)",
        "hidden": "Hidden layer: how strongly each neuron fires",
        "probabilities": "Probability of each digit",
        "messages": {
            "loading": "Loading Python and the network…",
            "load_failed": "The network could not be loaded. Reload the page.",
            "empty": "Draw a digit from 0 to 9.",
            "answer": "The network thinks: {digit} ({p})",
            "failed": "Something went wrong (details in the browser console).",
            "pen_down": "Pen down: the arrow keys draw.",
            "pen_up": "Pen lifted.",
            "neuron": "Neuron {number}: {value}",
            "pixel": "Row {row}, column {column}: {value} of {max}",
        },
    },
}


def digit_recognizer(lang: str) -> str:
    """The HTML of the digit recognizer (draw a digit, the network of lesson 4 names it)."""
    if lang not in DIGIT_RECOGNIZER:
        raise ValueError(
            f"No labels for language {lang!r}; choose one of {sorted(DIGIT_RECOGNIZER)}."
        )
    labels = DIGIT_RECOGNIZER[lang]
    t = {key: escape(value) for key, value in labels.items() if key != "messages"}
    messages = escape(json.dumps(labels["messages"], ensure_ascii=False))
    side = digit_pad.BOX // digit_pad.BLOCK
    cells = '<span class="dr-cell"></span>' * side * side
    digits = "".join(
        f'<li class="dr-choice" data-digit="{digit}"><span class="dr-digit">{digit}</span>'
        '<span class="dr-bar" aria-hidden="true"><span class="dr-bar-fill"></span></span>'
        '<span class="dr-p">–</span></li>'
        for digit in range(10)
    )
    return f"""\
<div class="digit-recognizer" lang="{lang}" role="group" aria-label="{t["aria"]}" \
data-messages="{messages}">
<div class="dr-layout">
<div class="dr-pad-box">
<p class="dr-heading">{t["pad"]}</p>
<canvas class="dr-pad" data-part="pad" width="280" height="280" tabindex="0" \
role="application" aria-label="{t["pad_aria"]}"></canvas>
<p class="dr-hint">{t["pad_hint"]}</p>
<button type="button" class="md-button" data-part="clear">{t["clear"]}</button>
<p class="dr-pen" data-part="pen" aria-live="polite"></p>
</div>
<div class="dr-inside">
<p class="dr-heading">{t["seen"]}</p>
<div class="dr-pixels" data-part="pixels" style="--side: {side}">{cells}</div>
<p class="dr-heading">{t["hidden"]}</p>
<div class="dr-hidden" data-part="hidden"></div>
</div>
<div class="dr-answer">
<p class="dr-heading">{t["probabilities"]}</p>
<ol class="dr-choices" data-part="choices">{digits}</ol>
</div>
</div>
<p class="dr-status" data-part="status" role="status" aria-live="polite">\
{escape(labels["messages"]["loading"])}</p>
</div>"""


WORD_NAVIGATOR = {
    "de": {
        "aria": "Wort-Navigator: Wortvektoren in deinem Browser",
        "vectors": "Wörter aus",
        "de": "deutschen Romanen",
        "en": "englischen Romanen",
        "word": "Wort",
        "neighbours": "Nachbarn zeigen",
        "analogy": "Analogie",
        "calculate": "Rechnen",
        "results": "Ergebnis",
        "map": "Karte (PCA)",
        "map_aria": "Karte der Wörter des Ergebnisses",
        "messages": {
            "loading": "Python und die Wortvektoren werden geladen…",
            "switching": "Die Wortvektoren werden geladen…",
            "ready": "bereit: {count} Wörter",
            "load_failed": "Die Wortvektoren konnten nicht geladen werden. Lade die Seite neu.",
            "failed": "Etwas ist schiefgegangen (Details in der Browser-Konsole).",
            "neighbours_title": "Die nächsten Nachbarn von „{word}“",
            "analogy_title": "{a} − {b} + {c} ergibt am ehesten:",
            "answered": "{count} Wörter in {ms} ms verglichen",
            "map_hint": "Zeige auf einen Punkt oder gehe mit der Tab-Taste hinein, um sein Wort "
            "zu sehen. Klicke darauf, um seine Nachbarn zu sehen.",
            "map_given": "„{word}“: von dir eingegeben",
            "map_result": "„{word}“: Kosinus-Ähnlichkeit {similarity}",
            "suggestion": "Nimm „{word}“",
        },
        "examples": {
            "de": {"word": "tag", "a": "vater", "b": "mann", "c": "frau"},
            "en": {"word": "day", "a": "father", "b": "man", "c": "woman"},
        },
    },
    "en": {
        "aria": "Word navigator: word vectors in your browser",
        "vectors": "Words from",
        "de": "German novels",
        "en": "English novels",
        "word": "Word",
        "neighbours": "Show neighbours",
        "analogy": "Analogy",
        "calculate": "Calculate",
        "results": "Result",
        "map": "Map (PCA)",
        "map_aria": "Map of the result's words",
        "messages": {
            "loading": "Loading Python and the word vectors…",
            "switching": "Loading the word vectors…",
            "ready": "ready: {count} words",
            "load_failed": "The word vectors could not be loaded. Reload the page.",
            "failed": "Something went wrong (details in the browser console).",
            "neighbours_title": "The nearest neighbours of “{word}”",
            "analogy_title": "{a} − {b} + {c} comes out closest to:",
            "answered": "compared {count} words in {ms} ms",
            "map_hint": "Point at a dot, or go into the map with the Tab key, to see its word. "
            "Click it to see its neighbours.",
            "map_given": "“{word}”: typed by you",
            "map_result": "“{word}”: cosine similarity {similarity}",
            "suggestion": "Take “{word}”",
        },
        "examples": {
            "de": {"word": "tag", "a": "vater", "b": "mann", "c": "frau"},
            "en": {"word": "day", "a": "father", "b": "man", "c": "woman"},
        },
    },
}


def word_navigator(lang: str) -> str:
    """The HTML of the word navigator (neighbours, analogies and a map of word vectors)."""
    if lang not in WORD_NAVIGATOR:
        raise ValueError(
            f"No labels for language {lang!r}; choose one of {sorted(WORD_NAVIGATOR)}."
        )
    labels = WORD_NAVIGATOR[lang]
    t = {key: escape(value) for key, value in labels.items() if isinstance(value, str)}
    messages = escape(json.dumps(labels["messages"], ensure_ascii=False))
    examples = escape(json.dumps(labels["examples"], ensure_ascii=False))
    example = {key: escape(value) for key, value in labels["examples"][lang].items()}

    def field(part: str, label: str) -> str:
        """A labelled one-line field for a word; Python checks what is typed."""
        return (
            f'<label class="wn-field">{label}\n<input data-part="{part}" type="text" '
            f'autocomplete="off" autocapitalize="none" spellcheck="false" '
            f'value="{example[part]}"></label>'
        )

    options = "".join(
        f'<option value="{code}"{" selected" if code == lang else ""}>{t[code]}</option>'
        for code in WORD_NAVIGATOR
    )
    return f"""\
<div class="word-navigator" lang="{lang}" role="group" aria-label="{t["aria"]}" \
data-messages="{messages}" data-examples="{examples}">
<div class="wn-controls">
<label class="wn-field">{t["vectors"]}
<select data-part="vectors">{options}</select></label>
<form class="wn-form" data-part="word-form">
{field("word", t["word"])}
<button type="submit" class="md-button md-button--primary" data-part="neighbours" \
disabled>{t["neighbours"]}</button>
</form>
<form class="wn-form" data-part="analogy-form" aria-label="{t["analogy"]}">
{field("a", t["analogy"] + ": a")}<span class="wn-sign" aria-hidden="true">−</span>
{field("b", "b")}<span class="wn-sign" aria-hidden="true">+</span>
{field("c", "c")}
<button type="submit" class="md-button" data-part="calculate" disabled>{t["calculate"]}</button>
</form>
</div>
<p class="wn-status" data-part="status" role="status" aria-live="polite">\
{escape(labels["messages"]["loading"])}</p>
<div class="wn-suggestions" data-part="suggestions" hidden></div>
<div class="wn-result">
<div class="wn-list-box">
<p class="wn-heading" data-part="result-title">{t["results"]}</p>
<ol class="wn-results" data-part="results"></ol>
</div>
<div class="wn-map-box">
<p class="wn-heading">{t["map"]}</p>
<svg class="wn-map" data-part="map" viewBox="0 0 400 300" role="group" \
aria-label="{t["map_aria"]}"></svg>
<p class="wn-map-label" data-part="map-label" aria-live="polite">\
{escape(labels["messages"]["map_hint"])}</p>
</div>
</div>
</div>"""


ELIZA_CHAT = {
    "de": {
        "aria": "ELIZA: ein Chatbot aus Regeln, in deinem Browser",
        "log": "Gespräch mit ELIZA",
        "input": "Deine Nachricht",
        "placeholder": "Schreib ELIZA etwas, zum Beispiel: Ich bin müde.",
        "send": "Senden",
        "restart": "Neu beginnen",
        "messages": {
            "loading": "Python wird geladen…",
            "ready": "bereit",
            "load_failed": "Python konnte nicht geladen werden. Lade die Seite neu.",
            "failed": "Etwas ist schiefgegangen (Details in der Browser-Konsole).",
            "empty": "Schreib zuerst etwas, dann antwortet ELIZA.",
            "you": "Du",
            "eliza": "ELIZA",
            "keyword": "Schlüsselwort „{keyword}“ (Rang {rank}), Muster „{pattern}“",
            "memory": "kein Schlüsselwort: etwas, das du früher gesagt hast",
            "fallback": "kein Schlüsselwort: eine Ausweichantwort",
        },
    },
    "en": {
        "aria": "ELIZA: a chatbot made of rules, in your browser",
        "log": "Conversation with ELIZA",
        "input": "Your message",
        "placeholder": "Write something to ELIZA, for example: I am tired.",
        "send": "Send",
        "restart": "Start again",
        "messages": {
            "loading": "Loading Python…",
            "ready": "ready",
            "load_failed": "Python could not be loaded. Reload the page.",
            "failed": "Something went wrong (details in the browser console).",
            "empty": "Write something first, then ELIZA will answer.",
            "you": "You",
            "eliza": "ELIZA",
            "keyword": "keyword “{keyword}” (rank {rank}), pattern “{pattern}”",
            "memory": "no keyword: something you said earlier",
            "fallback": "no keyword: a fallback reply",
        },
    },
}


def eliza_chat(lang: str, seed: int = 1) -> str:
    """The HTML of the ELIZA chat (``lessons.eliza`` in the browser) in ``lang``.

    ``docs/javascripts/eliza.js`` starts a conversation with ``seed`` and shows, under each
    reply, which rule gave it.
    """
    if lang not in ELIZA_CHAT:
        raise ValueError(f"No labels for language {lang!r}; choose one of {sorted(ELIZA_CHAT)}.")
    labels = ELIZA_CHAT[lang]
    t = {key: escape(value) for key, value in labels.items() if isinstance(value, str)}
    messages = escape(json.dumps(labels["messages"], ensure_ascii=False))
    return f"""\
<div class="eliza-chat" lang="{lang}" role="group" aria-label="{t["aria"]}" \
data-seed="{seed}" data-messages="{messages}">
<ol class="el-log" data-part="log" aria-label="{t["log"]}" aria-live="polite" tabindex="0"></ol>
<form class="el-form" data-part="form">
<label class="el-field">{t["input"]}
<input data-part="input" type="text" maxlength="{eliza.MAX_INPUT}" autocomplete="off" \
spellcheck="false" placeholder="{t["placeholder"]}"></label>
<button type="submit" class="md-button md-button--primary" data-part="send" \
disabled>{t["send"]}</button>
<button type="button" class="md-button" data-part="restart" disabled>{t["restart"]}</button>
</form>
<p class="el-status" data-part="status" role="status" aria-live="polite">\
{escape(labels["messages"]["loading"])}</p>
</div>"""
