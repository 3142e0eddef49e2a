from __future__ import annotations

import pytest

from record import triage
from record.errors import HandEditError
from record.events_log import EventsLog, read_events
from record.flakes import analyse, classify, epochs, flaky_checks, load_hunts, record_hunt, signature
from record.quarantine import load_quarantine
from tests.record_support import dry, record_run


def _r(attempt, outcome, summary="", host="cam-01", fault="timeout"):
    return {"check": "SMK-3", "host": host, "attempt": attempt, "outcome": outcome, "duration": 0.1 * attempt,
            "summary": summary, "fault": fault if outcome != "passed" else ""}


def test_signature_masks_volatile_parts():
    a = signature("timeout", "get_camera_list: no response within 5 s (id 7, session 1f2e3d4c5b6a)")
    b = signature("timeout", "get_camera_list: no response within 5 s (id 12, session 9a8b7c6d5e4f)")
    c = signature("rpc_error", "take_snapshot: error -32050 'Dependency failed' at /opt/x/y.jpg")
    assert a == b and a.startswith("timeout: ") and "<n>" in a and "<hex>" in a
    assert "<str>" in c and "<path>" in c and c != a


def test_hunt_verdicts_rate_and_clusters():
    mixed = [_r(i, "failed" if i in (3, 7) else "passed", f"no response within 5 s (id {i})") for i in range(1, 11)]
    mixed.append(_r(9, "error", "connection refused", fault="unreachable"))
    h = analyse("SMK-3", 10, mixed, run_id="r1")
    assert h.verdict == "flaky" and len(h.ran) == 11 and len(h.failures) == 3
    assert round(h.rate, 3) == round(3 / 11, 3)
    (sig1, n1, first1), (sig2, n2, first2) = h.clusters()
    assert (n1, first1, n2, first2) == (2, 3, 1, 9) and sig1.startswith("timeout:") and sig2.startswith("unreachable")
    assert analyse("SMK-3", 3, [_r(i, "passed") for i in (1, 2, 3)]).verdict == "stable-pass"
    assert analyse("SMK-3", 2, [_r(i, "failed", "x") for i in (1, 2)]).verdict == "stable-fail"
    assert analyse("SMK-3", 2, [_r(1, "skipped")]).verdict == "no-data"
    assert analyse("SMK-3", 1, [{"check": "SMK-4", "outcome": "failed"}]).attempts == []


def test_record_hunt_quarantines_a_flaky_check_and_renders_evidence(tmp_path):
    d = dry(tmp_path)
    triage.add_issue(d, {"smk": "SMK-3", "severity": "A"})
    log = EventsLog(d.events_log)
    flaky = analyse("SMK-3", 10, [_r(i, "failed" if i == 4 else "passed", "no response within 5 s")
                                  for i in range(1, 11)], run_id="r7", log="artifacts/flake_SMK-3/flake_SMK-3.log")
    record_hunt(d, flaky, log=log)
    q = load_quarantine(d.quarantine)
    assert "SMK-3" in q and q["SMK-3"].startswith("flaky: 1/10 attempts failed on one baseline")
    md = d.flake_evidence.read_text()
    assert "## SMK-3: FLAKY" in md and "failure rate 10.0 %" in md and "quarantined (quarantine.txt)" in md
    assert "| 4 | cam-01 | failed | 0.400 | timeout: no response within <n> s |" in md
    assert "see DRY-01" in md
    stable = analyse("SMK-5", 3, [{**_r(i, "passed"), "check": "SMK-5"} for i in (1, 2, 3)])
    record_hunt(d, stable, log=log)
    assert [h.verdict for h in load_hunts(d)] == ["flaky", "stable-pass"]
    assert "SMK-5" not in load_quarantine(d.quarantine)
    kinds = [e["kind"] for e in read_events(d.events_log)]
    assert kinds.count("flake_scan_complete") == 2 and kinds.count("quarantine_added") == 1
    no_q = analyse("SMK-6", 2, [{**_r(1, "passed"), "check": "SMK-6"}, {**_r(2, "failed", "x"), "check": "SMK-6"}])
    record_hunt(d, no_q, quarantine_flaky=False)
    assert "SMK-6" not in load_quarantine(d.quarantine)
    d.flake_evidence.write_text(d.flake_evidence.read_text() + "hand note\n")
    with pytest.raises(HandEditError):
        record_hunt(d, stable)


def test_same_baseline_classification(tmp_path):
    d = dry(tmp_path)
    log = EventsLog(d.events_log)
    log.append({"kind": "env_frozen", "sha256": "aaa"})
    record_run(d, "02_smoke_run_1", {"SMK-3": "failed", "SMK-4": "passed", "SMK-5": "failed"})
    log.append({"kind": "fix_recorded", "dry_id": "DRY-01", "smk": ["SMK-3"]})  # a fix starts a new epoch
    record_run(d, "02_smoke_run_2", {"SMK-3": "passed", "SMK-4": "failed", "SMK-5": "passed"})
    res = classify(epochs(read_events(d.events_log)))
    assert not res[("SMK-3", "cam-01")]["flaky"]  # failed, fixed, passed: not a flake
    assert res[("SMK-4", "cam-01")]["flaky"] and res[("SMK-4", "cam-01")]["flaky_failures"] == 1
    assert res[("SMK-5", "cam-01")]["flaky"]  # no fix in between: passed and failed on one baseline
    log.append({"kind": "env_frozen", "sha256": "bbb"})  # a re-freeze starts a new baseline for all
    record_run(d, "02_smoke_run_3", {"SMK-4": "passed"})
    assert set(flaky_checks(d)) == {("SMK-4", "cam-01"), ("SMK-5", "cam-01")}
