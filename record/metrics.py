"""``08_metrics.md``: the dry-run's figures, computed from ``events.log.jsonl`` alone (D1).

- **Pass rate**: passed / (passed + failed + error) of the reference run: the final run
  (``07_smoke_run_final``) when there is one, else the latest ``02_smoke_run_<n>``.
  Skipped (quarantined, deselected) checks are reported, never counted as passes.
- **Flaky %**: failing attempts of checks that also passed on the same baseline (see
  ``record.flakes``), over all attempts of all runs (smoke, verify, flake hunts) x 100:
  the share of test executions that gave a flaky result.
- **Durations**: p50/p90/p95/p99 of check durations over all attempts (nearest-rank
  percentiles, the same method as ``runners.budgets``), per check, and the slowest results.
- **RPC latency** per method against the facts-sheet budgets of ``runners.budgets``
  (p95 must be within budget; the overall p95 within 100 ms).
- **Defects** by severity (R/A/G), open vs resolved, and by cause class, from the register.

The event-derived figures are a fold (:class:`MetricsFold`): ``compute`` folds the whole
log; the console keeps one fold and feeds it only the lines appended since its last load
(``record.digest``), so both give the same figures.
"""

from __future__ import annotations

import bisect
import datetime as _dt
import hashlib
import math
from collections import Counter
from collections.abc import Iterable
from typing import Any

from record.events_log import read_events
from record.layout import DryRunDir
from record.lock import DryRunLock
from record.quarantine import load_quarantine
from record.rendered import RenderedFile
from record.severity import SEVERITIES
from record.state import SMK_IDS
from record.tomlio import dump_json
from record.triage import load_register
from runners.budgets import OVERALL_P95_MS, percentile_sorted, summarise_sorted

SMOKE_PREFIXES = ("02_smoke_run_", "07_smoke_run_final")
TOP_SLOW = 10


def _num(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x), 4)


def _run_row(r: _Run) -> dict[str, Any]:
    c = {"passed": 0, "failed": 0, "error": 0, "skipped": 0}
    for k, n in r.counts.items():
        c[k] = c.get(k, 0) + n
    ran = c["passed"] + c["failed"] + c["error"]
    fin = r.finished or {}
    return {"label": r.label, "run_id": r.run_id, **c, "pass_rate_pct": _num(100 * c["passed"] / ran) if ran else None,
            "duration_s": _num(float(fin.get("duration", 0.0))) if fin else None,
            "interrupted": bool(fin.get("interrupted", False)) if fin else True}


def reference_run(all_runs: list[Any]) -> Any | None:
    """The run the pass rate is taken from: the last final run, else the last smoke run."""
    finals = [r for r in all_runs if r.label == "07_smoke_run_final"]
    if finals:
        return finals[-1]
    smoke = [r for r in all_runs if r.label.startswith("02_smoke_run_")]
    return smoke[-1] if smoke else None


class _Run:
    """One run as the metrics need it (``record.failures.runs`` without keeping every line):
    outcome counts and the check x host grid, last attempt wins."""

    __slots__ = ("run_id", "label", "hosts", "checks", "counts", "grid", "finished")

    def __init__(self, run_id: str, label: str, hosts: list[str], checks: list[str]):
        self.run_id, self.label, self.hosts, self.checks = run_id, label, hosts, checks
        self.counts: dict[Any, int] = {}
        self.grid: dict[str, dict[str, str]] = {}
        self.finished: dict[str, Any] | None = None


_RAN = ("passed", "failed", "error")


class MetricsFold:
    """The figures of :func:`compute` that come from the events log, folded one event at a
    time, so a console following a growing log feeds it only the new lines (O(new events))
    and asks for :meth:`figures` when it needs them.

    Same rules as ``record.failures.runs`` (runs), ``record.flakes.epochs``/``classify``
    (baselines and flakes) and ``runners.budgets.summarise`` (RPC latency): ``compute`` is
    this fold over the whole log, so the written 08_metrics.md and the console agree. It
    also keeps what the closeout needs from the log: the last run started and the
    environment-drift overrides. Feed events in log order; an exception while feeding
    leaves the fold unusable (start a new one, as a cold load would fail too)."""

    def __init__(self) -> None:
        self.events = 0
        self.runs: dict[str, _Run] = {}
        self._order: list[str] = []
        # flakes.epochs: the baseline of each result
        self._fixes: Counter[str] = Counter()
        self._run_ctx: dict[str, tuple[str, str]] = {}
        self._env = ""
        # flakes.classify: (check, host, epoch) -> [passed, failed or error]
        self._groups: dict[tuple[str, str, str], list[int]] = {}
        # durations of the results that ran, sorted lazily; the slowest as (-duration, seq, check, host, label)
        self._durs: list[float] = []
        self._per: dict[str, list[float]] = {}
        self._slow: list[tuple[float, int, str, str, str]] = []
        self._seq = 0
        # RPC latency: per method and overall, sorted lazily; errors per method
        self._rpc: dict[str, list[float]] = {}
        self._rpc_all: list[float] = []
        self._rpc_errs: dict[str, int] = {}
        self._unsorted = False
        # for the closeout
        self.last_run_id = ""
        self.overrides: list[dict[str, Any]] = []  # environment_validation_override events

    def feed(self, events: Iterable[dict[str, Any]]) -> None:
        for ev in events:
            self.events += 1
            kind = ev.get("kind")
            if kind == "check_finished":
                self._check_finished(ev)
            elif kind == "rpc_latency":
                method, ms = str(ev.get("method")), float(ev.get("ms", 0.0))
                self._rpc.setdefault(method, []).append(ms)
                self._rpc_all.append(ms)
                self._unsorted = True
                if not bool(ev.get("ok", True)):
                    self._rpc_errs[method] = self._rpc_errs.get(method, 0) + 1
            elif kind == "run_started":
                rid = ev.get("run_id", "")
                float(ev.get("ts", 0))  # as record.failures.runs reads it: a bad value fails the same way
                if rid not in self.runs:
                    self._order.append(rid)
                self.runs[rid] = _Run(rid, str(ev.get("label", "")), list(ev.get("hosts", [])),
                                      list(ev.get("checks", [])))
                ctx = ev.get("context") or {}
                base = str(ctx.get("env_sha") or self._env or ctx.get("baseline") or "")
                self._run_ctx[rid] = (base, str(ev.get("label", "")))
                self.last_run_id = rid
            elif kind == "run_finished":
                r = self.runs.get(ev.get("run_id", ""))
                if r is not None:
                    r.finished = ev
            elif kind == "fix_recorded":
                for smk in ev.get("smk", []):
                    self._fixes[smk] += 1
            elif kind == "env_frozen":
                self._env = str(ev.get("sha256") or self._env)
            elif kind == "environment_validation_override":
                self.overrides.append(ev)

    def _check_finished(self, ev: dict[str, Any]) -> None:
        rid = ev.get("run_id", "")
        r = self.runs.get(rid)
        if r is not None:
            key = ev.get("outcome", "error")
            r.counts[key] = r.counts.get(key, 0) + 1
            r.grid.setdefault(str(ev.get("check")), {})[str(ev.get("host"))] = str(ev.get("outcome"))
        ctx = ev.get("context") or {}
        base, label = self._run_ctx.get(rid, (str(ctx.get("env_sha") or ctx.get("baseline") or ""), ""))
        check, host, outcome = str(ev.get("check", "")), str(ev.get("host", "")), ev.get("outcome")
        duration = float(ev.get("duration", 0.0))
        if outcome not in _RAN:
            return
        g = self._groups.setdefault((check, host, f"{base}#fix{self._fixes[check]}"), [0, 0])
        g[0 if outcome == "passed" else 1] += 1
        self._durs.append(duration)
        self._per.setdefault(check, []).append(duration)
        self._unsorted = True
        self._seq += 1
        item = (-duration, self._seq, check, host, label)
        if len(self._slow) < TOP_SLOW or item < self._slow[-1]:
            bisect.insort(self._slow, item)
            del self._slow[TOP_SLOW:]

    def _sort(self) -> None:
        if self._unsorted:  # appended since the last figures: a near-sorted list sorts in linear time
            for xs in (self._durs, self._rpc_all, *self._per.values(), *self._rpc.values()):
                xs.sort()
            self._unsorted = False

    def all_runs(self) -> list[_Run]:
        return [self.runs[r] for r in self._order]

    def figures(self, d: DryRunDir, *, sha256: str, torn: int = 0, reg: Any = None,
                quarantined: list[str] | None = None) -> dict[str, Any]:
        """Every figure of 08_metrics.md as a JSON-ready dict. ``reg`` (the register) and
        ``quarantined`` are read from ``d`` when not given."""
        self._sort()
        all_runs = self.all_runs()
        ref = reference_run(all_runs)
        out: dict[str, Any] = {
            "generated": _dt.datetime.now().isoformat(timespec="seconds"),
            "source": {"events_log": d.events_log.name, "sha256": sha256, "events": self.events, "torn_lines": torn},
            "runs": [_run_row(r) for r in all_runs],
        }
        # reference run: pass rate and the SMK x host grid
        if ref is not None:
            row = _run_row(ref)
            grid = ref.grid
            hosts = sorted(set(ref.hosts) | {h for g in grid.values() for h in g})
            checks = list(ref.checks) or list(SMK_IDS)
            all_pass = bool(hosts) and all(grid.get(c, {}).get(h) == "passed" for c in SMK_IDS for h in hosts)
            out["reference_run"] = {**row, "hosts": hosts, "checks": checks,
                                    "grid": {c: dict(v) for c, v in grid.items()}, "all_smk_pass": all_pass,
                                    "not_passed": [f"{c}@{h}: {grid.get(c, {}).get(h, 'not run')}" for c in SMK_IDS
                                                   for h in hosts if grid.get(c, {}).get(h) != "passed"]}
            out["pass_rate_pct"] = row["pass_rate_pct"]
        else:
            out["reference_run"] = None
            out["pass_rate_pct"] = None

        # flakiness over every attempt (record.flakes.classify over the groups)
        cls: dict[tuple[str, str], dict[str, Any]] = {}
        for (check, host, _epoch), (p, f) in self._groups.items():
            c = cls.setdefault((check, host), {"attempts": 0, "passed": 0, "failed": 0, "flaky": False,
                                               "flaky_failures": 0})
            c["attempts"] += p + f
            c["passed"] += p
            c["failed"] += f
            if p and f:
                c["flaky"] = True
                c["flaky_failures"] += f
        attempts = sum(v["attempts"] for v in cls.values())
        flaky_fail = sum(v["flaky_failures"] for v in cls.values())
        out["attempts"] = attempts
        passed_all = sum(v["passed"] for v in cls.values())
        out["overall_pass_rate_pct"] = _num(100 * passed_all / attempts) if attempts else None
        out["flaky_pct"] = _num(100 * flaky_fail / attempts) if attempts else 0.0
        out["flaky_checks"] = [{"check": c, "host": h, "attempts": v["attempts"], "passed": v["passed"],
                                "failed": v["failed"], "flaky_failures": v["flaky_failures"]}
                               for (c, h), v in sorted(cls.items()) if v["flaky"]]

        # durations
        durs = self._durs
        out["durations"] = {"n": len(durs), **{f"p{p}": _num(percentile_sorted(durs, p)) for p in (50, 90, 95, 99)},
                            "max": _num(durs[-1]) if durs else None}
        out["per_check"] = {c: {"n": len(v), "p50": _num(percentile_sorted(v, 50)),
                                "p95": _num(percentile_sorted(v, 95)), "max": _num(v[-1])}
                            for c, v in sorted(self._per.items())}
        out["slowest"] = [{"check": c, "host": h, "label": lb, "duration": _num(-nd)} for nd, _, c, h, lb in self._slow]

        # RPC latency vs budget
        rows = summarise_sorted(self._rpc, self._rpc_errs, self._rpc_all)
        out["rpc"] = [{"method": m.method, "n": m.n, "errors": m.errors, "p50_ms": _num(m.p50_ms),
                       "p95_ms": _num(m.p95_ms), "max_ms": _num(m.max_ms), "budget_ms": m.budget_ms,
                       "within": m.within} for m in rows]
        overall = [m for m in rows if m.method == "*overall*"]
        out["rpc_overall_p95_ms"] = _num(overall[0].p95_ms) if overall else None
        out["rpc_overall_budget_ms"] = OVERALL_P95_MS

        # defects
        if reg is None:
            reg = load_register(d)
        sev = {k: {"total": 0, "open": 0, "resolved": 0} for k in SEVERITIES}
        cause: dict[str, int] = {}
        for i in reg.sorted():
            sev[i.severity]["total"] += 1
            sev[i.severity]["resolved" if i.resolved else "open"] += 1
            cause[i.cause or "unclassified"] = cause.get(i.cause or "unclassified", 0) + 1
        out["defects"] = sev
        out["defects_by_cause"] = cause
        out["quarantined"] = sorted(load_quarantine(d.quarantine)) if quarantined is None else sorted(quarantined)
        return out


def compute(d: DryRunDir, *, events: Iterable[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Every figure of 08_metrics.md as a JSON-ready dict, from the whole events log (or
    ``events``): a cold :class:`MetricsFold` over it."""
    fold = MetricsFold()
    if events is None:
        reader = read_events(d.events_log)
        fold.feed(reader)
        torn = reader.torn
    else:
        fold.feed(events)
        torn = 0
    return fold.figures(d, sha256=_sha(d), torn=torn)


def _sha(d: DryRunDir) -> str:
    h = hashlib.sha256()
    try:
        with open(d.events_log, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    except FileNotFoundError:
        return ""
    return h.hexdigest()


def _f(x: Any, unit: str = "", nd: int = 1) -> str:
    if x is None:
        return "-"
    return f"{x:.{nd}f}{unit}"


def render_metrics(m: dict[str, Any]) -> str:
    ref = m.get("reference_run")
    out = [
        "# 08 - Metrics",
        "",
        f"Computed by `dryrun metrics` from `{m['source']['events_log']}` ({m['source']['events']} events, "
        f"sha256 `{m['source']['sha256'][:16] or '-'}`), {m['generated']}.",
        "",
        "## Summary",
        "",
        "| Figure | Value |",
        "|--------|-------|",
        f"| Pass rate (reference run {ref['label'] if ref else '-'}) | {_f(m['pass_rate_pct'], ' %')} |",
        f"| Pass rate (all {m['attempts']} attempts) | {_f(m['overall_pass_rate_pct'], ' %')} |",
        f"| Flaky | {_f(m['flaky_pct'], ' %', 2)} of attempts; {len(m['flaky_checks'])} flaky check/host pair(s) |",
        f"| Check duration p50 / p90 / p95 / p99 | {_f(m['durations']['p50'], ' s', 3)} / "
        f"{_f(m['durations']['p90'], ' s', 3)} / {_f(m['durations']['p95'], ' s', 3)} / "
        f"{_f(m['durations']['p99'], ' s', 3)} |",
        f"| RPC p95 overall (budget {m['rpc_overall_budget_ms']:g} ms) | {_f(m['rpc_overall_p95_ms'], ' ms')} |",
        f"| Quarantined checks | {', '.join(m['quarantined']) or 'none'} |",
        "",
    ]
    if ref:
        out += ["## Reference run", "",
                f"{ref['label']} (run {ref['run_id']}): {ref['passed']} passed, {ref['failed']} failed, "
                f"{ref['error']} error, {ref['skipped']} skipped. All SMK pass: {'YES' if ref['all_smk_pass'] else 'NO'}.",
                ""]
        hosts = ref["hosts"]
        if hosts:
            out += ["| Check | " + " | ".join(hosts) + " |", "|-------|" + "|".join("---" for _ in hosts) + "|"]
            for c in SMK_IDS:
                out.append(f"| {c} | " + " | ".join(ref["grid"].get(c, {}).get(h, "not run").upper() for h in hosts)
                           + " |")
            out.append("")
    out += ["## Runs", "", "| Run | Passed | Failed | Error | Skipped | Pass rate | Duration |",
            "|-----|--------|--------|-------|---------|-----------|----------|"]
    for r in m["runs"]:
        out.append(f"| {r['label'] or r['run_id']} | {r['passed']} | {r['failed']} | {r['error']} | {r['skipped']} | "
                   f"{_f(r['pass_rate_pct'], ' %')} | {_f(r['duration_s'], ' s')} |")
    out += ["", "## Flaky checks", ""]
    if m["flaky_checks"]:
        out += ["| Check | Host | Attempts | Passed | Failed | Flaky failures |",
                "|-------|------|----------|--------|--------|----------------|"]
        for f in m["flaky_checks"]:
            out.append(f"| {f['check']} | {f['host']} | {f['attempts']} | {f['passed']} | {f['failed']} | "
                       f"{f['flaky_failures']} |")
    else:
        out.append("None: no check both passed and failed on the same baseline.")
    out += ["", f"## Top {TOP_SLOW} slow checks", "", "| Check | Host | Run | Duration (s) |",
            "|-------|------|-----|--------------|"]
    for s in m["slowest"]:
        out.append(f"| {s['check']} | {s['host']} | {s['label']} | {_f(s['duration'], '', 3)} |")
    out += ["", "Per check: " + ("; ".join(f"{c} p50 {_f(v['p50'], ' s', 3)}, p95 {_f(v['p95'], ' s', 3)}, "
                                          f"max {_f(v['max'], ' s', 3)}" for c, v in m["per_check"].items()) or "-"),
            "", "## RPC latency vs budget", "",
            "| Method | Calls | Errors | p50 (ms) | p95 (ms) | Max (ms) | Budget (ms) | Within |",
            "|--------|-------|--------|----------|----------|----------|-------------|--------|"]
    for r in m["rpc"]:
        out.append(f"| {r['method']} | {r['n']} | {r['errors']} | {_f(r['p50_ms'])} | {_f(r['p95_ms'])} | "
                   f"{_f(r['max_ms'])} | {r['budget_ms']:g} | {'YES' if r['within'] else 'NO'} |")
    if not m["rpc"]:
        out.append("| (no RPC latency recorded) | | | | | | | |")
    out += ["", "## Defects by severity", "", "| Severity | Total | Open | Resolved |", "|----------|-------|------|----------|"]
    for code, v in m["defects"].items():
        out.append(f"| {SEVERITIES[code].label} | {v['total']} | {v['open']} | {v['resolved']} |")
    out += ["", "By cause class: " + (", ".join(f"{k} {v}" for k, v in sorted(m["defects_by_cause"].items())) or "none"),
            ""]
    return "\n".join(out)


def write_metrics(d: DryRunDir, *, force: bool = False) -> dict[str, Any]:
    with DryRunLock(d):
        m = compute(d)
        rf = RenderedFile(d, d.metrics)
        rf.guard(force=force)
        dump_json(d.metrics_json, m)
        rf.write(render_metrics(m))
    return m
