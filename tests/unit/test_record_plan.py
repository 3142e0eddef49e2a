from __future__ import annotations

import datetime as dt

import pytest

from record.errors import HandEditError
from record.plan import write_plan
from record.sprint import load_sprint
from tests.record_support import dry, write_config


def test_plan_has_every_section_from_the_config(tmp_path):
    cfg = write_config(tmp_path, extra={"sprint": {"days": 3, "iterations": 2, "standups": ["09:00", "16:00"],
                                                   "comms": "#cdr-dry"}})
    d = dry(tmp_path)
    text = write_plan(cfg, d, today=dt.date(2025, 11, 20))
    assert d.plan.read_text() == text
    for needle in (
        "3-day MVP dry-run to de-risk CDR. Scope = SMK-1..7 only. No features; fix-only.",
        "| SMK-7 | Concurrency (light)",
        "Baseline tag: `v1.2.3-cdr`",
        "`cam-01` (current service)",
        "Exit when: All SMK-1..7 pass; flaky <= 5%; critical defects = 0; major defects <= 3 with workarounds",
        "Timebox: 3 working days (can compress to 2); 2 iterations max.",
        "Stand-ups: 09:00 + 16:00",
        "Decision points: iteration end of Day-1, Day-2",
        "| Day-1 | Mon 2025-11-24 | 09:00, 16:00 | end of day: iteration decision |",
        "| Day-3 | Wed 2025-11-26 | 09:00, 16:00 | closeout",
        "| Project Manager (chair, closeout) | Pat |",
        "| Developer (env freeze, fixes) | Dana |",
        "| IV&V (smoke, verify, flake hunt, metrics) | Ivy |",
        "Comms channel: #cdr-dry",
        "R Red (Critical)**: blocks SMK; must fix now",
        "else **2nd Iteration** if iterations used < 2 and days used < 3; else **STOP**",
    ):
        assert needle in text, needle
    assert load_sprint(d).start_date == "2025-11-24"


def test_start_date_defaults_to_first_plan_and_sticks(tmp_path):
    cfg = write_config(tmp_path, extra={"sprint": {"start_date": "", "days": 2}})
    d = dry(tmp_path)
    write_plan(cfg, d, today=dt.date(2025, 12, 1))
    text = write_plan(cfg, d, today=dt.date(2025, 12, 3))
    assert load_sprint(d).start_date == "2025-12-01"
    assert "| Day-2 | Tue 2025-12-02 |" in text and "compress" not in text.split("Timebox:")[1].split("\n")[0]


def test_hand_edited_plan_is_refused_naming_the_line(tmp_path):
    cfg = write_config(tmp_path)
    d = dry(tmp_path)
    write_plan(cfg, d, today=dt.date(2025, 11, 20))
    lines = d.plan.read_text().splitlines()
    lines[6] = lines[6] + " (PM: confirmed)"
    d.plan.write_text("\n".join(lines) + "\n")
    with pytest.raises(HandEditError) as e:
        write_plan(cfg, d, today=dt.date(2025, 11, 21))
    assert f"{d.plan}:7:" in str(e.value) and "--force" in str(e.value)
    assert "(PM: confirmed)" in d.plan.read_text()  # never silently overwritten
    write_plan(cfg, d, today=dt.date(2025, 11, 21), force=True)
    assert "(PM: confirmed)" not in d.plan.read_text()
