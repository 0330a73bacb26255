"""Sending forwarded frames to a subscriber straight from the forwarder: no task, no queue per viewer.

aiortc's `RTCRtpSender` runs one task per subscriber (`_run_rtp`) that waits for the next frame,
then for each RTP payload builds an `RtpPacket`, serializes its header extensions, reads the NTP
clock, and awaits `RTCDtlsTransport._send_rtp` -> `RTCIceTransport` -> aioice -> `sendto`. With
the frames already packed once for everyone (`SharedFrame`), that per-packet Python path and the
task wake-up per subscriber per frame are most of what a subscriber costs the server
(docs/benchmarks.md, "Where the server's time goes").

`DirectSender` takes the sender's place for the RTP half only. When aiortc starts the sender it
runs `DirectSender.run` instead of `_run_rtp`; that joins the subscriber's `ForwardedTrack` to its
forwarder and then just waits for the end. From then on the forwarder calls `send()` for every
frame, synchronously, on the publisher's receive path:

- the RTP header is a template made once per subscriber with aiortc's own serializer (its payload
  type, SSRC, MID and abs-send-time extensions as negotiated); per packet only the marker,
  sequence number, timestamp and abs-send-time bytes are written into a copy;
- SRTP with the subscriber's own session (`RTCDtlsTransport._tx_srtp`), then the datagram goes to
  the nominated ICE pair's socket (`transport.sendto`; a TURN-relayed pair goes through aioice's
  own coroutine, in order);
- the sender's statistics (packets, octets, last NTP/RTP time) are kept as `_run_rtp` keeps them,
  so its RTCP sender reports stay right; packets are kept in a history of the sender's size, and
  `_retransmit` is replaced to answer NACKs from it (with RTX when negotiated);
- back-pressure: UDP does not wait, but asyncio buffers a datagram the kernel would not take. A
  subscriber whose socket has more than `MAX_WRITE_BUFFER` waiting gets no new frame until it
  drains, then restarts at a keyframe: it can never hold up the others or grow without bound.

Everything else of the sender (RTCP, PLI/FIR -> `request_keyframe`, stop) stays aiortc's. The
private names it needs are reached through `live.media.aiortc_private`, which checks them on import
and again when a sender is installed, so an aiortc upgrade that renames them fails loudly instead of
silently sending nothing.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING

from aioice.ice import StunProtocol
from aiortc import RTCRtpSender
from aiortc.clock import current_ntp_time
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtp import RTP_HISTORY_SIZE, RtpPacket, wrap_rtx
from aiortc.utils import random16, random32

from live.media import aiortc_private

if TYPE_CHECKING:
    from live.media.forwarder import ForwardedTrack, SharedFrame

logger = logging.getLogger(__name__)

# Bytes asyncio may hold for one subscriber's socket before its frames are skipped (about half a
# second of 640x480 video at 2 Mbit/s). On a healthy path this stays 0: the kernel takes every datagram.
MAX_WRITE_BUFFER = 128 * 1024

_HEADER = struct.Struct("!BHI")  # byte 1 (marker + payload type), sequence number, timestamp


class DirectSender:
    """One subscriber's RTP output for one `ForwardedTrack`, fed synchronously by its forwarder."""

    def __init__(self, sender: RTCRtpSender, track: ForwardedTrack) -> None:
        self._sender = sender
        self._internals = aiortc_private.SenderState(sender)
        self._track = track
        # Read again when the sender starts: BUNDLE may have given it another transport since.
        self._dtls: RTCDtlsTransport = sender.transport
        self._history: dict[int, tuple[int, int, int, bytes]] = {}
        self._ended: asyncio.Future[None] | None = None
        self._template = b""
        self._abs_send_time_at: int | None = None
        self._payload_type = 0
        self._sequence_number = random16()
        self._timestamp_origin = random32()
        self._pending_sends: asyncio.Task[None] | None = None
        self._stalled = False
        self.packets_sent = 0
        self.frames_sent = 0
        self.frames_skipped = 0
        self.retransmitted = 0

    @classmethod
    def install(cls, sender: RTCRtpSender, track: ForwardedTrack) -> DirectSender:
        """Make `sender` send `track`'s frames directly; call before the connection starts."""
        direct = cls(sender, track)
        # A subscriber's PLI/FIR would only set a flag for an encoder we never run: it goes to the source.
        aiortc_private.take_over_rtp(
            sender, run_rtp=direct.run, retransmit=direct.retransmit, send_keyframe=track.request_keyframe
        )
        return direct

    async def run(self, codec: RTCRtpCodecParameters) -> None:
        """Stands in for `RTCRtpSender._run_rtp`: from here on the forwarder sends for us."""
        sender = self._sender
        self._internals.rtp_started()
        self._dtls = sender.transport
        self._prepare(codec)
        self._ended = asyncio.get_running_loop().create_future()
        try:
            self._track._attach(self)
            await self._ended
        except asyncio.CancelledError:
            pass
        finally:
            self._track._detach(self)
            self._track.stop()
            self._internals.rtp_exited()

    def end(self) -> None:
        """The track ended: let `run` finish as `_run_rtp` would."""
        if self._ended is not None and not self._ended.done():
            self._ended.set_result(None)

    def _prepare(self, codec: RTCRtpCodecParameters) -> None:
        assert codec.payloadType is not None, "a negotiated codec has a payload type"
        extensions = self._internals.header_extensions
        packet = RtpPacket(payload_type=codec.payloadType, sequence_number=0, timestamp=0, ssrc=self._internals.ssrc)
        packet.extensions.mid = self._internals.mid
        packet.extensions.abs_send_time = 0
        zero = packet.serialize(extensions)
        packet.extensions.abs_send_time = 0xFFFFFF
        ones = packet.serialize(extensions)
        differ = [n for n, (a, b) in enumerate(zip(zero, ones, strict=True)) if a != b]
        self._abs_send_time_at = differ[0] if differ else None
        self._template = zero
        self._payload_type = codec.payloadType

    def send(self, frame: SharedFrame) -> bool:
        """Send one frame's RTP packets now; False if the subscriber could not take it (skipped)."""
        dtls = self._dtls
        if not aiortc_private.dtls_connected(dtls):
            return False
        pair = aiortc_private.nominated_pair(dtls)
        if pair is None:
            return False
        protocol = pair.protocol
        direct = type(protocol) is StunProtocol and protocol.transport is not None
        if direct:
            socket_transport = protocol.transport
            # asyncio's and uvloop's datagram transports both have it; typeshed's base class does not.
            if socket_transport.get_write_buffer_size() > MAX_WRITE_BUFFER:  # type: ignore[attr-defined]
                self.frames_skipped += 1
                self._stalled = True
                return False
            sendto: Callable[[bytes, tuple[str, int]], None] = socket_transport.sendto
        elif self._pending_sends is not None and not self._pending_sends.done():
            # A relayed pair still busy with the previous frame: skip rather than queue.
            self.frames_skipped += 1
            self._stalled = True
            return False
        if self._stalled and not frame.keyframe:
            self.frames_skipped += 1
            return False
        self._stalled = False

        encoded = frame.encoded
        payloads = encoded.payloads
        timestamp = (self._timestamp_origin + encoded.timestamp) & 0xFFFFFFFF
        template = self._template
        at = self._abs_send_time_at
        ntp_time = frame.ntp_time
        abs_send_time = ((ntp_time >> 14) & 0xFFFFFF).to_bytes(3, "big")
        protect = aiortc_private.srtp_protect(dtls)
        history = self._history
        sequence_number = self._sequence_number
        last = len(payloads) - 1
        octets = 0
        datagrams: list[bytes] = []
        for i, payload in enumerate(payloads):
            marker = 0x80 if i == last else 0
            header = bytearray(template)
            _HEADER.pack_into(header, 1, marker | self._payload_type, sequence_number, timestamp)
            if at is not None:
                header[at : at + 3] = abs_send_time
            datagrams.append(protect(bytes(header) + payload))
            history[sequence_number % RTP_HISTORY_SIZE] = (sequence_number, timestamp, marker, payload)
            octets += len(payload)
            sequence_number = (sequence_number + 1) & 0xFFFF
        self._sequence_number = sequence_number

        if direct:
            address = pair.remote_addr
            for datagram in datagrams:
                sendto(datagram, address)
        else:
            self._pending_sends = asyncio.ensure_future(self._send_relayed(protocol, pair.remote_addr, datagrams))

        self._internals.count_sent(ntp_time, timestamp, octets, len(payloads))
        aiortc_private.count_dtls_sent(dtls, sum(map(len, datagrams)), len(datagrams))
        self.packets_sent += len(datagrams)
        self.frames_sent += 1
        return True

    @staticmethod
    async def _send_relayed(protocol: StunProtocol, address: tuple[str, int], datagrams: list[bytes]) -> None:
        try:
            for datagram in datagrams:
                await protocol.send_data(datagram, address)
        except ConnectionError as exc:
            logger.debug("relayed RTP not sent: %s", exc)

    async def retransmit(self, sequence_number: int) -> None:
        """Stands in for `RTCRtpSender._retransmit`: answer a NACK from the history."""
        entry = self._history.get(sequence_number % RTP_HISTORY_SIZE)
        if entry is None or entry[0] != sequence_number:
            return
        state = self._internals
        _, timestamp, marker, payload = entry
        packet = RtpPacket(
            payload_type=self._payload_type,
            marker=1 if marker else 0,
            sequence_number=sequence_number,
            timestamp=timestamp,
            ssrc=state.ssrc,
            payload=payload,
        )
        packet.extensions.mid = state.mid
        packet.extensions.abs_send_time = (current_ntp_time() >> 14) & 0x00FFFFFF
        rtx_payload_type = state.rtx_payload_type
        if rtx_payload_type is not None:
            packet = wrap_rtx(
                packet,
                payload_type=rtx_payload_type,
                sequence_number=state.next_rtx_sequence_number(),
                ssrc=state.rtx_ssrc,
            )
        try:
            await aiortc_private.send_rtp(self._dtls, packet.serialize(state.header_extensions))
        except ConnectionError:
            return
        self.retransmitted += 1
