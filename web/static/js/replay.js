// The replay page: plays the recording, lists its chapters, and reports watch progress to the server.
import { $, el } from "./dom.js";

// The server counts what was played between two reports; it asks for one at least every 15 s.
const REPORT_EVERY_MS = 5000;

const config = JSON.parse($("#replay-config").textContent);
const video = $('[data-testid="replay-video"]');
// The players that follow the main one: the shared screen, and every other speaker's own file.
const followers = [...document.querySelectorAll('[data-testid="replay-screen"], [data-testid="replay-speaker"]')];
const status = $("#replay-status");

function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

async function report() {
  const body = { position_seconds: video.currentTime || 0, playing: !video.paused && !video.ended };
  try {
    const response = await fetch(`/replay/${config.token}/progress`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      keepalive: true,
    });
    if (response.ok) {
      const figures = await response.json();
      status.textContent = `Watched ${clock(figures.replay_seconds)} of ${clock(figures.duration_seconds)}.`;
    }
  } catch {
    // Offline for a moment: the next report covers the stretch (a missed one only loses that stretch).
  }
}

// The screen and the other speakers follow the main player: same position, same play state. A speaker's
// file starts where they started speaking (the same clock), so before that it shows nothing.
function follow() {
  for (const other of followers) {
    if (Math.abs(other.currentTime - video.currentTime) > 0.3) other.currentTime = video.currentTime;
    if (video.paused !== other.paused) (video.paused ? other.pause() : other.play().catch(() => {}));
  }
}

function showChapters(track) {
  const cues = [...(track.cues ?? [])];
  if (!cues.length) return;
  const list = $("#chapters");
  list.replaceChildren(
    ...cues.map((cue) =>
      el("li", {}, el("button", {
        className: "link",
        text: `${clock(cue.startTime)} ${cue.text}`,
        on: { click: () => { video.currentTime = cue.startTime; video.play().catch(() => {}); } },
      })),
    ),
  );
}

const trackElement = video.querySelector("track");
if (trackElement) {
  trackElement.track.mode = "hidden"; // loads the cues without drawing them over the picture
  trackElement.addEventListener("load", () => showChapters(trackElement.track));
}

let timer = null;
video.addEventListener("play", () => {
  follow();
  report();
  clearInterval(timer);
  timer = setInterval(report, REPORT_EVERY_MS);
});
for (const name of ["pause", "ended", "seeked"]) {
  video.addEventListener(name, () => {
    follow();
    report();
    if (name !== "seeked") clearInterval(timer);
  });
}
video.addEventListener("timeupdate", follow);
if (config.resume > 0 && config.resume < config.duration - 1) {
  video.addEventListener("loadedmetadata", () => { video.currentTime = config.resume; }, { once: true });
}
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "hidden") report();
});
