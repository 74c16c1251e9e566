// What the course's widgets share (nonsense-texter.js, gpt-playground.js, digit-recognizer.js,
// word-navigator.js, eliza.js): a base class, the binding on every page, and small helpers.

import { loadRuntime } from "./pyodide-runtime.js";

const VISIBLE = { " ": "␣", "\n": "↵", "\t": "⇥" };

/** `use(proxy)`, then free the Python object behind the proxy (Pyodide cannot know when). */
export function take(proxy, use) {
  try {
    return use(proxy);
  } finally {
    proxy.destroy();
  }
}

/** Spaces, line breaks and tabs as visible signs (␣ ↵ ⇥). */
export function visible(text) {
  return text.replace(/[ \n\t]/g, (char) => VISIBLE[char]);
}

/** A new element `tag` with the class `className`. */
export function element(tag, className) {
  const node = document.createElement(tag);
  node.className = className;
  return node;
}

/** `template` with each {name} replaced by `values[name]`; numbers through `number.format`. */
export function fillIn(template, values, number) {
  return template.replace(/\{(\w+)\}/g, (_, key) =>
    typeof values[key] === "number" ? number.format(values[key]) : String(values[key]),
  );
}

/** Let the browser draw the page once (a hidden tab draws nothing, so also a timeout). */
export function paint() {
  return new Promise((resolve) => {
    requestAnimationFrame(() => setTimeout(resolve, 0));
    setTimeout(resolve, 100);
  });
}

/** Call `bind` for the page now and, on Material's instant navigation, for every new page. */
export function onEveryPage(bind) {
  if (typeof window.document$?.subscribe === "function") {
    window.document$.subscribe(bind);
  } else if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", bind);
  } else {
    bind();
  }
}

/** What every widget has: its root element, its page's language and messages, its parts. */
export class Widget {
  constructor(root) {
    this.root = root;
    this.lang = root.lang || document.documentElement.lang || "en";
    this.messages = JSON.parse(root.dataset.messages);
    this.part = (name) => root.querySelector(`[data-part="${name}"]`);
  }

  /** `template` filled in with `values`; subclasses set `this.number`, their number format. */
  fill(template, values) {
    return fillIn(template, values, this.number);
  }

  setStatus(text, isError = false) {
    const status = this.part("status");
    status.textContent = text;
    status.classList.toggle("is-error", isError);
  }

  setState(state) {
    this.root.dataset.state = state;
  }

  /** Start Python; then `this.ready(pyodide)`, or the "failed" state and its message. */
  startPython() {
    loadRuntime().then(
      ({ pyodide }) => this.ready(pyodide),
      (error) => {
        console.error(error);
        this.setState("failed");
        this.setStatus(this.messages.load_failed, true);
      },
    );
  }
}

/** On every page, make a `WidgetClass` of each element matching `selector` not yet bound. */
export function bindEvery(selector, WidgetClass) {
  onEveryPage(() => {
    for (const root of document.querySelectorAll(`${selector}:not([data-bound])`)) {
      root.dataset.bound = "";
      new WidgetClass(root);
    }
  });
}
