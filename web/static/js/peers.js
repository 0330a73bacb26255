// WebRTC: peer-to-peer links for one-on-ones (perfect negotiation over `rtc.signal`), and for webinars
// publishing to and subscribing from the server's forwarder (`media.publish` / `media.subscribe`).

const plain = (description) => ({ type: description.type, sdp: description.sdp });

// The server answers one offer with every candidate it has; ours go in the SDP as well (no trickle).
function iceGathered(pc, timeoutMs = 4000) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      pc.removeEventListener("icegatheringstatechange", check);
      clearTimeout(timer);
      resolve();
    };
    const check = () => pc.iceGatheringState === "complete" && done();
    const timer = setTimeout(done, timeoutMs);
    pc.addEventListener("icegatheringstatechange", check);
  });
}

function preferCodec(transceiver, kind, mimeType) {
  const capabilities = RTCRtpReceiver.getCapabilities?.(kind) ?? RTCRtpSender.getCapabilities?.(kind);
  if (!capabilities || !transceiver.setCodecPreferences) return;
  const codecs = capabilities.codecs.filter((c) => c.mimeType.toLowerCase() === mimeType.toLowerCase());
  if (codecs.length) {
    try {
      transceiver.setCodecPreferences(codecs);
    } catch { /* the browser keeps its defaults; the server picks the codec it needs */ }
  }
}

// The mid of the first video m-line: the one camera pictures travel on, whichever side offered first (a side
// without a camera answers it with nothing). Any later video m-line is a shared screen.
function firstVideoMid(sdp) {
  const section = (sdp ?? "").split(/\r?\nm=/).find((part) => part.startsWith("video"));
  return section?.match(/\r?\na=mid:(\S+)/)?.[1] ?? null;
}

// --- one-on-ones ------------------------------------------------------------------------------
class PeerLink {
  constructor(mesh, peerId) {
    this.mesh = mesh;
    this.peerId = peerId;
    // Perfect negotiation: on colliding offers the polite side yields. The lower id is polite,
    // so both sides agree without talking about it.
    this.polite = mesh.me < peerId;
    this.makingOffer = false;
    this.ignoreOffer = false;
    this.pc = new RTCPeerConnection({ iceServers: mesh.iceServers });
    const stream = mesh.local.stream;
    if (stream && stream.getTracks().length) {
      for (const track of stream.getTracks()) this.pc.addTrack(track, stream);
    }
    for (const kind of ["audio", "video"]) {
      if (!stream?.getTracks().some((t) => t.kind === kind)) this.pc.addTransceiver(kind, { direction: "recvonly" });
    }
    // A screen shared before this link existed (the other side joined or came back while we shared).
    this.screenSender = null;
    if (mesh.screen) this.setScreen(mesh.screen);
    this.pc.onnegotiationneeded = async () => {
      try {
        this.makingOffer = true;
        await this.pc.setLocalDescription();
        this.signal({ description: plain(this.pc.localDescription) });
      } catch (error) {
        console.warn("negotiation with", peerId, "failed:", error);
      } finally {
        this.makingOffer = false;
      }
    };
    this.pc.onicecandidate = ({ candidate }) => {
      if (candidate) this.signal({ candidate: candidate.toJSON() });
    };
    this.pc.ontrack = ({ track, streams, transceiver }) => {
      const remote = streams[0] ?? new MediaStream([track]);
      if (track.kind === "video" && transceiver.mid !== firstVideoMid(this.pc.remoteDescription?.sdp)) {
        mesh.onScreen?.(peerId, remote, track);
        return;
      }
      mesh.stage.showRemote(peerId, remote, mesh.nameOf(peerId));
    };
    this.pc.onconnectionstatechange = () => {
      mesh.onState?.(peerId, this.pc.connectionState);
      if (this.pc.connectionState === "failed") this.pc.restartIce();
    };
  }

  signal(message) {
    this.mesh.send("rtc.signal", { to: this.peerId, ...message });
  }

  async receive({ description, candidate }) {
    const pc = this.pc;
    try {
      if (description) {
        const collision = description.type === "offer" && (this.makingOffer || pc.signalingState !== "stable");
        this.ignoreOffer = !this.polite && collision;
        if (this.ignoreOffer) return;
        await pc.setRemoteDescription(description);
        if (description.type === "offer") {
          await pc.setLocalDescription();
          this.signal({ description: plain(pc.localDescription) });
        }
      } else if (candidate) {
        try {
          await pc.addIceCandidate(candidate);
        } catch (error) {
          if (!this.ignoreOffer) throw error;
        }
      }
    } catch (error) {
      console.warn("signal from", this.peerId, "failed:", error);
    }
  }

  replaceTrack(kind, track) {
    const sender = this.pc.getSenders().find((s) => s.track !== this.screenSender?.track && s.track?.kind === kind);
    sender?.replaceTrack(track);
  }

  // Screen sharing: a second video track on its own m-line (renegotiated through \`rtc.signal\` by
  // \`onnegotiationneeded\`); stopping it stops its transceiver, which ends the track on the other side.
  setScreen(stream) {
    const track = stream?.getVideoTracks()[0] ?? null;
    const current = this.pc.getTransceivers().find((t) => this.screenSender && t.sender === this.screenSender);
    if (track) {
      if (current) {
        current.sender.replaceTrack(track);
        return;
      }
      this.screenSender = this.pc.addTrack(track, stream);
      const transceiver = this.pc.getTransceivers().find((t) => t.sender === this.screenSender);
      if (transceiver) preferCodec(transceiver, "video", "video/VP8");
      return;
    }
    this.screenSender = null;
    if (current) current.stop();
  }

  close() {
    this.pc.close();
  }
}

export class Mesh {
  constructor({ me, local, stage, send, iceServers, nameOf, onScreen, onScreenGone }) {
    Object.assign(this, { me, local, stage, send, iceServers, nameOf, onScreen, onScreenGone });
    this.links = new Map();
    this.screen = null; // the stream of a screen this page shares (screen.js), sent to everyone in the call
    local.onTrackReplaced((kind, track) => {
      for (const link of this.links.values()) link.replaceTrack(kind, track);
    });
  }

  // Everyone else in the room gets a link; links to people who left are closed.
  sync(participantIds) {
    const wanted = new Set(participantIds.filter((id) => id !== this.me));
    for (const id of wanted) this.link(id);
    for (const id of [...this.links.keys()]) if (!wanted.has(id)) this.drop(id);
  }

  link(peerId) {
    let link = this.links.get(peerId);
    if (!link) {
      link = new PeerLink(this, peerId);
      this.links.set(peerId, link);
    }
    return link;
  }

  receive(message) {
    if (message.from && message.from !== this.me) this.link(message.from).receive(message);
  }

  drop(peerId) {
    this.links.get(peerId)?.close();
    this.links.delete(peerId);
    this.stage.removeRemote(peerId);
    this.onScreenGone?.(peerId);
  }

  // Starts (a stream) or stops (null) sending a shared screen to everyone in the call.
  setScreen(stream) {
    this.screen = stream;
    for (const link of this.links.values()) link.setScreen(stream);
  }

  close() {
    for (const id of [...this.links.keys()]) this.drop(id);
  }
}

// --- webinars and welcome seminars ------------------------------------------------------------
export class Broadcast {
  constructor({ local, stage, send, iceServers, nameOf, onError, onScreen }) {
    Object.assign(this, { local, stage, send, iceServers, nameOf, onError, onScreen });
    this.screen = null; // the stream of a screen this page shares (screen.js), sent as a second video
    this.publisher = null;
    this.subscriber = null;
    this.subscribing = null;
    this.wanted = 1;
    local.onTrackReplaced((kind, track) => {
      const sender = this.publisher?.getSenders().find((s) => s.track?.kind === kind);
      sender?.replaceTrack(track);
    });
  }

  async publish() {
    const stream = this.local.stream;
    if (!stream) return;
    this.publisher?.close();
    const pc = new RTCPeerConnection({ iceServers: this.iceServers });
    this.publisher = pc;
    for (const track of stream.getTracks()) {
      const transceiver = pc.addTransceiver(track, { direction: "sendonly", streams: [stream] });
      preferCodec(transceiver, track.kind, track.kind === "video" ? "video/VP8" : "audio/opus");
    }
    const screenTrack = this.screen?.getVideoTracks()[0];
    const screen = screenTrack ? pc.addTransceiver(screenTrack, { direction: "sendonly", streams: [this.screen] }) : null;
    if (screen) preferCodec(screen, "video", "video/VP8");
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === "failed" && this.publisher === pc) {
        setTimeout(() => this.publisher === pc && this.publish(), 2000);
      }
    };
    await pc.setLocalDescription(await pc.createOffer());
    await iceGathered(pc);
    const body = { description: plain(pc.localDescription) };
    if (screen) body.screen_mid = screen.mid;
    const ack = await this.send("media.publish", body);
    if (this.publisher !== pc) return;
    if (!ack.ok) {
      this.onError?.(`Could not send your video: ${ack.error?.message ?? "no answer"}`);
      return ack;
    }
    await pc.setRemoteDescription(ack.description);
    return ack;
  }

  // Stop sending (a speaker back in the audience): the server has already closed its side.
  unpublish() {
    this.publisher?.close();
    this.publisher = null;
  }

  publishing() {
    return this.publisher && ["new", "connecting", "connected"].includes(this.publisher.connectionState);
  }

  // One recvonly video and audio m-line per publisher we may receive; extra ones are answered inactive.
  async subscribe(publishers) {
    this.wanted = Math.max(1, publishers);
    if (this.subscribing) {
      this.again = true;
      return this.subscribing;
    }
    this.subscribing = this.subscribeOnce().finally(() => {
      this.subscribing = null;
      if (this.again) {
        this.again = false;
        this.subscribe(this.wanted);
      }
    });
    return this.subscribing;
  }

  async subscribeOnce() {
    const pc = new RTCPeerConnection({ iceServers: this.iceServers });
    // Janus offers its own m-lines (one per published track); the embedded forwarder answers ours.
    for (let i = 0; this.engine !== "janus" && i < this.wanted; i += 1) {
      preferCodec(pc.addTransceiver("video", { direction: "recvonly" }), "video", "video/VP8");
      pc.addTransceiver("audio", { direction: "recvonly" });
    }
    // One more video m-line for a shared screen (answered inactive while nobody shares).
    preferCodec(pc.addTransceiver("video", { direction: "recvonly" }), "video", "video/VP8");
    const seen = new Set();
    pc.ontrack = ({ track, streams }) => {
      const stream = streams[0];
      if (!stream) return;
      if (this.onScreen && stream.id.endsWith(":screen")) {
        this.onScreen(stream, track);
        return;
      }
      seen.add(stream.id);
      this.stage.showRemote(stream.id, stream, this.nameOf(stream.id));
      track.addEventListener("ended", () => {
        // A replaced subscription ends its old tracks: only a tile still showing this stream goes.
        if (this.stage.remote.get(stream.id)?.video.srcObject === stream) this.stage.removeRemote(stream.id);
      });
    };
    const ack = this.engine === "janus" ? await this.negotiateWithJanus(pc) : await this.offerToServer(pc);
    if (!ack.ok) {
      pc.close();
      if (ack.error?.code === "no_media") {
        // Nobody else publishes now (Janus: the speaker the host watched was revoked): nothing to show.
        this.subscriber?.close();
        this.subscriber = null;
        for (const id of [...this.stage.remote.keys()]) this.stage.removeRemote(id);
      }
      if (ack.error?.code !== "unknown_event" && ack.error?.code !== "no_media") {
        this.onError?.(`Could not receive video: ${ack.error?.message}`);
      }
      return;
    }
    const previous = this.subscriber;
    this.subscriber = pc;
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === "failed" && this.subscriber === pc) setTimeout(() => this.subscribe(this.wanted), 2000);
    };
    previous?.close();
    // A publisher gone since the last subscription (a revoked speaker) has no track in this one: its
    // picture goes now, whether or not the browser ended the old track.
    for (const id of [...this.stage.remote.keys()]) if (!seen.has(id)) this.stage.removeRemote(id);
  }

  async offerToServer(pc) {
    await pc.setLocalDescription(await pc.createOffer());
    await iceGathered(pc);
    const ack = await this.send("media.subscribe", { description: plain(pc.localDescription) });
    if (ack.ok) await pc.setRemoteDescription(ack.description);
    return ack;
  }

  // With Janus (room.state.media === "janus") the server offers and the viewer answers.
  async negotiateWithJanus(pc) {
    const ack = await this.send("media.subscribe", {});
    if (!ack.ok) return ack;
    await pc.setRemoteDescription(ack.description);
    await pc.setLocalDescription(await pc.createAnswer());
    await iceGathered(pc);
    return this.send("media.answer", { description: plain(pc.localDescription) });
  }

  close() {
    this.publisher?.close();
    this.subscriber?.close();
    this.publisher = this.subscriber = null;
  }
}
