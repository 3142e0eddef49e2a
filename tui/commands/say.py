"""``dryrun say PROMPT [DRY-nn]``: the plan's copy/paste prompts, filled with live values."""

from __future__ import annotations

import argparse

from tui.commands._common import add_config_arg, add_json_arg, print_json
from tui.commands._record import context, record_command

PROMPT_NAMES = ("kickoff", "env-freeze", "env-frozen", "start-smoke", "triage-call", "fix", "verify", "closeout")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "say", help="print one of the plan's copy/paste prompts, filled in",
        description="Print a prompt of the plan (kickoff, env-freeze, env-frozen, start-smoke, triage-call, "
                    "fix DRY-nn, verify DRY-nn, closeout) with live values from the config and dry_run/.",
        epilog="Example: dryrun say verify DRY-03")
    add_config_arg(p)
    p.add_argument("prompt", choices=PROMPT_NAMES, metavar="PROMPT", help=" | ".join(PROMPT_NAMES))
    p.add_argument("arg", nargs="?", default="", metavar="DRY-nn|N",
                   help="the triage id (fix, verify) or run number (start-smoke)")
    add_json_arg(p)
    p.set_defaults(func=run)


@record_command
def run(args: argparse.Namespace) -> int:
    from record.prompts import PROMPTS, say

    cfg, d, _ = context(args)
    text = say(args.prompt, cfg, d, args.arg)
    if args.json:
        print_json({"prompt": args.prompt, "who": PROMPTS[args.prompt].who, "text": text})
    else:
        print(text)
    return 0
