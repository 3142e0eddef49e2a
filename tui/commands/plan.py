"""``dryrun plan``: write dry_run/00_plan.md from dryrun.toml (seed 000, A1)."""

from __future__ import annotations

import argparse

from tui.commands._common import add_config_arg, add_json_arg, print_json
from tui.commands._record import context, record_command, rel


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "plan", help="write the dry-run plan (00_plan.md) from the config",
        description="Render dry_run/00_plan.md from dryrun.toml: goal, scope SMK-1..7, baseline, gates, timebox "
                    "(days, iterations), stand-ups, decision points, owners and dates. The first run fixes the "
                    "sprint's start date (unless sprint.start_date is set).")
    add_config_arg(p)
    p.add_argument("--force", action="store_true", help="overwrite 00_plan.md even if it was edited by hand")
    p.add_argument("--show", action="store_true", help="also print the plan")
    add_json_arg(p)
    p.set_defaults(func=run)


@record_command
def run(args: argparse.Namespace) -> int:
    from record.plan import write_plan
    from record.sprint import timebox_status

    cfg, d, log = context(args)
    text = write_plan(cfg, d, force=args.force)
    tb = timebox_status(cfg, d)
    log.append({"kind": "plan_written", "start": tb.start.isoformat(), "days": tb.days,
                "iterations": tb.iterations, "baseline": cfg.sprint.baseline})
    if args.json:
        print_json({"path": rel(d, d.plan), "timebox": tb.to_dict(), "baseline": cfg.sprint.baseline})
        return 0
    if args.show:
        print(text)
    print(f"wrote {rel(d, d.plan)}: {tb.line()}")
    print("next: `dryrun say kickoff`, then `dryrun env freeze`")
    return 0
