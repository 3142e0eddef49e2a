"""The console's record view loaded incrementally (``tui.recordview.RecordViewLoader`` over
``record.digest.RecordDigest`` and ``record.events_log.EventsTail``) gives exactly the view
a cold load of the same files gives: after appends, a torn line completed later, a log
truncated or replaced (an evidence-pack restore, a hand edit), a broken line and its fix.
Real files written through the record code; no mocks."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from record import triage
from record.errors import RecordError
from record.events_log import EventsLog, EventsReader, EventsTail
from tests.record_support import dry, record_run, write_config
from tui.recordview import RecordViewLoader, load_record_view

ALL = ("SMK-1", "SMK-2", "SMK-3", "SMK-4", "SMK-5", "SMK-6", "SMK-7")
HOSTS = ("cam-01", "cam-02", "cam-03")
NOW = dt.datetime(2025, 11, 25, 10, 30).astimezone()


def _comparable(view) -> dict:
    parts = dict(view.parts)
    if parts.get("metrics") is not None:
        parts["metrics"] = {k: v for k, v in parts["metrics"].items() if k != "generated"}
    return {"parts": parts, "errors": dict(view.errors), "timebox": view.timebox}


def assert_same_as_cold(loader: RecordViewLoader):
    """Reload incrementally, load cold, compare; returns the incremental view."""
    view = loader.load(NOW)
    cold = load_record_view(loader.cfg, loader.d, NOW)
    assert _comparable(view) == _comparable(cold)
    return view


def _run(d, label, fail=(), hosts=HOSTS):
    return record_run(d, label, [(h, c, "failed" if (c, h) in fail or c in fail else "passed")
                                 for c in ALL for h in hosts], latencies=[("ping", 3.0), ("get_camera_list", 70.0)])


@pytest.fixture
def rec(tmp_path):
    cfg = write_config(tmp_path, hosts=HOSTS)
    d = dry(tmp_path)
    _run(d, "02_smoke_run_1", fail={"SMK-3"})
    triage.add_issue(d, {"smk": "SMK-3", "severity": "R"})
    return cfg, d


def test_appends_are_read_incrementally_and_match_a_cold_load(rec):
    cfg, d = rec
    loader = RecordViewLoader(cfg, d)
    v1 = assert_same_as_cold(loader)
    assert v1.get("metrics")["reference_run"]["label"] == "02_smoke_run_1"
    tail = loader.digest.tail
    offset, parsed = tail.offset, tail.events

    _run(d, "02_smoke_run_2", fail={("SMK-7", "cam-02")})
    added = d.events_log.stat().st_size - offset
    v2 = assert_same_as_cold(loader)
    assert tail.offset == offset + added  # only the appended bytes were read...
    assert tail.events - parsed == 2 + 2 * len(ALL) * len(HOSTS) + 2  # ...and parsed
    m = v2.get("metrics")
    assert m["reference_run"]["label"] == "02_smoke_run_2" and m["reference_run"]["not_passed"] == [
        "SMK-7@cam-02: failed"]
    assert m["flaky_checks"]  # SMK-3 failed then passed on the same baseline
    assert v2.get("closeout")["last_run_id"] == m["runs"][-1]["run_id"]

    # nothing new: no re-read, the figures are reused as they are
    v3 = assert_same_as_cold(loader)
    assert tail.offset == offset + added and v3.get("metrics") is v2.get("metrics")

    # a register change alone (no new event) rebuilds the figures that depend on it
    triage.add_issue(d, {"smk": "SMK-7", "severity": "A"})
    v4 = assert_same_as_cold(loader)
    assert v4.get("metrics")["defects"]["A"]["open"] == 1 and v4.get("metrics") is not v2.get("metrics")

    # record events other than runs (a fix recorded starts a new epoch for flakiness)
    EventsLog(d.events_log).append({"kind": "fix_recorded", "dry_id": "DRY-01", "smk": ["SMK-7"]})
    EventsLog(d.events_log).append({"kind": "environment_validation_override", "reason_codes": ["ENV_DRIFT_KERNEL"]})
    _run(d, "07_smoke_run_final")
    v5 = assert_same_as_cold(loader)
    assert v5.get("metrics")["reference_run"]["label"] == "07_smoke_run_final"
    assert any("drifted environment" in r["risk"] for r in v5.get("closeout")["residual_risks"])


def test_a_torn_line_is_not_consumed_until_complete(rec):
    cfg, d = rec
    loader = RecordViewLoader(cfg, d)
    assert_same_as_cold(loader)
    offset, parsed = loader.digest.tail.offset, loader.digest.tail.events
    line = json.dumps(EventsLog(d.events_log).line({"kind": "check_finished", "run_id": "x", "host": "cam-01",
                                                    "check": "SMK-1", "outcome": "failed", "duration": 9.5}),
                      separators=(",", ":")).encode() + b"\n"
    with open(d.events_log, "ab") as f:  # a writer mid-append: half a line, no newline yet
        f.write(line[:40])
    v = assert_same_as_cold(loader)
    src = v.get("metrics")["source"]
    assert src["torn_lines"] == 1 and src["sha256"] == hashlib.sha256(d.events_log.read_bytes()).hexdigest()
    assert loader.digest.tail.offset == offset and loader.digest.tail.events == parsed  # not consumed
    with open(d.events_log, "ab") as f:  # and the rest of it
        f.write(line[40:])
    v = assert_same_as_cold(loader)
    assert v.get("metrics")["source"]["torn_lines"] == 0 and loader.digest.tail.events == parsed + 1
    assert loader.digest.tail.offset == offset + len(line)


def test_a_torn_tail_cut_by_the_next_append_is_never_read_as_an_event(rec):
    cfg, d = rec
    loader = RecordViewLoader(cfg, d)
    with open(d.events_log, "ab") as f:  # a writer killed mid-line
        f.write(b'{"kind":"check_finished","outcome":"fai')
    assert_same_as_cold(loader)
    _run(d, "02_smoke_run_2")  # the next append cuts the torn tail off first
    v = assert_same_as_cold(loader)
    assert v.get("metrics")["source"]["torn_lines"] == 0


def test_truncated_or_replaced_log_is_read_again_from_the_top(rec, tmp_path):
    from record.pack import build_pack

    cfg, d = rec
    _run(d, "02_smoke_run_2")
    pack = build_pack(cfg, d, out=tmp_path / "pack")  # the evidence pack of this state
    loader = RecordViewLoader(cfg, d)
    assert_same_as_cold(loader)
    _run(d, "02_smoke_run_3", fail={"SMK-5"})
    _run(d, "02_smoke_run_4", fail={"SMK-6"})
    assert_same_as_cold(loader)

    # restore the pack's events log in place (same inode, shorter)
    ino = d.events_log.stat().st_ino
    shutil.copyfile(pack.path / d.events_log.name, d.events_log)
    assert d.events_log.stat().st_ino == ino
    v = assert_same_as_cold(loader)
    assert v.get("metrics")["reference_run"]["label"] == "02_smoke_run_2"

    # replaced by another file (rename over it: a new inode), longer than what was read
    other = tmp_path / "other"
    other.mkdir()
    d2 = dry(other)
    for n in range(1, 5):
        _run(d2, f"02_smoke_run_{n}", fail={"SMK-2"}, hosts=HOSTS[:2])
    tmp = d.root / "events.log.jsonl.new"
    shutil.copyfile(d2.events_log, tmp)
    os.replace(tmp, d.events_log)
    v = assert_same_as_cold(loader)
    assert v.get("metrics")["reference_run"]["hosts"] == list(HOSTS[:2])

    # truncated to nothing, then removed, then back
    with open(d.events_log, "r+b") as f:
        f.truncate(0)
    assert assert_same_as_cold(loader).get("metrics")["runs"] == []
    d.events_log.unlink()
    assert assert_same_as_cold(loader).get("metrics")["source"]["sha256"] == ""
    _run(d, "02_smoke_run_5")
    assert [r["label"] for r in assert_same_as_cold(loader).get("metrics")["runs"]] == ["02_smoke_run_5"]


def test_hand_edits_in_place_are_noticed(rec):
    cfg, d = rec
    _run(d, "02_smoke_run_2")
    loader = RecordViewLoader(cfg, d)
    failed = sum(r["failed"] for r in assert_same_as_cold(loader).get("metrics")["runs"])
    data = d.events_log.read_bytes()

    # the same length, no append: "passed" -> "failed" somewhere in the middle
    i = data.index(b'"outcome":"passed"', len(data) // 3)
    edited = data[:i] + b'"outcome":"failed"' + data[i + len(b'"outcome":"passed"'):]
    time.sleep(0.02)  # a later mtime even where timestamps are coarse (the edit is told by its mtime)
    with open(d.events_log, "r+b") as f:  # an editor saving in place: same inode, same size
        f.write(edited)
    assert len(d.events_log.read_bytes()) == len(data)
    assert sum(r["failed"] for r in assert_same_as_cold(loader).get("metrics")["runs"]) == failed + 1

    # a line deleted in the middle and new runs appended before the next load
    lines = d.events_log.read_bytes().splitlines(keepends=True)
    del lines[len(lines) // 2]
    d.events_log.write_bytes(b"".join(lines))
    _run(d, "02_smoke_run_3")
    assert_same_as_cold(loader)


def test_a_broken_line_fails_the_figures_like_a_cold_load_until_fixed(rec):
    cfg, d = rec
    loader = RecordViewLoader(cfg, d)
    assert_same_as_cold(loader)
    with open(d.events_log, "ab") as f:
        f.write(b"{not json\n")
    v = assert_same_as_cold(loader)
    assert "line" in v.errors["metrics"] and "not a JSON event line" in v.errors["metrics"]
    assert "closeout" in v.errors and "triage" not in v.errors  # the other panes keep working
    _run(d, "02_smoke_run_2")  # runs after the broken line: still broken (a cold load says so too)
    assert assert_same_as_cold(loader).errors["metrics"] == v.errors["metrics"]
    # fixed by hand: the line deleted
    lines = [ln for ln in d.events_log.read_bytes().splitlines(keepends=True) if ln != b"{not json\n"]
    d.events_log.write_bytes(b"".join(lines))
    v = assert_same_as_cold(loader)
    assert not v.errors and v.get("metrics")["reference_run"]["label"] == "02_smoke_run_2"

    # a value the figures cannot use (a cold compute fails on it too), then a new file
    EventsLog(d.events_log).append({"kind": "rpc_latency", "method": "ping", "ms": "fast"})
    v = assert_same_as_cold(loader)
    assert v.errors["metrics"].startswith("ValueError")
    good = [ln for ln in d.events_log.read_bytes().splitlines(keepends=True) if b'"fast"' not in ln]
    tmp = d.root / "events.tmp"
    tmp.write_bytes(b"".join(good))
    os.replace(tmp, d.events_log)
    assert not assert_same_as_cold(loader).errors


def test_cold_read_in_slices_equals_one_read(rec, monkeypatch):
    import record.digest

    cfg, d = rec
    for n in range(2, 5):
        _run(d, f"02_smoke_run_{n}", fail={("SMK-4", "cam-03")})
    monkeypatch.setattr(record.digest, "READ_SLICE", 1000)  # many slices, lines cut at every boundary
    assert_same_as_cold(RecordViewLoader(cfg, d))


# --------------------------------------------------------------------------- the reader alone

_LINES = st.one_of(
    st.fixed_dictionaries({"kind": st.sampled_from(["check_finished", "rpc_latency", "x"]),
                           "n": st.integers(), "s": st.text(max_size=8)}).map(
        lambda o: json.dumps(o, ensure_ascii=False).encode()),
    st.sampled_from([b"", b"   ", b"\t", b"\x0c", b"\r", b"1", b"[]", b"null", b'"s"', b"{", b"}", b"garbage",
                     b'{"a":1}{"b":2}', b'{"a":1} ', b' {"a":1}\r', b"\xef\xbb\xbf{\"bom\":1}", b"\xc2\xa0",
                     b"\xff\xfe{}", b'{"a":"\xc3\xa9"}', b'{"a":', b'"b":2}', b'{"a":1},{"b":2}', b'{"a":NaN}',
                     b"\x00{}"]),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(_LINES, max_size=12), torn=st.binary(max_size=6).filter(lambda b: b"\n" not in b),
       cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=6))
def test_tail_reads_what_a_cold_reader_reads(tmp_path, lines, torn, cuts):
    """Whatever the bytes and however they arrive (cut anywhere, mid-line included), the
    tail's events, bad lines, torn count and sha equal a cold EventsReader's; in strict mode
    it fails on the same line with the same message."""
    data = b"".join(ln + b"\n" for ln in lines) + torn
    p = tmp_path / f"log-{hashlib.md5(data + repr(cuts).encode()).hexdigest()}.jsonl"
    p.write_bytes(b"")
    loose, strict = EventsTail(p, strict=False), EventsTail(p)
    got: list = []
    got_strict: list = []
    error = None
    pos = 0
    for cut in sorted({min(c, len(data)) for c in cuts}) + [len(data)]:
        with open(p, "ab") as f:
            f.write(data[pos:cut])
        pos = max(pos, cut)
        r = loose.read()
        assert not r.reset
        got += r.events
        r = strict.read(max_bytes=7)
        while True:
            got_strict += r.events
            error = r.error
            if not r.more:
                break
            r = strict.read(max_bytes=7)
    cold = EventsReader(p, strict=False)
    assert got == list(cold)
    assert loose.bad_lines == cold.bad_lines and loose.torn == cold.torn
    assert loose.sha256 == hashlib.sha256(data).hexdigest()
    try:
        expected = list(EventsReader(p))
    except RecordError as e:
        assert error is not None and str(error) == str(e)
        assert got_strict == got[: len(got_strict)]
    else:
        assert error is None and got_strict == expected
