from __future__ import annotations

import datetime as dt
import json

import pytest

from record import triage
from record.closeout import ACCEPT, ITERATE, STOP, closeout, decide, decision_label
from record.events_log import read_events
from record.gates import all_met, evaluate
from record.metrics import compute
from record.sprint import load_sprint
from record.triage import load_register
from tests.record_support import dry, record_run, write_config

ALL = ("SMK-1", "SMK-2", "SMK-3", "SMK-4", "SMK-5", "SMK-6", "SMK-7")
MON = dt.datetime(2025, 11, 24, 17, 0)


@pytest.mark.parametrize("met,it,itmax,day,daymax,code", [
    (True, 2, 2, 9, 3, ACCEPT),
    (False, 1, 2, 1, 3, ITERATE),
    (False, 1, 2, 2, 3, ITERATE),
    (False, 2, 2, 2, 3, STOP),
    (False, 1, 2, 3, 3, STOP),
    (False, 1, 1, 1, 3, STOP),
])
def test_decision_rule(met, it, itmax, day, daymax, code):
    got, why = decide(met, it, itmax, day, daymax)
    assert got == code and why
    if code == STOP:
        assert "gates not met and" in why


def test_labels():
    assert decision_label(ITERATE, 2) == "2nd Iteration" and decision_label(ITERATE, 3) == "3rd Iteration"
    assert decision_label(ACCEPT) == "ACCEPT"


def test_gates(tmp_path):
    cfg = write_config(tmp_path)
    d = dry(tmp_path)
    record_run(d, "07_smoke_run_final", {c: "passed" for c in ALL})
    for _ in range(4):
        triage.add_issue(d, {"smk": "SMK-2", "severity": "A"})
    triage.add_issue(d, {"smk": "SMK-3", "severity": "R"})
    res = {g.name: g for g in evaluate(cfg.gates, compute(d), load_register(d))}
    assert res["all_smk_pass"].met and res["flaky"].met
    assert not res["criticals"].met and res["criticals"].detail == "DRY-05 (open)"
    assert not res["majors"].met and res["majors"].value == "4"
    assert not res["majors_workarounds"].met and "missing: DRY-01" in res["majors_workarounds"].detail
    assert not all_met(list(res.values()))


def _good_final(d):
    record_run(d, "07_smoke_run_final", {c: "passed" for c in ALL})


def test_accept_with_a_documented_major(tmp_path):
    cfg = write_config(tmp_path)
    d = dry(tmp_path)
    _good_final(d)
    triage.add_issue(d, {"smk": "SMK-5", "severity": "A", "decision": "Workaround",
                         "workaround": "re-run recording once", "owner": "Dana"})
    r = closeout(cfg, d, now=MON)
    assert r["decision"] == "ACCEPT" and r["gates_met"] and r["iteration"] == 1 and r["day"] == 1
    md = d.closeout.read_text()
    assert "**Decision: ACCEPT**" in md and "ACCEPT when every gate is met; else 2nd Iteration" in md
    assert "DRY-01 A (Amber, Major) open" in md and "re-run recording once" in md
    assert "## Hand-offs to CDR steps 4-6/8/9" in md and "Dry-run outcome: ACCEPT." in md
    assert json.loads(d.closeout_json.read_text())["decision_code"] == ACCEPT
    assert any(e["kind"] == "closeout_decision" for e in read_events(d.events_log)) is False  # no log given


def test_second_iteration_then_stop(tmp_path):
    cfg = write_config(tmp_path)
    d = dry(tmp_path)
    record_run(d, "02_smoke_run_1", {c: "passed" for c in ALL} | {"SMK-4": "failed"})
    triage.add_issue(d, {"smk": "SMK-4", "severity": "R"})
    r1 = closeout(cfg, d, now=MON)
    assert r1["decision"] == "2nd Iteration" and r1["iteration"] == 1
    assert "register rule broken: DRY-01: a Red needs an owner and an ETA" in d.closeout.read_text()
    assert load_sprint(d).iteration == 2
    # run again with no new run: the same closeout is re-evaluated, not a new iteration
    again = closeout(cfg, d, now=MON)
    assert again["decision"] == "2nd Iteration" and again["replaced_previous"] and load_sprint(d).iteration == 2
    record_run(d, "02_smoke_run_2", {c: "passed" for c in ALL} | {"SMK-4": "failed"})
    r2 = closeout(cfg, d, now=MON + dt.timedelta(days=1))
    assert r2["decision"] == "STOP" and r2["iteration"] == 2 and "iterations used 2 = max 2" in r2["why"]
    assert [c.decision for c in load_sprint(d).closeouts] == ["2nd Iteration", "STOP"]


def test_timebox_exhausted_stops(tmp_path):
    cfg = write_config(tmp_path)
    d = dry(tmp_path)
    record_run(d, "02_smoke_run_1", {"SMK-1": "failed"})
    r = closeout(cfg, d, now=dt.datetime(2025, 11, 26, 17, 0))  # Wednesday = day 3 of 3
    assert r["decision"] == "STOP" and r["day"] == 3 and "days used 3 >= timebox 3" in r["why"]


def test_preview_writes_nothing(tmp_path):
    cfg = write_config(tmp_path)
    d = dry(tmp_path)
    _good_final(d)
    r = closeout(cfg, d, now=MON, record=False)
    assert r["decision"] == "ACCEPT" and not d.closeout.exists() and not d.sprint_state.exists()
