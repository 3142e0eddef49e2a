"""``dryrun closeout``: gates, decision (ACCEPT | 2nd Iteration | STOP), 09_closeout.md (seed 000, D2).

Rule: ACCEPT when every gate is met; else 2nd Iteration if iterations used < sprint.iterations
and days used < sprint.days; else STOP. Exit 0 on ACCEPT, 1 otherwise."""

from __future__ import annotations

import argparse

from tui.commands._common import EXIT_FAILED, add_config_arg, add_json_arg, print_json
from tui.commands._record import context, record_command, rel


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "closeout", help="evaluate the gates and decide: ACCEPT, 2nd Iteration or STOP",
        description="Evaluate the exit gates (all SMK pass, flaky <= 5 %, criticals = 0, majors <= 3 with "
                    "workarounds) and decide by the documented rule: ACCEPT when all gates are met; else "
                    "2nd Iteration if iterations and days remain; else STOP. Writes 09_closeout.md with "
                    "residual risks and hand-offs. Exit 0 on ACCEPT, 1 otherwise.")
    add_config_arg(p)
    p.add_argument("--preview", action="store_true", help="evaluate and print, write nothing")
    p.add_argument("--force", action="store_true", help="overwrite 09_closeout.md even if it was edited by hand")
    add_json_arg(p)
    p.set_defaults(func=run)


@record_command
def run(args: argparse.Namespace) -> int:
    from record.closeout import ACCEPT, closeout
    from record.prompts import say

    cfg, d, log = context(args)
    r = closeout(cfg, d, force=args.force, log=log, record=not args.preview)
    if args.json:
        if not args.preview:
            r["prompt"] = say("closeout", cfg, d)
        print_json(r)
    else:
        from record.gates import detail_lines

        print(f"decision: {r['decision']} ({r['why']})")
        for g in r["gates"]:
            head = f"  {'MET    ' if g['met'] else 'NOT MET'} {g['name']}: {g['value']} ({g['threshold']})"
            lines = [] if g["met"] else detail_lines(g)  # a long list grouped by check; --json has every item
            print(head + (f" - {lines[0]}" if len(lines) == 1 else ""))
            for line in lines if len(lines) > 1 else ():
                print(f"            {line}")
        if args.preview:
            print("(preview: nothing written)")
        else:
            print(f"wrote {rel(d, d.closeout)}")
            print(say("closeout", cfg, d))
    return 0 if r["decision_code"] == ACCEPT else EXIT_FAILED
