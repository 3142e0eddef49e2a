from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from record import triage
from record.errors import HandEditError, RecordError, RuleError
from record.events_log import EventsLog, read_events
from record.failures import pick_failure
from record.rendered import RenderedFile
from record.triage_md import parse_register
from tests.record_support import dry, record_run


def _add(d, **kw):
    values = {"smk": "SMK-3", "symptom": "no camera in 10 s", **kw}
    return triage.add_issue(d, values)


def edit_md(d, old, new, count=1):
    text = d.triage_register.read_text()
    assert old in text, old
    d.triage_register.write_text(text.replace(old, new, count))


def test_ids_fields_and_render(tmp_path):
    d = dry(tmp_path)
    a = _add(d, severity="red")
    b = _add(d, smk="5, SMK_7", severity="Amber", cause="env", symptom="zero bytes\nsecond | line")
    assert (a.id, b.id) == ("DRY-01", "DRY-02")
    assert b.smk == ["SMK-5", "SMK-7"] and b.severity == "A" and b.cause == "environment"
    reg = triage.load_register(d)
    assert reg.next_id() == "DRY-03"
    md = d.triage_register.read_text()
    assert "| DRY-02 | SMK-5, SMK-7 | A | environment | - | - | open | zero bytes<br>second \\| line |" in md
    assert "- Rules: BROKEN: a Red needs an owner and an ETA" in md
    assert "- Severity: A (Amber, Major)" in md and "15 min per issue" in md
    # parse(render) round-trips the editable fields
    p = parse_register(md, "x")
    assert p.sections["DRY-02"]["symptom"][0] == "zero bytes<br>second | line"
    assert p.table["DRY-02"]["symptom"][0] == "zero bytes<br>second \\| line"
    toml = d.triage_toml.read_text()
    assert 'id = "DRY-02"' in toml and "zero bytes\\nsecond | line" in toml


def test_rules_on_decisions(tmp_path):
    d = dry(tmp_path)
    _add(d)
    with pytest.raises(RuleError, match="a Red needs an owner and an ETA"):
        triage.decide(d, "DRY-01", "Fix now")
    with pytest.raises(RuleError, match="Workaround decision needs its workaround text"):
        triage.decide(d, "DRY-01", "workaround", owner="Dana", eta="16:00")
    i = triage.decide(d, "dry-1", "fix now", owner="Dana", eta="16:00")
    assert i.decision == "Fix now" and i.violations() == []
    assert "decided:" in i.history[-1]["change"]
    with pytest.raises(RecordError, match="expected one of Fix now, Defer, Workaround"):
        triage.decide(d, "DRY-01", "maybe")
    with pytest.raises(RecordError, match="no triage entry DRY-09"):
        triage.decide(d, "DRY-09", "Defer")
    amber = triage.add_issue(d, {"smk": "SMK-2", "severity": "A", "decision": "Workaround",
                                 "workaround": "restart the service first"})
    assert amber.decision == "Workaround"


def test_hand_edits_of_bullets_and_cells_are_merged(tmp_path):
    d = dry(tmp_path)
    _add(d)
    _add(d, smk="SMK-5", severity="A")
    edit_md(d, "- Owner/ETA: -", "- Owner/ETA: Dana / Tue 12:00")
    edit_md(d, "| DRY-02 | SMK-5 | A | - | - |", "| DRY-02 | SMK-5, SMK-6 | G | test | Defer |")
    edit_md(d, "- Suspect area: -", "- Suspect area: discovery<br>udev rules")
    log = EventsLog(d.events_log)
    changes = triage.sync(d, log=log)
    assert any("DRY-01 owner" in c for c in changes) and any("DRY-02 severity" in c for c in changes)
    reg = triage.load_register(d)
    one, two = reg.get("DRY-01"), reg.get("DRY-02")
    assert (one.owner, one.eta, one.suspect) == ("Dana", "Tue 12:00", "discovery\nudev rules")
    assert (two.smk, two.severity, two.cause, two.decision) == (["SMK-5", "SMK-6"], "G", "test", "Defer")
    assert "hand edit of 03_triage_register.md merged" in one.history[-1]["change"]
    assert any(e["kind"] == "triage_hand_edit_merged" for e in read_events(d.events_log))
    # the .md is re-rendered from the merged TOML: no pending edit any more
    assert not triage.pending_hand_edit(d) and triage.sync(d) == []
    assert "| DRY-02 | SMK-5, SMK-6 | G | test | Defer |" in d.triage_register.read_text()


def test_hand_edit_merge_on_the_next_write(tmp_path):
    d = dry(tmp_path)
    _add(d)
    edit_md(d, "- Repro steps: -", "- Repro steps: restart; wait 10 s")
    _add(d, smk="SMK-1")  # any write merges first: nothing is lost
    assert triage.load_register(d).get("DRY-01").repro == "restart; wait 10 s"
    assert "- Repro steps: restart; wait 10 s" in d.triage_register.read_text()


@pytest.mark.parametrize("old,new,needle", [
    ("- Status: open", "- Status: verified", "'Status' is set by dryrun"),
    ("- Severity: R (Red, Critical)", "- Severity: purple", "severity: expected R, A or G"),
    ("- Affected SMK: SMK-3", "- Affected SMK: TEST-9", "expected ids like SMK-3"),
    ("- Decision: -", "- Decision: Workaround", "Workaround decision needs its workaround text"),
    ("- Symptom:", "- Symptoms:", "unknown field line"),
])
def test_bad_hand_edits_are_refused_naming_the_line(tmp_path, old, new, needle):
    d = dry(tmp_path)
    _add(d)
    edit_md(d, old, new)
    line = next(n for n, ln in enumerate(d.triage_register.read_text().splitlines(), start=1) if new in ln)
    before_md, before_toml = d.triage_register.read_text(), d.triage_toml.read_text()
    with pytest.raises(HandEditError) as e:
        triage.sync(d)
    assert f"{d.triage_register}:{line}:" in str(e.value) and needle in str(e.value)
    assert d.triage_register.read_text() == before_md and d.triage_toml.read_text() == before_toml
    with pytest.raises(HandEditError):  # every write refuses until the .md is fixed
        _add(d)


def test_structural_hand_edits_are_refused(tmp_path):
    d = dry(tmp_path)
    _add(d)
    _add(d, smk="SMK-4")
    text = d.triage_register.read_text()
    d.triage_register.write_text(text + "\nNote from the PM: call me\n")
    with pytest.raises(HandEditError, match="text outside the register's fields"):
        triage.sync(d)
    start = text.index("## DRY-02")
    d.triage_register.write_text(text[:start])
    with pytest.raises(HandEditError, match="section of DRY-02 was removed"):
        triage.sync(d)
    row = "| DRY-03 | SMK-1 | G | - | - | - | open | x |\n"
    d.triage_register.write_text(text.replace("\n\n## DRY-01", "\n" + row + "\n## DRY-01", 1))
    with pytest.raises(HandEditError, match="DRY-03 was added by hand"):
        triage.sync(d)


def test_conflicting_edits_in_md_and_toml_are_refused(tmp_path):
    d = dry(tmp_path)
    _add(d)
    edit_md(d, "- Owner/ETA: -", "- Owner/ETA: Dana / 16:00")
    # meanwhile someone edits the TOML source directly
    d.triage_toml.write_text(d.triage_toml.read_text().replace('owner = ""', 'owner = "Eve"'))
    with pytest.raises(HandEditError, match="changed in the .md .* and in the register"):
        triage.sync(d)


def test_table_and_bullet_disagreeing_is_refused(tmp_path):
    d = dry(tmp_path)
    _add(d)
    edit_md(d, "- Owner/ETA: -", "- Owner/ETA: Dana / 16:00")
    edit_md(d, "| DRY-01 | SMK-3 | R | - | - | - |", "| DRY-01 | SMK-3 | R | - | - | Bob / 16:00 |")
    with pytest.raises(HandEditError, match="edited twice with different values"):
        triage.sync(d)


def test_hand_broken_toml_names_the_line_and_is_not_overwritten(tmp_path):
    d = dry(tmp_path)
    _add(d)
    text = d.triage_toml.read_text()
    d.triage_toml.write_text(text.replace('severity = "R"', 'severity = R'))
    line = next(n for n, ln in enumerate(d.triage_toml.read_text().splitlines(), start=1) if "severity = R" in ln)
    with pytest.raises(RecordError) as e:
        _add(d)
    assert f"{d.triage_toml}:{line}:" in str(e.value) and "invalid TOML" in str(e.value)
    d.triage_toml.write_text(text.replace('severity = "R"', 'severity = "X"'))
    with pytest.raises(RecordError, match=r"DRY-01: severity: expected R, A or G"):
        triage.load_register(d)


def test_kill_between_toml_and_md_is_healed_not_taken_for_a_hand_edit(tmp_path):
    d = dry(tmp_path)
    _add(d)
    rf = RenderedFile(d, d.triage_register)
    old_md, old_side = d.triage_register.read_text(), rf.sidecar_path.read_text()
    _add(d, smk="SMK-4")
    # killed after the sidecar, before the .md: the .md is the sidecar's previous render
    d.triage_register.write_text(old_md)
    assert triage.sync(d) == [] and "## DRY-02" in d.triage_register.read_text()
    # killed after the TOML (the acknowledgement), before the sidecar and the .md
    d.triage_register.write_text(old_md)
    rf.sidecar_path.write_text(old_side)
    assert triage.sync(d) == [] and "## DRY-02" in d.triage_register.read_text()


def test_concurrent_consoles_never_lose_an_entry(tmp_path):
    d = dry(tmp_path)
    code = textwrap.dedent(f"""
        from pathlib import Path
        from record.layout import DryRunDir
        from record import triage
        d = DryRunDir(Path({str(d.root)!r}))
        for i in range(15):
            triage.add_issue(d, {{"smk": "SMK-1", "symptom": "from {{}} #{{}}".format(__import__("os").getpid(), i)}})
    """)
    procs = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(3)]
    for p in procs:
        assert p.wait(60) == 0
    reg = triage.load_register(d)
    assert len(reg.issues) == 45
    assert sorted(reg.issues) == [f"DRY-{n:02d}" for n in range(1, 46)]
    assert len(parse_register(d.triage_register.read_text(), "x").sections) == 45


def test_prefilled_from_a_failure(tmp_path):
    d = dry(tmp_path)
    record_run(d, "02_smoke_run_1", {"SMK-1": "passed", "SMK-3": "failed", "SMK-4": "passed"},
               summary="no camera within 10 s", fault="timeout")
    (d.artifacts / "02_smoke_run_1" / "cam-01").mkdir(parents=True)
    (d.artifacts / "02_smoke_run_1" / "cam-01" / "rpc_trace.json").write_text("[]")
    f = pick_failure(d, "SMK-3@cam-01")
    values, extra = f.prefill()
    issue = triage.add_issue(d, values, extra=extra)
    assert issue.smk == ["SMK-3"] and issue.hosts == ["cam-01"] and issue.severity == "R"
    assert issue.symptom == "no camera within 10 s [cam-01]" and "camera discovery" in issue.suspect
    assert issue.repro.startswith("dryrun run -k SMK_3 --host cam-01")
    log = d.smoke_run_log(1).read_text().splitlines()
    a, b = map(int, issue.log_ref.split(":")[1].split("-"))
    assert "cam-01::SMK-3" in log[a - 1] and log[b - 1].startswith("E   seen")
    assert issue.artifacts == ["artifacts/02_smoke_run_1/cam-01/rpc_trace.json"]
    md = d.triage_register.read_text()
    assert f"- Found in: `02_smoke_run_1.log` lines {a}-{b} (run {issue.run_id})" in md
    with pytest.raises(RecordError, match="no failure 'SMK-4'"):
        pick_failure(d, "SMK-4")
