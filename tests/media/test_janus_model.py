"""LIVE_JANUS parsing and the SDP rewriting the Janus engine does (pure, no Janus needed)."""

from __future__ import annotations

import pytest

from live.errors import InvalidInput
from live.media.janus.engine import offer_streams, rename_streams
from live.media.janus.model import parse_nodes


def test_live_janus_names_one_origin_and_any_number_of_edges() -> None:
    nodes = parse_nodes(
        [
            {"url": "http://o:8088/janus", "role": "origin", "admin_secret": "s"},
            {"url": "http://e1:8088/janus", "role": "edge"},
        ]
    )
    assert [(n.role, n.rtp_host, n.admin_key) for n in nodes] == [("origin", "o", "s"), ("edge", "e1", None)]
    assert nodes[1].name == "edge@e1:8088"


@pytest.mark.parametrize(
    ("value", "complaint"),
    [
        ({"url": "http://o/janus"}, "Not a JSON list"),
        ([{"url": "http://e/janus", "role": "edge"}], "exactly one 'origin'"),
        ([{"url": "ws://o/janus", "role": "origin"}], "'url' must be Janus's HTTP API"),
        ([{"url": "http://o/janus", "role": "primary"}], "'primary'"),
        ([{"url": "http://o/janus", "role": "origin", "port": 1}], "only 'admin_secret'"),
    ],
)
def test_a_bad_live_janus_is_refused_naming_what_is_wrong(value: object, complaint: str) -> None:
    with pytest.raises(InvalidInput, match=complaint):
        parse_nodes(value)


OFFER = "\r\n".join(
    [
        "v=0",
        "m=audio 9 UDP/TLS/RTP/SAVPF 111",
        "a=msid:janus janusa0",
        "a=mid:a",
        "a=ssrc:1 msid:janus janusa0",
        "m=video 9 UDP/TLS/RTP/SAVPF 96",
        "a=mid:v",
        "a=msid:janus janusv0",
        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
        "a=mid:d",
        "",
    ]
)


def test_janus_stream_ids_become_the_publishing_participants_id() -> None:
    renamed = rename_streams(OFFER, {"a": "p_host", "v": "p_host"})
    assert "a=msid:p_host janusa0" in renamed
    assert "a=msid:p_host janusv0" in renamed
    assert "a=ssrc:1 msid:p_host janusa0" in renamed
    assert "janus janus" not in renamed


def test_a_publishers_streams_are_its_m_lines_in_order() -> None:
    assert offer_streams(OFFER) == [("audio", "opus"), ("video", "vp8"), ("data", None)]
