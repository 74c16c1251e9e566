// The word navigator: nearest words, analogies and a map of word vectors, in the browser.
//
// `lessons.widgets.word_navigator()` writes the HTML (fields, labels, messages in
// `data-messages`, example words in `data-examples`); this script wires every
// `.word-navigator` on the page to `lessons.navigator`, running in Pyodide. It fetches the
// word vectors named in `browser/manifest.json` (those of the page's language first, the
// others when the reader switches); Python checks their SHA-256, reads them and answers every
// question in JSON. The script only draws: everything shown goes in through `textContent`,
// so no typed text can become markup.
//
// For tests and benchmarks the widget records on itself: `data-state` (loading, ready, busy,
// failed), `data-runs` (questions answered, or failed), `data-ready-ms` (performance.now()
// when the first vectors were ready) and `data-query-ms` (the last question's Python call
// alone).

import { loadManifest, loadRuntime, loadText } from "./pyodide-runtime.js";
import { bindEvery, element, Widget } from "./widget-helpers.js";

const SVG = "http://www.w3.org/2000/svg";
const MAP = { width: 400, height: 300, margin: 24 }; // the map's viewBox, in its own units
const FORM_OF_PART = { word: "word-form", a: "analogy-form", b: "analogy-form", c: "analogy-form" };

class WordNavigator extends Widget {
  constructor(root) {
    super(root);
    this.examples = JSON.parse(root.dataset.examples);
    this.decimal = new Intl.NumberFormat(this.lang, {
      minimumFractionDigits: 2,
      maximumFractionDigits: 2,
    });
    this.number = new Intl.NumberFormat(this.lang);
    this.loaded = new Map(); // language of the vectors -> Promise of a Navigator (a PyProxy)
    this.busy = false;
    this.setState("loading");
    root.dataset.runs = "0";

    this.part("word-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.run(() => this.neighbours());
    });
    this.part("analogy-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.run(() => this.analogy());
    });
    this.part("vectors").addEventListener("change", () => this.switchVectors());
    this.start();
  }

  async start() {
    try {
      const [{ pyodide }, manifest] = await Promise.all([loadRuntime(), loadManifest()]);
      this.navigator = pyodide.pyimport("lessons.navigator");
      this.PythonError = pyodide.ffi.PythonError;
      this.entry = manifest.word_vectors;
      await this.vectors();
    } catch (error) {
      console.error(error);
      this.setState("failed");
      this.setStatus(this.explain(error)?.message ?? this.messages.load_failed, true);
      return;
    }
    this.root.dataset.readyMs = performance.now().toFixed(0);
    this.part("neighbours").disabled = false;
    this.part("calculate").disabled = false;
    this.setState("ready");
    this.setStatus(this.fill(this.messages.ready, { count: this.entry[this.code()].words }));
    await this.run(() => this.neighbours()); // the example, so that the map is not empty
  }

  /** The language of the vectors the reader chose ("de" or "en"). */
  code() {
    return this.part("vectors").value;
  }

  /** The Navigator over the chosen vectors, fetched and read once per language. */
  vectors() {
    const code = this.code();
    if (!this.loaded.has(code)) {
      const file = this.entry[code].files.vectors;
      const navigator = loadText(`browser/${this.entry.folder}/${file.name}`).then((text) =>
        this.navigator.Navigator.from_json(text, file.sha256),
      );
      navigator.catch(() => this.loaded.delete(code)); // let a later question try again
      this.loaded.set(code, navigator);
    }
    return this.loaded.get(code);
  }

  // --- the questions ----------------------------------------------------------------------

  async neighbours() {
    const navigator = await this.vectors();
    const answer = this.ask(() => navigator.neighbours_json(this.part("word").value));
    this.show(answer, this.fill(this.messages.neighbours_title, { word: answer.given[0] }));
  }

  async analogy() {
    const navigator = await this.vectors();
    const [a, b, c] = ["a", "b", "c"].map((name) => this.part(name).value);
    const answer = this.ask(() => navigator.analogy_json(a, b, c));
    const [first, second, third] = answer.given;
    const title = this.fill(this.messages.analogy_title, { a: first, b: second, c: third });
    this.show(answer, title);
  }

  /** Call Python, time the call alone, and read its JSON answer. */
  ask(call) {
    const start = performance.now();
    const json = call();
    const ms = performance.now() - start;
    this.root.dataset.queryMs = ms.toFixed(1);
    const count = this.entry[this.code()].words;
    this.setStatus(this.fill(this.messages.answered, { count, ms: Math.round(ms) }));
    return JSON.parse(json);
  }

  async switchVectors() {
    for (const [name, value] of Object.entries(this.examples[this.code()])) {
      this.part(name).value = value;
    }
    this.setStatus(this.messages.switching);
    await this.run(() => this.neighbours());
  }

  /** Show the neighbours of a word of the result or the map. */
  explore(word) {
    this.part("word").value = word;
    this.part("word-form").requestSubmit();
  }

  // --- showing answers --------------------------------------------------------------------

  show(answer, title) {
    this.part("result-title").textContent = title;
    const items = answer.results.map(([word, similarity]) => this.resultItem(word, similarity));
    this.part("results").replaceChildren(...items);
    this.drawMap(answer);
  }

  resultItem(word, similarity) {
    const item = element("li", "wn-item");
    item.dataset.word = word;
    item.dataset.similarity = String(similarity);
    const button = element("button", "wn-word");
    button.type = "button";
    button.textContent = word;
    button.addEventListener("click", () => this.explore(word));
    const bar = element("span", "wn-bar");
    bar.setAttribute("aria-hidden", "true");
    const fill = element("span", "wn-bar-fill");
    fill.style.width = `${(100 * Math.max(0, similarity)).toFixed(1)}%`;
    bar.append(fill);
    const value = element("span", "wn-similarity");
    value.textContent = this.decimal.format(similarity);
    item.append(button, bar, value);
    return item;
  }

  /** The words of the answer as points on the map; the typed words in the accent colour. */
  drawMap(answer) {
    const given = new Set(answer.given);
    const similarity = new Map(answer.results);
    const place = this.placer(answer.map);
    const lines = answer.links.map(([from, to]) => {
      const [[x1, y1], [x2, y2]] = [place.get(from), place.get(to)];
      return svgElement("line", { class: "wn-link", x1, y1, x2, y2 });
    });
    const points = answer.map.map(([word]) => {
      const [x, y] = place.get(word);
      const label = given.has(word)
        ? this.fill(this.messages.map_given, { word })
        : this.fill(this.messages.map_result, {
            word,
            similarity: this.decimal.format(similarity.get(word)),
          });
      const point = svgElement("g", {
        class: given.has(word) ? "wn-point is-given" : "wn-point",
        tabindex: "0",
        role: "button",
        "aria-label": label,
        "data-word": word,
      });
      const text = svgElement("text", {
        x: x > MAP.width * 0.7 ? x - 8 : x + 8,
        y: y + 4,
        "text-anchor": x > MAP.width * 0.7 ? "end" : "start",
      });
      text.textContent = word;
      point.append(svgElement("circle", { cx: x, cy: y, r: 5 }), text);
      for (const name of ["mouseenter", "focus"]) {
        point.addEventListener(name, () => this.showPoint(point, label));
      }
      point.addEventListener("click", () => this.explore(word));
      point.addEventListener("keydown", (event) => {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          this.explore(word);
        }
      });
      return point;
    });
    this.part("map").replaceChildren(...lines, ...points);
  }

  /** word -> [x, y] in the map's units: the same scale on both axes, up is up. */
  placer(places) {
    const xs = places.map(([, x]) => x);
    const ys = places.map(([, , y]) => y);
    const [left, bottom] = [Math.min(...xs), Math.min(...ys)];
    const spanX = Math.max(...xs) - left || 1;
    const spanY = Math.max(...ys) - bottom || 1;
    const inner = [MAP.width - 2 * MAP.margin, MAP.height - 2 * MAP.margin];
    const scale = Math.min(inner[0] / spanX, inner[1] / spanY);
    const [shiftX, shiftY] = [(inner[0] - scale * spanX) / 2, (inner[1] - scale * spanY) / 2];
    return new Map(
      places.map(([word, x, y]) => [
        word,
        [
          round(MAP.margin + shiftX + scale * (x - left)),
          round(MAP.height - MAP.margin - shiftY - scale * (y - bottom)),
        ],
      ]),
    );
  }

  showPoint(point, label) {
    for (const other of this.part("map").querySelectorAll(".is-active")) {
      other.classList.remove("is-active");
    }
    point.classList.add("is-active");
    this.part("map-label").textContent = label;
  }

  /** Offer the spellings Python suggested for an unknown word, as buttons. */
  showSuggestions(explained) {
    const box = this.part("suggestions");
    const words = explained?.suggestions ?? [];
    const buttons = words.map((word) => {
      const button = element("button", "md-button wn-suggestion");
      button.type = "button";
      button.textContent = word;
      button.setAttribute("aria-label", this.fill(this.messages.suggestion, { word }));
      button.addEventListener("click", () => {
        this.part(explained.part).value = word;
        this.part(FORM_OF_PART[explained.part]).requestSubmit();
      });
      return button;
    });
    box.replaceChildren(...buttons);
    box.hidden = buttons.length === 0;
  }

  // --- plumbing ---------------------------------------------------------------------------

  /** Run one question: one at a time, errors to the status line, bookkeeping for tests. */
  async run(action) {
    if (this.busy || !this.navigator) return;
    this.busy = true;
    this.setState("busy");
    this.part("vectors").disabled = true;
    this.showSuggestions(null);
    try {
      await action();
    } catch (error) {
      const explained = this.explain(error);
      if (explained === null) console.error(error);
      this.setStatus(explained?.message ?? this.messages.failed, true);
      this.showSuggestions(explained);
      if (explained?.part) this.part(explained.part).focus();
    } finally {
      this.busy = false;
      this.part("vectors").disabled = false;
      this.setState("ready");
      this.root.dataset.runs = String(Number(this.root.dataset.runs) + 1);
    }
  }

  /** The reader's-language explanation of a Python error about their input, or null. */
  explain(error) {
    if (!this.PythonError || !(error instanceof this.PythonError)) return null;
    const json = this.navigator.explain(this.lang);
    return json == null ? null : JSON.parse(json);
  }
}

function svgElement(tag, attributes) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  return node;
}

function round(value) {
  return Math.round(value * 10) / 10;
}

bindEvery(".word-navigator", WordNavigator);
