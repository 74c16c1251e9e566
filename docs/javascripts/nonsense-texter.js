// The nonsense texter: learn a Markov chain from a text and let it write, in the browser.
//
// `lessons.widgets.nonsense_texter()` writes the HTML (controls, labels, messages in
// `data-messages`); this script wires every `.nonsense-texter` on the page to
// `lessons.markov`, running in Pyodide. Python gets only strings and numbers as arguments,
// and everything shown goes in through `textContent`, so no text can become markup.
//
// For tests and benchmarks the widget records on itself: `data-state` (loading, ready, busy,
// failed), `data-runs` (actions finished), `data-ready-ms` (performance.now() when Python was
// ready), `data-learn-ms` and `data-generate-ms` (duration of the Python call alone).

import { loadManifest, loadText } from "./pyodide-runtime.js";
import { bindEvery, element, paint, take, visible, Widget } from "./widget-helpers.js";

const TOP = 12; // how many candidates for the next token the panel lists

/** A problem with the reader's input; its message is shown as it is. */
class UserError extends Error {}

class NonsenseTexter extends Widget {
  constructor(root) {
    super(root);
    this.buttons = ["learn", "generate", "step"].map(this.part);
    this.percent = new Intl.NumberFormat(this.lang, {
      style: "percent",
      minimumFractionDigits: 1,
      maximumFractionDigits: 1,
    });
    this.number = new Intl.NumberFormat(this.lang);
    this.chain = null; // the trained MarkovChain (a PyProxy)
    this.learned = null; // the settings it was trained with
    this.text = ""; // the generated text so far
    this.stepCount = 0;
    this.busy = false;
    this.setState("loading");
    root.dataset.runs = "0";

    this.part("source").addEventListener("change", () => this.showOwnField());
    this.part("level").addEventListener("change", () => this.limitOrder());
    this.part("learn").addEventListener("click", () => this.run(() => this.learn()));
    this.part("generate").addEventListener("click", () => this.run(() => this.generate()));
    this.part("step").addEventListener("click", () => this.run(() => this.step()));
    for (const name of ["order", "length", "seed"]) {
      this.part(name).addEventListener("keydown", (event) => {
        if (event.key === "Enter") this.part("generate").click();
      });
    }
    loadManifest().then(
      (manifest) => this.fillSources(manifest.corpora),
      (error) => console.error(error),
    );
    this.startPython();
  }

  ready(pyodide) {
    this.markov = pyodide.pyimport("lessons.markov");
    this.widgets = pyodide.pyimport("lessons.widgets");
    this.PythonError = pyodide.ffi.PythonError;
    for (const button of this.buttons) button.disabled = false;
    this.root.dataset.readyMs = performance.now().toFixed(0);
    this.setState("ready");
    this.setStatus(this.messages.ready);
  }

  fillSources(corpora) {
    const select = this.part("source");
    const own = select.querySelector('option[value="own"]');
    for (const corpus of corpora) {
      const option = new Option(`${corpus.author}: ${corpus.title}`, corpus.id);
      option.lang = corpus.lang;
      select.insertBefore(option, own);
    }
    const first = corpora.find((corpus) => corpus.lang === this.lang) ?? corpora[0];
    if (first) select.value = first.id;
    this.showOwnField();
  }

  showOwnField() {
    this.part("own-field").hidden = this.part("source").value !== "own";
  }

  limitOrder() {
    const order = this.part("order");
    const words = this.part("level").value === "words";
    order.max = this.root.dataset[words ? "maxOrderWords" : "maxOrderLetters"];
    if (order.valueAsNumber > Number(order.max)) order.value = order.max;
  }

  // --- the three actions ------------------------------------------------------------

  async learn() {
    const settings = this.settings();
    let text = settings.ownText;
    if (settings.source === "own") {
      if (!text.trim()) throw new UserError(this.messages.no_own_text);
    } else {
      this.setStatus(this.messages.fetching);
      text = await loadText(`browser/corpora/${encodeURIComponent(settings.source)}.txt`);
    }
    this.setStatus(this.messages.learning);
    await paint(); // show "learning…" before Python holds the page
    const start = performance.now();
    const chain = this.markov.train(text, settings.level, settings.order);
    this.root.dataset.learnMs = (performance.now() - start).toFixed(1);
    this.chain?.destroy();
    this.chain = chain;
    this.learned = JSON.stringify(settings);
    this.level = settings.level;
    this.text = "";
    this.stepCount = 0;
    this.showOutput("", "");
    this.showChoices(null, [], null);
    const template = settings.level === "words" ? "learned_words" : "learned_letters";
    this.setStatus(
      this.fill(this.messages[template], {
        contexts: take(chain.counts, (counts) => counts.length),
        tokens: this.countTokens(text, settings.level),
      }),
    );
  }

  async generate() {
    const length = this.readInt("length");
    const seed = this.readInt("seed");
    await this.learnIfChanged();
    const start = performance.now();
    const text = this.chain.generate(length, seed);
    this.root.dataset.generateMs = (performance.now() - start).toFixed(2);
    this.text = text;
    this.stepCount = 0;
    this.showOutput(text, "");
    this.setStatus(this.fill(this.messages.generated, { tokens: length }));
    this.showNext(seed);
  }

  async step() {
    const seed = this.readInt("seed") + this.stepCount;
    await this.learnIfChanged();
    const step = this.nextStep(seed); // throws for a context the chain never saw
    // generate() with the same seed and start draws the same token and joins it as the
    // chain does (words get a space, punctuation none).
    const text = this.chain.generate(1, seed, this.text);
    this.stepCount += 1;
    this.text = text;
    const newToken = text.endsWith(step.token) ? step.token : "";
    this.showOutput(text.slice(0, text.length - newToken.length), newToken);
    this.showChoices(step.context, step.choices, step.token);
    this.setStatus(this.messages.stepped);
  }

  // --- talking to Python --------------------------------------------------------------

  async learnIfChanged() {
    if (this.learned !== JSON.stringify(this.settings())) await this.learn();
  }

  /** The next step after the current text: {context, choices: [[token, p]], token}. */
  nextStep(seed) {
    return take(this.chain.steps(1, seed, this.text), (steps) =>
      take(steps.next().value, (step) => ({
        context: step.context,
        choices: take(step.choices, (choices) => choices.toJs()),
        token: step.token,
      })),
    );
  }

  countTokens(text, level) {
    if (level !== "words") return [...text].length; // code points, as Python counts
    return take(this.markov.tokenize(text, level), (tokens) => tokens.length);
  }

  /** The reader's-language message of a Python error about their input, or null. */
  explain(error) {
    if (!(error instanceof this.PythonError)) return null;
    return this.widgets.explain(this.lang) ?? null;
  }

  // --- showing results ---------------------------------------------------------------

  showOutput(text, newToken) {
    const output = this.part("output");
    output.replaceChildren(document.createTextNode(text));
    if (newToken) {
      const mark = document.createElement("mark");
      mark.className = "nt-new";
      mark.textContent = newToken;
      output.append(mark);
    }
  }

  /** Fill the "what could come next" panel; show why not if the chain cannot go on. */
  showNext(seed) {
    try {
      const step = this.nextStep(seed);
      this.showChoices(step.context, step.choices, null);
    } catch (error) {
      const message = this.explain(error);
      if (message === null) throw error;
      this.showChoices(null, [], null);
      this.showNote(message);
    }
  }

  showChoices(context, choices, chosen) {
    let shownContext = context === null ? "–" : context || this.messages.no_context;
    if (context && this.level === "letters") shownContext = visible(context);
    this.part("context").textContent = shownContext;
    const shown = choices.slice(0, TOP);
    if (chosen !== null && !shown.some(([token]) => token === chosen)) {
      shown.push(choices.find(([token]) => token === chosen));
    }
    const items = shown.map(([token, p]) => this.choiceItem(token, p, token === chosen));
    const restCount = choices.length - shown.length;
    if (restCount > 0) {
      const restP = Math.max(0, 1 - shown.reduce((sum, [, p]) => sum + p, 0));
      const item = this.choiceItem(null, restP, false);
      const label = this.fill(this.messages.rest, { count: restCount });
      item.querySelector(".nt-token").textContent = label;
      items.push(item);
    }
    this.part("choices").replaceChildren(...items);
    this.showNote("");
  }

  choiceItem(token, p, chosen) {
    const item = element("li", "nt-choice");
    item.classList.toggle("is-chosen", chosen);
    item.classList.toggle("nt-rest", token === null);
    item.dataset.p = String(p);
    const label = element("span", "nt-token");
    if (token !== null) {
      item.dataset.token = token;
      label.textContent = visible(token);
      const name = { " ": this.messages.space, "\n": this.messages.newline }[token];
      if (name) label.title = name;
    }
    const bar = element("span", "nt-bar");
    bar.setAttribute("aria-hidden", "true");
    bar.append(element("span", "nt-bar-fill"));
    bar.firstChild.style.width = `${(100 * p).toFixed(2)}%`;
    const percent = element("span", "nt-p");
    percent.textContent = this.percent.format(p);
    item.append(label, bar, percent);
    if (chosen) {
      const mark = element("span", "nt-chosen");
      mark.textContent = `◀ ${this.messages.chosen}`;
      item.append(mark);
    }
    return item;
  }

  showNote(text) {
    const note = this.part("note");
    note.textContent = text;
    note.hidden = !text;
  }

  // --- plumbing -------------------------------------------------------------------------

  /** Run one action: one at a time, errors to the status line, bookkeeping for tests. */
  async run(action) {
    if (this.busy || !this.markov) return;
    this.busy = true;
    this.setState("busy");
    try {
      await action();
    } catch (error) {
      const message = error instanceof UserError ? error.message : this.explain(error);
      if (message === null) console.error(error);
      this.setStatus(message ?? this.messages.failed, true);
    } finally {
      this.busy = false;
      this.setState("ready");
      this.root.dataset.runs = String(Number(this.root.dataset.runs) + 1);
    }
  }

  settings() {
    return {
      source: this.part("source").value,
      ownText: this.part("source").value === "own" ? this.part("own-text").value : "",
      level: this.part("level").value,
      order: this.readInt("order"),
    };
  }

  /** The whole number in the input `name`, or a UserError naming the field and its range. */
  readInt(name) {
    const input = this.part(name);
    const value = input.valueAsNumber;
    const [min, max] = [Number(input.min), Number(input.max)];
    if (Number.isInteger(value) && value >= min && value <= max) return value;
    input.focus();
    const label = input.closest("label").firstChild.textContent.trim();
    throw new UserError(this.fill(this.messages.invalid_number, { label, min, max }));
  }
}

bindEvery(".nonsense-texter", NonsenseTexter);
