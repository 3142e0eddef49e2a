from __future__ import annotations

import pytest

from record import ledger
from record.errors import HandEditError, RecordError
from tests.record_support import dry


def test_append_renders_every_result(tmp_path):
    d = dry(tmp_path)
    e1, w1 = ledger.append(d, "DRY-01", ["SMK-3"], 1, "FAIL", "04_verify_DRY-01.log", note="bounced back; x | y")
    e2, w2 = ledger.append(d, "DRY-01", ["SMK-3"], 2, "PASS", "04_verify_DRY-01.log", run_id="r9")
    assert (e1.n, e2.n, w1, w2) == (1, 2, "", "")
    md = d.pass_ledger.read_text()
    assert "| 1 |" in md and "| DRY-01 | SMK-3 | 1 | FAIL | `04_verify_DRY-01.log` | bounced back; x \\| y |" in md
    assert "| DRY-01 | SMK-3 | 2 | PASS | `04_verify_DRY-01.log` | - |" in md
    assert "2 results: 1 PASS, 1 FAIL." in md
    assert [e.result for e in ledger.load_ledger(d)] == ["FAIL", "PASS"]
    with pytest.raises(ValueError):
        ledger.append(d, "DRY-01", ["SMK-3"], 3, "MAYBE", "x")


def test_hand_edited_md_keeps_the_entry_and_warns(tmp_path):
    d = dry(tmp_path)
    ledger.append(d, "DRY-01", ["SMK-3"], 1, "PASS", "04_verify_DRY-01.log")
    d.pass_ledger.write_text(d.pass_ledger.read_text().replace("| PASS |", "| PASS (PM: ok) |"))
    with pytest.raises(HandEditError):
        ledger.preflight(d)
    entry, warning = ledger.append(d, "DRY-02", ["SMK-5"], 1, "FAIL", "04_verify_DRY-02.log")
    assert entry.n == 2 and [e.dry_id for e in ledger.load_ledger(d)] == ["DRY-01", "DRY-02"]
    assert f"{d.pass_ledger}:7:" in warning and "recorded in 05_pass_ledger.toml" in warning
    assert "(PM: ok)" in d.pass_ledger.read_text()  # the edit is not overwritten
    d.pass_ledger.unlink()  # deleting the .md regenerates it
    ledger.rerender(d)
    assert "DRY-02" in d.pass_ledger.read_text()


def test_broken_toml_names_the_entry_line(tmp_path):
    d = dry(tmp_path)
    ledger.append(d, "DRY-01", ["SMK-3"], 1, "PASS", "x.log")
    d.pass_ledger_toml.write_text(d.pass_ledger_toml.read_text().replace('result = "PASS"', 'result = "OK"'))
    with pytest.raises(RecordError) as e:
        ledger.append(d, "DRY-02", ["SMK-3"], 1, "PASS", "x.log")
    line = next(n for n, ln in enumerate(d.pass_ledger_toml.read_text().splitlines(), start=1) if ln == "[[entries]]")
    assert f"{d.pass_ledger_toml}:{line}: entry 1: result must be PASS or FAIL" in str(e.value)
