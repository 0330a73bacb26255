// Polls: the attendee's open poll card (click an option to vote, then live bars), and the host's
// builder, prepared polls and live results.
import { el, byTestId } from "./dom.js";

function bars(options, counts, voters, chosen = []) {
  const total = counts.reduce((sum, n) => sum + n, 0);
  return el(
    "div",
    { attrs: { "data-testid": "poll-results" }, className: "poll-results" },
    el(
      "ul",
      { className: "bars" },
      ...options.map((text, i) => {
        const n = counts[i] ?? 0;
        const share = total ? Math.round((n / total) * 100) : 0;
        const fill = el("span");
        fill.style.width = `${share}%`;
        return el(
          "li",
          { className: chosen.includes(i) ? "chosen" : "" },
          el("span", { className: "bar-label", text: text }),
          el("span", { className: "bar", attrs: { "aria-hidden": "true" } }, fill),
          el("span", { className: "bar-count", text: `${n} · ${share}%`, dataset: { count: String(n) } }),
        );
      }),
    ),
    el("p", { className: "muted small", text: `${voters ?? total} voted`, attrs: { "aria-live": "polite" } }),
  );
}

// Whatever shape the open poll arrives in (room.state or poll.opened), as one object.
function normalize(poll) {
  if (!poll) return null;
  const options = (poll.options ?? []).map((o) => (typeof o === "string" ? o : o.text ?? String(o)));
  const counts = poll.counts ?? (poll.options ?? []).map((o) => (typeof o === "object" ? o.count ?? 0 : 0));
  return {
    id: poll.id ?? poll.poll_id,
    question: poll.question,
    options,
    multiple: Boolean(poll.multiple),
    anonymous: Boolean(poll.anonymous),
    counts,
    voters: poll.voters ?? counts.reduce((a, b) => a + b, 0),
    // Your earlier vote (room.state after a reload); an anonymous poll only says that you voted.
    mine: poll.choices ?? (poll.voted ? [] : null),
    closed: poll.status === "closed",
  };
}

export class AttendeePoll {
  constructor(room) {
    this.room = room;
    this.card = byTestId("poll");
    this.poll = null;
    room.socket.on("poll.opened", (poll) => this.show(poll));
    room.socket.on("poll.results", (r) => this.results(r));
    room.socket.on("poll.closed", (r) => this.results(r, true));
  }

  load(poll) {
    if (poll) this.show(poll);
    else this.hide();
  }

  hide() {
    this.poll = null;
    this.card.hidden = true;
    this.card.replaceChildren();
  }

  show(raw) {
    const poll = normalize(raw);
    this.poll = poll;
    this.selected = new Set(poll.mine ?? []);
    this.render();
    this.card.hidden = false;
  }

  render() {
    const poll = this.poll;
    const voted = poll.mine !== null && poll.mine !== undefined;
    const heading = el("h3", { text: poll.question, attrs: { id: "poll-q" } });
    const hint = poll.closed ? "This poll is closed." : poll.multiple ? "Choose any that apply, then send." : voted ? "You voted; click another option to change your vote." : "Click an option to vote.";
    const options = el(
      "div",
      { className: "poll-options", attrs: { role: "group", "aria-labelledby": "poll-q" } },
      ...poll.options.map((text, i) =>
        el("button", {
          className: this.selected.has(i) ? "poll-option selected" : "poll-option",
          text,
          attrs: { type: "button", "data-testid": "poll-option", "aria-pressed": String(this.selected.has(i)), disabled: poll.closed },
          on: { click: () => this.choose(i) },
        }),
      ),
    );
    const parts = [el("p", { className: "eyebrow", text: "Poll" }), heading, el("p", { className: "muted small", text: hint }), options];
    if (poll.multiple && !poll.closed) {
      parts.push(el("button", { className: "primary small", text: "Send my vote", attrs: { type: "button" }, on: { click: () => this.vote([...this.selected]) } }));
    }
    this.error = el("p", { className: "alert", attrs: { role: "alert", hidden: true } });
    parts.push(this.error);
    if (voted || poll.closed) parts.push(bars(poll.options, poll.counts, poll.voters, poll.mine ?? []));
    this.card.replaceChildren(...parts);
  }

  choose(index) {
    if (this.poll.multiple) {
      if (this.selected.has(index)) this.selected.delete(index);
      else this.selected.add(index);
      this.render();
    } else {
      this.vote([index]);
    }
  }

  async vote(choices) {
    if (!choices.length) return;
    const ack = await this.room.send("poll.vote", { poll_id: this.poll.id, choices });
    if (!ack.ok) {
      this.error.textContent = ack.error?.message ?? "Your vote was not counted.";
      this.error.hidden = false;
      return;
    }
    this.poll.mine = choices;
    this.selected = new Set(choices);
    if (ack.counts) this.poll.counts = ack.counts;
    if (ack.voters !== undefined) this.poll.voters = ack.voters;
    this.render();
  }

  results({ poll_id: pollId, counts, voters }, closed = false) {
    if (!this.poll || this.poll.id !== pollId) return;
    this.poll.counts = counts ?? this.poll.counts;
    this.poll.voters = voters ?? this.poll.voters;
    if (closed) this.poll.closed = true;
    this.render();
  }
}

export class HostPolls {
  constructor(room) {
    this.room = room;
    this.form = document.getElementById("poll-builder");
    this.optionsBox = document.getElementById("poll-options");
    this.current = document.getElementById("poll-current");
    this.preparedList = document.getElementById("poll-prepared");
    this.error = this.form.querySelector("[data-form-error]");
    this.drafts = [...(room.config.drafts ?? [])];
    this.poll = null;
    document.getElementById("poll-add-option").addEventListener("click", () => this.addOption(true));
    document.getElementById("poll-save").addEventListener("click", () => this.save());
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      const draft = this.draft();
      if (draft) this.launch(draft, true);
    });
    room.socket.on("poll.opened", (poll) => this.showCurrent(poll));
    room.socket.on("poll.results", (r) => this.results(r));
    room.socket.on("poll.closed", (r) => this.results(r, true));
    this.renderPrepared();
  }

  addOption(focus = false) {
    const inputs = this.optionsBox.querySelectorAll("input");
    if (inputs.length >= 10) return;
    const n = inputs.length + 1;
    const input = el("input", { attrs: { "data-testid": "poll-option-input", id: `poll-opt-${n}`, maxlength: 200, autocomplete: "off" } });
    this.optionsBox.append(el("label", { className: "visually-hidden", text: `Option ${n}`, attrs: { for: `poll-opt-${n}` } }), input);
    input.placeholder = `Option ${n}`;
    if (focus) input.focus();
  }

  draft() {
    const question = byTestId("poll-question").value.trim();
    const options = [...this.optionsBox.querySelectorAll("input")].map((i) => i.value.trim()).filter(Boolean);
    if (!question) return this.say("Write the question first.");
    if (options.length < 2) return this.say("A poll needs at least two options.");
    this.say("");
    return {
      question,
      options,
      multiple: document.getElementById("poll-multiple").checked,
      anonymous: document.getElementById("poll-anonymous").checked,
    };
  }

  say(text) {
    this.error.textContent = text;
    this.error.hidden = !text;
    return null;
  }

  resetForm() {
    this.form.reset();
    const inputs = [...this.optionsBox.querySelectorAll("input")];
    inputs.slice(2).forEach((input) => {
      input.previousElementSibling?.remove();
      input.remove();
    });
  }

  async launch(draft, fromForm = false) {
    const ack = await this.room.send("poll.open", draft);
    if (!ack.ok) {
      this.say(ack.error?.message ?? "The poll did not open.");
      return false;
    }
    if (fromForm) this.resetForm();
    this.showCurrent({ id: ack.id, ...draft });
    return true;
  }

  // Prepared polls are drafts on the server (`POST /api/v1/sessions/{id}/polls`), launched by id.
  async save() {
    const draft = this.draft();
    if (!draft) return;
    const response = await fetch(`/api/v1/sessions/${encodeURIComponent(this.room.config.session.id)}/polls`, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": document.querySelector('meta[name="csrf-token"]').content },
      body: JSON.stringify(draft),
    });
    const data = await response.json().catch(() => null);
    if (!response.ok) {
      this.say(data?.error?.message ?? `The poll was not saved (${response.status}).`);
      return;
    }
    this.drafts.push({ id: data.id, question: data.question, options: data.options });
    this.resetForm();
    this.renderPrepared();
  }

  renderPrepared() {
    this.preparedList.replaceChildren(
      ...this.drafts.map((draft) =>
        el(
          "li",
          {},
          el("span", { text: `${draft.question} (${draft.options.length} options)` }),
          el("button", {
            className: "small primary",
            text: "Launch",
            attrs: { type: "button", "aria-label": `Launch prepared poll: ${draft.question}` },
            on: {
              click: async () => {
                const ack = await this.room.send("poll.open", { poll_id: draft.id });
                if (!ack.ok) {
                  this.say(ack.error?.message ?? "The poll did not open.");
                  return;
                }
                this.drafts = this.drafts.filter((d) => d.id !== draft.id);
                this.renderPrepared();
                this.showCurrent({ ...draft, id: ack.id ?? draft.id });
              },
            },
          }),
        ),
      ),
    );
    this.preparedList.parentElement.hidden = this.drafts.length === 0;
  }

  load(poll) {
    if (poll) this.showCurrent(poll);
  }

  showCurrent(raw) {
    const poll = normalize(raw);
    if (this.poll && this.poll.id === poll.id) {
      poll.counts = this.poll.counts.length ? this.poll.counts : poll.counts;
      poll.voters = this.poll.voters;
    }
    this.poll = poll;
    this.renderCurrent();
  }

  renderCurrent() {
    const poll = this.poll;
    if (!poll) {
      this.current.replaceChildren(el("p", { className: "muted", text: "No poll running." }));
      return;
    }
    const parts = [
      el("p", { className: "eyebrow", text: poll.closed ? "Closed poll" : "Running poll" }),
      el("h3", { text: poll.question }),
      bars(poll.options, poll.counts.length ? poll.counts : poll.options.map(() => 0), poll.voters),
    ];
    if (!poll.closed) {
      parts.push(
        el("button", {
          className: "small",
          text: "Close poll",
          attrs: { type: "button" },
          on: { click: async () => this.room.complain(await this.room.send("poll.close", { poll_id: poll.id })) },
        }),
      );
    }
    this.current.replaceChildren(...parts);
  }

  results({ poll_id: pollId, counts, voters }, closed = false) {
    if (!this.poll || this.poll.id !== pollId) return;
    this.poll.counts = counts ?? this.poll.counts;
    this.poll.voters = voters ?? this.poll.voters;
    if (closed) this.poll.closed = true;
    this.renderCurrent();
  }
}
