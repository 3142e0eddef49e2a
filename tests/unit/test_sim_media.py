"""The simulator's media and log files are real: decoded with Pillow and PyAV, parsed as text."""

from __future__ import annotations

import asyncio
import json
import os
import re
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import av
import pytest
from PIL import Image

from runners.sim.journal import CursorError, Journal
from runners.sim.media import (
    TAG_DATETIME,
    TAG_DATETIME_ORIGINAL,
    TAG_EXIF_IFD,
    MediaError,
    RecordingWriter,
    pick_video_codec,
    write_snapshot_jpeg,
)
from runners.sim.servicelog import ServiceLog, format_value


def decode(path: Path) -> tuple[int, float]:
    """(frames decoded, seconds covered by the decoded frames)."""
    frames, last = 0, None
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        for frame in c.decode(stream):
            frames += 1
            last = frame
    if last is None:
        return 0, 0.0
    return frames, float((last.pts + (last.duration or 0)) * last.time_base)


# ----------------------------------------------------------------------------- snapshots

def test_snapshot_is_a_jpeg_with_exif_dates(tmp_path):
    when = datetime(2026, 11, 21, 10, 0, 5, tzinfo=timezone(timedelta(hours=1)))
    p = tmp_path / "snap.jpg"
    n = write_snapshot_jpeg(p, when=when, label="camera0")
    assert n == p.stat().st_size > 5000  # a real picture, not a stub
    with Image.open(p) as img:
        assert img.format == "JPEG" and img.size == (640, 480)
        exif = img.getexif()
        assert exif[TAG_DATETIME] == "2026:11:21 10:00:05"
        assert exif.get_ifd(TAG_EXIF_IFD)[TAG_DATETIME_ORIGINAL] == "2026:11:21 10:00:05"
        # The flattened legacy reader many scripts use sees it too.
        assert img._getexif()[TAG_DATETIME_ORIGINAL] == "2026:11:21 10:00:05"
        # The test card is visible: not one flat colour.
        colours = img.convert("RGB").getcolors(maxcolors=1 << 16)
        assert colours is None or len(colours) > 8
    assert not list(tmp_path.glob(".*.tmp"))  # the atomic write cleaned up


def test_snapshot_without_exif_has_none(tmp_path):
    p = tmp_path / "bare.jpg"
    write_snapshot_jpeg(p, when=datetime.now(), exif=False, size=(320, 240))
    with Image.open(p) as img:
        assert img.size == (320, 240)
        assert len(img.getexif()) == 0


def test_snapshot_rejects_bad_input(tmp_path):
    with pytest.raises(MediaError, match="datetime"):
        write_snapshot_jpeg(tmp_path / "x.jpg", when="yesterday")  # type: ignore[arg-type]
    with pytest.raises(MediaError, match="16..4096"):
        write_snapshot_jpeg(tmp_path / "x.jpg", when=datetime.now(), size=(0, 10))


# ----------------------------------------------------------------------------- recordings

async def test_recording_grows_while_recording_and_plays_after_stop(tmp_path):
    p = tmp_path / "rec.mp4"
    w = RecordingWriter(p, fps=15)
    await w.start()
    assert p.exists() and w.running
    first = p.stat().st_size
    sizes = []
    t0 = time.monotonic()
    while time.monotonic() - t0 < 2.6:  # sampling the file, not synchronising
        await asyncio.sleep(0.25)
        sizes.append(p.stat().st_size)
    final = await w.stop()
    elapsed = w.elapsed
    assert sizes[-1] > first and len(set(sizes)) >= 2, f"file did not grow while recording: {first} {sizes}"
    assert final == p.stat().st_size >= sizes[-1]
    frames, seconds = decode(p)
    assert frames >= 15 * 2
    assert abs(seconds - elapsed) < 0.5, (seconds, elapsed)
    assert w.codec == pick_video_codec()


async def test_event_loop_not_blocked_while_recording(tmp_path):
    writers = [RecordingWriter(tmp_path / f"r{i}.mp4", fps=15) for i in range(4)]
    for w in writers:
        await w.start()
    worst, last = 0.0, time.monotonic()
    for _ in range(40):
        await asyncio.sleep(0.01)
        now = time.monotonic()
        worst = max(worst, now - last - 0.01)
        last = now
    for w in writers:
        await w.stop()
    assert worst < 0.1, f"event loop stalled {worst * 1000:.0f} ms"
    assert all(decode(w.path)[0] > 0 for w in writers)


@pytest.mark.parametrize("fmt,suffix", [("mp4", ".mp4"), ("mkv", ".mkv")])
async def test_other_formats_decode(tmp_path, fmt, suffix):
    p = tmp_path / f"rec{suffix}"
    w = RecordingWriter(p, fps=10, fmt=fmt)
    await w.start()
    await asyncio.sleep(1.2)
    await w.stop()
    frames, seconds = decode(p)
    assert frames >= 10 and 0.8 < seconds < 2.0


async def test_fault_zero_leaves_empty_file(tmp_path):
    p = tmp_path / "zero.mp4"
    w = RecordingWriter(p, fps=10)
    await w.start()
    await asyncio.sleep(0.3)
    assert await w.stop(fault="zero") == 0
    assert p.stat().st_size == 0
    with pytest.raises(av.FFmpegError):
        decode(p)


async def test_fault_truncate_no_longer_decodes_fully(tmp_path):
    good, bad = tmp_path / "good.mp4", tmp_path / "bad.mp4"
    wg, wb = RecordingWriter(good, fps=15), RecordingWriter(bad, fps=15)
    await wg.start()
    await wb.start()
    await asyncio.sleep(2.2)
    full = await wg.stop()
    cut = await wb.stop(fault="truncate")
    assert 0 < cut < full * 0.6
    assert bad.stat().st_size == cut
    good_frames, _ = decode(good)
    try:
        bad_frames, _ = decode(bad)
    except av.FFmpegError:
        bad_frames = 0
    assert bad_frames < good_frames * 0.8


async def test_recording_bad_input(tmp_path):
    with pytest.raises(MediaError, match="format"):
        RecordingWriter(tmp_path / "x.avi", fmt="avi")
    with pytest.raises(MediaError, match="fps"):
        RecordingWriter(tmp_path / "x.mp4", fps=0)
    w = RecordingWriter(tmp_path / "x.mp4")
    with pytest.raises(MediaError, match="never started"):
        await w.stop()
    await w.start()
    with pytest.raises(MediaError, match="fault"):
        await w.stop(fault="melt")
    assert await w.stop() == await w.stop()  # idempotent


async def test_recording_into_unwritable_place_fails_clearly(tmp_path):
    (tmp_path / "file").write_text("x")
    w = RecordingWriter(tmp_path / "file" / "rec.mp4")
    with pytest.raises(MediaError, match="cannot record"):
        await w.start()


# ----------------------------------------------------------------------------- service log

PLAIN = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (INFO|WARNING|ERROR|DEBUG) [\w.]+: .+$")


def test_plain_lines_look_like_the_current_service(tmp_path):
    p = tmp_path / "var/log/camera-service.log"
    log = ServiceLog(p)
    log.write("info", "snapshot taken", device="camera0", file_size=48211, path="/opt/a b.jpg")
    log.write("WARN", "discovery slow")
    lines = p.read_text().splitlines()
    assert len(lines) == 2 and all(PLAIN.match(x) for x in lines), lines
    assert lines[0].endswith('INFO camera_service.api: snapshot taken device=camera0 file_size=48211 path="/opt/a b.jpg"')
    assert " WARNING " in lines[1]


def test_json_lines_look_like_the_legacy_service(tmp_path):
    p = tmp_path / "camera-service.log"
    log = ServiceLog(p, fmt="json")
    log.write("ERROR", "recording failed", device="/dev/video0", logger="camera_service.recording")
    rec = json.loads(p.read_text())
    assert rec["level"] == "ERROR" and rec["message"] == "recording failed"
    assert rec["logger"] == "camera_service.recording" and rec["device"] == "/dev/video0"
    datetime.fromisoformat(rec["timestamp"])


def test_bad_level_and_format_are_named(tmp_path):
    with pytest.raises(ValueError, match="'plain' or 'json'"):
        ServiceLog(tmp_path / "x.log", fmt="xml")
    with pytest.raises(ValueError, match="LOUD"):
        ServiceLog(tmp_path / "x.log").write("LOUD", "x")


def test_format_value_quotes_only_when_needed():
    assert format_value("camera0") == "camera0"
    assert format_value("a b") == '"a b"'
    assert format_value(True) == "true" and format_value(None) == "null" and format_value(1.5) == "1.5"


def test_log_survives_truncation_and_rotation(tmp_path):
    p = tmp_path / "svc.log"
    log = ServiceLog(p)
    log.info("one")
    os.truncate(p, 0)  # copytruncate
    log.info("two")
    assert p.read_bytes().count(b"\n") == 1 and b"\0" not in p.read_bytes()
    os.rename(p, tmp_path / "svc.log.1")  # rename rotation
    log.info("three")
    assert "three" in p.read_text() and "three" not in (tmp_path / "svc.log.1").read_text()
    p.unlink()
    log.info("four")
    assert "four" in p.read_text()
    log.close()
    log.info("after close")  # dropped, no crash
    assert "after close" not in p.read_text()


def test_log_is_thread_safe(tmp_path):
    p = tmp_path / "svc.log"
    log = ServiceLog(p, fmt="json")

    def worker(i: int) -> None:
        for j in range(200):
            log.info("tick", worker=i, n=j, pad="x" * 50)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = p.read_text().splitlines()
    assert len(lines) == 1600 and log.lines_written == 1600
    assert all(json.loads(x)["message"] == "tick" for x in lines)


async def test_log_feeds_journal_with_ordered_cursors(tmp_path):
    j = Journal(hostname="cam-1")
    log = ServiceLog(tmp_path / "svc.log", journal=j)
    log.info("a")
    log.error("b")
    es = j.entries("camera-service.service")
    assert [e.priority for e in es] == [6, 3] and es[1].message.endswith("b")
    seq = j.parse_cursor(es[0].cursor)
    assert [e.message[-1] for e in j.entries("camera-service", after_seq=seq)] == ["b"]
    json.loads(es[0].as_json(j.boot_id, j.hostname))
    assert "cam-1 camera-service[" in es[0].short("cam-1")
    with pytest.raises(CursorError):
        j.parse_cursor("s=nope;i=1")
    waiter = asyncio.create_task(j.wait_new(j.last_seq, timeout=5))
    await asyncio.sleep(0)
    threading.Thread(target=log.info, args=("from a thread",)).start()
    assert await waiter is True
    assert await j.wait_new(j.last_seq, timeout=0.05) is False
