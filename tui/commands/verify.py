"""``dryrun verify DRY-nn``: re-run only the entry's affected checks (seed 000, C2).

Writes 04_verify_DRY-nn.log, appends PASS/FAIL to 05_pass_ledger.md and the fix evidence;
bounce back once: a second FAIL escalates the entry. Exit 0 on PASS, 1 on FAIL."""

from __future__ import annotations

import argparse

from tui.commands._common import EXIT_FAILED, CommandError, add_config_arg, add_json_arg, print_json
from tui.commands._record import context, env_gate, record_command, rel, warn


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "verify", help="re-run a DRY entry's affected checks; PASS/FAIL into the pass ledger",
        description="Re-run only the checks the entry affects (-k 'SMK_n or ...', --maxfail=1, on its hosts) "
                    "after the environment validator; write 04_verify_DRY-nn.log and append PASS/FAIL to "
                    "05_pass_ledger.md. A first FAIL bounces the entry back; a second escalates it.")
    add_config_arg(p)
    p.add_argument("dry_id", metavar="DRY-nn")
    p.add_argument("--all-hosts", action="store_true", help="verify on every configured host, not only the entry's")
    p.add_argument("--allow-drift", action="store_true", help="run even if the environment drifted (recorded)")
    p.add_argument("--force", action="store_true", help="verify an escalated or already verified entry again")
    p.add_argument("--suite", metavar="NAME",
                   help="re-run with this [[suites]] entry ('builtin': the console's own checks; default: the "
                        "suite the entry came from, else run.suite, else the built-in checks)")
    add_json_arg(p)
    p.set_defaults(func=run)


@record_command
def run(args: argparse.Namespace) -> int:
    import asyncio

    from record.prompts import say
    from record.verify import conclude, prepare
    from runners.pipeline import run_checks
    from runners.smoke.options import RunOptions
    from tui.commands._record import rerun_target

    cfg, d, log = context(args)
    plan = prepare(d, args.dry_id, all_hosts=args.all_hosts, force=args.force)
    suite, hosts, where = rerun_target(cfg, args.suite, tuple(plan.hosts), plan.dry_id)
    options = RunOptions(keyword=plan.keyword, maxfail=1, hosts=hosts, label=plan.label,
                         respect_quarantine=False, durations=10)
    try:
        options = options.validate()
    except ValueError as e:
        raise CommandError(str(e)) from None
    gate = env_gate(cfg, options, args.allow_drift, args.json, suite=suite)
    if not args.json:
        print(f"verify {plan.dry_id} attempt {plan.attempt}: -k {plan.keyword!r} --maxfail=1 on {where}")
    result = asyncio.run(run_checks(cfg, options, suite=suite, log_path=plan.log_path, notices=gate.notices()))
    out = conclude(d, plan, result.results, run_id=result.run_id, log=log)
    for e in result.record_errors:
        warn(e)
    if out.warning:
        warn(out.warning)
    prompt = say("verify", cfg, d, plan.dry_id)
    if args.json:
        print_json({"dry_id": plan.dry_id, **out.to_dict(), "run_id": result.run_id,
                    "verify_log": rel(d, plan.log_path), "prompt": prompt})
    else:
        print(f"{plan.dry_id}: {out.result} ({out.reason})")
        if out.bounced:
            print(f"{plan.dry_id} bounced back to its developer (one more verify allowed before escalation)")
        if out.escalated:
            print(f"{plan.dry_id} ESCALATED: second failed verify; the PM decides next steps")
        print(f"ledger: {rel(d, d.pass_ledger)} #{out.ledger_entry.n}; log: {rel(d, plan.log_path)}")
        print(prompt)
    return 0 if out.result == "PASS" else EXIT_FAILED
