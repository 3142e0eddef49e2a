"""One triage register entry (the plan's issue template, B2) and its rules.

Template fields: ID (DRY-<nn>), Affected SMK, Symptom, Suspect area, Repro steps,
Owner/ETA, Decision (Fix now | Defer | Workaround); plus R/A/G severity, cause class
(product / test / environment), links to the failing run's log lines and artifacts, the
15-minute triage timebox, and the lifecycle the fix/verify loop drives.

Rules: a Red needs an owner and an ETA; a Workaround decision needs its workaround text.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from record.layout import check_dry_id
from record.severity import SEVERITIES, TRIAGE_TIMEBOX_MIN, parse_cause, parse_decision, parse_severity

STATUSES: tuple[str, ...] = ("open", "fix_ready", "bounced", "verified", "escalated", "closed")
RESOLVED: frozenset[str] = frozenset({"verified", "closed"})
SMK_RE = re.compile(r"^SMK-\d+$")

# Fields an operator edits (CLI `triage edit`, or the .md by hand); the rest the record sets.
EDITABLE: tuple[str, ...] = ("smk", "severity", "cause", "symptom", "suspect", "repro", "owner", "eta",
                             "decision", "workaround")


def parse_smk_list(text: str | list[str]) -> list[str]:
    items = text if isinstance(text, list) else re.split(r"[,\s]+", text.strip())
    out: list[str] = []
    for it in items:
        it = str(it).strip().upper().replace("_", "-")
        if not it:
            continue
        if re.fullmatch(r"\d+", it):
            it = f"SMK-{it}"
        if not SMK_RE.match(it):
            raise ValueError(f"affected SMK: expected ids like SMK-3, got {it!r}")
        if it not in out:
            out.append(it)
    if not out:
        raise ValueError("affected SMK: at least one SMK id is required (e.g. SMK-3)")
    return out


def now_iso() -> str:
    return _dt.datetime.now().isoformat(timespec="seconds")


@dataclass
class Issue:
    id: str
    smk: list[str]
    severity: str = "R"
    cause: str = ""
    symptom: str = ""
    suspect: str = ""
    repro: str = ""
    owner: str = ""
    eta: str = ""
    decision: str = ""
    workaround: str = ""
    status: str = "open"
    hosts: list[str] = field(default_factory=list)
    created: str = ""
    updated: str = ""
    run_id: str = ""
    run_label: str = ""
    log_ref: str = ""  # "02_smoke_run_1.log:40-58" (path relative to dry_run/)
    artifacts: list[str] = field(default_factory=list)
    fault: str = ""
    fix_lines: int = -1  # lines in patch.diff; -1 = no fix evidence yet
    verify_results: list[str] = field(default_factory=list)  # "PASS" / "FAIL", oldest first
    escalated: bool = False
    history: list[dict[str, str]] = field(default_factory=list)

    # ------------------------------------------------------------------ derived
    @property
    def resolved(self) -> bool:
        return self.status in RESOLVED

    @property
    def severity_label(self) -> str:
        return SEVERITIES[self.severity].label

    @property
    def title(self) -> str:
        first = (self.symptom or "").strip().splitlines()[0] if self.symptom.strip() else "(no symptom yet)"
        return first if len(first) <= 70 else first[:67] + "..."

    def violations(self) -> list[str]:
        out = []
        if self.severity == "R" and not (self.owner.strip() and self.eta.strip()):
            missing = " and ".join(x for x, v in (("an owner", self.owner), ("an ETA", self.eta)) if not v.strip())
            out.append(f"{self.id}: a Red needs {missing}")
        if self.decision == "Workaround" and not self.workaround.strip():
            out.append(f"{self.id}: a Workaround decision needs its workaround text")
        return out

    def timebox(self, now: _dt.datetime | None = None) -> dict[str, Any]:
        """The 15-minute triage timebox: started at creation, met once a decision is taken."""
        try:
            start = _dt.datetime.fromisoformat(self.created)
        except ValueError:
            return {"minutes": TRIAGE_TIMEBOX_MIN, "start": "", "end": "", "over": False, "decided": bool(self.decision)}
        end = start + _dt.timedelta(minutes=TRIAGE_TIMEBOX_MIN)
        now = now or _dt.datetime.now()
        return {"minutes": TRIAGE_TIMEBOX_MIN, "start": start.isoformat(timespec="minutes"),
                "end": end.isoformat(timespec="minutes"), "decided": bool(self.decision),
                "over": not self.decision and now > end}

    # ------------------------------------------------------------------ changes
    def set_field(self, name: str, value: Any) -> bool:
        """Validate and set an editable field; True if it changed."""
        if name not in EDITABLE:
            raise ValueError(f"{name}: not an editable field (editable: {', '.join(EDITABLE)})")
        value = normalise(name, value)
        if getattr(self, name) == value:
            return False
        setattr(self, name, value)
        return True

    def note(self, change: str, at: str | None = None) -> None:
        at = at or now_iso()
        self.updated = at
        self.history.append({"at": at, "change": change})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Issue:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        if "id" not in data or "smk" not in data:
            raise ValueError("an issue needs 'id' and 'smk'")
        d = dict(data)
        d["id"] = check_dry_id(str(d["id"]))
        for name in EDITABLE:
            if name in d:
                d[name] = normalise(name, d[name])
        if d.get("status", "open") not in STATUSES:
            raise ValueError(f"status: expected one of {', '.join(STATUSES)}, got {d['status']!r}")
        for name in ("hosts", "artifacts", "verify_results"):
            if not isinstance(d.get(name, []), list):
                raise ValueError(f"{name}: expected a list")
        for r in d.get("verify_results", []):
            if r not in ("PASS", "FAIL"):
                raise ValueError(f"verify_results: expected PASS or FAIL, got {r!r}")
        if not isinstance(d.get("fix_lines", -1), int):
            raise ValueError("fix_lines: expected an integer")
        if not isinstance(d.get("escalated", False), bool):
            raise ValueError("escalated: expected true or false")
        return cls(**d)


def normalise(name: str, value: Any) -> Any:
    if name == "smk":
        return parse_smk_list(value)
    if not isinstance(value, str):
        raise ValueError(f"{name}: expected text, got {type(value).__name__}")
    if name == "severity":
        return parse_severity(value)
    if name == "decision":
        return parse_decision(value)
    if name == "cause":
        return parse_cause(value)
    return value.strip()
