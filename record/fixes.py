"""Fix evidence (seed 000, C1): ``fixes/DRY-<nn>/{patch.diff, before_after.log}``.

The patch comes from a file or a git range (``git diff A..B`` in a local repository: no
network). ``before_after.log`` holds the failing run's log lines and expected/seen
(before), the developer's own evidence if given (after), and each IV&V verify result,
appended by ``dryrun verify``. The entry moves to ``fix_ready``.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from record.atomic import atomic_write_text
from record.errors import RecordError
from record.events_log import EventsLog
from record.failures import log_excerpt
from record.layout import DryRunDir
from record.lock import DryRunLock
from record.tomlio import read_text
from record.triage import load_register, mutate, normalise_id
from record.triage_model import Issue, now_iso

_DIFF_MARKERS = re.compile(r"^(diff --git |--- |\+\+\+ |@@ |Index: )", re.M)


def changed_lines(patch: str) -> int:
    """Added + removed lines of a unified diff (headers not counted)."""
    n = 0
    for ln in patch.splitlines():
        if ln.startswith(("+++", "---")):
            continue
        if ln.startswith(("+", "-")):
            n += 1
    return n


def patch_from_file(path: Path) -> str:
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise RecordError(path, "patch file not found") from None
    except UnicodeDecodeError:
        raise RecordError(path, "patch file is not UTF-8 text") from None
    except OSError as e:
        raise RecordError(path, f"cannot read the patch: {e.strerror or e}") from None
    if not _DIFF_MARKERS.search(text):
        raise RecordError(path, "does not look like a unified diff (no 'diff --git', '---'/'+++' or '@@' lines)")
    return text


def patch_from_git(rng: str, repo: Path) -> str:
    if not re.fullmatch(r"[\w./@^~{}:-]+(\.\.\.?[\w./@^~{}:-]+)?", rng) or rng.startswith("-"):
        raise RecordError(None, f"git range: expected REV or A..B (e.g. v1.2.0-cdr..fix/DRY-03), got {rng!r}")
    try:
        r = subprocess.run(["git", "-C", str(repo), "diff", "--no-color", "--no-ext-diff", rng, "--"],
                           capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        raise RecordError(None, "git is not installed (needed for --git RANGE); use --patch FILE") from None
    except subprocess.TimeoutExpired:
        raise RecordError(None, f"git diff {rng} took more than 60 s") from None
    if r.returncode != 0:
        raise RecordError(repo, f"git diff {rng} failed: {r.stderr.strip() or 'exit ' + str(r.returncode)}")
    if not r.stdout.strip():
        raise RecordError(repo, f"git diff {rng} is empty: nothing changed in that range")
    return r.stdout


@dataclass
class FixResult:
    issue: Issue
    lines: int
    patch_path: Path
    before_after_path: Path


def _before(d: DryRunDir, issue: Issue) -> list[str]:
    out = [f"==== BEFORE: failing run {issue.run_label or '(not linked to a run)'}"
           + (f" (run {issue.run_id})" if issue.run_id else "") + " ===="]
    if issue.log_ref:
        out.append(f"-- {issue.log_ref.replace(':', ' lines ', 1)}")
        out.append(log_excerpt(d, issue.log_ref))
    out.append(f"Symptom: {issue.symptom or '-'}")
    if issue.fault:
        out.append(f"Fault class: {issue.fault}")
    if issue.artifacts:
        out.append("Artifacts: " + ", ".join(issue.artifacts))
    return out


def record_fix(d: DryRunDir, dry_id: str, patch: str, source: str, *, after: str = "", after_source: str = "",
               log: EventsLog | None = None) -> FixResult:
    dry_id = normalise_id(dry_id)
    lines = changed_lines(patch)
    with DryRunLock(d):
        issue = load_register(d).get(dry_id)
        patch_path, ba_path = d.fix_patch(dry_id), d.fix_before_after(dry_id)
        atomic_write_text(patch_path, patch if patch.endswith("\n") else patch + "\n")
        text = [
            f"# before_after.log: {dry_id} ({', '.join(issue.smk)}) - evidence for the fix",
            f"# Written by `dryrun fix {dry_id}` at {now_iso()}. Patch: patch.diff from {source}, "
            f"{lines} changed lines.",
            "",
            *_before(d, issue),
            "",
            f"==== AFTER: developer evidence ({after_source or 'none supplied'}) ====",
            after.rstrip() if after.strip() else "(none supplied: the IV&V verify result is appended below)",
            "",
        ]
        atomic_write_text(ba_path, "\n".join(text))

        def apply(i: Issue) -> str:
            i.fix_lines = lines
            if i.status in ("open", "bounced", "escalated"):
                i.status = "fix_ready"
            return f"fix evidence recorded: patch.diff from {source} ({lines} changed lines)"

        issue = mutate(d, dry_id, apply, log=log)
    if log:
        log.append({"kind": "fix_recorded", "dry_id": dry_id, "smk": list(issue.smk), "lines": lines,
                    "source": source}, dry_id=dry_id)
    return FixResult(issue, lines, patch_path, ba_path)


def append_verify(d: DryRunDir, dry_id: str, attempt: int, result: str, log_rel: str, excerpt: str) -> None:
    """Add a verify attempt to before_after.log (if the fix evidence exists)."""
    path = d.fix_before_after(dry_id)
    with DryRunLock(d):
        text = read_text(path)
        if text is None:
            return
        section = (f"\n==== AFTER: IV&V verify attempt {attempt}: {result} ({log_rel}, {now_iso()}) ====\n"
                   f"{excerpt.rstrip()}\n")
        atomic_write_text(path, text.rstrip("\n") + "\n" + section)
