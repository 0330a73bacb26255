// The recording badge everyone sees, and the host's Record / Stop recording button.
import { byTestId } from "./dom.js";

export class Recording {
  constructor(room) {
    this.room = room;
    this.badge = byTestId("recording-badge");
    this.button = byTestId("record");
    this.current = null;
    room.socket.on("recording.started", ({ id, at }) => this.show({ id, since: at }));
    room.socket.on("recording.stopped", () => this.show(null));
    this.button?.addEventListener("click", () => this.toggle());
  }

  // `room.state.recording`: `{id, since}` or null.
  load(recording) {
    this.show(recording ?? null);
  }

  show(recording) {
    this.current = recording;
    if (this.badge) this.badge.hidden = !recording;
    if (this.button) {
      this.button.textContent = recording ? "Stop recording" : "Record";
      this.button.setAttribute("aria-pressed", String(Boolean(recording)));
    }
  }

  async toggle() {
    // Decided before sending: `recording.started`/`stopped` may arrive before the ack does.
    const starting = !this.current;
    this.button.disabled = true;
    const ack = this.room.complain(await this.room.send(starting ? "recording.start" : "recording.stop", {}));
    this.button.disabled = false;
    if (!ack?.ok) return;
    this.show(starting ? { id: ack.id, since: this.current?.since ?? new Date().toISOString() } : null);
  }
}
