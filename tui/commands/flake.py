"""``dryrun flake SMK-n --count 10``: hunt a flake (seed 000, C3).

Repeats one check N times, clusters the failure signatures, computes the rate and writes
06_flake_evidence.md; a check that both passed and failed is flaky and is quarantined
(quarantine.txt: check | date | reason). Exit 0 when every attempt passed, 1 otherwise."""

from __future__ import annotations

import argparse

from tui.commands._common import EXIT_FAILED, CommandError, add_config_arg, add_json_arg, print_json
from tui.commands._record import context, env_gate, record_command, rel, warn


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "flake", help="repeat one check N times: flake evidence and quarantine",
        description="Run one SMK check N times (default 10) on every host or the given ones, write the attempts, "
                    "clustered failure signatures and failure rate to 06_flake_evidence.md, and quarantine it "
                    "(quarantine.txt) if it both passed and failed.")
    add_config_arg(p)
    p.add_argument("check", metavar="SMK-n")
    p.add_argument("--count", type=int, default=10, metavar="N", help="attempts (default 10)")
    p.add_argument("--maxfail", type=int, default=0, metavar="N",
                   help="stop after N failures (default 0: all attempts, so the rate means something)")
    p.add_argument("--host", dest="hosts", action="append", default=[], metavar="NAME", help="only this host")
    p.add_argument("--no-quarantine", dest="quarantine", action="store_false",
                   help="do not add a flaky check to quarantine.txt")
    p.add_argument("--allow-drift", action="store_true", help="run even if the environment drifted (recorded)")
    p.add_argument("--suite", metavar="NAME",
                   help="hunt with this [[suites]] entry ('builtin': the console's own checks; default: "
                        "run.suite, else the built-in checks)")
    add_json_arg(p)
    p.set_defaults(func=run)


@record_command
def run(args: argparse.Namespace) -> int:
    import asyncio

    from record.envfreeze import load_frozen
    from record.flakes import analyse, record_hunt
    from record.quarantine import CHECK_RE
    from runners.pipeline import run_checks
    from runners.smoke.options import RunOptions
    from tui.commands._record import rerun_target

    cfg, d, log = context(args)
    check = args.check.strip().upper().replace("_", "-")
    if not CHECK_RE.match(check):
        raise CommandError(f"expected a check id like SMK-3, got {args.check!r}")
    known = {h.name for h in cfg.hosts} | {s.name for s in cfg.suites}
    for h in args.hosts:
        if h not in known:
            raise CommandError(f"--host {h}: not a configured host (configured: {', '.join(sorted(known))})")
    suite, hosts, where = rerun_target(cfg, args.suite, tuple(dict.fromkeys(args.hosts)), None)
    label = f"flake_{check}"
    options = RunOptions(keyword=check.replace("-", "_"), count=args.count, maxfail=args.maxfail,
                         hosts=hosts, label=label, respect_quarantine=False)
    try:
        options = options.validate()
    except ValueError as e:
        raise CommandError(str(e)) from None
    gate = env_gate(cfg, options, args.allow_drift, args.json, suite=suite)
    log_path = d.flake_log(check)
    if not args.json:
        print(f"flake hunt {check}: --count {args.count} on {where}")
    result = asyncio.run(run_checks(cfg, options, suite=suite, log_path=log_path, notices=gate.notices()))
    for e in result.record_errors:
        warn(e)
    frozen = load_frozen(d)
    hunt = analyse(check, args.count, result.results, run_id=result.run_id, label=label,
                   log=rel(d, log_path).split("/", 1)[1], baseline=cfg.sprint.baseline,
                   env_sha=(frozen or {}).get("sha256", ""))
    hunt = record_hunt(d, hunt, quarantine_flaky=args.quarantine, log=log)
    if args.json:
        print_json({**hunt.to_dict(), "evidence": rel(d, d.flake_evidence),
                    "quarantine": rel(d, d.quarantine) if hunt.quarantined else ""})
    else:
        print(f"{check}: {hunt.verdict.upper()}: {len(hunt.failures)}/{len(hunt.ran)} attempts failed "
              f"({hunt.rate * 100:.1f} %)")
        for sig, n, first in hunt.clusters():
            print(f"  {n} x {sig}  (first at attempt {first})")
        if hunt.quarantined:
            print(f"quarantined in {rel(d, d.quarantine)}: {hunt.quarantine_reason}")
        print(f"evidence: {rel(d, d.flake_evidence)}")
    return 0 if hunt.verdict == "stable-pass" else EXIT_FAILED
