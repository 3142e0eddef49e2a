"""``dryrun stress --count N``: the PR-sprint runbook's stress run over the smoke engine.

    dryrun stress --count 100 [-k EXPR] [--host NAME] [--min-pass-rate 0.95] [--max-spread 3]
    dryrun stress --count 20 --clients 2,4,8       # SMK-7 concurrency sweep

N rounds of the smoke set; pass rate, each check's duration variance envelope (p5..p95),
verdict PASS/FAIL against the pass-rate threshold; report in
dry_run/artifacts/stress/stress_report.md + .json. Exit 0 on PASS, 1 on FAIL, 2 on a usage
error or an interrupted run, 3 on an engine error.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from tui.commands._common import CommandError, add_config_arg, add_json_arg, load, print_json


def _clients(text: str) -> tuple[int, ...]:
    try:
        vals = tuple(int(x) for x in text.replace(" ", "").split(",") if x)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected client counts like 2 or 2,4,8, got {text!r}") from None
    if not vals:
        raise argparse.ArgumentTypeError(f"expected client counts like 2 or 2,4,8, got {text!r}")
    return vals


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "stress", help="stress run: N rounds of the smoke set, pass rate, variance envelope, verdict",
        description="Run the smoke set N times (the PR-sprint runbook's stress run) and write "
                    "dry_run/artifacts/stress/stress_report.md and .json: pass rate, each check's duration "
                    "envelope (p5..p95, with mean/stdev/mean+-3 sigma beside it), variance violations and a "
                    "PASS/FAIL verdict against --min-pass-rate. --clients sweeps SMK-7's client count.")
    add_config_arg(p)
    p.add_argument("--count", type=int, default=100, metavar="N", help="rounds (default 100)")
    p.add_argument("-k", dest="keyword", default="", metavar="EXPR", help="only these checks (like dryrun run -k)")
    p.add_argument("--host", dest="hosts", action="append", default=[], metavar="NAME", help="only this host")
    p.add_argument("--clients", type=_clients, default=(), metavar="N[,N...]",
                   help="SMK-7 concurrency sweep: run SMK-7 alone with each client count (e.g. 2,4,8)")
    p.add_argument("--min-pass-rate", type=float, default=0.95, metavar="F",
                   help="verdict threshold: pass rate as a fraction (default 0.95)")
    p.add_argument("--max-spread", type=float, default=3.0, metavar="R",
                   help="a check breaks its variance envelope when p95 > R x p50 (default 3)")
    p.add_argument("--min-spread", type=float, default=0.25, metavar="S",
                   help="...and p95 - p50 > S seconds (default 0.25: smaller jitter is scheduling noise)")
    p.add_argument("--quarantine", dest="respect_quarantine", action="store_true",
                   help="skip checks listed in dry_run/quarantine.txt (default: stress every check)")
    add_json_arg(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import asyncio

    from runners.stress import StressOptions

    cfg = load(args)
    try:
        opts = StressOptions(count=args.count, keyword=args.keyword, hosts=tuple(dict.fromkeys(args.hosts)),
                             clients=tuple(args.clients), min_pass_rate=args.min_pass_rate,
                             max_spread=args.max_spread, min_spread_s=args.min_spread,
                             respect_quarantine=args.respect_quarantine).validate()
        from runners.smoke.options import RunOptions

        RunOptions(keyword=opts.keyword, count=opts.count).validate()
    except ValueError as e:
        raise CommandError(str(e)) from None
    known = {h.name for h in cfg.hosts}
    if not known:
        raise CommandError(f"{args.config}: no [[hosts]] configured (add one, or start `dryrun sim`)")
    for h in opts.hosts:
        if h not in known:
            raise CommandError(f"--host {h}: not a configured host (configured: {', '.join(sorted(known))})")
    return asyncio.run(_run(args, cfg, opts))


class _Progress:
    """One line per finished round and host; failures as they happen."""

    def __init__(self, count: int, quiet: bool):
        self.count = count
        self.quiet = quiet
        self.label = ""
        self.done: dict[tuple[str, int], list[str]] = {}
        self.per_round = 0

    def __call__(self, ev: Any) -> None:
        from runners.events import CheckFinished, RunStarted

        if self.quiet:
            return
        if isinstance(ev, RunStarted):
            self.label = ev.label
            self.per_round = len(ev.checks)
            self.done = {}  # a sweep is several runs: each counts its own rounds
            print(f"{ev.label}: {self.count} rounds of {', '.join(ev.checks)} on {', '.join(ev.hosts)}", flush=True)
        elif isinstance(ev, CheckFinished):
            if ev.outcome in ("failed", "error"):
                print(f"  round {ev.attempt}: {ev.host}::{ev.check} {ev.outcome.upper()} - {ev.summary}", flush=True)
            words = self.done.setdefault((ev.host, ev.attempt), [])
            words.append(ev.outcome)
            if len(words) == self.per_round:
                ok = words.count("passed")
                print(f"  round {ev.attempt}/{self.count} {ev.host}: {ok}/{len(words)} passed", flush=True)


async def _run(args: argparse.Namespace, cfg: Any, opts: Any) -> int:
    import asyncio
    import signal

    from runners.stress import run_stress

    loop = asyncio.get_running_loop()
    sources: list[Any] = []

    def on_sigint() -> None:
        if sources:
            print("\ninterrupting the stress run (Ctrl-C again to abort)", file=sys.stderr)
            sources[-1].cancel()
        loop.remove_signal_handler(signal.SIGINT)

    try:
        loop.add_signal_handler(signal.SIGINT, on_sigint)
    except (NotImplementedError, RuntimeError):
        pass
    try:
        rep = await run_stress(cfg, opts, sinks=[_Progress(opts.count, args.json)], source_ready=sources.append)
    except ValueError as e:  # selection problems the engine reports (unknown host, nothing selected)
        raise CommandError(str(e)) from None
    finally:
        try:
            loop.remove_signal_handler(signal.SIGINT)
        except (NotImplementedError, RuntimeError):
            pass
    if args.json:
        print_json(rep)
    else:
        a = rep["attempts"]
        print(f"pass rate {rep['pass_rate'] * 100 if rep['pass_rate'] is not None else 0:.1f} % "
              f"({a['passed']}/{a['ran']}), threshold {rep['min_pass_rate'] * 100:.1f} %; variance "
              f"{rep['variance_verdict']}{' (' + rep['downgrade_flag'] + ')' if rep['downgrade_flag'] else ''}")
        for v in rep["variance_violations"]:
            print(f"  {v['message']}")
        print(f"VERDICT: {rep['verdict']}" + (f" ({'; '.join(rep['reasons'])})" if rep["reasons"] else ""))
        print(f"report: {rep['paths']['md']}  json: {rep['paths']['json']}")
    for e in rep["record_errors"]:
        print(f"warning: {e}", file=sys.stderr)
    if rep["internal_error"]:
        return 3
    if rep["rounds_completed"] < opts.count and any(r for r in rep["reasons"] if "interrupted" in r):
        return 2
    return 0 if rep["verdict"] == "PASS" else 1
