"""The verify loop's record side (seed 000, C2).

``prepare`` works out what to re-run for a DRY entry (only its affected checks, on its
hosts), the attempt number and the log path (``04_verify_DRY-<nn>.log``; an earlier
attempt's log is kept as ``04_verify_DRY-<nn>.attempt<k>.log``). ``conclude`` turns the
run's check results into PASS/FAIL, appends the pass ledger, updates the entry and the
fix evidence. Bounce back once: the first FAIL returns the entry to its developer
(``bounced``); the second escalates it (``escalated``, the PM decides what next) and a
third verify needs ``force``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from record import fixes, ledger
from record.errors import RecordError
from record.events_log import EventsLog
from record.layout import DryRunDir
from record.lock import DryRunLock
from record.triage import load_register, mutate, normalise_id
from record.triage_model import Issue


@dataclass
class VerifyPlan:
    dry_id: str
    smk: list[str]
    hosts: list[str]
    keyword: str
    label: str
    log_path: Path
    attempt: int
    fix_recorded: bool


@dataclass
class VerifyOutcome:
    result: str  # PASS | FAIL
    attempt: int
    reason: str
    escalated: bool
    bounced: bool
    ledger_entry: ledger.LedgerEntry
    warning: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"result": self.result, "attempt": self.attempt, "reason": self.reason, "escalated": self.escalated,
                "bounced": self.bounced, "ledger_n": self.ledger_entry.n, "log": self.ledger_entry.log,
                "warning": self.warning}


def keyword_for(smk: Iterable[str]) -> str:
    return " or ".join(s.replace("-", "_") for s in smk)


def prepare(d: DryRunDir, dry_id: str, *, all_hosts: bool = False, force: bool = False) -> VerifyPlan:
    dry_id = normalise_id(dry_id)
    issue = load_register(d).get(dry_id)
    if issue.status == "escalated" and not force:
        raise RecordError(d.triage_toml, f"{dry_id} was escalated after {issue.verify_results.count('FAIL')} failed "
                          "verifies: the PM decides what happens next", hint="pass --force to verify it again anyway")
    if issue.status == "verified" and not force:
        raise RecordError(d.triage_toml, f"{dry_id} is already verified (PASS)", hint="pass --force to verify it again")
    ledger.preflight(d)  # a hand-edited ledger is reported before the run, not after it
    attempt = len(issue.verify_results) + 1
    log_path = d.verify_log(dry_id)
    with DryRunLock(d):
        if log_path.exists() and attempt > 1:
            os.replace(log_path, d.verify_attempt_log(dry_id, attempt - 1))
    return VerifyPlan(dry_id, list(issue.smk), [] if all_hosts else list(issue.hosts), keyword_for(issue.smk),
                      f"04_verify_{dry_id}", log_path, attempt, issue.fix_lines >= 0)


def judge(plan: VerifyPlan, results: Iterable[Any]) -> tuple[str, str]:
    """PASS when every affected check ran and passed on every host it ran on."""
    rows = [r.to_dict() if hasattr(r, "to_dict") else dict(r) for r in results]
    rows = [r for r in rows if r.get("check") in plan.smk]
    ran = [r for r in rows if r.get("outcome") != "skipped"]
    if not ran:
        return "FAIL", "nothing was verified (every affected check was skipped or deselected)"
    bad = [r for r in ran if r.get("outcome") != "passed"]
    if bad:
        b = bad[0]
        return "FAIL", f"{b.get('check')} {b.get('outcome')} on {b.get('host')}: {b.get('summary', '')}".rstrip(": ")
    missing = [s for s in plan.smk if s not in {r.get("check") for r in ran}]
    if missing:
        return "FAIL", f"{', '.join(missing)} did not run"
    hosts = sorted({str(r.get("host")) for r in ran})
    return "PASS", f"{', '.join(plan.smk)} passed on {', '.join(hosts)} ({len(ran)} results)"


def conclude(d: DryRunDir, plan: VerifyPlan, results: Iterable[Any], *, run_id: str = "",
             log: EventsLog | None = None) -> VerifyOutcome:
    result, reason = judge(plan, results)
    state = {"bounced": False, "escalated": False}

    def apply(i: Issue) -> str:
        i.verify_results.append(result)
        if result == "PASS":
            i.status = "verified"
            return f"verify attempt {plan.attempt}: PASS ({reason})"
        fails = i.verify_results.count("FAIL")
        if fails >= 2:
            i.status, i.escalated = "escalated", True
            state["escalated"] = True
            return f"verify attempt {plan.attempt}: FAIL ({reason}); second failure: escalated to the PM"
        i.status = "bounced"
        state["bounced"] = True
        return f"verify attempt {plan.attempt}: FAIL ({reason}); bounced back to {i.owner or 'the developer'}"

    mutate(d, plan.dry_id, apply, log=log)
    log_rel = str(plan.log_path.relative_to(d.root))
    note = "escalated" if state["escalated"] else ("bounced back" if state["bounced"] else "")
    entry, warning = ledger.append(d, plan.dry_id, plan.smk, plan.attempt, result, log_rel, run_id=run_id,
                                   note=note + (f"; {reason}" if result == "FAIL" else "") if note else "")
    excerpt = ""
    try:
        lines = plan.log_path.read_text("utf-8", errors="replace").splitlines()
        excerpt = "\n".join(lines[-40:])
    except OSError:
        excerpt = "(verify log not found)"
    fixes.append_verify(d, plan.dry_id, plan.attempt, result, log_rel, f"{reason}\n{excerpt}")
    if log:
        log.append({"kind": "verify_result", "dry_id": plan.dry_id, "result": result, "attempt": plan.attempt,
                    "reason": reason, "escalated": state["escalated"], "verify_run_id": run_id},
                   dry_id=plan.dry_id)
    return VerifyOutcome(result, plan.attempt, reason, state["escalated"], state["bounced"], entry, warning)
