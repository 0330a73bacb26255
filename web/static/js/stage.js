// The stage: one tile per video (yours and each remote person's) and the reactions floating over it.
import { el, $ } from "./dom.js";

const REACTION_EMOJI = { applause: "👏", heart: "❤️", laugh: "😂", thumbs_up: "👍", question: "❓" };
export const REACTIONS = Object.keys(REACTION_EMOJI);
export const emojiFor = (kind) => REACTION_EMOJI[kind] ?? "✨";

export class Stage {
  constructor(root) {
    this.root = root;
    this.tiles = $(".tiles", root);
    this.layer = $(".reactions-layer", root);
    this.empty = $(".stage-empty", root);
    this.remote = new Map(); // participant id -> {tile, video}
  }

  setLocal(video, label) {
    const tile = el("figure", { className: "tile self" }, video, el("figcaption", { text: label }));
    this.tiles.prepend(tile);
    this.localTile = tile;
    this.update();
  }

  removeLocal() {
    this.localTile?.remove();
    this.localTile = null;
    this.update();
  }

  showRemote(participantId, stream, name) {
    let entry = this.remote.get(participantId);
    if (!entry) {
      const video = el("video", { attrs: { autoplay: true, playsinline: true, "data-testid": "remote-video" } });
      // The speakers chosen on the watch-only prejoin, where the browser lets a page choose.
      if (this.sinkId && video.setSinkId) video.setSinkId(this.sinkId).catch(() => {});
      const caption = el("figcaption", { text: name || "Guest" });
      const off = el("div", { className: "camera-off", text: "Camera off", attrs: { hidden: true } });
      const tile = el("figure", { className: "tile", dataset: { participant: participantId } }, video, off, caption);
      this.tiles.append(tile);
      entry = { tile, video, caption, off };
      this.remote.set(participantId, entry);
    }
    if (entry.video.srcObject !== stream) {
      entry.video.srcObject = stream;
      play(entry.video);
    }
    this.update();
    return entry.video;
  }

  rename(participantId, name) {
    const entry = this.remote.get(participantId);
    if (entry && name) entry.caption.textContent = name;
  }

  setCamera(participantId, on) {
    const entry = this.remote.get(participantId);
    if (entry) entry.off.hidden = on !== false;
  }

  removeRemote(participantId) {
    const entry = this.remote.get(participantId);
    if (!entry) return;
    entry.video.srcObject = null;
    entry.tile.remove();
    this.remote.delete(participantId);
    this.update();
  }

  update() {
    const count = this.remote.size + (this.localTile ? 1 : 0);
    this.tiles.dataset.count = String(Math.min(count, 6));
    // The waiting room's notice stays over the tiles until the session is live: on Janus an
    // attendee's subscription is up before go-live, with nothing relayed on it yet (a dark tile).
    const waiting = document.getElementById("waiting");
    if (this.empty) this.empty.hidden = this.remote.size > 0 && (!waiting || waiting.hidden);
  }

  float(kind, name) {
    const left = 10 + Math.random() * 75;
    const bubble = el("span", { className: "floating", text: emojiFor(kind), attrs: { title: name ?? "" } });
    bubble.style.left = `${left}%`;
    bubble.addEventListener("animationend", () => bubble.remove());
    this.layer.append(bubble);
    // Without animations (prefers-reduced-motion) animationend never fires.
    setTimeout(() => bubble.remove(), 4000);
  }
}

// Autoplay with sound needs a user gesture (the join click gives one); if refused, play muted.
export function play(video) {
  const attempt = video.play();
  if (attempt?.catch) {
    attempt.catch(() => {
      video.muted = true;
      video.play().catch(() => {});
    });
  }
}
