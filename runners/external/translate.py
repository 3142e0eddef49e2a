"""The plugin's JSON lines -> the console's events, for one pytest process (one host).

Tests map to SMK checks by name; one *check attempt* is every selected test of one SMK id
in one ``--count`` iteration (``test_SMK_3_a[2-10]`` and ``test_SMK_3_b[2-10]`` are
SMK-3 attempt 2). It starts (``CheckStarted``) with its first test, each finished test is a
``CheckStep``, and it finishes (``CheckFinished``) when its last selected test has run:

- failed / error: the first test that did not pass decides; expected / seen / fault from
  its failure (``runners.external.assertions``);
- passed: every test that ran passed (skipped ones aside);
- skipped: none ran (quarantined, skip markers, xfail) — the reason is the summary.

A run stopped by ``--maxfail`` ends the checks it had started with what ran; a run killed
mid-test reports the running check skipped ("cancelled"), as the built-in engine does.
Tests without an SMK id are reported as notices: they cannot count in the SMK gates.

Pure: no I/O; ``feed(record)`` returns the events to emit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runners.events import CheckFinished, CheckStarted, CheckStep, Event, Notice
from runners.external.assertions import finding

TITLES = {
    "SMK-1": "Service starts from clean config; health check OK",
    "SMK-2": "Auth: obtain/validate token; reject invalid/expired",
    "SMK-3": "Discovery: at least one camera discovered in <= 10 s",
    "SMK-4": "Snapshot path: take_snapshot returns file; EXIF/timestamp present",
    "SMK-5": "Recording path: start -> file growing; stop closes; playable",
    "SMK-6": "Error handling: invalid RPC method produces documented error code",
    "SMK-7": "Concurrency (light): two clients list cameras and one records",
}
MAX_NOTICES = 50  # unmapped-test notices per process (a suite of 500 unmapped tests must not flood the log)


@dataclass
class _Test:
    nodeid: str
    name: str
    outcome: str = ""  # passed failed error skipped xfailed xpassed
    duration: float = 0.0
    crash: str = ""
    crash_phase: str = ""
    longrepr: str = ""
    xfail: str = ""
    props: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Group:
    check: str
    attempt: int
    members: list[str]
    started: float | None = None
    done: list[_Test] = field(default_factory=list)
    finished: bool = False

    @property
    def remaining(self) -> int:
        return len(self.members) - len(self.done)


def short(nodeid: str) -> str:
    """``tests/smoke/test_x.py::TestA::test_b[1-2]`` -> ``test_x.py::TestA::test_b[1-2]``."""
    path, sep, rest = nodeid.partition("::")
    return f"{Path(path).name}{sep}{rest}" if sep else Path(path).name


class Translator:
    def __init__(self, host: str, *, run_id: str = "", record_root: Path | None = None):
        self.host = host
        self.run_id = run_id
        self.record_root = record_root
        self.items: dict[str, tuple[str, int, str]] = {}  # nodeid -> (smk, iteration, name)
        self.groups: dict[tuple[str, int], _Group] = {}
        self.tests: dict[str, _Test] = {}
        self.collected: dict[str, Any] | None = None
        self.session: dict[str, Any] | None = None
        self.session_start: dict[str, Any] | None = None
        self.running: str = ""  # nodeid of the test under way
        self.unmapped: list[str] = []
        self.collect_errors: list[str] = []
        self.internal_errors: list[str] = []
        self._notices = 0
        self.bad_lines = 0

    # -- what it knows --------------------------------------------------------------------

    @property
    def check_order(self) -> list[str]:
        seen: dict[str, None] = {}
        for smk, _it, _n in self.items.values():
            if smk:
                seen.setdefault(smk)
        return list(seen)

    @property
    def count(self) -> int:
        return int((self.collected or {}).get("count") or 1)

    @property
    def results(self) -> list[tuple[str, int]]:
        return [k for k, g in self.groups.items() if g.finished]

    # -- feeding --------------------------------------------------------------------------

    def feed(self, rec: dict[str, Any]) -> list[Event]:
        kind = rec.get("type")
        handler = getattr(self, f"_on_{kind}", None)
        if handler is None:
            return []
        return handler(rec) or []

    def _on_session_start(self, rec: dict[str, Any]) -> list[Event]:
        self.session_start = rec
        return []

    def _on_item(self, rec: dict[str, Any]) -> list[Event]:
        nodeid = str(rec.get("nodeid", ""))
        smk = str(rec.get("smk") or "")
        it = _int(rec.get("iteration"), 1)
        self.items[nodeid] = (smk, it, str(rec.get("name") or nodeid))
        if smk:
            g = self.groups.get((smk, it))
            if g is None:
                g = self.groups[(smk, it)] = _Group(smk, it, [])
            g.members.append(nodeid)
        else:
            self.unmapped.append(nodeid)
        return []

    def _on_collected(self, rec: dict[str, Any]) -> list[Event]:
        self.collected = rec
        if not self.unmapped:
            return []
        names = ", ".join(short(n) for n in self.unmapped[:5]) + (" ..." if len(self.unmapped) > 5 else "")
        return [self._notice("warning", "EXT_UNMAPPED_TESTS",
                             f"{len(self.unmapped)} selected test(s) carry no SMK id in their name or an smk marker, "
                             f"so they count in no SMK result: {names}")]

    def _on_collect_error(self, rec: dict[str, Any]) -> list[Event]:
        text = str(rec.get("longrepr") or "")
        self.collect_errors.append(str(rec.get("nodeid") or "?"))
        last = [ln for ln in text.splitlines() if ln.strip()][-3:]
        return [self._notice("error", "EXT_COLLECT_ERROR",
                             f"pytest could not collect {rec.get('nodeid') or 'the suite'}: " + " | ".join(last))]

    def _on_internal_error(self, rec: dict[str, Any]) -> list[Event]:
        text = str(rec.get("message") or "")
        self.internal_errors.append(text)
        return [self._notice("error", "EXT_PYTEST_INTERNAL", f"pytest internal error: {text[-400:]}")]

    def _on_test_start(self, rec: dict[str, Any]) -> list[Event]:
        nodeid = str(rec.get("nodeid", ""))
        self.running = nodeid
        smk, it, name = self._meta(nodeid, rec)
        self.tests[nodeid] = _Test(nodeid, name)
        if not smk:
            return []
        g = self._group(smk, it, nodeid)
        if g.started is not None:
            return []
        g.started = _num(rec.get("ts"))
        return [CheckStarted(host=self.host, check=smk, attempt=it, title=TITLES.get(smk, ""), run_id=self.run_id,
                             **self._ts(rec))]

    def _on_report(self, rec: dict[str, Any]) -> list[Event]:
        nodeid = str(rec.get("nodeid", ""))
        t = self.tests.setdefault(nodeid, _Test(nodeid, self._meta(nodeid, rec)[2]))
        for k, v in rec.get("user_properties") or ():
            t.props[str(k)] = v
        if "wasxfail" in rec:
            t.xfail = str(rec.get("wasxfail") or "")
        outcome = rec.get("outcome")
        if outcome in ("failed", "skipped") and not t.crash:
            crash = rec.get("crash") or {}
            t.crash = str(crash.get("message") or "")
            t.crash_phase = str(rec.get("when") or "call")
            t.longrepr = str(rec.get("longrepr") or "")
        return []

    def _on_test_finish(self, rec: dict[str, Any]) -> list[Event]:
        nodeid = str(rec.get("nodeid", ""))
        if self.running == nodeid:
            self.running = ""
        smk, it, name = self._meta(nodeid, rec)
        t = self.tests.setdefault(nodeid, _Test(nodeid, name))
        t.outcome = str(rec.get("outcome") or "error")
        t.duration = _num(rec.get("duration"))
        if not smk:
            if t.outcome in ("failed", "error"):
                return self._limited("warning", "EXT_UNMAPPED_FAILED",
                                     f"{short(nodeid)} {t.outcome} (no SMK id: not counted): "
                                     f"{(t.crash.splitlines() or [''])[0][:200]}")
            return []
        g = self._group(smk, it, nodeid)
        out: list[Event] = []
        if g.started is None:  # a finish without a start (the plugin always sends both; be lenient)
            g.started = _num(rec.get("ts"))
            out.append(CheckStarted(host=self.host, check=smk, attempt=it, title=TITLES.get(smk, ""),
                                    run_id=self.run_id, **self._ts(rec)))
        if t not in g.done:
            g.done.append(t)
        word = t.outcome.upper()
        step = f"{short(nodeid)} {word} ({t.duration:.2f}s)"
        if t.outcome in ("failed", "error") and t.crash:
            step += f": {t.crash.splitlines()[0][:160]}"
        elif t.outcome in ("skipped", "xfailed") and (t.crash or t.xfail):
            step += f": {_reason(t)[:160]}"
        out.append(CheckStep(host=self.host, check=smk, attempt=it, message=step, run_id=self.run_id,
                             data={"nodeid": nodeid, "outcome": t.outcome, "duration": round(t.duration, 6)},
                             **self._ts(rec)))
        if g.remaining <= 0 and not g.finished:
            out.append(self._finish(g, rec))
        return out

    def _on_session_finish(self, rec: dict[str, Any]) -> list[Event]:
        self.session = rec
        return []

    # -- ending ---------------------------------------------------------------------------

    def close(self, *, stopped: str = "") -> list[Event]:
        """Finish every started check that did not complete. ``stopped`` says how the process
        ended: "" (by itself: --maxfail, or all ran), "interrupted" (the operator: the running
        check is skipped, "cancelled"), "timeout" or "crashed" (the running check is an error)."""
        out: list[Event] = []
        for g in self.groups.values():
            if g.finished or g.started is None:
                continue
            out.append(self._finish(g, None, stopped=stopped))
        return out

    @property
    def stopped_early(self) -> bool:
        s = self.session or {}
        return bool(s.get("shouldfail")) or bool(s.get("shouldstop") and "maxfail" in str(s.get("shouldstop")))

    def _finish(self, g: _Group, rec: dict[str, Any] | None, *, stopped: str = "") -> CheckFinished:
        g.finished = True
        ran = [t for t in g.done if t.outcome not in ("skipped", "xfailed")]
        bad = next((t for t in g.done if t.outcome in ("failed", "error")), None)
        duration = sum(t.duration for t in g.done)
        missing = g.remaining
        metrics, artifacts = self._extras(g.done)
        kw: dict[str, Any] = {"host": self.host, "check": g.check, "attempt": g.attempt, "run_id": self.run_id,
                              "metrics": metrics,
                              "artifacts": artifacts}
        if rec is not None:
            kw.update(self._ts(rec))
        partial = f" ({len(g.done)} of {len(g.members)} tests ran)" if missing else ""
        running = self.running if self.running in g.members else ""
        if bad is not None:
            f = finding(bad.crash, props=bad.props, phase=bad.crash_phase or "call", test=short(bad.nodeid))
            outcome = "error" if bad.outcome == "error" else f.outcome
            return CheckFinished(outcome=outcome, duration=duration, summary=f"{short(bad.nodeid)}: {f.summary}"
                                 + partial, expected=f.expected, seen=f.seen, fault=f.fault,
                                 log_excerpt=_traceback(bad.longrepr), **kw)
        if stopped and running:
            at = f" (at test: {short(running)})"
            if stopped == "interrupted":
                return CheckFinished(outcome="skipped", duration=duration, fault="cancelled",
                                     summary=f"cancelled: the run was interrupted{at}{partial}", **kw)
            what = {"timeout": "the suite's timeout", "crashed": "pytest exiting"}.get(stopped, stopped)
            return CheckFinished(outcome="error", duration=duration, fault=stopped,
                                 summary=f"stopped by {what}{at}{partial}",
                                 expected=f"{short(running)} to finish", seen=f"stopped by {what} while it ran", **kw)
        if ran:
            names = ", ".join(short(t.nodeid).split("::")[-1] for t in ran[:4]) + (" ..." if len(ran) > 4 else "")
            return CheckFinished(outcome="passed", duration=duration,
                                 summary=f"{len(ran)} test(s) passed: {names}{partial}", **kw)
        reason = next((_reason(t) for t in g.done if t.crash or t.xfail), "") or "not run"
        fault = "quarantined" if reason.startswith("quarantined") else "skipped"
        if missing and not g.done:
            reason, fault = "not run: the pytest run stopped first", "not_run"
        return CheckFinished(outcome="skipped", duration=duration, summary=reason + partial, fault=fault, **kw)

    def _extras(self, tests: list[_Test]) -> tuple[dict[str, float], tuple[str, ...]]:
        """``record_property("metric_<name>", number)`` and ``record_property("artifact", path)``."""
        metrics: dict[str, float] = {}
        arts: list[str] = []
        for t in tests:
            for k, v in t.props.items():
                if k.startswith("metric_") and isinstance(v, (int, float)) and not isinstance(v, bool):
                    metrics[k[len("metric_"):]] = float(v)
                elif k.startswith("artifact") and isinstance(v, str):
                    arts.append(self._rel(v))
        return metrics, tuple(dict.fromkeys(arts))

    def _rel(self, p: str) -> str:
        if self.record_root is not None:
            try:
                return str(Path(p).resolve().relative_to(self.record_root.resolve()))
            except (ValueError, OSError):
                pass
        return p

    # -- helpers --------------------------------------------------------------------------

    def _meta(self, nodeid: str, rec: dict[str, Any]) -> tuple[str, int, str]:
        if nodeid in self.items:
            return self.items[nodeid]
        return str(rec.get("smk") or ""), _int(rec.get("iteration"), 1), nodeid.split("::")[-1]

    def _group(self, smk: str, it: int, nodeid: str) -> _Group:
        g = self.groups.get((smk, it))
        if g is None:  # a test the collection did not announce (a plugin that adds items late)
            g = self.groups[(smk, it)] = _Group(smk, it, [nodeid])
        elif nodeid not in g.members:
            g.members.append(nodeid)
        return g

    def _ts(self, rec: dict[str, Any]) -> dict[str, float]:
        ts = rec.get("ts")
        return {"ts": float(ts)} if isinstance(ts, (int, float)) and math.isfinite(ts) else {}

    def _notice(self, level: str, code: str, message: str) -> Notice:
        return Notice(level=level, code=code, message=message, host=self.host, run_id=self.run_id)

    def _limited(self, level: str, code: str, message: str) -> list[Event]:
        self._notices += 1
        if self._notices <= MAX_NOTICES:
            return [self._notice(level, code, message)]
        if self._notices == MAX_NOTICES + 1:
            return [self._notice("info", code, f"further {code} notices suppressed (over {MAX_NOTICES})")]
        return []


def _traceback(text: str) -> tuple[str, ...]:
    """The failure's pytest traceback tail, marked as such (the log shows it in the place a
    built-in check shows its service-log window)."""
    lines = text.splitlines()[-20:]
    return ("--- pytest traceback (tail) ---", *lines) if lines else ()


def _reason(t: _Test) -> str:
    if t.outcome == "xfailed" or (t.xfail and not t.crash):
        return f"xfail: {t.xfail}" if t.xfail else "xfail"
    return _skip_reason(t.crash)


def _skip_reason(crash: str) -> str:
    first = crash.splitlines()[0] if crash else ""
    for prefix in ("Skipped: ", "XFailed: ", "xfail: "):
        if first.startswith(prefix):
            return first[len(prefix):]
    return first


def _num(v: Any) -> float:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return 0.0
    return x if math.isfinite(x) and x >= 0 else 0.0


def _int(v: Any, default: int) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) and v >= 1 else default
