"""The pytest-style run log (``dry_run/02_smoke_run_N.log``, ``07_smoke_run_final.log``)
built from the engine's events.

It reads like ``pytest -q`` output an IV&V engineer knows: a session header, one progress
line per finished check, FAILURES / ERRORS sections with expected vs seen, the check's
steps, an RPC excerpt and the service-log lines of its window, the slowest-N durations,
per-RPC-method latency against the service's budgets, the short test summary and the
closing line ``N passed, M failed in X.XXs``.

``RunLog.apply(event)`` returns the lines to stream now (progress); ``render()`` returns
the whole file. Pure: no I/O here (``record.recorder`` writes it).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from typing import Any

from runners.budgets import percentile, summarise
from runners.logs.parse import neutralise
from runners.events import (
    CheckFinished,
    CheckStarted,
    CheckStep,
    Event,
    Notice,
    RpcLatency,
    RunFinished,
    RunStarted,
)

WIDTH = 80
WORDS = {"passed": "PASSED", "failed": "FAILED", "error": "ERROR", "skipped": "SKIPPED"}
MAX_STEPS = 30  # steps shown per failure section


def banner(text: str = "", char: str = "=", width: int = WIDTH) -> str:
    if not text:
        return char * width
    text = f" {text} "
    left = max(2, (width - len(text)) // 2)
    right = max(2, width - len(text) - left)
    return f"{char * left}{text}{char * right}"


def plural(n: int, word: str) -> str:
    if word == "error":
        return f"{n} error" + ("s" if n != 1 else "")
    return f"{n} {word}"


def closing_line(passed: int, failed: int, errors: int, skipped: int, duration: float,
                 deselected: int = 0) -> str:
    """``N passed, M failed in X.XXs``, then skipped / deselected / errors when non-zero,
    like pytest's summary line."""
    parts = [f"{passed} passed", f"{failed} failed"]
    if skipped:
        parts.append(f"{skipped} skipped")
    if deselected:
        parts.append(f"{deselected} deselected")
    if errors:
        parts.append(plural(errors, "error"))
    return f"{', '.join(parts)} in {duration:.2f}s"


def node_id(ev: CheckFinished | CheckStarted | CheckStep, count: int = 1) -> str:
    base = f"{ev.host}::{ev.check}"
    return f"{base}[{ev.attempt}-{count}]" if count > 1 else base


def _fmt_frame(e: dict[str, Any]) -> str:
    arrow = {"out": "->", "in": "<-"}.get(e.get("dir", ""), "..")
    kind = e.get("kind", "")
    method = e.get("method") or ""
    rid = e.get("id")
    head = f"{arrow} {kind} {method}".rstrip()
    if rid is not None:
        head += f" id={rid}"
    if "latency_ms" in e:
        head += f" ({e['latency_ms']:.1f} ms)"
    if "note" in e:
        head += f" [{e['note']}]"
    frame = e.get("frame")
    if frame is not None:
        body = {k: v for k, v in frame.items() if k not in ("jsonrpc", "id", "method")} if isinstance(frame, dict) else frame
        text = json.dumps(body, default=str, separators=(",", ":"))
    elif "frame_excerpt" in e:
        text = e["frame_excerpt"]
    elif "raw" in e:
        text = repr(e["raw"])
    else:
        text = " ".join(f"{k}={v}" for k, v in e.items() if k not in ("t", "t_rel", "wall", "dir", "kind", "host"))
    if len(text) > 300:
        text = text[:297] + "..."
    t_rel = e.get("t_rel")
    stamp = f"+{t_rel:7.3f}s " if isinstance(t_rel, (int, float)) else ""
    return f"{stamp}{head} {text}".rstrip()


@dataclass
class _CheckLog:
    started: float = 0.0
    title: str = ""
    steps: list[tuple[float, str]] = field(default_factory=list)


@dataclass
class RunLog:
    durations: int = 10
    started: RunStarted | None = None
    finished: RunFinished | None = None
    results: list[CheckFinished] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    latencies: list[RpcLatency] = field(default_factory=list)
    _checks: dict[tuple[str, str, int], _CheckLog] = field(default_factory=dict)
    _progress: list[str] = field(default_factory=list)

    # -- feeding ------------------------------------------------------------------------

    @property
    def count(self) -> int:
        return int((self.started.options or {}).get("count", 1)) if self.started else 1

    @property
    def total(self) -> int:
        if not self.started:
            return 0
        opts = self.started.options or {}
        return int(opts.get("total") or len(self.started.hosts) * len(self.started.checks) * self.count)

    def apply(self, ev: Event) -> list[str]:
        """Fold one event in; return the log lines it adds to the progress part."""
        new: list[str] = []
        if isinstance(ev, RunStarted):
            self.started = ev
            new = self.header()
        elif isinstance(ev, CheckStarted):
            self._checks[(ev.host, ev.check, ev.attempt)] = _CheckLog(started=ev.ts, title=ev.title)
        elif isinstance(ev, CheckStep):
            cl = self._checks.setdefault((ev.host, ev.check, ev.attempt), _CheckLog(started=ev.ts))
            cl.steps.append((ev.ts, ev.message))
        elif isinstance(ev, CheckFinished):
            self.results.append(ev)
            new = [self.progress_line(ev)]
        elif isinstance(ev, RpcLatency):
            self.latencies.append(ev)
        elif isinstance(ev, Notice):
            self.notices.append(ev)
            if ev.code == "EARLY_EXIT_DETECTED":
                new = [banner(ev.message, "!")]
            elif ev.level in ("warning", "error") or ev.code in ("FAILFAST_MODE_APPLIED",):
                where = f" {ev.host}:" if ev.host else ""
                new = [f"NOTICE [{ev.code or ev.level}]{where} {ev.message.splitlines()[0] if ev.message else ''}"]
        elif isinstance(ev, RunFinished):
            self.finished = ev
        new = [neutralise(ln) for ln in new]
        self._progress.extend(new)
        return new

    # -- pieces -------------------------------------------------------------------------

    def header(self) -> list[str]:
        s = self.started
        assert s is not None
        opts = s.options or {}
        when = time.strftime("%Y-%m-%d %H:%M:%S %z", time.localtime(s.ts))
        deselected = int(opts.get("deselected", 0) or 0)
        total = self.total
        collected = total + deselected * self.count
        lines = [
            banner("test session starts"),
            f"dryrun smoke -- label {s.label or '(none)'} -- run {s.run_id} -- {when}",
            f"hosts: {', '.join(s.hosts) or '(none)'}",
            f"options: {opts.get('argv', '')}".rstrip(),
            f"collected {collected} items" + (f" / {deselected * self.count} deselected / {total} selected"
                                              if deselected else ""),
            "",
        ]
        return lines

    def progress_line(self, ev: CheckFinished) -> str:
        done = len(self.results)
        pct = int(math.floor(100 * done / self.total)) if self.total else 100
        text = f"{node_id(ev, self.count)} {WORDS.get(ev.outcome, ev.outcome.upper())}"
        tail = f" ({ev.duration:.2f}s)"
        if ev.summary:
            tail += f" {ev.summary}"
        return f"{text} [{pct:3d}%]{tail}"

    def _section(self, ev: CheckFinished) -> list[str]:
        out = [banner(node_id(ev, self.count), "_")]
        cl = self._checks.get((ev.host, ev.check, ev.attempt))
        title = cl.title if cl else ""
        out.append(f"{ev.check} on {ev.host} (attempt {ev.attempt}) {WORDS.get(ev.outcome)} after {ev.duration:.2f}s"
                   + (f": {title}" if title else ""))
        out.append(f"E   expected: {ev.expected or '(not stated)'}")
        out.append(f"E   seen:     {ev.seen or '(not stated)'}")
        if ev.fault:
            out.append(f"    fault:    {ev.fault}")
        if ev.metrics:
            out.append("    metrics:  " + ", ".join(f"{k}={_num(v)}" for k, v in ev.metrics.items()))
        if cl and cl.steps:
            out.append("steps:")
            steps = cl.steps[-MAX_STEPS:]
            if len(cl.steps) > MAX_STEPS:
                out.append(f"    ... {len(cl.steps) - MAX_STEPS} earlier steps")
            for ts, msg in steps:
                out.append(f"    +{ts - cl.started:6.2f}s {msg}")
        if ev.rpc_excerpt:
            out.append(f"rpc excerpt (last {len(ev.rpc_excerpt)} frames, tokens redacted):")
            out.extend(f"    {_fmt_frame(e)}" for e in ev.rpc_excerpt)
        if ev.log_excerpt:
            out.append("service log (the check's window):")
            out.extend(f"    {ln}" for ln in ev.log_excerpt)
        return out

    def failure_sections(self) -> list[str]:
        out: list[str] = []
        failed = [r for r in self.results if r.outcome == "failed"]
        errors = [r for r in self.results if r.outcome == "error"]
        if errors:
            out.append(banner("ERRORS"))
            for r in errors:
                out.extend(self._section(r))
        if failed:
            out.append(banner("FAILURES"))
            for r in failed:
                out.extend(self._section(r))
        return out

    def durations_section(self) -> list[str]:
        if self.durations <= 0 or not self.results:
            return []
        ran = [r for r in self.results if r.outcome != "skipped"]
        rows = sorted(ran, key=lambda r: r.duration, reverse=True)[: self.durations]
        out = [banner(f"slowest {self.durations} durations")]
        out.extend(f"{r.duration:.2f}s call     {node_id(r, self.count)}" for r in rows)
        if ran:
            ds = [r.duration for r in ran]
            out.append("duration percentiles: " + "  ".join(
                f"p{p}={percentile(ds, p):.2f}s" for p in (50, 90, 95, 99)))
        return out

    def latency_section(self) -> list[str]:
        if not self.latencies:
            return []
        rows = summarise((e.method, e.ms, e.ok) for e in self.latencies)
        out = [banner("RPC latency vs the service's budgets"),
               f"{'method':<24} {'n':>5} {'err':>4} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'budget':>7}  verdict"]
        for r in rows:
            out.append(f"{r.method:<24} {r.n:>5} {r.errors:>4} {r.p50_ms:>8.1f} {r.p95_ms:>8.1f} {r.max_ms:>8.1f} "
                       f"{r.budget_ms:>7.0f}  {'within' if r.within else 'OVER'}")
        out.append("(round trip from the console; the service's budgets are measured inside the service; "
                   "err counts include SMK-2/SMK-6's deliberate error probes)")
        return out

    def short_summary(self) -> list[str]:
        lines: list[str] = []
        for r in self.results:
            if r.outcome == "failed":
                lines.append(f"FAILED {node_id(r, self.count)} - {r.summary}")
        for r in self.results:
            if r.outcome == "error":
                lines.append(f"ERROR {node_id(r, self.count)} - {r.summary}")
        for r in self.results:
            if r.outcome == "skipped":
                lines.append(f"SKIPPED [1] {node_id(r, self.count)}: {r.summary}")
        return [banner("short test summary info"), *lines] if lines else []

    def closing(self) -> str:
        f = self.finished
        c = {"passed": 0, "failed": 0, "error": 0, "skipped": 0}
        for r in self.results:
            c[r.outcome] = c.get(r.outcome, 0) + 1
        deselected = int((self.started.options or {}).get("deselected", 0) or 0) * self.count if self.started else 0
        duration = f.duration if f else (time.time() - self.started.ts if self.started else 0.0)
        return closing_line(c["passed"], c["failed"], c["error"], c["skipped"], duration, deselected)

    def render(self) -> str:
        """The whole log: progress so far, then (once finished) the end sections."""
        return "\n".join(self._progress) + "\n" + self.end_sections()

    def end_sections(self) -> str:
        """What follows the progress lines once the run finished ("" before): failures,
        durations, latency, short summary, closing line. Every line is neutralised: service
        text (error messages, log lines) never drives the reader's terminal."""
        return "".join(neutralise(ln) + "\n" for ln in self._end_lines())

    def _end_lines(self) -> list[str]:
        out: list[str] = []
        if self.finished is not None:
            out.append("")
            out.extend(self.failure_sections())
            if self.finished.stopped_early != "failfast:hard":  # hard: emergency summary, no profiling
                out.extend(self.durations_section())
                out.extend(self.latency_section())
            out.extend(self.short_summary())
            if self.finished.interrupted:
                out.append(banner("Interrupted: the run was cancelled before it finished", "!"))
            elif self.finished.stopped_early:
                out.append(banner(f"stopped early: {self.finished.stopped_early}", "!"))
            out.append(self.closing())
        return out


def _num(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3f}".rstrip("0").rstrip(".") if not math.isnan(v) else "nan"
    return str(v)
