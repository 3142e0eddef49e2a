"""The pytest-style run log, JUnit XML and --ff cache, built from events (pure: no I/O
except the files the recorder is asked to write)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

from record.junit import junit_xml
from record.lastfailed import load_lastfailed, update_lastfailed
from record.layout import DryRunDir
from record.recorder import Recorder
from record.runlog import RunLog, closing_line
from runners.events import (
    CheckFinished,
    CheckStarted,
    CheckStep,
    Notice,
    RpcLatency,
    RunFinished,
    RunStarted,
)

T0 = 1_700_000_000.0


def run_events(*, stopped="", interrupted=False, count=1):
    opts = {"argv": "-k 'SMK_3 or SMK_4' --maxfail=1 --durations=10", "deselected": 5, "total": 4 * count,
            "count": count}
    evs = [RunStarted(hosts=("h1", "h2"), checks=("SMK-3", "SMK-4"), label="02_smoke_run_3", options=opts,
                      run_id="r1", ts=T0)]
    evs += [CheckStarted(host="h1", check="SMK-4", title="Snapshot: take_snapshot returns file", run_id="r1",
                         ts=T0 + 1),
            CheckStep(host="h1", check="SMK-4", message="take_snapshot on camera0", run_id="r1", ts=T0 + 1.5)]
    evs += [
        CheckFinished(host="h1", check="SMK-3", outcome="passed", duration=1.25, summary="2 cameras CONNECTED",
                      run_id="r1", ts=T0 + 2),
        CheckFinished(host="h1", check="SMK-4", outcome="failed", duration=0.5, summary="no EXIF and no timestamp",
                      expected="EXIF DateTimeOriginal or a trustworthy timestamp", seen="neither",
                      fault="chaos:no_exif", metrics={"snapshot_ms": 12.5},
                      rpc_excerpt=({"dir": "out", "kind": "request", "method": "take_snapshot", "id": 3,
                                    "t_rel": 0.01, "frame": {"jsonrpc": "2.0", "id": 3, "method": "take_snapshot",
                                                             "params": {"device": "camera0"}}},
                                   {"dir": "in", "kind": "response", "method": "take_snapshot", "id": 3,
                                    "latency_ms": 12.5, "t_rel": 0.02, "frame": {"result": {"status": "SUCCESS"}}}),
                      log_excerpt=("2026-01-01 10:00:00,000 WARNING x: CHAOS fault=no_exif op=snapshot id=3",),
                      run_id="r1", ts=T0 + 3),
        CheckFinished(host="h2", check="SMK-3", outcome="error", duration=3.0, summary="connection refused",
                      expected="an authenticated RPC session", seen="connection refused", fault="unreachable",
                      run_id="r1", ts=T0 + 4),
        CheckFinished(host="h2", check="SMK-4", outcome="skipped", duration=0.0, summary="quarantined: DRY-02",
                      fault="quarantined", run_id="r1", ts=T0 + 4),
        RpcLatency(host="h1", method="get_camera_list", ms=3.0, run_id="r1"),
        RpcLatency(host="h1", method="get_camera_list", ms=70.0, run_id="r1"),
        RpcLatency(host="h1", method="take_snapshot", ms=12.5, run_id="r1"),
    ]
    if stopped:
        evs.append(Notice(level="warning", code="EARLY_EXIT_DETECTED", message="stopping after 1 failure(s) (maxfail)",
                          run_id="r1"))
    evs.append(RunFinished(passed=1, failed=1, errors=1, skipped=1, duration=4.567, stopped_early=stopped,
                           interrupted=interrupted, run_id="r1", ts=T0 + 5))
    return evs


def render(**kw) -> tuple[RunLog, list[str], str]:
    rl = RunLog(durations=10)
    streamed = [ln for ev in run_events(**kw) for ln in rl.apply(ev)]
    return rl, streamed, rl.render()


def test_closing_line_has_pytest_shape():
    assert closing_line(7, 0, 0, 0, 5.123) == "7 passed, 0 failed in 5.12s"
    assert closing_line(5, 1, 1, 2, 10, deselected=3) == "5 passed, 1 failed, 2 skipped, 3 deselected, 1 error in 10.00s"
    assert closing_line(0, 0, 2, 0, 1.0) == "0 passed, 0 failed, 2 errors in 1.00s"


def test_log_reads_like_pytest():
    rl, streamed, text = render(stopped="maxfail")
    lines = text.splitlines()
    assert lines[0].startswith("=") and "test session starts" in lines[0] and len(lines[0]) == 80
    assert "label 02_smoke_run_3 -- run r1" in lines[1]
    assert "options: -k 'SMK_3 or SMK_4' --maxfail=1 --durations=10" in text
    assert "collected 9 items / 5 deselected / 4 selected" in text
    assert "h1::SMK-3 PASSED [ 25%] (1.25s) 2 cameras CONNECTED" in text
    assert "h2::SMK-4 SKIPPED [100%]" in text
    # errors before failures, as pytest prints them; expected/seen marked with E
    assert text.index("= ERRORS =") < text.index("= FAILURES =")
    sect = text[text.index("= FAILURES ="):]
    assert "h1::SMK-4" in sect.splitlines()[1]
    assert "E   expected: EXIF DateTimeOriginal or a trustworthy timestamp" in sect
    assert "E   seen:     neither" in sect and "fault:    chaos:no_exif" in sect
    assert "Snapshot: take_snapshot returns file" in sect
    assert re.search(r"\+\s*0\.50s take_snapshot on camera0", sect)  # the check's steps, relative times
    assert '-> request take_snapshot id=3 {"params":{"device":"camera0"}}' in sect
    assert "<- response take_snapshot id=3 (12.5 ms)" in sect
    assert "CHAOS fault=no_exif" in sect
    # durations, latency vs budgets, short summary, stop banner, closing line
    assert re.search(r"^3\.00s call     h2::SMK-3$", text, re.M)
    assert "duration percentiles: p50=" in text
    lat = text[text.index("RPC latency vs the service's budgets"):]
    assert re.search(r"get_camera_list\s+2\s+0\s+3\.0\s+70\.0\s+70\.0\s+50\s+OVER", lat)
    assert re.search(r"take_snapshot\s+1\s+0\s+12\.5\s+12\.5\s+12\.5\s+200\s+within", lat)
    summary = text[text.index("short test summary info"):]
    assert "FAILED h1::SMK-4 - no EXIF and no timestamp" in summary
    assert "ERROR h2::SMK-3 - connection refused" in summary
    assert "SKIPPED [1] h2::SMK-4: quarantined: DRY-02" in summary
    assert "stopped early: maxfail" in text
    assert lines[-1] == "1 passed, 1 failed, 1 skipped, 5 deselected, 1 error in 4.57s"
    # what was streamed is exactly the head of the final file
    assert text.startswith("\n".join(streamed))
    assert any("stopping after 1 failure" in ln for ln in streamed)


def test_hard_failfast_gives_an_emergency_summary_and_interrupt_says_so():
    _, _, text = render(stopped="failfast:hard")
    assert "slowest" not in text and "RPC latency" not in text and "short test summary info" in text
    _, _, text = render(interrupted=True)
    assert "Interrupted" in text.splitlines()[-2]


def test_repeated_checks_get_pytest_repeat_ids():
    rl = RunLog()
    rl.apply(RunStarted(hosts=("h",), checks=("SMK-3",), options={"count": 10, "total": 10}, run_id="r"))
    line = rl.apply(CheckFinished(host="h", check="SMK-3", outcome="passed", duration=1, attempt=2, run_id="r"))[0]
    assert line.startswith("h::SMK-3[2-10] PASSED [ 10%]")


def test_junit_xml():
    evs = run_events()
    results = [e for e in evs if isinstance(e, CheckFinished)]
    xml = junit_xml(results, label="02_smoke_run_3", duration=4.567, started=T0, run_id="r1",
                    steps={("h1", "SMK-4", 1): ["take_snapshot on camera0"]})
    root = ET.fromstring(xml)
    suite = root.find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("4", "1", "1", "1")
    cases = {(c.get("classname"), c.get("name")): c for c in suite.iter("testcase")}
    f = cases[("smoke.h1", "SMK-4")].find("failure")
    assert f.get("type") == "chaos:no_exif" and "expected EXIF" in f.get("message")
    assert "step: take_snapshot on camera0" in f.text and "service log: " in f.text
    assert cases[("smoke.h2", "SMK-3")].find("error") is not None
    assert cases[("smoke.h2", "SMK-4")].find("skipped").get("message") == "quarantined: DRY-02"
    props = {p.get("name"): p.get("value") for p in cases[("smoke.h1", "SMK-4")].iter("property")}
    assert props == {"snapshot_ms": "12.5"}
    # control characters from a hostile service never break the XML
    bad = CheckFinished(host="h", check="SMK-1", outcome="failed", duration=0, summary="x\x00\x07y", seen="\x1b[31m")
    ET.fromstring(junit_xml([bad]))


def test_lastfailed_follows_pytest_rules(tmp_path):
    p = tmp_path / "lastfailed.json"
    assert load_lastfailed(p) == set()
    f = lambda h, c, o, a=1: CheckFinished(host=h, check=c, outcome=o, duration=0, attempt=a)  # noqa: E731
    update_lastfailed(p, [f("h1", "SMK-3", "failed"), f("h1", "SMK-4", "error"), f("h1", "SMK-5", "passed")])
    assert load_lastfailed(p) == {("h1", "SMK-3"), ("h1", "SMK-4")}
    assert json.loads(p.read_text()) == {"h1::SMK-3": True, "h1::SMK-4": True}
    # a -k run of SMK-3 that passes forgets only SMK-3; a flaky repeat (fail then pass) stays failed
    update_lastfailed(p, [f("h1", "SMK-3", "passed"), f("h2", "SMK-6", "failed", 1), f("h2", "SMK-6", "passed", 2)])
    assert load_lastfailed(p) == {("h1", "SMK-4"), ("h2", "SMK-6")}
    p.write_text("{not json")
    assert load_lastfailed(p) == set()  # a broken cache never stops a run


def test_recorder_streams_then_writes_every_file(tmp_path):
    d = DryRunDir(tmp_path / "dry_run")
    log = d.smoke_run_log(3)
    rec = Recorder(d, log, secrets=["s3cr3t-value"])
    evs = run_events()
    rec.handle(evs[:4])
    partial = log.read_text()
    assert "test session starts" in partial and "h1::SMK-3 PASSED" in partial and "passed, " not in partial
    leak = CheckFinished(host="h1", check="SMK-6", outcome="failed", duration=0, seen="token s3cr3t-value leaked",
                         run_id="r1")
    rec.handle([leak, *evs[4:]])
    text = log.read_text()
    assert text.splitlines()[-1].endswith("in 4.57s") and "s3cr3t-value" not in text and "<redacted>" in text
    assert log.with_suffix(".xml").exists() and "s3cr3t-value" not in log.with_suffix(".xml").read_text()
    assert load_lastfailed(d.lastfailed) == {("h1", "SMK-4"), ("h2", "SMK-3"), ("h1", "SMK-6")}
    lines = [json.loads(x) for x in d.events_log.read_text().splitlines()]
    assert len(lines) == len(evs) + 1 and lines[0]["kind"] == "run_started" and lines[0]["label"] == "02_smoke_run_3"
    assert "s3cr3t-value" not in d.events_log.read_text()
    assert rec.errors == []
