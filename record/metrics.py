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
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import math
from collections.abc import Iterable
from typing import Any

from record import flakes
from record.events_log import read_events
from record.failures import RunInfo, runs
from record.layout import DryRunDir
from record.lock import DryRunLock
from record.quarantine import load_quarantine
from record.rendered import RenderedFile
from record.severity import SEVERITIES
from record.state import SMK_IDS
from record.tomlio import dump_json
from record.triage import load_register
from runners.budgets import OVERALL_P95_MS, percentile, summarise

SMOKE_PREFIXES = ("02_smoke_run_", "07_smoke_run_final")
TOP_SLOW = 10


def _num(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x), 4)


def _run_row(r: RunInfo) -> dict[str, Any]:
    c = {"passed": 0, "failed": 0, "error": 0, "skipped": 0}
    for ev in r.results:
        c[ev.get("outcome", "error")] = c.get(ev.get("outcome", "error"), 0) + 1
    ran = c["passed"] + c["failed"] + c["error"]
    fin = r.finished or {}
    return {"label": r.label, "run_id": r.run_id, **c, "pass_rate_pct": _num(100 * c["passed"] / ran) if ran else None,
            "duration_s": _num(float(fin.get("duration", 0.0))) if fin else None,
            "interrupted": bool(fin.get("interrupted", False)) if fin else True}


def reference_run(all_runs: list[RunInfo]) -> RunInfo | None:
    finals = [r for r in all_runs if r.label == "07_smoke_run_final"]
    if finals:
        return finals[-1]
    smoke = [r for r in all_runs if r.label.startswith("02_smoke_run_")]
    return smoke[-1] if smoke else None


def compute(d: DryRunDir, *, events: Iterable[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Every figure of 08_metrics.md as a JSON-ready dict."""
    if events is None:
        reader = read_events(d.events_log)
        evs = list(reader)
        torn = reader.torn
    else:
        evs, torn = list(events), 0
    all_runs = runs(evs)
    ref = reference_run(all_runs)
    out: dict[str, Any] = {
        "generated": _dt.datetime.now().isoformat(timespec="seconds"),
        "source": {"events_log": d.events_log.name, "sha256": _sha(d), "events": len(evs), "torn_lines": torn},
        "runs": [_run_row(r) for r in all_runs],
    }
    # reference run: pass rate and the SMK x host grid
    if ref is not None:
        row = _run_row(ref)
        grid: dict[str, dict[str, str]] = {}
        for ev in ref.results:  # last attempt wins
            grid.setdefault(str(ev.get("check")), {})[str(ev.get("host"))] = str(ev.get("outcome"))
        hosts = sorted(set(ref.hosts) | {h for g in grid.values() for h in g})
        checks = list(ref.checks) or list(SMK_IDS)
        all_pass = bool(hosts) and all(grid.get(c, {}).get(h) == "passed" for c in SMK_IDS for h in hosts)
        out["reference_run"] = {**row, "hosts": hosts, "checks": checks, "grid": grid, "all_smk_pass": all_pass,
                                "not_passed": [f"{c}@{h}: {grid.get(c, {}).get(h, 'not run')}" for c in SMK_IDS
                                               for h in hosts if grid.get(c, {}).get(h) != "passed"]}
        out["pass_rate_pct"] = row["pass_rate_pct"]
    else:
        out["reference_run"] = None
        out["pass_rate_pct"] = None

    # flakiness over every attempt
    results = flakes.epochs(evs)
    cls = flakes.classify(results)
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
    ran = [r for r in results if r["outcome"] in ("passed", "failed", "error")]
    durs = [r["duration"] for r in ran]
    out["durations"] = {"n": len(durs), **{f"p{p}": _num(percentile(durs, p)) for p in (50, 90, 95, 99)},
                        "max": _num(max(durs)) if durs else None}
    per: dict[str, list[float]] = {}
    for r in ran:
        per.setdefault(r["check"], []).append(r["duration"])
    out["per_check"] = {c: {"n": len(v), "p50": _num(percentile(v, 50)), "p95": _num(percentile(v, 95)),
                            "max": _num(max(v))} for c, v in sorted(per.items())}
    out["slowest"] = [{"check": r["check"], "host": r["host"], "label": r["label"], "duration": _num(r["duration"])}
                      for r in sorted(ran, key=lambda r: -r["duration"])[:TOP_SLOW]]

    # RPC latency vs budget
    samples = [(str(e.get("method")), float(e.get("ms", 0.0)), bool(e.get("ok", True)))
               for e in evs if e.get("kind") == "rpc_latency"]
    rows = summarise(samples)
    out["rpc"] = [{"method": m.method, "n": m.n, "errors": m.errors, "p50_ms": _num(m.p50_ms),
                   "p95_ms": _num(m.p95_ms), "max_ms": _num(m.max_ms), "budget_ms": m.budget_ms,
                   "within": m.within} for m in rows]
    overall = [m for m in rows if m.method == "*overall*"]
    out["rpc_overall_p95_ms"] = _num(overall[0].p95_ms) if overall else None
    out["rpc_overall_budget_ms"] = OVERALL_P95_MS

    # defects
    reg = load_register(d)
    sev = {k: {"total": 0, "open": 0, "resolved": 0} for k in SEVERITIES}
    cause: dict[str, int] = {}
    for i in reg.sorted():
        sev[i.severity]["total"] += 1
        sev[i.severity]["resolved" if i.resolved else "open"] += 1
        cause[i.cause or "unclassified"] = cause.get(i.cause or "unclassified", 0) + 1
    out["defects"] = sev
    out["defects_by_cause"] = cause
    out["quarantined"] = sorted(load_quarantine(d.quarantine))
    return out


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
