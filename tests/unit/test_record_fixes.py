from __future__ import annotations

import shutil
import subprocess

import pytest

from record import triage
from record.errors import RecordError
from record.events_log import EventsLog, read_events
from record.failures import pick_failure
from record.fixes import append_verify, changed_lines, patch_from_file, patch_from_git, record_fix
from tests.record_support import dry, record_run

PATCH = """diff --git a/svc/discovery.go b/svc/discovery.go
--- a/svc/discovery.go
+++ b/svc/discovery.go
@@ -10,3 +10,4 @@
-    timeout := 30
+    timeout := 5
+    retry := true
     return
"""


def test_changed_lines_and_file_patch(tmp_path):
    assert changed_lines(PATCH) == 3
    p = tmp_path / "fix.diff"
    p.write_text(PATCH)
    assert patch_from_file(p) == PATCH
    p.write_text("just some notes\n")
    with pytest.raises(RecordError, match="does not look like a unified diff"):
        patch_from_file(p)
    with pytest.raises(RecordError, match="not found"):
        patch_from_file(tmp_path / "nope.diff")


@pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")
def test_patch_from_a_git_range(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@x",
           "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}

    def git(*a):
        subprocess.run(["git", "-C", str(repo), *a], check=True, capture_output=True, env=env)

    git("init", "-q")
    (repo / "a.txt").write_text("one\n")
    git("add", "a.txt")
    git("commit", "-qm", "base")
    git("tag", "v1-cdr")
    (repo / "a.txt").write_text("two\n")
    git("commit", "-qam", "fix")
    diff = patch_from_git("v1-cdr..HEAD", repo)
    assert "-one" in diff and "+two" in diff and changed_lines(diff) == 2
    with pytest.raises(RecordError, match="git diff HEAD..HEAD is empty"):
        patch_from_git("HEAD..HEAD", repo)
    with pytest.raises(RecordError, match="expected REV or A..B"):
        patch_from_git("--output=/tmp/x", repo)
    with pytest.raises(RecordError, match="failed"):
        patch_from_git("nope..HEAD", repo)


def test_record_fix_writes_evidence_and_moves_the_entry(tmp_path):
    d = dry(tmp_path)
    record_run(d, "02_smoke_run_1", {"SMK-3": "failed"}, summary="no camera")
    values, extra = pick_failure(d, "SMK-3").prefill()
    issue = triage.add_issue(d, values, extra=extra)
    log = EventsLog(d.events_log)
    res = record_fix(d, issue.id, PATCH, "file fix.diff", after="local run: SMK-3 passed", after_source="dev.log",
                     log=log)
    assert res.lines == 3 and res.issue.status == "fix_ready" and res.issue.fix_lines == 3
    assert d.fix_patch("DRY-01").read_text() == PATCH
    ba = d.fix_before_after("DRY-01").read_text()
    assert "==== BEFORE: failing run 02_smoke_run_1" in ba and "cam-01::SMK-3" in ba and "E   seen:     y" in ba
    assert "==== AFTER: developer evidence (dev.log) ====\nlocal run: SMK-3 passed" in ba
    append_verify(d, "DRY-01", 1, "PASS", "04_verify_DRY-01.log", "SMK-3 passed")
    assert d.fix_before_after("DRY-01").read_text().rstrip().endswith("SMK-3 passed")
    assert "IV&V verify attempt 1: PASS" in d.fix_before_after("DRY-01").read_text()
    ev = [e for e in read_events(d.events_log) if e["kind"] == "fix_recorded"]
    assert ev and ev[0]["smk"] == ["SMK-3"] and ev[0]["lines"] == 3
    assert "| fix_ready |" in d.triage_register.read_text()
    with pytest.raises(RecordError, match="no triage entry DRY-07"):
        record_fix(d, "DRY-07", PATCH, "x")
