"""The PR-sprint runbook's stress run over the smoke engine (seed 003, "STRESS100"):
N rounds of the smoke set, then pass rate, duration variance envelope and a verdict.

    report = await run_stress(cfg, StressOptions(count=100))
    report = await run_stress(cfg, StressOptions(count=20, clients=(2, 4, 8)))   # SMK-7 sweep

**Pass rate** = passed / (passed + failed + error) over every attempt of every check on
every host (skipped attempts are not runs). **Verdict**: PASS when the pass rate is at least
``min_pass_rate`` (default 0.95: the plan's "flaky <= 5 %" gate read as a per-attempt
failure budget; the runbook's 0.75 is for scored LLM output, not smoke checks) and the
run completed; otherwise FAIL, with the reasons.

**Variance envelope** = the p5..p95 band of each check's attempt durations (nearest-rank,
the method ``08_metrics.md`` uses). Why not mean +- 3 sigma: check durations are bounded
below and right-skewed (a retry or a timeout is a long tail), so a 3-sigma band is
inflated by one slow outlier and its lower edge goes negative; percentiles need no
distribution and match how budgets are stated (p95). Mean, stdev and mean+-3 sigma are
reported beside it. A check whose p95 exceeds ``max_spread`` x its p50 (and its p50 by more than
``min_spread_s``: jitter of a few ms on a 10 ms check is not variance) breaks the envelope:
it is listed in ``variance_violations`` and the report carries ``DOWNGRADE_VARIANCE``; as in
the runbook that flags the run without failing it when the pass rate holds.

**SMK-7 sweep** (``clients``): SMK-7 alone, ``count`` rounds per client count
(``checks.concurrency_clients``), pass rate, durations and the listers' p95 latency per N.

The runs are recorded apart from the dry-run's own record: a stress run is the runbook's
activity, and 100 rounds would swamp the plan's flaky % and metrics. Everything lands in
``dry_run/artifacts/stress/``: ``stress_report.md`` + ``.json``, each run's pytest-style log
and JUnit XML, and its ``events.log.jsonl``.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runners.budgets import percentile
from runners.config import Config

SCHEMA = "DRYRUN-STRESS-1"
ENVELOPE = "p5..p95"


@dataclass(frozen=True)
class StressOptions:
    count: int = 100
    keyword: str = ""  # -k over the smoke set (empty = SMK-1..7)
    hosts: tuple[str, ...] = ()
    clients: tuple[int, ...] = ()  # SMK-7 sweep: client counts; empty = no sweep
    min_pass_rate: float = 0.95
    max_spread: float = 3.0  # p95 / p50 above this breaks a check's envelope...
    min_spread_s: float = 0.25  # ...when p95 - p50 is also above this (sub-250 ms jitter is scheduling noise)
    respect_quarantine: bool = False  # a stress run measures every check

    def validate(self) -> StressOptions:
        if not 1 <= self.count <= 1000:
            raise ValueError(f"--count: expected 1..1000 rounds, got {self.count}")
        if not 0.0 <= self.min_pass_rate <= 1.0:
            raise ValueError(f"--min-pass-rate: expected a fraction 0..1 (e.g. 0.95), got {self.min_pass_rate}")
        if not self.max_spread >= 1.0:
            raise ValueError(f"--max-spread: expected a ratio >= 1 (p95 / p50), got {self.max_spread}")
        if not self.min_spread_s >= 0.0:
            raise ValueError(f"--min-spread: expected seconds >= 0, got {self.min_spread_s}")
        for n in self.clients:
            if not 1 <= n <= 64:
                raise ValueError(f"--clients: expected client counts 1..64, got {n}")
        if self.clients and self.keyword:
            raise ValueError("--clients sweeps SMK-7 alone; it cannot be combined with -k")
        return self


# ------------------------------------------------------------------ statistics

def _r(x: float | None, nd: int = 4) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x), nd)


def duration_stats(xs: Sequence[float], *, max_spread: float, min_spread_s: float = 0.0) -> dict[str, Any]:
    """n, mean, stdev, min/max, p5/p50/p95, the p5..p95 envelope, mean+-3 sigma, cv, spread."""
    xs = [float(x) for x in xs]
    if not xs:
        return {"n": 0}
    mean = statistics.fmean(xs)
    sd = statistics.stdev(xs) if len(xs) > 1 else 0.0
    p5, p50, p95 = percentile(xs, 5), percentile(xs, 50), percentile(xs, 95)
    spread = (p95 / p50) if p50 > 0 else (1.0 if p95 == 0 else math.inf)
    return {"n": len(xs), "mean": _r(mean), "stdev": _r(sd), "min": _r(min(xs)), "p5": _r(p5), "p50": _r(p50),
            "p95": _r(p95), "max": _r(max(xs)), "envelope": [_r(p5), _r(p95)],
            "mean_3sigma": [_r(mean - 3 * sd), _r(mean + 3 * sd)], "cv": _r(sd / mean) if mean > 0 else None,
            "spread_p95_p50": _r(spread, 3) if math.isfinite(spread) else None,
            "within_envelope": bool(spread <= max_spread or (p95 - p50) <= min_spread_s)}


def _rows(results: Iterable[Any]) -> list[dict[str, Any]]:
    out = []
    for r in results:
        d = r if isinstance(r, dict) else {
            "host": r.host, "check": r.check, "attempt": r.attempt, "outcome": r.outcome, "duration": r.duration,
            "ts": r.ts, "fault": r.fault, "summary": r.summary, "metrics": dict(r.metrics)}
        out.append(d)
    return out


def analyse(results: Iterable[Any], *, count: int, min_pass_rate: float = 0.95, max_spread: float = 3.0,
            min_spread_s: float = 0.25, interrupted: bool = False) -> dict[str, Any]:
    """The stress figures of one run's CheckFinished results (objects or dicts)."""
    rows = _rows(results)
    ran = [r for r in rows if r["outcome"] != "skipped"]
    c = Counter(r["outcome"] for r in rows)
    passed = c.get("passed", 0)
    rate = passed / len(ran) if ran else None
    per_check: dict[str, Any] = {}
    violations: list[dict[str, Any]] = []
    by_check: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in ran:
        by_check[r["check"]].append(r)
    for check in sorted(by_check, key=lambda s: (len(s), s)):
        rs = by_check[check]
        ok = sum(1 for r in rs if r["outcome"] == "passed")
        st = duration_stats([r["duration"] for r in rs], max_spread=max_spread, min_spread_s=min_spread_s)
        per_check[check] = {"runs": len(rs), "passed": ok, "pass_rate": _r(ok / len(rs)), "duration_s": st}
        if not st.get("within_envelope", True):
            violations.append({"check": check, "p50": st["p50"], "p95": st["p95"], "spread": st["spread_p95_p50"],
                               "max_spread": max_spread,
                               "message": f"{check}: p95 {st['p95']:.3f} s is over {max_spread:g} x p50 "
                                          f"{st['p50']:.3f} s (and {min_spread_s:g} s above it)"})
    per_host: dict[str, Any] = {}
    by_host: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in ran:
        by_host[r["host"]].append(r)
    for host in sorted(by_host):
        rs = by_host[host]
        ok = sum(1 for r in rs if r["outcome"] == "passed")
        per_host[host] = {"runs": len(rs), "passed": ok, "pass_rate": _r(ok / len(rs)),
                          "mean_duration_s": _r(statistics.fmean(r["duration"] for r in rs))}
    # A round's wall time: from its first check's start to its last check's end (all hosts).
    rounds: dict[int, list[float]] = defaultdict(list)
    for r in rows:
        if isinstance(r.get("ts"), (int, float)):
            rounds[int(r["attempt"])] += [float(r["ts"]) - float(r["duration"]), float(r["ts"])]
    round_walls = [max(v) - min(v) for _k, v in sorted(rounds.items()) if v]
    failures = Counter(f"{r['check']} {r['outcome']}: {r.get('fault') or '-'}" for r in ran
                       if r["outcome"] != "passed")
    reasons: list[str] = []
    if not ran:
        reasons.append("no check ran")
    elif rate is not None and rate < min_pass_rate:
        reasons.append(f"pass rate {rate:.1%} is below the threshold {min_pass_rate:.1%}")
    if interrupted:
        reasons.append(f"the run was interrupted after {len(round_walls)} of {count} rounds")
    verdict = "FAIL" if reasons else "PASS"
    return {
        "total_runs": count,
        "rounds_completed": len(round_walls),
        "attempts": {"ran": len(ran), "passed": passed, "failed": c.get("failed", 0), "error": c.get("error", 0),
                     "skipped": c.get("skipped", 0)},
        "pass_rate": _r(rate), "min_pass_rate": min_pass_rate,
        "verdict": verdict, "reasons": reasons,
        "variance_envelope": {"method": ENVELOPE, "max_spread_p95_over_p50": max_spread,
                              "min_spread_s": min_spread_s},
        "variance_verdict": "PASS" if not violations else "DOWNGRADE",
        "variance_violations": violations,
        "downgrade_flag": "DOWNGRADE_VARIANCE" if violations else None,
        "round_wall_s": duration_stats(round_walls, max_spread=math.inf),
        "per_check": per_check, "per_host": per_host,
        "top_failures": [{"what": k, "n": n} for k, n in failures.most_common(10)],
    }


def sweep_row(clients: int, results: Iterable[Any], *, count: int, max_spread: float, min_pass_rate: float,
              min_spread_s: float = 0.25, interrupted: bool = False) -> dict[str, Any]:
    rows = [r for r in _rows(results) if r["check"] == "SMK-7"]
    a = analyse(rows, count=count, min_pass_rate=min_pass_rate, max_spread=max_spread, min_spread_s=min_spread_s,
                interrupted=interrupted)
    p95s = [float(r["metrics"]["p95_ms"]) for r in rows if isinstance(r.get("metrics"), dict)
            and isinstance(r["metrics"].get("p95_ms"), (int, float))]
    st = a["per_check"].get("SMK-7", {}).get("duration_s", {"n": 0})
    return {"clients": clients, "runs": a["attempts"]["ran"], "pass_rate": a["pass_rate"], "verdict": a["verdict"],
            "reasons": a["reasons"], "duration_s": st,
            "lister_p95_ms": {"p50": _r(percentile(p95s, 50)) if p95s else None,
                              "max": _r(max(p95s)) if p95s else None},
            "top_failures": a["top_failures"]}


# ------------------------------------------------------------------ report

def _f(x: Any, unit: str = "", nd: int = 3) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.{nd}f}{unit}"
    return f"{x}{unit}"


def render_md(rep: dict[str, Any]) -> str:
    from record.runlog import plural

    out = [f"# Stress run - {rep['verdict']}", ""]
    out += [f"- When: {rep.get('started_iso', '')}; hosts: {', '.join(rep.get('hosts', [])) or '-'}; "
            f"rounds: {rep.get('total_runs')} requested",
            f"- Runs: {', '.join(rep.get('run_ids', [])) or '-'} (logs: {', '.join(rep.get('logs', [])) or '-'})", ""]
    if rep.get("sweep"):
        out += ["## SMK-7 concurrency sweep", "",
                "| Clients | Runs | Pass rate | Verdict | Duration p50 | p95 | Envelope (p5..p95) | "
                "Lister p95 ms (median / max) |",
                "|---|---|---|---|---|---|---|---|"]
        for s in rep["sweep"]:
            d = s["duration_s"]
            env = d.get("envelope") or [None, None]
            out.append(f"| {s['clients']} | {s['runs']} | {_f(_pct(s['pass_rate']), ' %', 1)} | {s['verdict']} | "
                       f"{_f(d.get('p50'), ' s')} | {_f(d.get('p95'), ' s')} | {_f(env[0])}..{_f(env[1])} s | "
                       f"{_f(s['lister_p95_ms']['p50'], '', 1)} / {_f(s['lister_p95_ms']['max'], '', 1)} |")
        out.append("")
    a = rep["attempts"]
    out += ["## Analysis", "",
            f"- Pass rate: **{_f(_pct(rep['pass_rate']), ' %', 2)}** ({a['passed']} of {a['ran']} attempts; "
            f"{a['failed']} failed, {plural(a['error'], 'error')}, {a['skipped']} skipped) - threshold "
            f"{rep['min_pass_rate'] * 100:.1f} %",
            f"- Verdict: **{rep['verdict']}**" + (f" ({'; '.join(rep['reasons'])})" if rep["reasons"] else ""),
            f"- Variance envelope: {rep['variance_envelope']['method']} of each check's durations; a check breaks "
            f"it when p95 > {rep['variance_envelope']['max_spread_p95_over_p50']:g} x p50 and p95 - p50 > "
            f"{rep['variance_envelope']['min_spread_s']:g} s -> "
            f"{rep['variance_verdict']}" + (f" ({rep['downgrade_flag']})" if rep["downgrade_flag"] else ""),
            ""]
    rw = rep.get("round_wall_s") or {}
    if rw.get("n"):
        out += [f"- Round wall time: mean {_f(rw['mean'], ' s')} +- {_f(rw['stdev'], ' s')} "
                f"(p5..p95 {_f(rw['p5'])}..{_f(rw['p95'])} s, max {_f(rw['max'], ' s')}) over {rw['n']} rounds", ""]
    out += ["## Per check", "",
            "| Check | Runs | Pass rate | Mean +- sd (s) | p50 | p95 | Envelope p5..p95 (s) | mean +- 3 sigma (s) | "
            "p95/p50 | In envelope |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for check, pc in rep["per_check"].items():
        d = pc["duration_s"]
        out.append(f"| {check} | {pc['runs']} | {_f(_pct(pc['pass_rate']), ' %', 1)} | {_f(d.get('mean'))} +- "
                   f"{_f(d.get('stdev'))} | {_f(d.get('p50'))} | {_f(d.get('p95'))} | {_f(d['envelope'][0])}.."
                   f"{_f(d['envelope'][1])} | {_f(d['mean_3sigma'][0])}..{_f(d['mean_3sigma'][1])} | "
                   f"{_f(d.get('spread_p95_p50'), '', 2)} | {'yes' if d.get('within_envelope') else 'NO'} |")
    out.append("")
    if rep["variance_violations"]:
        out += ["## Variance violations", ""] + [f"- {v['message']}" for v in rep["variance_violations"]] + [""]
    if rep["per_host"]:
        out += ["## Per host", "", "| Host | Runs | Pass rate | Mean duration (s) |", "|---|---|---|---|"]
        out += [f"| {h} | {v['runs']} | {_f(_pct(v['pass_rate']), ' %', 1)} | {_f(v['mean_duration_s'])} |"
                for h, v in rep["per_host"].items()]
        out.append("")
    if rep["top_failures"]:
        out += ["## Most frequent failures", ""] + [f"- {f['n']} x {f['what']}" for f in rep["top_failures"]] + [""]
    return "\n".join(out)


def _pct(x: float | None) -> float | None:
    return None if x is None else x * 100.0


# ------------------------------------------------------------------ running

def stress_dir(cfg: Config) -> Path:
    from record.layout import DryRunDir

    return DryRunDir(cfg.dry_run_path).artifacts / "stress"


async def _one_run(cfg: Config, options: Any, *, out: Path, label: str, sinks: Sequence[Callable[[Any], None]],
                   source_ready: Callable[[Any], None] | None) -> Any:
    from record.quarantine import load_quarantine
    from record.layout import DryRunDir
    from record.redact import configured_secrets
    from runners.pipeline import record_run
    from runners.smoke.engine import SmokeEngine

    d = DryRunDir(cfg.dry_run_path)
    quarantine = load_quarantine(d.quarantine) if options.respect_quarantine else {}
    artifacts = out / "artifacts" / label
    engine = SmokeEngine(cfg, options, artifacts_dir=artifacts, quarantine=quarantine, record_root=d.root)
    return await record_run(engine, record_dir=out, log_path=out / f"{label}.log", label=label,
                       durations=options.durations, secrets=configured_secrets(cfg), sinks=sinks,
                       write_lastfailed=False, artifacts_dir=artifacts, source_ready=source_ready)


async def run_stress(cfg: Config, opts: StressOptions, *, sinks: Sequence[Callable[[Any], None]] = (),
                     source_ready: Callable[[Any], None] | None = None) -> dict[str, Any]:
    """Run it, write ``stress_report.md`` + ``.json``, return the report (with ``paths``)."""
    from record.atomic import atomic_write_text
    from runners.smoke.options import RunOptions

    opts = opts.validate()
    out = stress_dir(cfg)
    out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    base = RunOptions(keyword=opts.keyword, count=opts.count, hosts=opts.hosts, durations=10,
                      respect_quarantine=opts.respect_quarantine)
    results: list[Any] = []
    runs: list[Any] = []
    sweep: list[dict[str, Any]] = []
    interrupted = False
    if opts.clients:
        for n in opts.clients:
            c = dataclasses.replace(cfg, checks=dataclasses.replace(cfg.checks, concurrency_clients=n))
            label = f"stress_smk7_c{n}"
            o = dataclasses.replace(base, keyword="SMK_7", label=label).validate()
            res = await _one_run(c, o, out=out, label=label, sinks=sinks, source_ready=source_ready)
            runs.append(res)
            results += res.results
            interrupted = interrupted or res.finished.interrupted
            sweep.append(sweep_row(n, res.results, count=opts.count, max_spread=opts.max_spread,
                                   min_spread_s=opts.min_spread_s, min_pass_rate=opts.min_pass_rate,
                                   interrupted=res.finished.interrupted))
            if res.finished.interrupted:
                break
    else:
        label = "stress"
        o = dataclasses.replace(base, label=label).validate()
        res = await _one_run(cfg, o, out=out, label=label, sinks=sinks, source_ready=source_ready)
        runs.append(res)
        results += res.results
        interrupted = res.finished.interrupted
    rep = analyse(results, count=opts.count, min_pass_rate=opts.min_pass_rate, max_spread=opts.max_spread,
                  min_spread_s=opts.min_spread_s, interrupted=interrupted)
    if opts.clients:
        rep["sweep"] = sweep
        if any(s["verdict"] == "FAIL" for s in sweep) and rep["verdict"] == "PASS":
            rep["verdict"] = "FAIL"
            rep["reasons"].append("a client count in the sweep failed: "
                                  + ", ".join(str(s["clients"]) for s in sweep if s["verdict"] == "FAIL"))
    rep = {"schema_version": SCHEMA, "started": started,
           "started_iso": time.strftime("%Y-%m-%d %H:%M:%S %z", time.localtime(started)),
           "duration_s": _r(time.time() - started, 3),
           "hosts": sorted({r.host for r in results}) or list(opts.hosts),
           "options": {**dataclasses.asdict(opts), "hosts": list(opts.hosts), "clients": list(opts.clients)},
           "run_ids": [r.run_id for r in runs], "logs": [r.log_path.name for r in runs],
           "record_errors": [e for r in runs for e in r.record_errors],
           "internal_error": "; ".join(r.internal_error for r in runs if r.internal_error), **rep}
    if rep["internal_error"] and rep["verdict"] == "PASS":
        rep["verdict"] = "FAIL"
        rep["reasons"].append(f"engine error: {rep['internal_error']}")
    import json

    md, js = out / "stress_report.md", out / "stress_report.json"
    atomic_write_text(js, json.dumps(rep, indent=2, default=str) + "\n")
    atomic_write_text(md, render_md(rep))
    rep["paths"] = {"md": str(md), "json": str(js), "dir": str(out)}
    return rep
