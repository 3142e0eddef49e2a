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


def test_a_bad_fleet_run_gates_detail_is_grouped_on_screen_and_kept_in_full_in_the_file(tmp_path, capsys):
    """50 hosts, SMK-7 failing on 34 of them: the console shows one line per check with a host
    count; 09_closeout.md still lists every failing check@host."""
    from record.gates import detail_lines

    hosts = tuple(f"cam-{i:02d}" for i in range(1, 51))
    cfg = write_config(tmp_path, hosts=hosts)
    d = dry(tmp_path)
    bad7 = set(hosts[:34])
    rows = [(h, c, "failed" if (c == "SMK-7" and h in bad7) or (c == "SMK-4" and h == "cam-50") else "passed")
            for c in ALL for h in hosts]
    rows += [("cam-49", "SMK-5", "error")]  # a second attempt (the last attempt wins)
    record_run(d, "02_smoke_run_1", rows)
    gates = {g["name"]: g for g in closeout(cfg, d, now=MON, record=False)["gates"]}
    smk = gates["all_smk_pass"]
    assert len(smk["detail"].split("; ")) == 34 + 1 + 1  # the gate itself keeps every failure
    assert detail_lines(smk) == ["SMK-4 failed on cam-50", "SMK-5 errored on cam-49",
                                 "SMK-7 failed on 34 hosts (cam-01, cam-02, cam-03, … +31)"]
    # short lists stay as they are
    assert detail_lines({"name": "all_smk_pass", "detail": "SMK-5@cam-02: failed"}) == ["SMK-5@cam-02: failed"]
    assert detail_lines({"name": "criticals", "detail": ""}) == []
    many = ", ".join(f"DRY-{i:02d} (open)" for i in range(1, 12))
    assert detail_lines({"name": "criticals", "detail": many}) == [
        "DRY-01 (open), DRY-02 (open), DRY-03 (open), DRY-04 (open), … +7"]
    flaky = "flaky: " + ", ".join([f"SMK-3@{h}" for h in hosts[:6]] + ["SMK-6@cam-09"])
    assert detail_lines({"name": "flaky", "detail": flaky}) == [
        "SMK-3 flaky on 6 hosts (cam-01, cam-02, cam-03, … +3)", "SMK-6 flaky on cam-09"]

    # the CLI's text groups them too (its --json keeps every item)
    from tui.cli import main

    assert main(["closeout", "--preview", "--config", str(cfg.path)]) == 1
    out = capsys.readouterr().out
    assert "SMK-7 failed on 34 hosts (cam-01, cam-02, cam-03, … +31)" in out and "SMK-7@cam-20" not in out
    assert main(["closeout", "--preview", "--config", str(cfg.path), "--json"]) == 1
    assert "SMK-7@cam-20: failed" in capsys.readouterr().out

    closeout(cfg, d, now=MON)
    md = d.closeout.read_text()
    assert all(f"SMK-7@{h}: failed" in md for h in bad7) and "SMK-4@cam-50: failed" in md
