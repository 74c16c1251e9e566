// ELIZA in the browser: the rule-based chatbot of 1966, run by `lessons.eliza` in Pyodide.
//
// `lessons.widgets.eliza_chat()` writes the HTML (the conversation, a field, two buttons, the
// messages in `data-messages`); this script wires every `.eliza-chat` on the page. Python gets
// only strings, and everything shown goes in through `textContent`, so no message can become
// markup. Under each reply the script shows which rule gave it (`Eliza.trace`).
//
// For tests the widget records on itself: `data-state` (loading, ready, failed) and
// `data-replies` (replies shown so far, the greeting included).

import { bindEvery, element, take, Widget } from "./widget-helpers.js";

class ElizaChat extends Widget {
  constructor(root) {
    super(root);
    this.seed = Number(root.dataset.seed);
    this.input = this.part("input");
    this.buttons = [this.part("send"), this.part("restart")];
    this.eliza = null; // the conversation (a PyProxy of lessons.eliza.Eliza)
    this.setState("loading");
    root.dataset.replies = "0";

    this.part("form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
    this.part("restart").addEventListener("click", () => this.restart());
    this.startPython();
  }

  ready(pyodide) {
    this.module = pyodide.pyimport("lessons.eliza");
    this.PythonError = pyodide.ffi.PythonError;
    for (const button of this.buttons) button.disabled = false;
    this.restart();
    this.setState("ready");
  }

  /** A new conversation with the same seed: the same messages get the same replies. */
  restart() {
    this.eliza?.destroy();
    this.eliza = this.module.Eliza(this.lang, this.seed);
    this.part("log").replaceChildren();
    this.root.dataset.replies = "0";
    this.show("eliza", this.eliza.greeting(), "");
    this.setStatus(this.messages.ready);
  }

  send() {
    if (!this.eliza) return;
    const text = this.input.value;
    if (!text.trim()) {
      this.setStatus(this.messages.empty, true);
      this.input.focus();
      return;
    }
    let reply;
    try {
      reply = this.eliza.reply(text);
    } catch (error) {
      const message = this.explain(error);
      if (message === null) console.error(error);
      this.setStatus(message ?? this.messages.failed, true);
      return;
    }
    this.show("you", text, "");
    this.show("eliza", reply, take(this.eliza.trace, (trace) => this.describe(trace)));
    this.input.value = "";
    this.input.focus();
    this.setStatus(this.messages.ready);
  }

  /** Which rule gave the reply, in the page's language. */
  describe(trace) {
    if (trace.source !== "keyword") return this.messages[trace.source];
    const { keyword, rank, pattern } = trace;
    return this.fill(this.messages.keyword, { keyword, rank: String(rank), pattern });
  }

  /** The message of an ElizaError (already in ELIZA's language), or null for other errors. */
  explain(error) {
    if (!(error instanceof this.PythonError) || error.type !== "ElizaError") return null;
    const lastLine = error.message.trim().split("\n").at(-1);
    return lastLine.replace(/^[\w.]*ElizaError: /, "");
  }

  show(who, text, note) {
    const item = element("li", `el-message el-${who}`);
    const name = element("span", "el-who");
    name.textContent = this.messages[who];
    const body = element("span", "el-text");
    body.textContent = text;
    item.append(name, body);
    if (note) {
      const rule = element("span", "el-rule");
      rule.textContent = note;
      item.append(rule);
    }
    const log = this.part("log");
    log.append(item);
    log.scrollTop = log.scrollHeight;
    if (who === "eliza") this.root.dataset.replies = String(Number(this.root.dataset.replies) + 1);
  }
}

bindEvery(".eliza-chat", ElizaChat);
