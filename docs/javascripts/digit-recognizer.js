// The digit recognizer: the reader draws a digit, the network of lesson 4 names it, live.
//
// `lessons.widgets.digit_recognizer()` writes the HTML (pad, grids, labels, messages in
// `data-messages`); this script wires every `.digit-recognizer` on the page. It only collects
// the strokes (mouse, touch, pen or keyboard) and draws them; `lessons.digit_pad` in Pyodide
// turns them into the 8x8 pixels and runs the trained network (`lessons.pure_mlp`), whose
// weights come from `browser/manifest.json` and are checked against their SHA-256 by Python.
// Everything shown goes in through `textContent` or a number, so nothing becomes markup.
//
// For tests and benchmarks the widget records on itself: `data-state` (loading, ready,
// failed), `data-ready-ms` (performance.now() when the network was ready), `data-runs`
// (answers shown), `data-digit` (the network's answer, empty for an empty pad) and
// `data-predict-ms` (from the end of a stroke to its probabilities on screen).

import { loadManifest, loadRuntime, siteURL } from "./pyodide-runtime.js";
import { bindEvery, paint, Widget } from "./widget-helpers.js";

const PEN_WIDTH = 0.08; // of the pad's width: how thick the strokes look on the pad
const MIN_STEP = 0.012; // of the pad's width: a pointer moving less adds no point
const KEY_STEP = 1 / 16; // of the pad's width: how far an arrow key moves the pen
const KEYS = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };

class DigitRecognizer extends Widget {
  constructor(root) {
    super(root);
    this.pad = this.part("pad");
    this.percent = new Intl.NumberFormat(this.lang, { style: "percent", maximumFractionDigits: 1 });
    this.number = new Intl.NumberFormat(this.lang, { maximumFractionDigits: 2 });
    this.strokes = []; // each a list of [x, y], 0 to 1 across the pad
    this.drawing = false; // a pointer is drawing a stroke
    this.cursor = [0.5, 0.5]; // the keyboard's pen
    this.penDown = false;
    this.live = false; // an answer during a stroke is already scheduled
    this.recognizer = null; // lessons.digit_pad.Recognizer (a PyProxy), once loaded
    this.setState("loading");
    root.dataset.runs = "0";
    root.dataset.digit = "";

    this.pad.addEventListener("pointerdown", (event) => this.strokeStart(event));
    this.pad.addEventListener("pointermove", (event) => this.strokeMove(event));
    this.pad.addEventListener("pointerup", (event) => this.strokeEnd(event));
    this.pad.addEventListener("pointercancel", (event) => this.strokeEnd(event));
    this.pad.addEventListener("keydown", (event) => this.key(event));
    this.pad.addEventListener("focus", () => this.redraw());
    this.pad.addEventListener("blur", () => this.redraw());
    this.part("clear").addEventListener("click", () => this.clear());
    new ResizeObserver(() => this.redraw()).observe(this.pad);
    this.load();
  }

  async load() {
    try {
      const runtime = loadRuntime(); // Python starts while the network downloads
      const entry = (await loadManifest()).digit_network;
      const response = await fetch(siteURL(`browser/${entry.file}`), { cache: "no-cache" });
      if (!response.ok) throw new Error(`${response.url}: HTTP ${response.status}`);
      const text = await response.text();
      const { pyodide } = await runtime;
      const digitPad = pyodide.pyimport("lessons.digit_pad");
      this.recognizer = digitPad.Recognizer.from_json(text, entry.sha256);
      this.root.dataset.readyMs = performance.now().toFixed(0);
      this.setState("ready");
      this.recognize(); // a drawing made while Python was loading
    } catch (error) {
      console.error(error);
      this.setState("failed");
      this.setStatus(this.messages.load_failed, true);
    }
  }

  // --- collecting strokes ---------------------------------------------------------------

  strokeStart(event) {
    if (event.button !== 0) return;
    event.preventDefault();
    this.pad.setPointerCapture(event.pointerId);
    this.drawing = true;
    this.strokes.push([this.position(event)]);
    this.redraw();
    this.recognizeSoon();
  }

  strokeMove(event) {
    if (!this.drawing) return;
    const stroke = this.strokes.at(-1);
    const point = this.position(event);
    const last = stroke.at(-1);
    if (Math.hypot(point[0] - last[0], point[1] - last[1]) < MIN_STEP) return;
    stroke.push(point);
    this.redraw();
    this.recognizeSoon();
  }

  strokeEnd(event) {
    if (!this.drawing) return;
    this.drawing = false;
    if (event.type === "pointerup") this.strokes.at(-1).push(this.position(event));
    this.redraw();
    this.recognize(performance.now());
  }

  key(event) {
    if (event.key in KEYS) {
      const [dx, dy] = KEYS[event.key];
      this.cursor = this.cursor.map((value, i) => clamp(value + [dx, dy][i] * KEY_STEP));
      if (this.penDown) this.strokes.at(-1).push([...this.cursor]);
    } else if (event.key === " " || event.key === "Enter") {
      this.penDown = !this.penDown;
      if (this.penDown) this.strokes.push([[...this.cursor]]);
      this.part("pen").textContent = this.messages[this.penDown ? "pen_down" : "pen_up"];
    } else if (event.key === "Escape" && this.penDown) {
      this.penDown = false;
      this.part("pen").textContent = this.messages.pen_up;
    } else if (event.key === "Delete" || event.key === "Backspace") {
      this.clear();
    } else {
      return;
    }
    event.preventDefault(); // arrows and space would scroll the page
    this.redraw();
    if (this.penDown || event.key === " " || event.key === "Enter") {
      this.recognize(performance.now());
    }
  }

  clear() {
    this.strokes = [];
    this.penDown = false;
    this.part("pen").textContent = "";
    this.redraw();
    this.recognize();
  }

  /** Where a pointer event is, from 0 to 1 across and down the pad. */
  position(event) {
    const box = this.pad.getBoundingClientRect();
    const x = (event.clientX - box.left) / box.width;
    const y = (event.clientY - box.top) / box.height;
    return [clamp(x), clamp(y)];
  }

  // --- asking Python --------------------------------------------------------------------

  /** An answer while the pen still moves: at most one per frame. */
  recognizeSoon() {
    if (this.live) return;
    this.live = true;
    requestAnimationFrame(() => {
      this.live = false;
      if (this.drawing) this.recognize();
    });
  }

  /** Ask the network about the drawing and show its answer; `since`: when the stroke ended. */
  async recognize(since = null) {
    if (!this.recognizer) return;
    let answer;
    try {
      answer = JSON.parse(this.recognizer.recognize_json(JSON.stringify(this.strokes)));
    } catch (error) {
      console.error(error);
      this.setStatus(this.messages.failed, true);
      return;
    }
    this.show(answer);
    this.root.dataset.runs = String(Number(this.root.dataset.runs) + 1);
    if (since !== null) {
      await paint(); // the answer is on screen once the browser has drawn it
      this.root.dataset.predictMs = (performance.now() - since).toFixed(1);
    }
  }

  // --- showing --------------------------------------------------------------------------

  show(answer) {
    const cells = [...this.part("pixels").children];
    const side = Math.round(Math.sqrt(cells.length));
    cells.forEach((cell, index) => {
      const value = answer.empty ? 0 : answer.pixels[index];
      cell.style.setProperty("--ink", answer.empty ? "0" : String(value / answer.pixel_max));
      cell.title = answer.empty
        ? ""
        : this.fill(this.messages.pixel, {
            row: Math.floor(index / side) + 1,
            column: (index % side) + 1,
            value,
            max: answer.pixel_max,
          });
    });
    this.showHidden(answer.empty ? [] : answer.hidden);
    for (const item of this.part("choices").children) {
      const p = answer.empty ? 0 : answer.probabilities[Number(item.dataset.digit)];
      item.dataset.p = String(p);
      item.classList.toggle("is-top", !answer.empty && Number(item.dataset.digit) === answer.digit);
      item.querySelector(".dr-bar-fill").style.width = `${(100 * p).toFixed(2)}%`;
      item.querySelector(".dr-p").textContent = answer.empty ? "–" : this.percent.format(p);
    }
    this.root.dataset.digit = answer.empty ? "" : String(answer.digit);
    if (answer.empty) {
      this.setStatus(this.messages.empty);
    } else {
      const p = this.percent.format(answer.probabilities[answer.digit]);
      this.setStatus(this.fill(this.messages.answer, { digit: String(answer.digit), p }));
    }
  }

  /** A row of cells per hidden layer, each as dark as its neuron fires (the strongest darkest). */
  showHidden(layers) {
    const box = this.part("hidden");
    const rows = layers.map((activations) => {
      const row = document.createElement("div");
      row.className = "dr-layer";
      const strongest = Math.max(...activations, 1e-9);
      activations.forEach((value, index) => {
        const cell = document.createElement("span");
        cell.className = "dr-cell";
        cell.style.setProperty("--ink", String(value / strongest));
        cell.title = this.fill(this.messages.neuron, { number: index + 1, value });
        row.append(cell);
      });
      return row;
    });
    box.replaceChildren(...rows);
  }

  redraw() {
    const context = this.pad.getContext("2d");
    const { width, height } = this.pad;
    context.clearRect(0, 0, width, height);
    const style = getComputedStyle(this.pad);
    context.strokeStyle = context.fillStyle = style.color;
    context.lineWidth = PEN_WIDTH * width;
    context.lineCap = context.lineJoin = "round";
    for (const stroke of this.strokes) {
      context.beginPath();
      context.moveTo(stroke[0][0] * width, stroke[0][1] * height);
      for (const [x, y] of stroke.length > 1 ? stroke.slice(1) : stroke) {
        context.lineTo(x * width, y * height);
      }
      context.stroke();
    }
    if (document.activeElement === this.pad && !this.drawing) {
      const [x, y] = this.cursor; // the keyboard's pen: a ring, filled while it is down
      context.beginPath();
      context.arc(x * width, y * height, (PEN_WIDTH * width) / 2, 0, 2 * Math.PI);
      context.strokeStyle = style.getPropertyValue("--md-accent-fg-color") || "orange";
      context.lineWidth = 2;
      if (this.penDown) context.fill();
      context.stroke();
    }
  }
}

function clamp(value) {
  return Math.min(1, Math.max(0, value));
}

bindEvery(".digit-recognizer", DigitRecognizer);
