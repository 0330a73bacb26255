// Your camera and microphone: the prejoin preview, the level meter, device choice and the on/off toggles.
import { el } from "./dom.js";

export class LocalMedia {
  constructor(elements) {
    this.stream = null;
    this.camera = true;
    this.mic = true;
    this.listeners = new Set(); // called with (kind, newTrack) when a device is switched
    this.attach(elements);
  }

  // The preview, pickers, meter and note this media shows in: the prejoin's, or (a webinar attendee made
  // a speaker) the speaker dialog's device check.
  attach({ video, cameraSelect, micSelect, meter, note }) {
    Object.assign(this, { video, cameraSelect, micSelect, meter, note });
    if (video) video.muted = true;
    cameraSelect?.addEventListener("change", () => this.cameraSelect === cameraSelect && this.switchDevice("video", cameraSelect.value));
    micSelect?.addEventListener("change", () => this.micSelect === micSelect && this.switchDevice("audio", micSelect.value));
  }

  onTrackReplaced(listener) {
    this.listeners.add(listener);
  }

  async start() {
    if (!navigator.mediaDevices?.getUserMedia) {
      this.say("This browser cannot use a camera here (it needs https or localhost). You can still join.");
      return null;
    }
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: true });
    } catch (error) {
      try {
        this.stream = await navigator.mediaDevices.getUserMedia({ audio: true });
        this.say("No camera available; you can join with your microphone.");
      } catch {
        this.say(`No camera or microphone (${error.name}). You can still join, watch and chat.`);
        return null;
      }
    }
    this.video.srcObject = this.stream;
    this.video.play().catch(() => {});
    await this.listDevices();
    this.startMeter();
    return this.stream;
  }

  say(text) {
    if (this.note) {
      this.note.textContent = text;
      this.note.hidden = !text;
    }
  }

  track(kind) {
    return this.stream?.getTracks().find((t) => t.kind === kind) ?? null;
  }

  async listDevices() {
    const devices = await navigator.mediaDevices.enumerateDevices();
    const fill = (select, kind, current) => {
      if (!select) return;
      const found = devices.filter((d) => d.kind === kind);
      select.replaceChildren(
        ...found.map((d, i) => el("option", { text: d.label || `${kind === "videoinput" ? "Camera" : "Microphone"} ${i + 1}`, attrs: { value: d.deviceId } })),
      );
      if (current) select.value = current;
      select.disabled = found.length < 2;
    };
    fill(this.cameraSelect, "videoinput", this.track("video")?.getSettings().deviceId);
    fill(this.micSelect, "audioinput", this.track("audio")?.getSettings().deviceId);
  }

  async switchDevice(kind, deviceId) {
    if (!this.stream || !deviceId) return;
    const constraints = kind === "video" ? { video: { deviceId: { exact: deviceId }, width: 640, height: 480 } } : { audio: { deviceId: { exact: deviceId } } };
    try {
      const fresh = await navigator.mediaDevices.getUserMedia(constraints);
      const track = fresh.getTracks()[0];
      const old = this.track(kind);
      track.enabled = kind === "video" ? this.camera : this.mic;
      if (old) {
        this.stream.removeTrack(old);
        old.stop();
      }
      this.stream.addTrack(track);
      if (kind === "audio") this.startMeter();
      for (const listener of this.listeners) listener(kind, track);
    } catch (error) {
      this.say(`Could not switch to that device (${error.name}).`);
    }
  }

  setCamera(on) {
    this.camera = on;
    const track = this.track("video");
    if (track) track.enabled = on; // a disabled track sends black frames: no renegotiation needed
    this.video?.classList.toggle("off", !on);
  }

  setMic(on) {
    this.mic = on;
    const track = this.track("audio");
    if (track) track.enabled = on;
  }

  stop() {
    this.stopMeter();
    for (const track of this.stream?.getTracks() ?? []) track.stop();
    this.stream = null;
    if (this.video) this.video.srcObject = null;
  }

  // The level meter: an analyser on the microphone, drawn about 15 times a second.
  startMeter() {
    this.stopMeter();
    const track = this.track("audio");
    if (!track || !this.meter || !window.AudioContext) return;
    this.audio = new AudioContext();
    const source = this.audio.createMediaStreamSource(new MediaStream([track]));
    const analyser = this.audio.createAnalyser();
    analyser.fftSize = 512;
    source.connect(analyser);
    const samples = new Uint8Array(analyser.fftSize);
    this.meterTimer = setInterval(() => {
      analyser.getByteTimeDomainData(samples);
      let peak = 0;
      for (const s of samples) peak = Math.max(peak, Math.abs(s - 128));
      const level = Math.min(100, Math.round((peak / 128) * 160));
      this.meter.value = this.mic ? level : 0;
    }, 66);
  }

  stopMeter() {
    clearInterval(this.meterTimer);
    this.audio?.close().catch(() => {});
    this.audio = null;
  }
}
