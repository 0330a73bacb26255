"""Recording commands, the recordings API and the replay page, on short real recordings."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiortc import RTCPeerConnection

from live.db.tables import Recording
from live.recordings.handlers import delete_expired, replay_url_for
from live.typedefs import DB
from tests.conftest import LiveServer, ServerFactory, StaffMember, add_staff
from tests.mail.support import SmtpSink, text_of
from tests.media.support import TIMEOUT
from tests.recordings.support import ffprobe, publish, wait_for_async
from tests.rooms.support import Room, connect, make_room
from tests.webhooks.test_routes import Receiver

# Long enough for a few keyframes and a second of Opus; the 20 s recording is in test_recording.py.
SHORT = 3.0


async def webinar(server: LiveServer, host: StaffMember, guests: int = 2) -> Room:
    return await make_room(server.settings.database_url, server.settings.secret_key, host.id, guests=guests)


async def download(
    server: LiveServer, path: str, token: str | None = None, **headers: str
) -> tuple[int, dict[str, str], bytes]:
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    async with server.http.get(server.url + path, headers=headers) as response:
        return response.status, dict(response.headers), await response.read()


async def record(server: LiveServer, host: StaffMember, room: Room, peers: list[RTCPeerConnection]) -> str:
    """The host goes live, publishes, records SHORT seconds and ends the session; returns the recording id."""
    client = await connect(server.url, host.token, room.session_id)
    try:
        assert (await client.call("session.start", {}))["ok"]
        await publish(client, peers)
        ack = await client.call("recording.start", {}, wait=TIMEOUT)
        assert ack["ok"], ack
        await asyncio.sleep(SHORT)
        assert (await client.call("recording.stop", {}, wait=TIMEOUT)) == {"ok": True, "id": ack["id"]}
        assert (await client.call("session.end", {}))["ok"]
    finally:
        await client.close()
    return str(ack["id"])


async def test_only_the_hosts_of_a_webinar_start_and_stop_a_recording_and_every_page_knows_it_is_on(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]
) -> None:
    host = sqlite_staff["host"]
    room = await webinar(sqlite_server, host)
    host_client = await connect(sqlite_server.url, host.token, room.session_id)
    guest = await connect(sqlite_server.url, room.guests[0].token, room.session_id)
    one_on_one = await make_room(
        sqlite_server.settings.database_url, sqlite_server.settings.secret_key, host.id, guests=1, kind="one_on_one"
    )
    csm_client = await connect(sqlite_server.url, host.token, one_on_one.session_id)
    late = None
    try:
        refused = await guest.call("recording.start", {})
        assert refused["ok"] is False and refused["error"]["code"] == "forbidden"
        assert (await host_client.call("recording.stop", {}))["error"]["code"] == "not_recording"
        assert (await host_client.call("recording.start", {"format": "mp4"}))["error"]["code"] == "invalid"
        wrong = await csm_client.call("recording.start", {})
        assert wrong["ok"] is False and wrong["error"]["code"] == "wrong_kind"

        ack = await host_client.call("recording.start", {})
        assert ack["ok"] is True
        assert (await guest.next("recording.started"))["id"] == ack["id"]
        assert (await host_client.call("recording.start", {}))["error"]["code"] == "already_recording"
        # Someone who arrives during the recording sees the badge from the room's state.
        late = await connect(sqlite_server.url, room.guests[1].token, room.session_id)
        assert late.state["recording"]["id"] == ack["id"]
        assert (await guest.call("recording.stop", {}))["error"]["code"] == "forbidden"

        assert (await host_client.call("recording.stop", {})) == {"ok": True, "id": ack["id"]}
        assert (await late.next("recording.stopped"))["id"] == ack["id"]
    finally:
        for client in (host_client, guest, csm_client, late):
            if client is not None:
                await client.close()
    listed = await sqlite_server.request("GET", f"/api/v1/sessions/{room.session_id}/recordings", host.token)
    # Nobody published: the recording is listed, with nothing to download.
    [recording] = listed.body
    assert recording["size_bytes"] == 0
    missing = await sqlite_server.request("GET", f"/api/v1/recordings/{ack['id']}/file", host.token)
    assert missing.status == 404 and missing.body["error"]["code"] == "not_found"


async def test_a_recording_is_downloaded_in_ranges_by_staff_and_deleted_only_by_an_admin_or_its_host(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember], peers: list[RTCPeerConnection]
) -> None:
    host, csm, admin = sqlite_staff["host"], sqlite_staff["csm"], sqlite_staff["admin"]
    room = await webinar(sqlite_server, host)
    receiver = Receiver()
    await receiver.start()
    try:
        hook = await sqlite_server.request(
            "POST", "/api/v1/webhooks", admin.token, json={"url": receiver.url, "events": ["recording.ready"]}
        )
        assert hook.status == 201, hook.body
        recording_id = await record(sqlite_server, host, room, peers)
        _, body = await asyncio.wait_for(receiver.received.get(), TIMEOUT)
    finally:
        await receiver.stop()
    sent = json.loads(body)
    assert sent["type"] == "recording.ready"
    assert sent["data"]["recording"]["id"] == recording_id

    path = f"/api/v1/recordings/{recording_id}/file"
    assert (await sqlite_server.request("GET", path)).status == 401
    status, headers, whole = await download(sqlite_server, path, csm.token)
    assert status == 200 and headers["Content-Type"] == "video/webm"
    [listed] = (await sqlite_server.request("GET", f"/api/v1/sessions/{room.session_id}/recordings", csm.token)).body
    assert listed["size_bytes"] == len(whole) and listed["download_url"].endswith(path)
    status, headers, part = await download(sqlite_server, path, csm.token, Range="bytes=4-99")
    assert status == 206 and headers["Content-Range"] == f"bytes 4-99/{len(whole)}"
    assert part == whole[4:100]
    assert whole[:4] == b"\x1a\x45\xdf\xa3"  # the EBML magic every WebM file starts with
    chapters = await sqlite_server.request("GET", path + "?part=chapters", csm.token)
    assert chapters.status == 200 and chapters.text.startswith("WEBVTT")

    assert (await sqlite_server.request("DELETE", f"/api/v1/recordings/{recording_id}", csm.token)).status == 403
    assert (await sqlite_server.request("DELETE", f"/api/v1/recordings/{recording_id}", host.token)).status == 204
    assert (await download(sqlite_server, path, csm.token))[0] == 404
    assert (await sqlite_server.request("GET", f"/api/v1/sessions/{room.session_id}/recordings", csm.token)).body == []
    directory = Path(sqlite_server.settings.recordings_path) / room.session_id
    assert not any(directory.iterdir())
    gone = await sqlite_server.request("DELETE", f"/api/v1/recordings/{recording_id}", admin.token)
    assert gone.status == 404


async def test_a_no_show_watches_the_replay_and_it_shows_in_the_report_and_the_account_engagement(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember], peers: list[RTCPeerConnection]
) -> None:
    host = sqlite_staff["host"]
    room = await webinar(sqlite_server, host, guests=1)
    guest = room.guests[0]
    assert await replay_url_for(sqlite_server.app, room.session_id, guest.contact_id) is None
    recording_id = await record(sqlite_server, host, room, peers)
    url = await replay_url_for(sqlite_server.app, room.session_id, guest.contact_id)
    assert url == f"{sqlite_server.url}/replay/{guest.token}"

    page = await sqlite_server.request("GET", f"/replay/{guest.token}")
    assert page.status == 200 and 'data-testid="replay-video"' in page.text
    assert (await sqlite_server.request("GET", "/replay/not-a-token")).status == 404
    status, headers, _ = await download(sqlite_server, f"/replay/{guest.token}/main", Range="bytes=0-")
    assert status == 206 and headers["Content-Type"] == "video/webm"
    probe = await ffprobe(Path(sqlite_server.settings.recordings_path) / room.session_id / f"{recording_id}.webm")
    assert probe.codecs() == ["opus", "vp8"]

    progress = f"/replay/{guest.token}/progress"
    bad = await sqlite_server.request("POST", progress, json={"position_seconds": -1, "playing": True})
    assert bad.status == 400 and "position_seconds" in bad.body["error"]["message"]
    assert (await sqlite_server.request("POST", progress, json={"position_seconds": 0, "playing": True})).status == 200
    # Two seconds played (a player reports what it played; the server checks it against the wall clock).
    await asyncio.sleep(1.0)
    watched = await sqlite_server.request("POST", progress, json={"position_seconds": 2.0, "playing": False})
    assert watched.status == 200 and watched.body["replay_seconds"] == 2.0
    # A jump to the end is a seek, not watching.
    await sqlite_server.request("POST", progress, json={"position_seconds": 2.0, "playing": True})
    skipped = await sqlite_server.request("POST", progress, json={"position_seconds": 3600, "playing": False})
    assert skipped.body["replay_seconds"] == 2.0

    [row] = [
        r
        for r in (await sqlite_server.request("GET", f"/api/v1/sessions/{room.session_id}/attendance", host.token)).body
        if r["contact_id"] == guest.contact_id
    ]
    assert row["replay_seconds"] == 2.0
    assert row["watched_replay"] is (2.0 >= watched.body["duration_seconds"] / 2)
    # A replay never makes a no-show "attended", nor lifts their 0 for the live session.
    assert row["no_show"] is True and row["score"] == 0
    csv = await sqlite_server.request("GET", f"/api/v1/sessions/{room.session_id}/report.csv", host.token)
    assert "replay_seconds" in csv.text.splitlines()[0]

    # The account's engagement takes the replay in at half a webinar's weight: the live 0 (weight 1)
    # and the replay's share watched (weight 0.5), on the pause that ended the watching.
    replay_score = 100 * 2.0 / watched.body["duration_seconds"]
    expected = 0.5 * replay_score / 1.5

    async def engagement() -> float | None:
        account = await sqlite_server.request("GET", f"/api/v1/accounts/{row['account_id']}", host.token)
        return account.body["engagement"]

    await wait_for_async(lambda: engagement(), lambda value: value is not None and value > 0, "engagement moved")
    assert await engagement() == pytest.approx(expected, abs=0.5)


async def test_recordings_older_than_the_retention_period_lose_their_files_and_leave_the_list(
    sqlite_server: LiveServer, sqlite_staff: dict[str, StaffMember]
) -> None:
    host = sqlite_staff["host"]
    room = await webinar(sqlite_server, host)
    directory = Path(sqlite_server.settings.recordings_path)
    ended = datetime.now(UTC) - timedelta(days=10)
    async with sqlite_server.app[DB]() as db:
        ids = []
        for age in (100, 10):  # days ago: one past the 90-day default, one within it
            (directory / room.session_id).mkdir(parents=True, exist_ok=True)
            recording = Recording(
                session_id=room.session_id,
                status="ready",
                started_at=ended - timedelta(days=age - 10),
                ended_at=ended - timedelta(days=age - 10),
                duration_seconds=60.0,
                path=f"{room.session_id}/{age}.webm",
            )
            (directory / room.session_id / f"{age}.webm").write_bytes(b"\x1a\x45\xdf\xa3")
            db.add(recording)
            await db.flush()
            ids.append(recording.id)
        await db.commit()

    assert await delete_expired(sqlite_server.app) == [ids[0]]
    assert await delete_expired(sqlite_server.app) == []
    assert not (directory / room.session_id / "100.webm").exists()
    assert (directory / room.session_id / "10.webm").exists()
    listed = await sqlite_server.request("GET", f"/api/v1/sessions/{room.session_id}/recordings", host.token)
    assert [r["id"] for r in listed.body] == [ids[1]]


async def test_the_missed_you_mail_of_a_recorded_webinar_links_to_the_no_shows_own_replay(
    make_server: ServerFactory, sqlite_url: str, smtp_sink: SmtpSink, peers: list[RTCPeerConnection]
) -> None:
    server = await make_server(sqlite_url, smtp_url=smtp_sink.url)
    host = await add_staff(sqlite_url, "host@example.com", "host")
    room = await webinar(server, host, guests=1)
    guest = room.guests[0]
    await record(server, host, room, peers)

    [sorry] = await smtp_sink.wait_for(1, lambda m: str(m["Subject"]).startswith("Sorry we missed you"), within=60)
    link = f"{server.url}/replay/{guest.token}"
    assert link in text_of(sorry) and link in text_of(sorry, "html")
    page = await server.request("GET", link.removeprefix(server.url))
    assert page.status == 200 and 'data-testid="replay-video"' in page.text
