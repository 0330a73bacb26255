"""LIVE_JANUS parsing and the SDP rewriting the Janus engine does (pure, no Janus needed)."""

from __future__ import annotations

import pytest

from live.errors import InvalidInput
from live.media.janus.engine import check_screen_mid, offer_mids, offer_streams, rename_streams, stream_names
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


def test_a_publishers_mids_are_read_in_order_and_its_screen_must_be_one_of_its_video_m_lines() -> None:
    assert offer_mids(OFFER) == ["a", "v", "d"]
    assert offer_mids("v=0\r\nm=audio 9 RTP 111\r\nm=video 9 RTP 96\r\na=mid:cam\r\n") == ["0", "cam"]
    check_screen_mid("p_host", OFFER, "v")
    check_screen_mid("p_host", OFFER, None)
    for wrong in ("a", "d", "7"):
        with pytest.raises(InvalidInput, match=f"screen_mid '{wrong}' from p_host names no video m-line"):
            check_screen_mid("p_host", OFFER, wrong)


def test_a_subscription_names_each_stream_after_its_publisher_and_the_screen_after_the_publishers_screen() -> None:
    streams = [
        {"type": "video", "mid": "0", "feed_id": 7, "feed_mid": "0"},
        {"type": "audio", "mid": "1", "feed_id": 7, "feed_mid": "1"},
        {"type": "video", "mid": "2", "feed_id": 7, "feed_mid": "2"},
        {"type": "video", "mid": "3", "feed_id": 9, "feed_mid": "2"},
        {"type": "video", "mid": "4", "feed_id": 11, "feed_mid": "0"},  # a feed that left meanwhile
        {"type": "data", "mid": "5"},
    ]
    names = stream_names(streams, {7: ("p_host", "2"), 9: ("u_cohost", None)})
    assert names == {"0": "p_host", "1": "p_host", "2": "p_host:screen", "3": "u_cohost"}
