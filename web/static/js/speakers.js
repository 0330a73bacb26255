// Speakers from the audience (webinars): the host invites an attendee, whose page asks them (accept or
// decline), checks their camera and microphone, then publishes through `Room.becomeSpeaker()`; a revoke
// (or the speaker's own "Stop speaking") takes them back to watching. The host console lists who is
// invited and who speaks, with a button to invite, withdraw or stop each one (room.js `participantItem`).
import { $, el, byTestId } from "./dom.js";

export class Speakers {
  constructor(room) {
    this.room = room;
    this.invited = new Set(); // room.state.speakers: may publish until revoked
    this.speaking = new Set(); // room.state.speaking: accepted, speaking now
    this.names = new Map(); // the audience is not told who is present, so a speaker's name comes with them
    this.dialog = document.getElementById("speaker-dialog");
    this.stopButton = byTestId("stop-speaking");
    const socket = room.socket;
    socket.on("speaker.invited", (p) => this.changed(p, true));
    socket.on("speaker.accepted", (p) => {
      this.speaking.add(p.participant_id);
      this.named(p);
      this.room.renderParticipants();
    });
    socket.on("speaker.revoked", (p) => this.changed(p, false));
    socket.on("speaker.declined", ({ participant_id: id }) => {
      if (this.room.isStaff) this.room.say(`${this.room.nameOf(id) || "The attendee"} declined to speak.`);
    });
    if (this.dialog) this.setupDialog();
    this.stopButton?.addEventListener("click", () => this.decline());
  }

  load(state) {
    // Both media engines (embedded and Janus) carry speakers; a server without the speaker events
    // (room.state has no `speakers`) gets no invitation buttons in the host console.
    this.enabled = Array.isArray(state.speakers);
    this.invited = new Set(state.speakers ?? []);
    this.speaking = new Set(state.speaking ?? []);
    const me = this.room.me;
    // Invited, and not speaking from this page yet (a second tab, a reconnect before answering): ask.
    if (this.invited.has(me) && !this.room.sendsMedia) this.ask();
    // Our turn ended while the connection was down (a speaker's leaving ends it): back to watching.
    if (!this.room.isStaff && this.room.sendsMedia && !this.invited.has(me)) {
      this.room.stopSpeaking();
      this.room.say("Your connection dropped, which ended your turn to speak. The host can invite you again.");
    }
  }

  named({ participant_id: id, name }) {
    if (!name) return;
    this.names.set(id, name);
    this.room.stage.rename(id, name);
  }

  changed(payload, invited) {
    const id = payload.participant_id;
    this.named(payload);
    if (invited) this.invited.add(id);
    else {
      this.invited.delete(id);
      this.speaking.delete(id);
    }
    this.room.renderParticipants();
    if (id !== this.room.me || this.room.isStaff) return;
    if (invited && !this.room.sendsMedia) this.ask();
    if (!invited) {
      const wasSpeaking = this.room.sendsMedia;
      this.close();
      this.room.stopSpeaking();
      if (!this.declining) this.room.say(wasSpeaking ? "The host ended your turn to speak. You are watching again." : "The host withdrew the invitation to speak.");
      this.declining = false;
    }
  }

  // --- the invited attendee's dialog: ask, then check the devices, then speak ---------------------
  setupDialog() {
    byTestId("speaker-accept", this.dialog).addEventListener("click", () => this.check());
    byTestId("speaker-start", this.dialog).addEventListener("click", () => this.start());
    for (const button of this.dialog.querySelectorAll("[data-speaker-decline]")) button.addEventListener("click", () => this.decline());
    // Escape closes a modal dialog: that is a "no" too.
    this.dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      this.decline();
    });
  }

  step(name) {
    for (const part of this.dialog.querySelectorAll("[data-step]")) part.hidden = part.dataset.step !== name;
  }

  ask() {
    if (!this.dialog || this.dialog.open) return;
    this.step("ask");
    this.dialog.showModal();
  }

  // The device check: a fresh preview each time (the last one became the stage's self-view).
  async check() {
    this.step("check");
    const video = el("video", { attrs: { autoplay: true, playsinline: true, muted: true, "data-testid": "local-video", "aria-label": "Your camera preview" } });
    $("#speaker-preview", this.dialog).replaceChildren(video);
    this.room.local.attach({
      video,
      cameraSelect: $("#speaker-camera-select", this.dialog),
      micSelect: $("#speaker-mic-select", this.dialog),
      meter: $("#speaker-mic-meter", this.dialog),
      note: $("#speaker-note", this.dialog),
    });
    const start = byTestId("speaker-start", this.dialog);
    start.disabled = true;
    // A watcher's media was switched off on entering; a speaker starts with camera and microphone on.
    this.room.local.camera = this.room.local.mic = true;
    await this.room.local.start();
    start.disabled = !this.room.local.stream;
  }

  async start() {
    byTestId("speaker-start", this.dialog).disabled = true;
    this.close(false);
    await this.room.becomeSpeaker();
  }

  async decline() {
    this.declining = true;
    this.close();
    const ack = await this.room.send("speaker.decline", {});
    if (!ack.ok) this.declining = false;
    if (ack.ok && !ack.changed) this.declining = false;
  }

  // Closes the dialog; unless the devices go on to the stage, the preview's camera and microphone stop.
  close(stopDevices = true) {
    if (this.dialog?.open) this.dialog.close();
    if (stopDevices && !this.room.sendsMedia) this.room.local.stop();
  }

  showSpeaking(on) {
    if (this.stopButton) this.stopButton.hidden = !on;
  }
}
