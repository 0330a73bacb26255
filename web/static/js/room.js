// The room, for attendees (/join/{token}) and hosts (/sessions/{id}/live): the prejoin check, the
// `/live` connection with its reconnects, presence, hands, reactions, focus and the session's lifecycle.
import { io } from "/static/vendor/socket.io.esm.min.js";
import { el, $, byTestId } from "./dom.js";
import { LocalMedia } from "./media.js";
import { Stage, REACTIONS, emojiFor } from "./stage.js";
import { Chat, Questions } from "./chat.js";
import { AttendeePoll, HostPolls } from "./polls.js";
import { Mesh, Broadcast } from "./peers.js";
import { Recording } from "./recording.js";
import { ScreenShare, ScreenView } from "./screen.js";
import { Speakers } from "./speakers.js";

const config = JSON.parse(document.getElementById("room-config").textContent);
const ACK_TIMEOUT_MS = 15000;
// Refusals that another try cannot fix: say why and stop.
const FINAL_REFUSALS = new Set(["removed", "session_ended", "invalid_token", "wrong_session", "unknown_session", "bad_auth", "forbidden"]);

class Room {
  constructor() {
    this.config = config;
    this.isStaff = config.role !== "attendee";
    this.broadcasts = config.session.kind !== "one_on_one";
    // Webinar attendees watch; everyone else sends camera and microphone.
    this.sendsMedia = this.isStaff || !this.broadcasts;
    this.me = null;
    this.participants = new Map();
    this.hands = new Set();
    this.attention = new Map();
    this.publishers = new Set();
    this.status = config.session.status;
    this.local = new LocalMedia({
      video: byTestId("local-video"),
      cameraSelect: document.getElementById("camera-select"),
      micSelect: document.getElementById("mic-select"),
      meter: document.getElementById("mic-meter"),
      note: document.getElementById("prejoin-note"),
    });
    this.stage = new Stage(document.getElementById("stage"));
    this.connection = document.getElementById("connection");
    this.notice = document.getElementById("notice");
  }

  // --- prejoin ---------------------------------------------------------------------------
  async prejoin() {
    // Only those who send media are asked for a camera and microphone; a webinar's audience checks
    // its speakers instead (and is asked for devices only if made a speaker: `becomeSpeaker`).
    if (this.sendsMedia) await this.local.start();
    else this.checkSpeakers();
    const join = byTestId("join");
    join.disabled = false;
    join.addEventListener("click", () => this.enter(), { once: true });
  }

  // The watch-only prejoin: a test tone, and a choice of speakers where the browser offers one.
  async checkSpeakers() {
    const button = document.getElementById("test-sound");
    const note = document.getElementById("test-sound-note");
    button?.addEventListener("click", () => {
      const audio = new AudioContext();
      if (this.stage.sinkId && audio.setSinkId) audio.setSinkId(this.stage.sinkId).catch(() => {});
      const tone = audio.createOscillator();
      tone.frequency.value = 440;
      tone.connect(audio.destination);
      tone.start();
      tone.stop(audio.currentTime + 0.8);
      tone.onended = () => audio.close();
      note.textContent = "Playing a short tone. If you heard it, your sound works.";
    });
    const select = document.getElementById("speaker-select");
    if (!select || !HTMLMediaElement.prototype.setSinkId || !navigator.mediaDevices?.enumerateDevices) return;
    const outputs = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === "audiooutput" && d.deviceId);
    if (outputs.length < 2) return;
    select.replaceChildren(...outputs.map((d, i) => el("option", { text: d.label || `Speakers ${i + 1}`, attrs: { value: d.deviceId } })));
    select.hidden = select.labels[0].hidden = false;
    select.addEventListener("change", () => { this.stage.sinkId = select.value; });
  }

  enter() {
    const cameraOff = Boolean(document.getElementById("join-camera-off")?.checked);
    const micOff = Boolean(document.getElementById("join-mic-off")?.checked);
    document.getElementById("prejoin").hidden = true;
    document.getElementById("room").hidden = false;
    this.local.stopMeter();
    if (this.sendsMedia && this.local.stream) {
      this.local.setCamera(!cameraOff);
      this.local.setMic(!micOff);
      this.stage.setLocal(this.local.video, "You");
    } else {
      this.local.stop();
      this.local.camera = this.local.mic = false;
    }
    this.setupControls();
    this.setupTabs();
    this.connect();
    document.getElementById("room-title").focus();
  }

  // --- the connection --------------------------------------------------------------------
  connect() {
    const auth = { session: config.session.id };
    if (config.token) auth.token = config.token;
    // `query.session` lets a load balancer keep every connection of one live session on one process
    // (the auth payload travels inside the connection, where a proxy cannot see it).
    this.socket = io("/live", { auth, query: { session: auth.session }, transports: ["websocket", "polling"] });
    this.chat = new Chat(this);
    // A one-on-one is a conversation: no polls and no "ask the host".
    if (this.broadcasts) {
      this.questions = new Questions(this);
      this.polls = this.isStaff ? new HostPolls(this) : new AttendeePoll(this);
    }
    const media = { local: this.local, stage: this.stage, send: (e, p) => this.send(e, p), iceServers: config.ice_servers, nameOf: (id) => this.nameOf(id) };
    this.screenView = new ScreenView(document.getElementById("stage"));
    if (this.broadcasts) {
      this.broadcast = new Broadcast({ ...media, onError: (text) => this.say(text), onScreen: (stream, track) => this.screenView.show(stream, track) });
    }
    this.screenShare = new ScreenShare(this);
    this.recording = new Recording(this);
    if (this.broadcasts) this.speakers = new Speakers(this);

    const socket = this.socket;
    socket.on("connect", () => this.setConnection("Connected", "ok"));
    socket.on("disconnect", (reason) => {
      if (reason === "io client disconnect") return;
      this.setConnection(reason === "io server disconnect" ? "Disconnected" : "Reconnecting…", "warn");
      if (reason === "io server disconnect" && !this.final) setTimeout(() => socket.connect(), 2000);
    });
    socket.io.on("reconnect_attempt", () => this.setConnection("Reconnecting…", "warn"));
    socket.on("connect_error", (error) => {
      const code = error.data?.code ?? error.code;
      if (socket.active) {
        this.setConnection("Reconnecting…", "warn");
        return;
      }
      if (FINAL_REFUSALS.has(code)) {
        this.finish(error.message || "You cannot join this session.");
      } else {
        this.setConnection(`Could not join: ${error.message}. Retrying…`, "warn");
        setTimeout(() => socket.connect(), 3000);
      }
    });
    socket.on("room.state", (state) => this.welcome(state));
    socket.on("presence.joined", (p) => this.joined(p));
    socket.on("presence.left", (p) => this.left(p));
    socket.on("hand.raised", ({ participant_id: id }) => this.setHand(id, true));
    socket.on("hand.lowered", ({ participant_id: id }) => this.setHand(id, false));
    socket.on("media.state", (m) => this.mediaState(m));
    socket.on("reaction", ({ participant_id: id, kind }) => this.stage.float(kind, this.nameOf(id)));
    socket.on("session.started", () => this.setStatus("live"));
    socket.on("session.ended", () => this.ended());
    socket.on("moderation.removed", ({ participant_id: id }) => {
      if (id === this.me) this.finish("The host removed you from this session.");
      else this.left({ participant_id: id });
    });
    socket.on("moderation.muted", ({ participant_id: id }) => {
      if (id !== this.me) return;
      this.toggleMic(false);
      this.say("The host muted your microphone. You can unmute when you need to speak.");
    });
    socket.on("rtc.signal", (message) => this.mesh?.receive(message));
    socket.on("poll.opened", () => {
      const tab = document.getElementById("tab-polls");
      if (tab && document.body.dataset.tab !== "polls") tab.dataset.new = "true";
    });
    socket.on("media.unavailable", ({ message }) => {
      this.publishers.clear();
      this.say(message);
      if (this.isStaff) this.republishWhenBack();
    });
    socket.on("media.available", ({ participant_id: id }) => {
      if (id === this.me) return;
      this.publishers.add(id);
      this.subscribe();
    });
    // Attention as the room reports it, if it does (hosts see who has the page in view).
    for (const name of ["focus", "participant.focus", "attention"]) {
      socket.on(name, ({ participant_id: id, visible }) => {
        this.attention.set(id, visible);
        this.renderParticipants();
      });
    }
    document.addEventListener("visibilitychange", () => this.reportFocus());
    window.addEventListener("pagehide", () => socket.disconnect());
  }

  async send(event, payload = {}) {
    try {
      return await this.socket.timeout(ACK_TIMEOUT_MS).emitWithAck(event, payload);
    } catch {
      return { ok: false, error: { code: "timeout", message: "No answer from the server; check your connection." } };
    }
  }

  complain(ack) {
    if (ack && !ack.ok) this.say(ack.error?.message ?? "That did not work.");
    return ack;
  }

  say(text) {
    this.notice.textContent = text;
    this.notice.hidden = !text;
    clearTimeout(this.noticeTimer);
    if (text) this.noticeTimer = setTimeout(() => { this.notice.hidden = true; }, 8000);
  }

  setConnection(text, tone) {
    this.connection.textContent = text;
    this.connection.dataset.tone = tone;
  }

  reportFocus() {
    if (this.socket?.connected) this.send("focus", { visible: document.visibilityState === "visible" });
  }

  reportMedia() {
    this.send("media.state", { camera: Boolean(this.local.stream && this.local.camera), mic: Boolean(this.local.stream && this.local.mic) });
  }

  // --- room state ------------------------------------------------------------------------
  welcome(state) {
    this.me = state.you.participant_id;
    this.participants = new Map(state.participants.map((p) => [p.participant_id, p]));
    this.hands = new Set(state.hands ?? state.participants.filter((p) => p.hand_raised).map((p) => p.participant_id));
    for (const p of state.participants) if (p.visible !== undefined) this.attention.set(p.participant_id, p.visible);
    this.publishers = new Set(state.publishers ?? []);
    if (this.broadcast) this.broadcast.engine = state.media ?? "embedded";
    this.setStatus(state.session.status);
    this.chat.load(state.chat);
    this.questions?.load(state.questions);
    this.polls?.load(state.poll);
    this.recording?.load(state.recording);
    this.speakers?.load(state);
    this.renderParticipants();
    this.reportFocus();
    this.reportMedia();
    if (state.ice_servers?.length) this.config.ice_servers = state.ice_servers;
    this.startMedia();
    if (state.session.status === "ended") this.ended();
  }

  // The media server stopped (Janus origin): publish again until it answers, then viewers follow.
  async republishWhenBack() {
    if (this.republishing || !this.local.stream) return;
    this.republishing = true;
    try {
      for (let attempt = 0; attempt < 100; attempt += 1) {
        await new Promise((resolve) => setTimeout(resolve, 3000));
        const ack = await this.broadcast.publish();
        if (ack?.ok || ack?.error?.code !== "media_unavailable") return;
      }
    } finally {
      this.republishing = false;
    }
  }

  startMedia() {
    if (this.broadcasts) {
      if (this.isStaff && this.local.stream && !this.broadcast.publishing()) {
        this.broadcast.publish().catch((error) => this.say(`Could not send your video: ${error.message}`));
      }
      this.subscribe();
    } else {
      if (!this.mesh) {
        this.mesh = new Mesh({
          me: this.me,
          local: this.local,
          stage: this.stage,
          send: (e, p) => this.send(e, p),
          iceServers: this.config.ice_servers,
          nameOf: (id) => this.nameOf(id),
          onScreen: (id, stream, track) => this.screenView.show(stream, track, id),
          onScreenGone: (id) => this.screenView.hideFor(id),
        });
        this.mesh.setScreen(this.screenShare.stream);
      }
      this.mesh.sync([...this.participants.keys()]);
    }
  }

  // Everyone but the publishers themselves receives every published picture.
  subscribe() {
    if (!this.broadcast) return;
    const staff = [...this.participants.values()].filter((p) => p.role !== "attendee" && p.participant_id !== this.me);
    const expected = new Set([...this.publishers, ...staff.map((p) => p.participant_id)]);
    expected.delete(this.me);
    if (this.isStaff && expected.size === 0) return;
    this.broadcast.subscribe(expected.size).catch((error) => this.say(`Could not receive video: ${error.message}`));
  }

  nameOf(id) {
    return this.participants.get(id)?.name ?? this.speakers?.names.get(id) ?? "";
  }

  joined(person) {
    const known = this.participants.get(person.participant_id);
    this.participants.set(person.participant_id, { ...known, ...person });
    this.stage.rename(person.participant_id, person.name);
    this.renderParticipants();
    // No link to a newcomer from here: the newcomer offers once its room.state arrives. Offering now
    // could reach it before its connection has joined the session's rooms, and be lost.
  }

  left(person) {
    this.participants.delete(person.participant_id);
    this.hands.delete(person.participant_id);
    this.publishers?.delete(person.participant_id);
    this.renderParticipants();
    if (this.mesh) this.mesh.drop(person.participant_id);
    else this.stage.removeRemote(person.participant_id);
  }

  setHand(id, raised) {
    if (raised) this.hands.add(id);
    else this.hands.delete(id);
    const button = byTestId("raise-hand");
    if (id === this.me && button) {
      button.setAttribute("aria-pressed", String(raised));
      button.querySelector(".label").textContent = raised ? "Lower hand" : "Raise hand";
    }
    this.renderParticipants();
  }

  mediaState({ participant_id: id, camera, mic }) {
    const person = this.participants.get(id);
    if (person) Object.assign(person, { camera, mic });
    this.stage.setCamera(id, camera);
    this.renderParticipants();
  }

  setStatus(status) {
    this.status = status;
    const badge = document.getElementById("session-status");
    badge.textContent = { scheduled: "Waiting to start", live: "Live", ended: "Ended" }[status] ?? status;
    badge.dataset.status = status;
    const goLive = byTestId("go-live");
    const end = byTestId("end-session");
    if (goLive) goLive.hidden = status !== "scheduled";
    if (end) end.hidden = status !== "live";
    const waiting = document.getElementById("waiting");
    if (waiting) waiting.hidden = status !== "scheduled";
  }

  // Heard twice for a host who ended it (the ack and `session.ended`), and again on a reconnect:
  // shown once. Staff get one banner, with the report link; there used to be a notice as well.
  ended() {
    if (this.endShown) return;
    this.endShown = true;
    this.setStatus("ended");
    if (this.isStaff) {
      document.getElementById("end-dialog")?.close();
      document.getElementById("after-end").hidden = false;
      return;
    }
    this.finish("The session has ended. Thank you for joining!");
  }

  // Leaves for good: no more reconnects, media stopped, the reason on screen.
  finish(message) {
    this.final = true;
    this.socket?.disconnect();
    this.mesh?.close();
    this.broadcast?.close();
    this.screenShare?.stream?.getTracks().forEach((track) => track.stop());
    this.local.stop();
    this.setConnection("Disconnected", "off");
    const over = document.getElementById("over");
    over.querySelector("p").textContent = message;
    over.hidden = false;
    document.getElementById("room").hidden = true;
    document.getElementById("prejoin").hidden = true;
  }

  // --- participants ----------------------------------------------------------------------
  renderParticipants() {
    const list = byTestId("participants");
    const people = [...this.participants.values()].sort(
      (a, b) => Number(a.role === "attendee") - Number(b.role === "attendee") || Number(this.hands.has(b.participant_id)) - Number(this.hands.has(a.participant_id)) || a.name.localeCompare(b.name),
    );
    list.replaceChildren(...people.map((p) => this.participantItem(p)));
    const attendees = people.filter((p) => p.role === "attendee").length;
    document.getElementById("people-count").textContent = `(${people.length})`;
    const count = document.getElementById("attendance-count");
    if (count) count.textContent = String(attendees);
  }

  participantItem(p) {
    const id = p.participant_id;
    const hand = this.hands.has(id);
    const item = el("li", { className: "person", dataset: { participant: id } });
    item.append(el("span", { className: "person-name", text: id === this.me ? `${p.name} (you)` : p.name }));
    if (p.role !== "attendee") item.append(el("span", { className: "tag", text: p.role.replace("_", "-") }));
    if (hand) item.append(el("span", { className: "tag hand", text: "hand raised" }));
    const icons = [];
    // In a webinar only the hosts send media; an attendee's camera and mic say nothing.
    if (p.role !== "attendee" || !this.broadcasts) {
      if (p.camera === false) icons.push("camera off");
      if (p.mic === false) icons.push("muted");
    }
    if (this.isStaff && this.attention.has(id)) icons.push(this.attention.get(id) ? "watching" : "away");
    if (icons.length) item.append(el("span", { className: "muted small", text: icons.join(" · ") }));
    const speaking = this.speakers?.speaking.has(id);
    const invited = this.speakers?.invited.has(id);
    if (speaking) item.append(el("span", { className: "tag speaking", text: "speaking" }));
    else if (invited) item.append(el("span", { className: "tag", text: "invited to speak" }));
    if (this.isStaff && id !== this.me && p.role === "attendee") {
      const actions = el("span", { className: "person-actions" });
      // Speakers from the audience (webinars): invite, or withdraw the invitation / end the turn.
      if (this.speakers?.enabled && invited) {
        const text = speaking ? "Stop speaker" : "Withdraw";
        actions.append(this.action(text, `${speaking ? "Stop" : "Withdraw the invitation of"} ${p.name} speaking`, () => this.send("speaker.revoke", { participant_id: id }), "speaker-revoke"));
      } else if (this.speakers?.enabled) {
        actions.append(this.action("Invite to speak", `Invite ${p.name} to speak`, () => this.send("speaker.invite", { participant_id: id }), "speaker-invite"));
      }
      if (hand) actions.append(this.action("Lower hand", `Lower ${p.name}'s hand`, () => this.send("hand.lower", { participant_id: id })));
      // Only a microphone that is on can be muted (the server refuses the rest).
      if (p.mic === true) actions.append(this.action("Mute", `Mute ${p.name}`, () => this.send("moderation.mute", { participant_id: id })));
      actions.append(this.action("Remove", `Remove ${p.name} from the session`, () => {
        if (window.confirm(`Remove ${p.name} from this session?`)) return this.send("moderation.remove", { participant_id: id });
        return Promise.resolve({ ok: true });
      }));
      item.append(actions);
    }
    return item;
  }

  action(text, label, run, testId = null) {
    return el("button", { className: "small", text, attrs: { type: "button", "aria-label": label, "data-testid": testId }, on: { click: async () => this.complain(await run()) } });
  }

  // --- controls --------------------------------------------------------------------------
  setupMediaControls() {
    const camera = document.getElementById("toggle-camera");
    const mic = document.getElementById("toggle-mic");
    if (this.sendsMedia && this.local.stream) {
      camera.hidden = !this.local.track("video");
      mic.hidden = !this.local.track("audio");
      if (!this.mediaControls) {
        this.mediaControls = true;
        camera.addEventListener("click", () => this.toggleCamera(!this.local.camera));
        mic.addEventListener("click", () => this.toggleMic(!this.local.mic));
      }
      this.toggleCamera(this.local.camera, false);
      this.toggleMic(this.local.mic, false);
    } else {
      camera.hidden = mic.hidden = true;
    }
  }

  // The hook for speakers: an attendee of a webinar who is made a speaker accepts (`speaker.accept`),
  // starts sending camera and microphone (asked for only now, unless the speaker dialog's device check
  // already has them) and publishes them. speakers.js calls it once the person said yes.
  async becomeSpeaker() {
    if (this.sendsMedia) return;
    if (!this.local.video) {
      this.local.video = el("video", { attrs: { autoplay: true, playsinline: true, "data-testid": "local-video" } });
      this.local.video.muted = true;
    }
    if (!this.local.stream) await this.local.start();
    if (!this.local.stream) return;
    const ack = this.complain(await this.send("speaker.accept", {}));
    if (!ack.ok) {
      this.local.stop();
      return;
    }
    this.sendsMedia = true;
    this.local.camera = this.local.mic = true;
    this.local.stopMeter();
    this.stage.setLocal(this.local.video, "You");
    this.setupMediaControls();
    this.reportMedia();
    this.speakers?.showSpeaking(true);
    if (this.screenShare?.button) this.screenShare.button.hidden = false;
    await this.broadcast?.publish();
  }

  // Back to watching (revoked, declined, or the speaker left the stage): nothing is sent any more.
  stopSpeaking() {
    this.speakers?.showSpeaking(false);
    if (this.screenShare?.button) this.screenShare.button.hidden = true;
    this.screenShare?.drop();
    if (!this.sendsMedia || this.isStaff) return;
    this.sendsMedia = false;
    this.broadcast?.unpublish();
    this.local.stop();
    this.local.camera = this.local.mic = false;
    this.stage.removeLocal();
    this.setupMediaControls();
    this.reportMedia();
  }

  // Phones: Video / Chat / Q&A / Polls tabs under the video (the CSS shows one panel at a time).
  setupTabs() {
    const tabs = [...document.querySelectorAll(".room-tabs [role=tab]")];
    const select = (name) => {
      document.body.dataset.tab = name;
      for (const tab of tabs) {
        tab.setAttribute("aria-selected", String(tab.dataset.tab === name));
        if (tab.dataset.tab === name) delete tab.dataset.new;
      }
    };
    for (const tab of tabs) tab.addEventListener("click", () => select(tab.dataset.tab));
    if (tabs.length) select("video");
  }

  setupControls() {
    this.setupMediaControls();
    byTestId("raise-hand")?.addEventListener("click", async () => {
      const raised = this.hands.has(this.me);
      const ack = this.complain(await this.send(raised ? "hand.lower" : "hand.raise", {}));
      if (ack.ok) this.setHand(this.me, !raised);
    });
    const reactions = document.getElementById("reactions");
    for (const kind of REACTIONS) {
      reactions.append(
        el("button", {
          className: "reaction",
          text: emojiFor(kind),
          attrs: { type: "button", "data-testid": `reaction-${kind}`, "aria-label": `React: ${kind.replace("_", " ")}`, title: kind.replace("_", " ") },
          on: { click: async () => this.complain(await this.send("reaction.send", { kind })) },
        }),
      );
    }
    const goLive = byTestId("go-live");
    goLive?.addEventListener("click", async () => {
      goLive.disabled = true;
      let ack = await this.send("session.start", {});
      // Far ahead of the schedule the server asks first; the host confirms and we resend with force.
      if (ack?.error?.code === "early" && window.confirm(`${ack.error.message}\n\nGo live now anyway?`)) {
        ack = await this.send("session.start", { force: true });
      } else if (ack?.error?.code === "early") {
        ack = { ok: false, error: { message: "Not live: the session was not started early." } };
      }
      this.complain(ack);
      goLive.disabled = false;
      if (ack.ok) this.setStatus("live");
    });
    const end = byTestId("end-session");
    const dialog = document.getElementById("end-dialog");
    // Ending cannot be undone and ends it for everyone: a dialog in the page asks first.
    end?.addEventListener("click", () => {
      dialog.returnValue = "";
      dialog.showModal();
    });
    dialog?.addEventListener("close", async () => {
      if (dialog.returnValue !== "end") return;
      end.disabled = true;
      const ack = this.complain(await this.send("session.end", {}));
      end.disabled = false;
      if (ack.ok) this.ended();
    });
    document.getElementById("leave")?.addEventListener("click", () => this.finish("You left the session. You can rejoin with the same link while it runs."));
  }

  toggleCamera(on, report = true) {
    this.local.setCamera(on);
    const button = document.getElementById("toggle-camera");
    button.classList.toggle("off", !on);
    button.querySelector(".label").textContent = on ? "Stop camera" : "Start camera";
    if (report) this.reportMedia();
  }

  toggleMic(on, report = true) {
    this.local.setMic(on);
    const button = document.getElementById("toggle-mic");
    button.classList.toggle("off", !on);
    button.querySelector(".label").textContent = on ? "Mute" : "Unmute";
    if (report) this.reportMedia();
  }
}

const room = new Room();
window.liveRoom = room; // for debugging from the console
room.prejoin();
