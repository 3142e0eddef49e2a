from __future__ import annotations

import json
import multiprocessing
import threading

import pytest

from record.errors import RecordError
from record.events_log import EventsLog, read_events
from runners.events import CheckFinished, RunStarted

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoiYWRtaW4ifQ.c2lnbmF0dXJlLWhlcmU"


def test_line_has_seed_and_contract_fields(tmp_path):
    p = tmp_path / "events.log.jsonl"
    log = EventsLog(p, context={"baseline": "v1"})
    log.append(RunStarted(hosts=("cam-01",), checks=("SMK-1",), label="02_smoke_run_1", run_id="r1"))
    log.append({"kind": "triage_added", "dry_id": "DRY-01"}, dry_id="DRY-01")
    a, b = list(read_events(p))
    for line in (a, b):
        assert {"timestamp", "event", "context", "kind", "ts"} <= set(line)
        assert line["timestamp"].endswith("Z") and line["event"] == line["kind"]
    assert a["run_id"] == "r1" and a["context"]["run_id"] == "r1" and a["context"]["label"] == "02_smoke_run_1"
    assert a["label"] == "02_smoke_run_1" and a["context"]["baseline"] == "v1"
    assert b["context"]["dry_id"] == "DRY-01" and b["run_id"] == ""


def test_secrets_are_redacted(tmp_path):
    p = tmp_path / "events.log.jsonl"
    log = EventsLog(p, secrets=["s3cr3t-value"])
    log.append({"kind": "x", "params": {"auth_token": "abc"}, "msg": f"token {JWT} and s3cr3t-value here",
                "nested": [{"password": "pw"}]})
    text = p.read_text()
    assert "abc" not in text and JWT not in text and "s3cr3t-value" not in text and '"pw"' not in text
    (line,) = read_events(p)
    assert line["params"]["auth_token"] == "<redacted>"
    assert line["msg"] == "token <redacted> and <redacted> here"


def test_torn_last_line_is_skipped_counted_and_cut_by_the_next_append(tmp_path):
    p = tmp_path / "events.log.jsonl"
    log = EventsLog(p)
    log.append({"kind": "a"})
    with open(p, "ab") as f:
        f.write(b'{"kind": "torn", "ev')  # a writer killed mid-line
    r = read_events(p)
    assert [e["kind"] for e in r] == ["a"] and r.torn == 1
    log.append({"kind": "b"})
    r = read_events(p)
    assert [e["kind"] for e in r] == ["a", "b"] and r.torn == 0
    assert p.read_bytes().count(b"\n") == 2


def test_torn_tail_longer_than_one_block(tmp_path):
    p = tmp_path / "events.log.jsonl"
    EventsLog(p).append({"kind": "a"})
    with open(p, "ab") as f:
        f.write(b'{"kind": "big", "x": "' + b"y" * 200_000)
    EventsLog(p).append({"kind": "b"})
    assert [e["kind"] for e in read_events(p)] == ["a", "b"]


def test_bad_middle_line_names_file_and_line(tmp_path):
    p = tmp_path / "events.log.jsonl"
    EventsLog(p).append({"kind": "a"})
    with open(p, "a") as f:
        f.write("not json\n")
    EventsLog(p).append({"kind": "b"})
    with pytest.raises(RecordError) as e:
        list(read_events(p))
    assert f"{p}:2:" in str(e.value)
    r = read_events(p, strict=False)
    assert [x["kind"] for x in r] == ["a", "b"] and r.bad_lines == [2]


def test_missing_file_reads_empty(tmp_path):
    assert list(read_events(tmp_path / "nope.jsonl")) == []


def test_rejects_nameless_events(tmp_path):
    with pytest.raises(ValueError):
        EventsLog(tmp_path / "e.jsonl").append({"x": 1})
    with pytest.raises(TypeError):
        EventsLog(tmp_path / "e.jsonl").append(42)


def test_append_many_and_threads_keep_lines_whole(tmp_path):
    p = tmp_path / "events.log.jsonl"
    log = EventsLog(p)

    def work(k):
        for i in range(50):
            log.append({"kind": "t", "k": k, "i": i, "pad": "z" * 3000})

    ts = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    n = log.append_many(CheckFinished(host="h", check="SMK-1", outcome="passed", duration=0.1) for _ in range(10))
    assert n == 10
    lines = list(read_events(p))
    assert len(lines) == 210
    assert sorted((e["k"], e["i"]) for e in lines if e["kind"] == "t") == [(k, i) for k in range(4) for i in range(50)]


def _proc_writer(path, k):
    log = EventsLog(path)
    for i in range(40):
        log.append({"kind": "p", "k": k, "i": i, "pad": "q" * 5000})


def test_processes_appending_at_once_lose_nothing(tmp_path):
    p = tmp_path / "events.log.jsonl"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_proc_writer, args=(str(p), k)) for k in range(3)]
    for x in procs:
        x.start()
    for x in procs:
        x.join(60)
        assert x.exitcode == 0
    got = sorted((e["k"], e["i"]) for e in read_events(p))
    assert got == [(k, i) for k in range(3) for i in range(40)]
    assert all(json.loads(line) for line in p.read_text().splitlines())
