"""In-browser demos for the lesson pages: the HTML that the site's JavaScript brings to life.

A lesson page prints a widget from a hidden code block at build time::

    from lessons.widgets import nonsense_texter
    print(nonsense_texter("de"))

The HTML holds only controls and labels; ``docs/javascripts/nonsense-texter.js`` fills in
the corpora from ``browser/manifest.json``, loads Python (Pyodide) and runs ``lessons.markov``
in the reader's browser. The messages the script shows travel in ``data-messages``, so the
script itself speaks no language.
"""

from __future__ import annotations

import json
import sys
from html import escape

from lessons import markov

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
