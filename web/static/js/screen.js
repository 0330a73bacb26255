// Screen sharing: the Share screen button, and the shared screen shown large to everyone else with the cameras
// small in a corner. In webinars the server forwards the screen as the stream `<publisher>:screen`; in
// one-on-ones either side sends it peer to peer as a second video track (peers.js, `Mesh.setScreen`).
import { el, byTestId } from "./dom.js";

// A screen is mostly still: 15 frames a second is plenty and halves what it costs to send.
const SCREEN_CONSTRAINTS = { video: { frameRate: { ideal: 15, max: 30 } }, audio: false };

export class ScreenView {
  constructor(stageRoot) {
    this.stage = stageRoot;
    this.video = el("video", { attrs: { autoplay: true, playsinline: true, muted: true, "data-testid": "remote-screen" } });
    this.view = el("div", { className: "screen-view", attrs: { hidden: true } }, this.video);
    stageRoot.prepend(this.view);
  }

  // `owner`: who shares it (one-on-ones), so their leaving takes it away.
  show(stream, track, owner = null) {
    this.owner = owner;
    this.video.srcObject = stream;
    this.video.muted = true;
    this.video.play().catch(() => {});
    this.view.hidden = false;
    this.stage.classList.add("with-screen");
    // A replaced subscription or a stopped share ends the track (or takes it out of its stream, as a
    // peer's renegotiation does): only the stream still shown goes.
    const gone = () => {
      if (this.video.srcObject === stream) this.hide();
    };
    track.addEventListener("ended", gone);
    stream.addEventListener("removetrack", ({ track: removed }) => removed === track && gone());
  }

  hideFor(owner) {
    if (this.owner === owner) this.hide();
  }

  hide() {
    this.owner = null;
    this.video.srcObject = null;
    this.view.hidden = true;
    this.stage.classList.remove("with-screen");
  }
}

export class ScreenShare {
  constructor(room) {
    this.room = room;
    this.button = byTestId("share-screen");
    this.stream = null;
    this.button?.addEventListener("click", () => (this.stream ? this.stop() : this.start()));
  }

  async start() {
    if (!navigator.mediaDevices?.getDisplayMedia) {
      this.room.say("This browser cannot share its screen.");
      return;
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getDisplayMedia(SCREEN_CONSTRAINTS);
    } catch {
      return; // the person closed the browser's picker: nothing to share, nothing to say
    }
    this.stream = stream;
    const [track] = stream.getVideoTracks();
    track.contentHint = "detail"; // text stays sharp rather than the frame rate
    // The browser's own "Stop sharing" bar ends the track.
    track.addEventListener("ended", () => this.stream === stream && this.stop());
    this.render();
    await this.republish();
  }

  async stop() {
    const stream = this.stream;
    this.stream = null;
    stream?.getTracks().forEach((track) => track.stop());
    this.render();
    await this.republish();
  }

  // Stops sharing without republishing (a speaker sent back to the audience publishes nothing at all).
  drop() {
    if (!this.stream) return;
    const stream = this.stream;
    this.stream = null;
    stream.getTracks().forEach((track) => track.stop());
    if (this.room.broadcast) this.room.broadcast.screen = null;
    this.render();
  }

  async republish() {
    if (this.room.mesh) {
      this.room.mesh.setScreen(this.stream); // a one-on-one: each peer link renegotiates by itself
      return;
    }
    const broadcast = this.room.broadcast;
    if (!broadcast) return;
    broadcast.screen = this.stream;
    await broadcast.publish().catch((error) => this.room.say(`Could not share your screen: ${error.message}`));
  }

  render() {
    if (!this.button) return;
    this.button.textContent = this.stream ? "Stop sharing" : "Share screen";
    this.button.setAttribute("aria-pressed", String(Boolean(this.stream)));
  }
}

