"""Flake hunt and flake classification (seed 000 C3, seed 002 "signature clustering + rate").

A check is **flaky** when it both passed and failed on the same baseline. The baseline of a
result is its *epoch*: the frozen environment the run was made on (the SHA of the latest
``env_frozen`` event before it), plus the number of fixes recorded for that check before
the run. A recorded
fix starts a new epoch: "failed, fixed, then passed" is a fix, not a flake.

A hunt repeats one check N times (``--count 10``): every attempt's outcome, duration and
failure signature (the failure text with numbers, ids, paths and quoted values masked,
so the same fault clusters together), the failure rate, and the verdict. A flaky check is
added to ``quarantine.txt`` with its reason and date. Hunts are kept in
``06_flake_evidence.json`` and rendered to ``06_flake_evidence.md``.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from record import quarantine
from record.errors import RecordError
from record.events_log import EventsLog, read_events
from record.layout import DryRunDir
from record.lock import DryRunLock
from record.rendered import RenderedFile
from record.tomlio import dump_json, load_json
from record.triage import load_register

_MASKS = [
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I), "<uuid>"),
    (re.compile(r"\b[0-9a-f]{8,}\b", re.I), "<hex>"),
    (re.compile(r"(?<![\w<])(/[\w.@-]+)+"), "<path>"),
    (re.compile(r"'[^']*'|\"[^\"]*\""), "<str>"),
    (re.compile(r"\d+(\.\d+)?"), "<n>"),
]


def signature(fault: str, text: str) -> str:
    s = " ".join(text.split())
    for rx, rep in _MASKS:
        s = rx.sub(rep, s)
    s = s[:160]
    return f"{fault or 'failure'}: {s}" if s else (fault or "failure")


@dataclass
class Attempt:
    host: str
    attempt: int
    outcome: str
    duration: float
    summary: str = ""
    fault: str = ""
    signature: str = ""


@dataclass
class Hunt:
    check: str
    count: int
    at: str
    run_id: str = ""
    label: str = ""
    log: str = ""
    baseline: str = ""
    env_sha: str = ""
    attempts: list[Attempt] = field(default_factory=list)
    quarantined: bool = False
    quarantine_reason: str = ""

    @property
    def ran(self) -> list[Attempt]:
        return [a for a in self.attempts if a.outcome != "skipped"]

    @property
    def failures(self) -> list[Attempt]:
        return [a for a in self.attempts if a.outcome in ("failed", "error")]

    @property
    def rate(self) -> float:
        return len(self.failures) / len(self.ran) if self.ran else 0.0

    @property
    def verdict(self) -> str:
        ran = self.ran
        if not ran:
            return "no-data"
        fails = len(self.failures)
        if fails == 0:
            return "stable-pass"
        if fails == len(ran):
            return "stable-fail"
        return "flaky"

    def clusters(self) -> list[tuple[str, int, int]]:
        """(signature, count, first attempt) most frequent first."""
        c = Counter(a.signature for a in self.failures)
        first = {}
        for a in self.failures:
            first.setdefault(a.signature, a.attempt)
        return sorted(((s, n, first[s]) for s, n in c.items()), key=lambda t: (-t[1], t[2]))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["verdict"], d["rate"] = self.verdict, round(self.rate, 4)
        d["clusters"] = [{"signature": s, "count": n, "first_attempt": f} for s, n, f in self.clusters()]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Hunt:
        d = {k: v for k, v in d.items() if k not in ("verdict", "rate", "clusters")}
        d["attempts"] = [Attempt(**a) for a in d.get("attempts", [])]
        return cls(**d)


def analyse(check: str, count: int, results: Iterable[Any], *, run_id: str = "", label: str = "", log: str = "",
            baseline: str = "", env_sha: str = "") -> Hunt:
    """A hunt from the run's check results (CheckFinished events or their dicts)."""
    h = Hunt(check, count, _dt.datetime.now().isoformat(timespec="seconds"), run_id, label, log, baseline, env_sha)
    for r in results:
        r = r.to_dict() if hasattr(r, "to_dict") else dict(r)
        if r.get("check") != check:
            continue
        outcome = str(r.get("outcome", ""))
        text = str(r.get("summary") or r.get("seen") or "")
        h.attempts.append(Attempt(str(r.get("host", "")), int(r.get("attempt", 1)), outcome,
                                  float(r.get("duration", 0.0)), text, str(r.get("fault", "")),
                                  signature(str(r.get("fault", "")), text) if outcome in ("failed", "error") else ""))
    h.attempts.sort(key=lambda a: (a.attempt, a.host))
    return h


def load_hunts(d: DryRunDir) -> list[Hunt]:
    data = load_json(d.flake_json)
    if data is None:
        return []
    try:
        return [Hunt.from_dict(x) for x in data["hunts"]]
    except (KeyError, TypeError, ValueError) as e:
        raise RecordError(d.flake_json, f"unusable flake evidence ({e}); expected {{\"hunts\": [...]}}") from None


def record_hunt(d: DryRunDir, hunt: Hunt, *, quarantine_flaky: bool = True, log: EventsLog | None = None,
                force_render: bool = False) -> Hunt:
    """Store the hunt, quarantine a flaky check, render 06_flake_evidence.md."""
    with DryRunLock(d):
        hunts = load_hunts(d)
        rf = RenderedFile(d, d.flake_evidence)
        rf.guard(render_evidence(d, hunts), force=force_render)
        if hunt.verdict == "flaky" and quarantine_flaky:
            top = hunt.clusters()[0][0] if hunt.failures else ""
            hunt.quarantine_reason = (f"flaky: {len(hunt.failures)}/{len(hunt.ran)} attempts failed on one baseline "
                                      f"(flake hunt {hunt.at[:10]}; top signature: {top})")
            quarantine.add(d.quarantine, hunt.check, hunt.quarantine_reason, hunt.at[:10])
            hunt.quarantined = True
        hunts.append(hunt)
        dump_json(d.flake_json, {"version": 1, "hunts": [h.to_dict() for h in hunts]})
        rf.write(render_evidence(d, hunts))
    if log:
        log.append({"kind": "flake_scan_complete", "check": hunt.check, "count": hunt.count, "verdict": hunt.verdict,
                    "failures": len(hunt.failures), "attempts": len(hunt.ran), "rate": round(hunt.rate, 4),
                    "quarantined": hunt.quarantined, "hunt_run_id": hunt.run_id}, check=hunt.check)
        if hunt.quarantined:
            log.append({"kind": "quarantine_added", "check": hunt.check, "reason": hunt.quarantine_reason},
                       check=hunt.check)
    return hunt


def _pct(x: float) -> str:
    return f"{x * 100:.1f} %"


def render_evidence(d: DryRunDir, hunts: list[Hunt]) -> str:
    out = [
        "# 06 - Flake evidence",
        "",
        "Flake hunts of the dry-run (C3), written by `dryrun flake SMK-<n> --count N`. A check is flaky when it both "
        "passed and failed on the same baseline (same frozen environment, no fix recorded in between); flaky checks "
        "are quarantined in `quarantine.txt` with reason and date.",
        "",
    ]
    if not hunts:
        return "\n".join(out + ["_No flake hunts yet._", ""])
    try:
        issues = load_register(d).sorted()
    except RecordError:
        issues = []
    for h in hunts:
        out += [
            f"## {h.check}: {h.verdict.upper()} ({h.at})",
            "",
            f"- Command: `dryrun flake {h.check} --count {h.count}`; log `{h.log or '-'}`; run {h.run_id or '-'}",
            f"- Baseline: {h.baseline or '-'}; env SHA {h.env_sha[:12] or '-'}",
            f"- Attempts: {len(h.ran)} run ({len(h.attempts) - len(h.ran)} skipped); failures {len(h.failures)}; "
            f"failure rate {_pct(h.rate)}",
            f"- Verdict: {_verdict_text(h)}",
        ]
        related = [i.id for i in issues if h.check in i.smk]
        out.append(f"- Cause / workaround: see {', '.join(related)} in `03_triage_register.md`" if related
                   else "- Cause / workaround: not triaged yet (`dryrun triage add --smk " + h.check + "`)")
        out += ["", "| Attempt | Host | Outcome | Duration (s) | Failure signature |",
                "|---------|------|---------|--------------|-------------------|"]
        for a in h.attempts:
            sig = a.signature.replace("|", "\\|") or "-"
            out.append(f"| {a.attempt} | {a.host} | {a.outcome} | {a.duration:.3f} | {sig} |")
        if h.failures:
            out += ["", "Failure signatures (clustered):", "", "| Signature | Count | First attempt |",
                    "|-----------|-------|---------------|"]
            for s, n, first in h.clusters():
                out.append(f"| {s.replace('|', chr(92) + '|')} | {n} | {first} |")
        out.append("")
    return "\n".join(out)


def _verdict_text(h: Hunt) -> str:
    v = h.verdict
    if v == "flaky":
        q = "quarantined (quarantine.txt)" if h.quarantined else "not quarantined (--no-quarantine)"
        return f"FLAKY: passed and failed on the same baseline; {q}"
    if v == "stable-pass":
        return "STABLE PASS: every attempt passed"
    if v == "stable-fail":
        return "STABLE FAIL: every attempt failed (a defect, not a flake: triage it)"
    return "NO DATA: no attempt ran"


# --------------------------------------------------------------------------- classification

def epochs(events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every check result annotated with its epoch key (see the module docstring).

    Returns dicts: check, host, outcome, duration, run_id, label, epoch."""
    fixes: Counter[str] = Counter()  # check -> fixes recorded so far
    run_ctx: dict[str, tuple[str, str]] = {}
    env = ""  # SHA of the latest environment freeze seen so far
    out: list[dict[str, Any]] = []
    for ev in events:
        kind = ev.get("kind")
        ctx = ev.get("context") or {}
        if kind == "fix_recorded":
            for s in ev.get("smk", []):
                fixes[s] += 1
        elif kind == "env_frozen":
            env = str(ev.get("sha256") or env)
        elif kind == "run_started":
            base = str(ctx.get("env_sha") or env or ctx.get("baseline") or "")
            run_ctx[ev.get("run_id", "")] = (base, str(ev.get("label", "")))
        elif kind == "check_finished":
            rid = ev.get("run_id", "")
            base, label = run_ctx.get(rid, (str(ctx.get("env_sha") or ctx.get("baseline") or ""), ""))
            check = str(ev.get("check", ""))
            out.append({"check": check, "host": str(ev.get("host", "")), "outcome": ev.get("outcome"),
                        "duration": float(ev.get("duration", 0.0)), "run_id": rid, "label": label,
                        "epoch": f"{base}#fix{fixes[check]}", "summary": ev.get("summary", ""),
                        "fault": ev.get("fault", "")})
    return out


def classify(results: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """Per (check, host): attempts, passes, failures and whether it is flaky in some epoch,
    with the failing attempts that count as flaky (failures in an epoch that also passed)."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for r in results:
        if r["outcome"] in ("passed", "failed", "error"):
            groups.setdefault((r["check"], r["host"], r["epoch"]), []).append(r)
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for (check, host, _epoch), rs in groups.items():
        c = out.setdefault((check, host), {"attempts": 0, "passed": 0, "failed": 0, "flaky": False,
                                           "flaky_failures": 0})
        p = sum(r["outcome"] == "passed" for r in rs)
        f = len(rs) - p
        c["attempts"] += len(rs)
        c["passed"] += p
        c["failed"] += f
        if p and f:
            c["flaky"] = True
            c["flaky_failures"] += f
    return out


def flaky_checks(d: DryRunDir) -> dict[tuple[str, str], dict[str, Any]]:
    return {k: v for k, v in classify(epochs(read_events(d.events_log))).items() if v["flaky"]}
