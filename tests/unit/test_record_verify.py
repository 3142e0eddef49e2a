from __future__ import annotations

import pytest

from record import ledger, triage
from record.errors import RecordError
from record.events_log import EventsLog, read_events
from record.verify import conclude, judge, keyword_for, prepare
from tests.record_support import dry


def _res(check, outcome, host="cam-01"):
    return {"check": check, "host": host, "outcome": outcome, "summary": "s"}


def _issue(d, smk="SMK-3, SMK-5"):
    return triage.add_issue(d, {"smk": smk, "severity": "A"}, extra={"hosts": ["cam-01"]})


def test_prepare_selects_only_the_affected_checks(tmp_path):
    d = dry(tmp_path)
    _issue(d)
    plan = prepare(d, "DRY-01")
    assert plan.keyword == "SMK_3 or SMK_5" == keyword_for(["SMK-3", "SMK-5"])
    assert plan.hosts == ["cam-01"] and plan.attempt == 1 and plan.label == "04_verify_DRY-01"
    assert plan.log_path == d.verify_log("DRY-01") and not plan.fix_recorded
    assert prepare(d, "DRY-01", all_hosts=True).hosts == []


def test_judge():
    class P:
        smk = ["SMK-3", "SMK-5"]

    assert judge(P, [_res("SMK-3", "passed"), _res("SMK-5", "passed")])[0] == "PASS"
    assert judge(P, [_res("SMK-3", "passed"), _res("SMK-5", "failed")]) == ("FAIL", "SMK-5 failed on cam-01: s")
    assert judge(P, [_res("SMK-3", "passed")]) == ("FAIL", "SMK-5 did not run")
    assert judge(P, [_res("SMK-3", "skipped")])[0] == "FAIL"
    assert judge(P, [])[1].startswith("nothing was verified")


def test_bounce_back_once_then_escalate(tmp_path):
    d = dry(tmp_path)
    _issue(d, "SMK-3")
    log = EventsLog(d.events_log)
    plan = prepare(d, "DRY-01")
    plan.log_path.write_text("attempt one log\n")
    out = conclude(d, plan, [_res("SMK-3", "failed")], log=log)
    assert (out.result, out.bounced, out.escalated) == ("FAIL", True, False)
    assert triage.load_register(d).get("DRY-01").status == "bounced"
    plan2 = prepare(d, "DRY-01")
    assert plan2.attempt == 2 and d.verify_attempt_log("DRY-01", 1).read_text() == "attempt one log\n"
    out2 = conclude(d, plan2, [_res("SMK-3", "error")], log=log)
    assert out2.escalated and out2.result == "FAIL"
    issue = triage.load_register(d).get("DRY-01")
    assert issue.status == "escalated" and issue.escalated and issue.verify_results == ["FAIL", "FAIL"]
    assert [e.note.split(";")[0] for e in ledger.load_ledger(d)] == ["bounced back", "escalated"]
    with pytest.raises(RecordError, match="escalated after 2 failed verifies"):
        prepare(d, "DRY-01")
    plan3 = prepare(d, "DRY-01", force=True)
    out3 = conclude(d, plan3, [_res("SMK-3", "passed")], log=log)
    assert out3.result == "PASS" and triage.load_register(d).get("DRY-01").status == "verified"
    with pytest.raises(RecordError, match="already verified"):
        prepare(d, "DRY-01")
    kinds = [e for e in read_events(d.events_log) if e["kind"] == "verify_result"]
    assert [e["result"] for e in kinds] == ["FAIL", "FAIL", "PASS"]
    md = d.pass_ledger.read_text()
    assert md.count("| DRY-01 |") == 3 and "| 3 | PASS |" in md


def test_a_hand_edited_ledger_is_reported_before_the_run(tmp_path):
    d = dry(tmp_path)
    _issue(d, "SMK-3")
    ledger.append(d, "DRY-01", ["SMK-3"], 1, "FAIL", "x.log")
    d.pass_ledger.write_text(d.pass_ledger.read_text() + "extra\n")
    with pytest.raises(RecordError, match="edited by hand"):
        prepare(d, "DRY-01")
