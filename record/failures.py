"""Failures of recorded runs, for triage entries prefilled from them and fix evidence.

Runs and their check results come from ``events.log.jsonl`` (the single source of truth);
the failing check's lines in the run's log are found by its section header (the log is
pytest-style: ``____ SMK-3 [cam-01] ____``) or, failing that, by the lines naming it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from record.errors import RecordError
from record.events_log import read_events
from record.layout import DryRunDir

FAILED = ("failed", "error")

# What a failure's fault class suggests as the suspect area (a starting point for triage).
_AREA_BY_CHECK = {
    "SMK-1": "service start-up / health endpoint",
    "SMK-2": "authentication / token validation",
    "SMK-3": "camera discovery",
    "SMK-4": "snapshot path (take_snapshot, EXIF/timestamp)",
    "SMK-5": "recording path (start/stop_recording, file growth, playability)",
    "SMK-6": "RPC error handling / documented error codes",
    "SMK-7": "concurrency (parallel clients, responsiveness)",
}


@dataclass
class RunInfo:
    run_id: str
    label: str
    ts: float
    hosts: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)
    results: list[dict[str, Any]] = field(default_factory=list)  # check_finished lines
    finished: dict[str, Any] | None = None


def runs(events: Iterable[dict[str, Any]]) -> list[RunInfo]:
    """Runs in log order, each with its check results."""
    by_id: dict[str, RunInfo] = {}
    order: list[str] = []
    for ev in events:
        kind, rid = ev.get("kind"), ev.get("run_id", "")
        if kind == "run_started":
            if rid not in by_id:
                order.append(rid)
            by_id[rid] = RunInfo(rid, str(ev.get("label", "")), float(ev.get("ts", 0)), list(ev.get("hosts", [])),
                                 list(ev.get("checks", [])), dict(ev.get("context") or {}))
        elif kind == "check_finished" and rid in by_id:
            by_id[rid].results.append(ev)
        elif kind == "run_finished" and rid in by_id:
            by_id[rid].finished = ev
    return [by_id[r] for r in order]


def find_run(d: DryRunDir, which: str = "") -> RunInfo:
    """The run with this label or run id (prefix ok); "" = the latest smoke run (02_/07_)."""
    all_runs = runs(read_events(d.events_log))
    if not all_runs:
        raise RecordError(d.events_log, "no runs recorded yet (run `dryrun run` first)")
    if not which:
        smoke = [r for r in all_runs if r.label.startswith(("02_smoke_run_", "07_smoke_run_final"))]
        return (smoke or all_runs)[-1]
    hits = [r for r in all_runs if r.label == which or r.run_id == which]
    if not hits:
        hits = [r for r in all_runs if r.run_id.startswith(which)]
    if not hits:
        labels = ", ".join(dict.fromkeys(r.label for r in all_runs))
        raise RecordError(d.events_log, f"no run labelled or with id {which!r} (runs: {labels})")
    return hits[-1]


@dataclass
class Failure:
    run_id: str
    label: str
    host: str
    check: str
    outcome: str
    attempt: int
    summary: str
    expected: str
    seen: str
    fault: str
    artifacts: list[str]
    log_rel: str = ""        # log path relative to dry_run/
    lines: tuple[int, int] | None = None

    @property
    def log_ref(self) -> str:
        if not self.log_rel:
            return ""
        return f"{self.log_rel}:{self.lines[0]}-{self.lines[1]}" if self.lines else self.log_rel

    def prefill(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(editable values, record-set extras) for a new triage entry."""
        area = _AREA_BY_CHECK.get(self.check, "")
        fault = self.fault or ""
        if fault.startswith("chaos:"):
            area = f"{area} (injected fault {fault[6:]})" if area else f"injected fault {fault[6:]}"
        elif fault in ("unreachable", "ssh", "host_key", "config", "timeout"):
            area = f"{area}; {fault}" if area else fault
        cause = "environment" if fault in ("unreachable", "ssh", "host_key", "config") else ""
        symptom = self.summary or f"{self.check} {self.outcome} on {self.host}"
        expected = f"Expected: {self.expected}. Seen: {self.seen}." if (self.expected or self.seen) else ""
        check_kw = self.check.replace("-", "_")
        repro = f"dryrun run -k {check_kw} --host {self.host}" + (f" ({expected})" if expected else "")
        values = {"smk": [self.check], "symptom": f"{symptom} [{self.host}]", "suspect": area, "repro": repro,
                  "severity": "R"}  # a failing SMK blocks it: Red until triage says otherwise
        if cause:
            values["cause"] = cause
        extra = {"hosts": [self.host], "run_id": self.run_id, "run_label": self.label, "log_ref": self.log_ref,
                 "artifacts": list(self.artifacts), "fault": fault}
        return values, extra


def failures_of(d: DryRunDir, run: RunInfo) -> list[Failure]:
    log = d.log_for_label(run.label)
    log_rel = ""
    if log is not None:
        try:
            log_rel = str(log.relative_to(d.root))
        except ValueError:
            log_rel = log.name
    out = []
    for ev in run.results:
        if ev.get("outcome") not in FAILED:
            continue
        f = Failure(run.run_id, run.label, str(ev.get("host", "")), str(ev.get("check", "")), str(ev["outcome"]),
                    int(ev.get("attempt", 1)), str(ev.get("summary", "")), str(ev.get("expected", "")),
                    str(ev.get("seen", "")), str(ev.get("fault", "")), [str(a) for a in ev.get("artifacts", [])],
                    log_rel)
        if not f.artifacts:  # a failed check may leave no file of its own: link the run's host evidence
            host_dir = d.artifacts / run.label / f.host
            if host_dir.is_dir():
                f.artifacts = sorted(p.relative_to(d.root).as_posix() for p in host_dir.iterdir() if p.is_file())
        if log is not None and log.exists():
            f.lines = find_log_lines(log, f.check, f.host)
        out.append(f)
    return out


def pick_failure(d: DryRunDir, spec: str, run_label: str = "") -> Failure:
    """``spec``: "SMK-3" or "SMK-3@cam-01" (host) or "" (the only failure)."""
    run = find_run(d, run_label)
    fails = failures_of(d, run)
    if not fails:
        raise RecordError(d.events_log, f"run {run.label} ({run.run_id}) has no failed checks")
    check, _, host = spec.partition("@")
    check = check.strip().upper().replace("_", "-")
    hits = [f for f in fails if (not check or f.check == check) and (not host or f.host == host)]
    listing = ", ".join(f"{f.check}@{f.host}" for f in fails)
    if not hits:
        raise RecordError(d.events_log, f"no failure {spec!r} in run {run.label} (failures: {listing})")
    if len({(f.check, f.host) for f in hits}) > 1:
        raise RecordError(None, f"{spec or 'the run'} matches several failures in {run.label}: {listing}; "
                          "name one as SMK-n@host")
    return hits[0]


_SECTION_RE = re.compile(r"^[_=]{3,}\s")


def _names(line: str, check: str, host: str) -> bool:
    alt = check.replace("-", "_")
    return (check in line or alt in line) and (not host or host in line)


def find_log_lines(log: Path, check: str, host: str) -> tuple[int, int] | None:
    """(first, last) 1-based lines of the check's failure section in a pytest-style log."""
    try:
        lines = log.read_text("utf-8", errors="replace").splitlines()
    except OSError:
        return None
    start = None
    for i, ln in enumerate(lines):
        if _SECTION_RE.match(ln) and _names(ln, check, host):
            start = i
            break
    if start is not None:
        end = start
        for j in range(start + 1, len(lines)):
            if _SECTION_RE.match(lines[j]):
                break
            end = j
        while end > start and not lines[end].strip():
            end -= 1
        return start + 1, end + 1
    for i, ln in enumerate(lines):
        if _names(ln, check, host) and re.search(r"FAIL|ERROR", ln):
            return i + 1, i + 1
    return None


def log_excerpt(d: DryRunDir, log_ref: str, *, limit: int = 200) -> str:
    """The lines a ``log_ref`` ("02_smoke_run_1.log:40-58") points at."""
    rel, _, span = log_ref.partition(":")
    path = d.root / rel
    try:
        lines = path.read_text("utf-8", errors="replace").splitlines()
    except OSError:
        return f"(log {rel} not found)"
    if span:
        a, _, b = span.partition("-")
        lo, hi = int(a), int(b or a)
        lines = lines[lo - 1: hi]
    return "\n".join(lines[:limit])
