// The GPT playground: the course model writes in the reader's browser, token by token.
//
// `lessons.widgets.gpt_playground()` writes the HTML (controls, labels, messages in
// `data-messages`); this script wires every `.gpt-playground` on the page to
// `lessons.playground`, running in Pyodide. When the widget comes near the screen, it fetches
// the course model's files named in `browser/manifest.json`; Python checks their SHA-256 and
// reads them. Python gets the reader's fields as typed and does all the checking, sampling and
// decoding; it answers in JSON. Everything shown goes in through `textContent`, so no text
// can become markup.
//
// For tests and benchmarks the widget records on itself: `data-state` (idle, loading, ready,
// busy, failed), `data-runs` (runs finished), `data-ready-ms` (performance.now() when the
// model was ready), `data-download-ms` (fetching the model's files), `data-model-ms` (Python
// checking and reading them), and for the last run `data-tokens` (tokens written),
// `data-first-token-ms` (from the click to the first token on screen) and
// `data-tokens-per-s` (tokens on screen per second, from the first to the last).

import { loadManifest, loadRuntime, siteURL } from "./pyodide-runtime.js";
import { bindEvery, element, paint, visible, Widget } from "./widget-helpers.js";

const FIELDS = ["temperature", "top-k", "top-p", "seed", "length"];
const FIELD_OF_ERROR = { top_k: "top-k", top_p: "top-p", encoding: "prompt" }; // else the code

class GptPlayground extends Widget {
  constructor(root) {
    super(root);
    this.number = new Intl.NumberFormat(this.lang, { maximumFractionDigits: 1 });
    this.percent = new Intl.NumberFormat(this.lang, {
      style: "percent",
      minimumFractionDigits: 1,
      maximumFractionDigits: 1,
    });
    this.gpt = null; // lessons.playground.Playground (a PyProxy), once loaded
    this.steps = []; // the steps of the last run, as Python sent them
    this.selected = null; // the token whose step the panel shows
    this.follow = true; // the panel follows the newest token until the reader picks one
    this.busy = false;
    this.stopRequested = false;
    this.setState("idle");
    root.dataset.runs = "0";

    this.part("generate").addEventListener("click", () => this.generate());
    this.part("stop").addEventListener("click", () => {
      this.stopRequested = true;
    });
    for (const name of FIELDS) {
      this.part(name).addEventListener("keydown", (event) => {
        if (event.key === "Enter") this.generate();
      });
    }
    this.part("prompt").addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) this.generate();
    });
    const tokens = this.part("tokens");
    tokens.addEventListener("focusin", (event) => this.select(event.target));
    tokens.addEventListener("keydown", (event) => this.moveSelection(event));
    whenNearScreen(root, () => this.load());
  }

  // --- loading ----------------------------------------------------------------------------

  async load() {
    this.setState("loading");
    try {
      const runtime = loadRuntime(); // Python starts while the model's files download
      const entry = (await loadManifest()).course_gpt;
      const size = Object.values(entry.files).reduce((sum, file) => sum + file.bytes, 0);
      this.part("model").textContent = `${entry.description[this.lang]} (${this.megabytes(size)})`;
      let start = performance.now();
      const files = await download(entry);
      this.root.dataset.downloadMs = (performance.now() - start).toFixed(0);
      const { pyodide } = await runtime;
      this.playground = pyodide.pyimport("lessons.playground");
      this.PythonError = pyodide.ffi.PythonError;
      start = performance.now();
      const data = pyodide.toPy(files); // a dict of memoryviews
      try {
        this.gpt = this.playground.load(data, JSON.stringify(entry));
      } finally {
        data.destroy();
      }
      this.root.dataset.modelMs = (performance.now() - start).toFixed(0);
      this.root.dataset.readyMs = performance.now().toFixed(0);
      this.part("generate").disabled = false;
      this.setState("ready");
      this.setStatus(this.messages.ready);
    } catch (error) {
      const explained = this.explain(error); // a damaged file
      if (explained === null) console.error(error);
      this.setState("failed");
      this.setStatus(explained?.message ?? this.messages.load_failed, true);
    }
  }

  megabytes(bytes) {
    return `${this.number.format(bytes / 1e6)} MB`;
  }

  // --- writing ----------------------------------------------------------------------------

  async generate() {
    if (this.busy || !this.gpt) return;
    const clicked = performance.now();
    this.busy = true;
    this.stopRequested = false;
    this.setState("busy");
    this.part("generate").disabled = true;
    this.part("stop").disabled = false;
    let run = null;
    try {
      run = this.gpt.start.callKwargs({
        prompt: this.part("prompt").value,
        temperature: this.part("temperature").value,
        top_k: this.part("top-k").value,
        top_p: this.part("top-p").value,
        seed: this.part("seed").value,
        length: this.part("length").value,
        lang: this.lang,
      });
      await this.write(run, clicked);
    } catch (error) {
      const explained = this.explain(error);
      if (explained === null) console.error(error);
      this.setStatus(explained?.message ?? this.messages.failed, true);
      this.part(FIELD_OF_ERROR[explained?.code] ?? explained?.code)?.focus();
    } finally {
      run?.destroy();
      this.busy = false;
      this.part("generate").disabled = false;
      this.part("stop").disabled = true;
      this.setState("ready");
      this.root.dataset.runs = String(Number(this.root.dataset.runs) + 1);
    }
  }

  /** Ask Python for one step after another, and show each before asking for the next. */
  async write(run, clicked) {
    const info = JSON.parse(run.info_json());
    this.clearOutput(info.prompt);
    this.showNotes(info.notes);
    this.setStatus(this.fill(this.messages.writing, info));
    let first = null;
    let last = null;
    while (!this.stopRequested) {
      const json = run.next_json();
      if (json == null) break; // Python's None: the run is over
      const step = JSON.parse(json);
      this.addToken(step);
      await paint(); // let the browser draw it (and see a click on Stop)
      last = performance.now();
      if (first === null) {
        first = last;
        this.root.dataset.firstTokenMs = (first - clicked).toFixed(0);
      }
    }
    const tokens = this.steps.length;
    const rate = tokens > 1 ? (tokens - 1) / ((last - first) / 1000) : 0;
    this.root.dataset.tokens = String(tokens);
    this.root.dataset.tokensPerS = rate.toFixed(1);
    let done = tokens === 1 ? this.messages.done_one : this.messages.done;
    if (this.stopRequested) done = this.messages.stopped;
    this.setStatus(this.fill(done, { tokens, rate: Math.round(rate) }));
  }

  clearOutput(prompt) {
    this.steps = [];
    this.selected = null;
    this.follow = true;
    this.part("prompt-text").textContent = prompt;
    this.part("tokens").replaceChildren();
    this.part("choices").replaceChildren();
    this.part("step-title").textContent = "";
    this.part("step-note").textContent = this.messages.no_step;
  }

  addToken(step) {
    const token = element("span", "pg-token");
    token.textContent = step.text;
    token.dataset.index = String(step.index);
    token.tabIndex = -1;
    token.setAttribute("role", "option");
    token.setAttribute("aria-selected", "false");
    if (!step.text.trim()) {
      token.classList.add("pg-token--blank"); // a space, a line break, or half a character
      token.setAttribute("aria-label", visible(step.token));
    }
    this.steps.push(step);
    this.part("tokens").append(token);
    if (step.note) this.addNote(step.note);
    if (this.follow) this.select(token, false);
  }

  // --- one step: its candidates -----------------------------------------------------------

  /** Show the step of `token` (a token's span), and make it the one Tab comes back to. */
  select(token, byReader = true) {
    if (!token?.classList.contains("pg-token")) return;
    if (byReader) this.follow = false;
    if (this.selected) {
      this.selected.tabIndex = -1;
      this.selected.setAttribute("aria-selected", "false");
    }
    this.selected = token;
    token.tabIndex = 0;
    token.setAttribute("aria-selected", "true");
    this.showStep(this.steps[Number(token.dataset.index) - 1]);
  }

  /** Arrow keys, Home and End move between the generated tokens. */
  moveSelection(event) {
    const tokens = [...this.part("tokens").children];
    const at = tokens.indexOf(this.selected);
    const target = {
      ArrowLeft: at - 1,
      ArrowUp: at - 1,
      ArrowRight: at + 1,
      ArrowDown: at + 1,
      Home: 0,
      End: tokens.length - 1,
    }[event.key];
    if (target === undefined || !tokens[target]) return;
    event.preventDefault();
    tokens[target].focus(); // focusin selects it
  }

  showStep(step) {
    const m = this.messages;
    this.part("step-title").textContent = this.fill(m.step_title, step);
    const rows = step.top.map((choice, i) => this.choiceRow(i + 1, choice, choice.id === step.id));
    if (step.rank > step.top.length) {
      const gap = element("tr", "pg-gap");
      gap.append(element("td", ""), element("td", ""), element("td", ""));
      gap.firstChild.textContent = "…";
      rows.push(gap, this.choiceRow(step.rank, step, true));
    }
    this.part("choices").replaceChildren(...rows);
    const chosen = { token: visible(step.token), p: this.percent.format(step.p), rank: step.rank };
    const notes = [this.fill(m.chosen_rank, chosen)];
    if (!step.sees_beginning) notes.push(m.no_beginning);
    this.part("step-note").textContent = notes.join(" ");
  }

  choiceRow(rank, choice, chosen) {
    const row = element("tr", chosen ? "pg-choice is-chosen" : "pg-choice");
    row.dataset.token = choice.token;
    row.dataset.p = String(choice.p);
    const [rankCell, tokenCell, pCell] = ["pg-rank", "pg-token-cell", "pg-p"].map((name) =>
      element("td", name),
    );
    rankCell.textContent = String(rank);
    const code = element("code", "");
    code.textContent = visible(choice.token);
    const name = { " ": this.messages.space, "\n": this.messages.newline }[choice.token];
    if (name) code.title = name;
    tokenCell.append(code);
    if (chosen) {
      const mark = element("span", "pg-chosen");
      mark.textContent = `◀ ${this.messages.chosen}`;
      tokenCell.append(" ", mark);
    }
    const bar = element("span", "pg-bar");
    bar.setAttribute("aria-hidden", "true");
    bar.append(element("span", "pg-bar-fill"));
    bar.firstChild.style.width = `${(100 * choice.p).toFixed(2)}%`;
    const percent = element("span", "pg-p-text");
    percent.textContent = this.percent.format(choice.p);
    pCell.append(bar, percent);
    row.append(rankCell, tokenCell, pCell);
    return row;
  }

  // --- plumbing ---------------------------------------------------------------------------

  /** {message, code} of a Python error about the reader's input (or a damaged file), or null. */
  explain(error) {
    if (!this.PythonError || !(error instanceof this.PythonError)) return null;
    const json = this.playground.explain(this.lang);
    return json == null ? null : JSON.parse(json);
  }

  showNotes(notes) {
    this.part("notes").replaceChildren();
    for (const note of notes) this.addNote(note);
    this.part("notes").hidden = notes.length === 0;
  }

  addNote(text) {
    const item = element("li", "");
    item.textContent = text;
    this.part("notes").append(item);
    this.part("notes").hidden = false;
  }
}

/** The bytes of each of the model's files, fetched side by side: {key: Uint8Array}. */
async function download(entry) {
  const files = await Promise.all(
    Object.entries(entry.files).map(async ([key, file]) => {
      const url = siteURL(`browser/${entry.folder}/${file.name}`);
      const response = await fetch(url, { cache: "no-cache" }); // must match the manifest
      if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
      return [key, new Uint8Array(await response.arrayBuffer())];
    }),
  );
  return Object.fromEntries(files);
}

/** Call `start` once, when `root` comes within a screen's height of the visible part. */
function whenNearScreen(root, start) {
  const observer = new IntersectionObserver(
    (entries) => {
      if (entries.some((entry) => entry.isIntersecting)) {
        observer.disconnect();
        start();
      }
    },
    { rootMargin: "100% 0px" },
  );
  observer.observe(root);
}

bindEvery(".gpt-playground", GptPlayground);
