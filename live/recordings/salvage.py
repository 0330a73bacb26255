"""Recordings whose process died while making them (a SIGKILL, a crash, a lost machine).

The process making a recording moves its row's `heartbeat_at` forward every `HEARTBEAT` seconds.
A row still `recording` that no process of ours is making is an orphan:
- with Redis (several processes may share the database) once its heartbeat is older than
  `ORPHANED_AFTER`: its maker would have moved it;
- without Redis (one process per database) at once: no other process can be making it.
Any process may then take it over (`store.claim`, so only one does) and finish it from what reached
the disk: the files a killed process leaves are WebM cut short (no index, no duration). Each is
rewritten with PyAV, its packets copied up to the cut into a complete file (index, duration, so a
player can seek), and measured on the way. A recording with nothing readable is marked deleted. Either way the room hears `recording.stopped`, its
badge goes, and a new recording can start.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import av

from live.db.tables import Recording
from live.recordings.recorder import RecordedFiles

log = logging.getLogger(__name__)

# Seconds between two heartbeats of a recording being made.
HEARTBEAT = 10.0
# A recording whose heartbeat is older than this is an orphan when processes share the database.
ORPHANED_AFTER = timedelta(seconds=6 * HEARTBEAT)


def orphans(rows: Sequence[Recording], mine: set[str], shared: bool, at: datetime) -> list[Recording]:
    """The rows still `recording` that nobody is making any more (see the module docstring)."""
    found = []
    for row in rows:
        if row.id in mine:
            continue
        last = row.heartbeat_at or row.started_at
        if not shared or last < at - ORPHANED_AFTER:
            found.append(row)
    return found


def repair(path: Path) -> float:
    """Rewrites a (possibly cut short) WebM with its index and duration, as a recorder that stopped
    cleanly writes it; returns how long it plays (0.0, and the file left alone, when nothing in it is
    readable). The packets are copied, never re-encoded; a packet cut in half at the end is dropped."""
    if not path.is_file() or path.stat().st_size == 0:
        return 0.0
    repaired = path.with_name(path.name + ".repairing")
    first: float | None = None
    last = 0.0
    try:
        with av.open(str(path)) as source, av.open(str(repaired), "w", format="webm") as target:
            streams = {s.index: target.add_stream_from_template(s) for s in source.streams if s.type in ("video", "audio")}
            for packet in source.demux(*(s for s in source.streams if s.index in streams)):
                if packet.pts is None or packet.time_base is None or packet.size == 0 or packet.is_corrupt:
                    continue
                start = float(packet.pts * packet.time_base)
                first = start if first is None else min(first, start)
                last = max(last, start + float((packet.duration or 0) * packet.time_base))
                packet.stream = streams[packet.stream.index]
                target.mux(packet)
    except (av.error.FFmpegError, ValueError) as exc:
        if first is None:  # nothing readable
            repaired.unlink(missing_ok=True)
            return 0.0
        log.info("%s: read up to the cut (%s)", path.name, exc)
    if first is None:
        repaired.unlink(missing_ok=True)
        return 0.0
    repaired.replace(path)
    return max(0.0, last - first)


def files_on_disk(directory: Path, recording_id: str) -> RecordedFiles:
    """The files a recorder had written for `recording_id` in its session's `directory`, each repaired,
    with how long the longest plays. Only readable files count."""
    main = directory / f"{recording_id}.webm"
    screen = directory / f"{recording_id}.screen.webm"
    lengths: dict[Path, float] = {}
    for path in sorted(directory.glob(f"{recording_id}.*webm")):
        seconds = repair(path)
        if seconds > 0:
            lengths[path] = seconds
    speakers = {
        path.name[len(recording_id) + 1 : -len(".webm")]: path
        for path in lengths
        if path not in (main, screen)
    }
    return RecordedFiles(
        max(lengths.values(), default=0.0),
        main if main in lengths else None,
        screen if screen in lengths else None,
        speakers,
    )
