"""``dryrun suite``: run a team's own pytest suite (``[[suites]]`` in the config) like the
built-in smoke set: live results, the plan's run log, JUnit XML, events, the --ff cache.

    dryrun suite team-smoke -k "SMK_3" --maxfail=1 --ff --durations=10 [--count=10] [--final]
    dryrun suite --list

Tests map to SMK ids by name (``test_SMK_3_...``); -k, --maxfail, --ff, --durations and
--count (pytest-repeat) pass through to pytest. Exit codes as ``dryrun run``: 0 all passed,
1 failures, 2 interrupted / usage error / nothing collected / environment drift, 3 the suite
could not run.

The environment validator runs first, exactly as for ``dryrun run`` (a team's suite probes
the same hosts, so drift from the freeze makes its results as unreliable): drift halts the
suite unless ``--allow-drift``, and the gate's outcome is recorded in the run log and events.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tui.commands._common import CommandError, add_config_arg, add_json_arg, load, print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "suite", help="run an external pytest suite ([[suites]]) into the dry-run record",
        description="Run a configured external pytest suite as a subprocess, stream its per-test results "
                    "live, map tests to SMK ids by name and write the plan's run log, JUnit XML, artifacts "
                    "and events like `dryrun run`.")
    add_config_arg(p)
    p.add_argument("name", nargs="?", default=None, metavar="SUITE",
                   help="the suite's name (optional when only one is configured)")
    p.add_argument("--list", action="store_true", help="list the configured suites and exit")
    p.add_argument("-k", dest="keyword", default="", metavar="EXPR",
                   help='passed to pytest -k ("SMK_3 or SMK_5"; SMK-3 is read as SMK_3; "dependent" expands)')
    p.add_argument("--maxfail", type=int, default=0, metavar="N", help="stop after N failures (0 = no limit)")
    p.add_argument("--ff", "--failed-first", dest="failed_first", action="store_true",
                   help="run the last failures first (pytest's own cache)")
    p.add_argument("--durations", type=int, default=10, metavar="N", help="show the N slowest (default 10)")
    p.add_argument("--count", type=int, default=1, metavar="N",
                   help="repeat each test N times (pytest-repeat's --count)")
    p.add_argument("--final", action="store_true", help="the consolidated final run: write 07_smoke_run_final.log")
    p.add_argument("--label", default="", metavar="LABEL",
                   help="run label (02_smoke_run_N, 07_smoke_run_final, 04_verify_DRY-nn, flake_SMK-n)")
    p.add_argument("--log", type=Path, default=None, metavar="PATH", help="write the run log here instead")
    p.add_argument("--host", dest="hosts", action="append", default=[], metavar="NAME",
                   help="for a per-host suite: only this host (repeatable)")
    p.add_argument("--allow-drift", action="store_true",
                   help="run even if the environment drifted from the freeze (recorded as overridden)")
    p.add_argument("--no-quarantine", dest="respect_quarantine", action="store_false",
                   help="also run checks listed in dry_run/quarantine.txt")
    add_json_arg(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import asyncio
    import dataclasses

    from runners.external.command import find_suite, gate_hosts
    from runners.smoke.options import RunOptions

    cfg = load(args)
    if args.list:
        return _list(cfg, args.json)
    try:
        suite = find_suite(cfg, args.name)
        options = RunOptions(keyword=args.keyword, maxfail=args.maxfail, failed_first=args.failed_first,
                             durations=args.durations, count=args.count, failfast="off",
                             hosts=tuple(dict.fromkeys(args.hosts)), label=args.label,
                             respect_quarantine=args.respect_quarantine).validate()
        gate_options = dataclasses.replace(options, hosts=gate_hosts(cfg, suite, options.hosts))
    except (KeyError, ValueError) as e:
        raise CommandError(str(e).strip("'\"")) from None
    return asyncio.run(_run(args, cfg, suite, options, gate_options))


def _list(cfg: Any, as_json: bool) -> int:
    rows = [{"name": s.name, "command": s.command, "cwd": str(cfg.resolve(s.cwd) if s.cwd else cfg.base_dir),
             "env": list(s.env), "hosts": list(s.hosts), "timeout": s.timeout} for s in cfg.suites]
    if as_json:
        print_json(rows)
        return 0
    if not rows:
        print("no [[suites]] configured")
    for r in rows:
        per = f" (per host: {', '.join(r['hosts'])})" if r["hosts"] else ""
        print(f"{r['name']}: {r['command']}  [cwd {r['cwd']}]{per}")
    return 0


async def _run(args: argparse.Namespace, cfg: Any, suite: Any, options: Any, gate_options: Any) -> int:
    import dataclasses

    from runners.external.runner import run_suite
    from tui.commands.run import _log_path, claim_run_log, environment_gate, make_display, run_displayed

    log_path, label = _log_path(args, cfg, options)
    gate, halted = await environment_gate(args, cfg, gate_options)
    if halted is not None:
        return halted
    if log_path is None:  # claimed after the gate: a halted suite leaves no empty log
        log_path, label = claim_run_log(cfg)
    options = dataclasses.replace(options, label=label)
    err = sys.stderr
    display = make_display(args, options.durations)
    result = await run_displayed(
        lambda ready: run_suite(cfg, suite, options, log_path=log_path, sinks=[display] if display else [],
                                engine_ready=ready, notices=gate.notices()),
        display, "stopping pytest")
    if args.json:
        out = result.summary()
        out["suite"] = suite.name
        out["environment"] = {"status": gate.status, "reason_codes": gate.codes}
        print_json(out)
    else:
        display.finish(result)
        print(f"suite {suite.name}: log: {result.log_path}  junit: {result.junit_path}  "
              f"artifacts: {result.artifacts_dir}")
    if result.internal_error:
        print(f"error: {result.internal_error}", file=err)
    for e in result.record_errors:
        print(f"warning: {e}", file=err)
    return result.exit_code
