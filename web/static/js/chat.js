// Chat and Q&A: the message log (hosts may delete), questions with upvotes (hosts mark them answered).
import { el, byTestId, timeOf, appendScrolled } from "./dom.js";

export class Chat {
  constructor(room) {
    this.room = room;
    this.log = byTestId("chat-log");
    this.input = byTestId("chat-input");
    this.form = this.input.form;
    this.error = this.form.querySelector("[data-form-error]");
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.sendMessage();
    });
    // Enter sends, Shift+Enter makes a new line.
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.sendMessage();
      }
    });
    room.socket.on("chat.message", (message) => this.add(message));
    room.socket.on("chat.deleted", ({ id }) => this.log.querySelector(`[data-id="${CSS.escape(id)}"]`)?.remove());
  }

  load(messages) {
    this.log.replaceChildren();
    for (const message of messages ?? []) this.add(message);
  }

  add(message) {
    if (this.log.querySelector(`[data-id="${CSS.escape(message.id)}"]`)) return;
    const mine = message.participant_id === this.room.me;
    const item = el(
      "li",
      { className: mine ? "msg mine" : "msg", dataset: { id: message.id } },
      el("span", { className: "msg-name", text: mine ? `${message.name} (you)` : message.name }),
      el("time", { className: "msg-time", text: timeOf(message.at), attrs: { datetime: message.at } }),
      el("p", { className: "msg-text", text: message.text }),
    );
    if (this.room.isStaff) {
      item.append(
        el("button", {
          className: "icon small",
          text: "Delete",
          attrs: { type: "button", "aria-label": `Delete message from ${message.name}` },
          on: { click: () => this.room.send("chat.delete", { id: message.id }).then((ack) => this.room.complain(ack)) },
        }),
      );
    }
    appendScrolled(this.log, item);
  }

  async sendMessage() {
    const text = this.input.value.trim();
    if (!text) return;
    const ack = await this.room.send("chat.send", { text });
    if (ack.ok) {
      this.input.value = "";
      this.say("");
    } else {
      this.say(ack.error?.message ?? "Your message was not sent.");
    }
  }

  say(text) {
    this.error.textContent = text;
    this.error.hidden = !text;
  }
}

export class Questions {
  constructor(room) {
    this.room = room;
    this.list = document.getElementById("qa-list");
    this.count = document.getElementById("qa-count");
    this.questions = new Map();
    this.upvoted = new Set();
    this.input = byTestId("qa-input");
    if (this.input) {
      this.form = this.input.form;
      this.error = this.form.querySelector("[data-form-error]");
      this.form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const text = this.input.value.trim();
        if (!text) return;
        const ack = await room.send("qa.ask", { text });
        if (ack.ok) this.input.value = "";
        this.say(ack.ok ? "" : ack.error?.message ?? "Your question was not sent.");
      });
    }
    room.socket.on("qa.question", (q) => this.put(q));
    room.socket.on("qa.updated", (q) => this.put(q));
  }

  say(text) {
    if (!this.error) return;
    this.error.textContent = text;
    this.error.hidden = !text;
  }

  load(questions) {
    this.questions.clear();
    for (const q of questions ?? []) this.questions.set(q.id, q);
    this.render();
  }

  put(question) {
    this.questions.set(question.id, { ...this.questions.get(question.id), ...question });
    this.render();
  }

  // Open questions first, most upvoted on top; answered ones sink to the bottom.
  render() {
    const sorted = [...this.questions.values()].sort(
      (a, b) => Number(a.answered) - Number(b.answered) || b.upvotes - a.upvotes || a.at.localeCompare(b.at),
    );
    const open = sorted.filter((q) => !q.answered).length;
    if (this.count) this.count.textContent = open ? `(${open} open)` : "";
    this.list.replaceChildren(
      ...sorted.map((q) => {
        const item = el(
          "li",
          { className: q.answered ? "question answered" : "question", dataset: { id: q.id } },
          el("p", { className: "msg-text", text: q.text }),
          el("span", { className: "msg-name", text: q.name }),
          el("span", { className: "votes", text: `▲ ${q.upvotes}`, attrs: { "aria-label": `${q.upvotes} upvotes` } }),
        );
        if (q.answered) item.append(el("span", { className: "tag", text: "answered" }));
        if (this.room.isStaff && !q.answered) {
          item.append(
            el("button", {
              className: "small",
              text: "Mark answered",
              attrs: { type: "button" },
              on: { click: () => this.room.send("qa.answer", { id: q.id }).then((ack) => this.room.complain(ack)) },
            }),
          );
        } else if (!this.room.isStaff && !q.answered && q.participant_id !== this.room.me) {
          item.append(
            el("button", {
              className: "small",
              text: "Upvote",
              attrs: { type: "button", "aria-label": `Upvote: ${q.text}`, disabled: this.upvoted.has(q.id) },
              on: {
                click: async (event) => {
                  event.currentTarget.disabled = true;
                  this.upvoted.add(q.id);
                  this.room.complain(await this.room.send("qa.upvote", { id: q.id }));
                },
              },
            }),
          );
        }
        return item;
      }),
    );
    if (!sorted.length) this.list.append(el("li", { className: "muted", text: "No questions yet." }));
  }
}
