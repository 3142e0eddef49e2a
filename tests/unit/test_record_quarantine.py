from __future__ import annotations

import pytest

from record.errors import RecordError
from record.quarantine import add, load_entries, load_quarantine, parse_quarantine, remove


def test_add_replace_remove_keep_hand_comments(tmp_path):
    q = tmp_path / "quarantine.txt"
    assert load_quarantine(q) == {}
    add(q, "smk_3", "flaky: 2/10\nfailed", "2025-11-24")
    q.write_text(q.read_text() + "# Ivy: keep an eye on SMK-3 over the weekend\n")
    add(q, "SMK-5", "zero-byte recordings", "2025-11-25")
    add(q, "SMK-3", "flaky: 3/10 failed", "2025-11-25")
    assert load_quarantine(q) == {"SMK-5": "zero-byte recordings", "SMK-3": "flaky: 3/10 failed"}
    assert "# Ivy: keep an eye" in q.read_text()
    e = {x.check: x for x in load_entries(q)}
    assert e["SMK-3"].date == "2025-11-25"
    assert remove(q, "SMK-5") and not remove(q, "SMK-5")
    assert load_quarantine(q) == {"SMK-3": "flaky: 3/10 failed"}


@pytest.mark.parametrize("line,needle", [
    ("SMK-3 | 2025-11-24", "expected 'check | date | reason'"),
    ("TEST-3 | 2025-11-24 | x", "expected a check id like SMK-3"),
    ("SMK-3 | 24/11/2025 | x", "expected a date YYYY-MM-DD"),
    ("SMK-3 | 2025-11-24 |   ", "needs a reason"),
])
def test_bad_lines_name_file_and_line(line, needle):
    with pytest.raises(RecordError) as e:
        parse_quarantine(f"# header\n\n{line}\n", "dry_run/quarantine.txt")
    assert "dry_run/quarantine.txt:3:" in str(e.value) and needle in str(e.value)


def test_duplicate_and_reason_with_pipes():
    entries = parse_quarantine("SMK-1 | 2025-11-24 | a | b\n")
    assert entries[0].reason == "a | b"
    with pytest.raises(RecordError, match="twice"):
        parse_quarantine("SMK-1 | 2025-11-24 | a\nSMK-1 | 2025-11-24 | b\n")


def test_a_broken_file_is_never_rewritten(tmp_path):
    q = tmp_path / "quarantine.txt"
    q.write_text("garbage line\n")
    with pytest.raises(RecordError):
        add(q, "SMK-1", "x")
    assert q.read_text() == "garbage line\n"
