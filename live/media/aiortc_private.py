"""Every use of aiortc's and aioice's private API in `live`, in one module, checked when it is imported.

Why private API at all: the forwarder takes encoded frames out of a publisher's receiver instead of
decoding them (`live.media.forwarder.EncodedFrameTap`), and each subscriber's RTP is sent straight
from the forwarder instead of by the sender's own task (`live.media.direct.DirectSender`). aiortc
has no public hook for either, and they are what makes a webinar viewer cheap (docs/benchmarks.md).
Everything else of aiortc (ICE, DTLS, SRTP sessions, RTCP, NACK, jitter buffer) is used as it is.

Written for aiortc 1.9 to 1.16 with aioice 0.9 to 0.13: every name in `REQUIRED` was read in the
sources of aiortc 1.9.0, 1.10.0 ... 1.16.0. pyproject.toml bounds aiortc below the next minor, so an
upgrade is a decision: raise the bound, then run tests/test_aiortc_private.py and tests/media.

The check: an instance attribute exists only on an instance, but the names a class's own code reads
and writes are in its methods' code objects (`co_names`, where `self.__x` is already mangled to
`_Class__x`). So at import every required name is looked up among the class's attributes and the
names its methods use, without making a peer connection; a missing one fails the import with
`AiortcPrivateApiError` naming it, instead of media that silently stops flowing. `DirectSender` and
`EncodedFrameTap` check the instance once more when they install themselves.

Other modules of `live` must not touch a private aiortc/aioice name themselves: tests/test_aiortc_private.py
scans them.
"""

from __future__ import annotations

import asyncio
import types
from collections.abc import Callable, Coroutine, Iterable, Mapping
from typing import Any, Protocol

import aioice
import aiortc
from aioice.ice import CandidatePair
from aiortc import RTCDtlsTransport, RTCIceTransport, RTCRtpReceiver, RTCRtpSender
from aiortc.jitterbuffer import JitterFrame
from aiortc.mediastreams import MediaStreamTrack
from aiortc.rtcdtlstransport import State
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtp import HeaderExtensionsMap

# The aiortc releases whose sources this module was checked against: pyproject.toml's bound is the same.
AIORTC_RANGE = ">=1.9,<1.17"
WRITTEN_FOR = f"aiortc{AIORTC_RANGE} (with aioice>=0.9,<0.14)"

_SENDER = "_RTCRtpSender__"
_RECEIVER = "_RTCRtpReceiver__"
_DTLS = "_RTCDtlsTransport__"

# Sender state that `DirectSender` keeps as `RTCRtpSender._run_rtp` would (statistics for RTCP sender
# reports, RTX numbering, the started/exited events `RTCRtpSender.stop` waits on).
_SENDER_STATE = (
    "rtp_started",
    "rtp_exited",
    "rtp_header_extensions_map",
    "mid",
    "track",
    "ntp_timestamp",
    "rtp_timestamp",
    "octet_count",
    "packet_count",
    "rtx_payload_type",
    "rtx_sequence_number",
)
_SENDER_METHODS = ("_run_rtp", "_retransmit", "_send_keyframe")

REQUIRED: Mapping[type, tuple[str, ...]] = {
    RTCRtpSender: (
        *_SENDER_METHODS,
        "_ssrc",
        "_rtx_ssrc",
        "_stream_id",
        *(_SENDER + name for name in _SENDER_STATE),
    ),
    RTCRtpReceiver: ("_send_rtcp_pli", _RECEIVER + "decoder_queue", _RECEIVER + "decoder_thread"),
    RTCDtlsTransport: ("_state", "_tx_srtp", "_send_rtp", _DTLS + "tx_bytes", _DTLS + "tx_packets"),
    RTCIceTransport: ("_connection",),
    aioice.Connection: ("_nominated",),
    MediaStreamTrack: ("_id",),
}


class AiortcPrivateApiError(ImportError):
    """The installed aiortc/aioice lacks a private name `live` relies on: this module needs updating."""


def _code_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            names |= _code_names(constant)
    return names


def class_names(cls: type) -> set[str]:
    """Names `cls` and its bases define or use: attributes, and every name their methods' code touches."""
    names: set[str] = set()
    for klass in cls.__mro__:
        for name, value in vars(klass).items():
            names.add(name)
            function = value.fget if isinstance(value, property) else getattr(value, "__func__", value)
            code = getattr(function, "__code__", None)
            if isinstance(code, types.CodeType):
                names |= _code_names(code)
    return names


def missing_names(required: Mapping[type, Iterable[str]]) -> list[str]:
    """`Class.name` for each required name the installed classes neither define nor use."""
    missing: list[str] = []
    for cls, names in required.items():
        known = class_names(cls)
        missing.extend(f"{cls.__module__}.{cls.__qualname__}.{name}" for name in names if name not in known)
    return missing


def check(required: Mapping[type, Iterable[str]] = REQUIRED) -> None:
    """Raise `AiortcPrivateApiError` naming every required private name that is not there."""
    missing = missing_names(required)
    if missing:
        raise AiortcPrivateApiError(
            f"aiortc {aiortc.__version__} / aioice {aioice.__version__} has no {', '.join(missing)}; "
            f"live/media/aiortc_private.py was written for {WRITTEN_FOR} and needs updating"
        )


def _check_instance(obj: object, names: Iterable[str]) -> None:
    missing = [name for name in names if not hasattr(obj, name)]
    if missing:
        raise AiortcPrivateApiError(
            f"this {type(obj).__name__} (aiortc {aiortc.__version__}) has no {', '.join(missing)}; "
            f"live/media/aiortc_private.py was written for {WRITTEN_FOR} and needs updating"
        )


check()


# --- RTCRtpSender: RTP sent by `DirectSender` instead of the sender's own task ---------------------------


def take_over_rtp(
    sender: RTCRtpSender,
    *,
    run_rtp: Callable[[RTCRtpCodecParameters], Coroutine[Any, Any, None]],
    retransmit: Callable[[int], Coroutine[Any, Any, None]],
    send_keyframe: Callable[[], None],
) -> None:
    """Make `sender` run `run_rtp` instead of its RTP task, answer NACKs and PLI/FIR with ours.

    Call before the connection starts (aiortc starts `_run_rtp` when the transport connects).
    """
    _check_instance(sender, [*_SENDER_METHODS, *(_SENDER + name for name in _SENDER_STATE)])
    # Replacing these methods on the instance is the point: aiortc calls ours from its own start and RTCP
    # code. mypy compares an instance attribute's callable with the unbound method (`self` included), hence
    # `assignment` beside `method-assign` where the callable takes arguments.
    sender._run_rtp = run_rtp  # type: ignore[method-assign, assignment]
    sender._retransmit = retransmit  # type: ignore[method-assign, assignment]
    sender._send_keyframe = send_keyframe  # type: ignore[method-assign]


def set_stream_id(sender: RTCRtpSender, stream_id: str) -> None:
    """The msid stream id the answer gives this sender's track (aiortc has no setter; it makes a random one)."""
    sender._stream_id = stream_id


class SenderState:
    """Typed access to the private state of one `RTCRtpSender` that `DirectSender` keeps up to date."""

    __slots__ = ("_sender",)

    def __init__(self, sender: RTCRtpSender) -> None:
        self._sender = sender

    @property
    def ssrc(self) -> int:
        return self._sender._ssrc

    @property
    def rtx_ssrc(self) -> int:
        return self._sender._rtx_ssrc

    @property
    def mid(self) -> str | None:
        mid: str | None = getattr(self._sender, _SENDER + "mid")
        return mid

    @property
    def header_extensions(self) -> HeaderExtensionsMap:
        extensions: HeaderExtensionsMap = getattr(self._sender, _SENDER + "rtp_header_extensions_map")
        return extensions

    @property
    def rtx_payload_type(self) -> int | None:
        payload_type: int | None = getattr(self._sender, _SENDER + "rtx_payload_type")
        return payload_type

    def next_rtx_sequence_number(self) -> int:
        """The RTX sequence number to use now; the sender's counter moves on by one."""
        number: int = getattr(self._sender, _SENDER + "rtx_sequence_number")
        setattr(self._sender, _SENDER + "rtx_sequence_number", (number + 1) & 0xFFFF)
        return number

    def rtp_started(self) -> None:
        """What `_run_rtp` signals first (`RTCRtpSender.stop` waits for it)."""
        event: asyncio.Event = getattr(self._sender, _SENDER + "rtp_started")
        event.set()

    def rtp_exited(self) -> None:
        """What `_run_rtp` does last: it lets go of the track and signals that it ended."""
        setattr(self._sender, _SENDER + "track", None)
        event: asyncio.Event = getattr(self._sender, _SENDER + "rtp_exited")
        event.set()

    def count_sent(self, ntp_time: int, rtp_timestamp: int, octets: int, packets: int) -> None:
        """Account a sent frame as `_run_rtp` does, for the sender's RTCP sender reports and statistics."""
        sender = self._sender
        setattr(sender, _SENDER + "ntp_timestamp", ntp_time)
        setattr(sender, _SENDER + "rtp_timestamp", rtp_timestamp)
        setattr(sender, _SENDER + "octet_count", getattr(sender, _SENDER + "octet_count") + octets)
        setattr(sender, _SENDER + "packet_count", getattr(sender, _SENDER + "packet_count") + packets)


# --- RTCDtlsTransport and its ICE connection: SRTP and the socket under one subscriber -------------------


def dtls_connected(dtls: RTCDtlsTransport) -> bool:
    """Whether SRTP keys are there (the public `state` property builds a string on every call)."""
    return dtls._state == State.CONNECTED


def nominated_pair(dtls: RTCDtlsTransport) -> CandidatePair | None:
    """The ICE candidate pair RTP goes over (component 1), once ICE has nominated one."""
    return dtls.transport._connection._nominated.get(1)


def srtp_protect(dtls: RTCDtlsTransport) -> Callable[[bytes], bytes]:
    """The transport's outgoing SRTP session's `protect` (valid while it stays connected)."""
    return dtls._tx_srtp.protect


def count_dtls_sent(dtls: RTCDtlsTransport, octets: int, packets: int) -> None:
    """Count datagrams sent past `_send_rtp` as it would have counted them (the transport's statistics)."""
    setattr(dtls, _DTLS + "tx_bytes", getattr(dtls, _DTLS + "tx_bytes", 0) + octets)
    setattr(dtls, _DTLS + "tx_packets", getattr(dtls, _DTLS + "tx_packets", 0) + packets)


async def send_rtp(dtls: RTCDtlsTransport, data: bytes) -> None:
    """Protect and send one serialized RTP packet (raises `ConnectionError` when not connected)."""
    await dtls._send_rtp(data)


# --- RTCRtpReceiver: encoded frames taken before its decoder ---------------------------------------------


class DecoderQueue(Protocol):
    """What a receiver's decoder queue must do: `put` runs on the event loop, `get` in its decoder thread."""

    def put(self, item: tuple[RTCRtpCodecParameters, JitterFrame] | None) -> None: ...

    def get(self) -> None: ...


def replace_decoder_queue(receiver: RTCRtpReceiver, queue: DecoderQueue) -> None:
    """Hand `receiver`'s reassembled frames to `queue` instead of its decoder thread.

    Must run before `receive()` starts that thread (before ICE connects).
    """
    _check_instance(receiver, [_RECEIVER + "decoder_queue", _RECEIVER + "decoder_thread"])
    if getattr(receiver, _RECEIVER + "decoder_thread") is not None:
        raise RuntimeError("the decoder queue must be replaced before the receiver starts")
    setattr(receiver, _RECEIVER + "decoder_queue", queue)


def send_pli(receiver: RTCRtpReceiver, media_ssrc: int) -> Coroutine[Any, Any, None]:
    """An RTCP picture loss indication to the publisher of `media_ssrc` (asks it for a keyframe)."""
    return receiver._send_rtcp_pli(media_ssrc)


# --- MediaStreamTrack ------------------------------------------------------------------------------------


def set_track_id(track: MediaStreamTrack, track_id: str) -> None:
    """Give a track our id (aiortc makes a random one and has no setter; `id` is what the SDP names)."""
    track._id = track_id
