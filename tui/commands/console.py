"""``dryrun console`` (and bare ``dryrun``): open the console on a config."""

from __future__ import annotations

import argparse

from tui.commands._common import EXIT_OK, add_config_arg

SCREENS = ("standup", "smoke", "logs", "triage", "closeout", "env")


def add_console_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--read-only", action="store_true",
                   help="observer mode: hide every action that changes hosts or the record")
    p.add_argument("--theme", metavar="NAME",
                   help="dark | light | presentation | colour-blind | monochrome (default: the last one used)")
    p.add_argument("--screen", choices=SCREENS, default="standup", help="screen to open first")
    p.add_argument("--no-probe", action="store_true", help="do not probe host health in the background")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("console", help="open the console (the default command)",
                       description="Open the dry-run console on a config: stand-up, smoke, logs, triage, "
                                   "closeout and env screens.")
    add_config_arg(p)
    add_console_args(p)
    p.set_defaults(func=run)


def make_app(args: argparse.Namespace, cfg=None, **overrides):
    """The one app factory: the CLI, `demo`, `serve` (via the CLI) and the UI tests build the
    app here. ``overrides``: DryRunApp keywords tests pin (a fixed clock, no file watching)."""
    from tui.app import DryRunApp
    from tui.commands._common import load

    return DryRunApp(cfg or load(args), read_only=args.read_only, theme=args.theme, start_mode=args.screen,
                     probe_hosts=not args.no_probe, **overrides)


def run(args: argparse.Namespace) -> int:
    app = make_app(args)
    rc = app.run()
    return int(rc or EXIT_OK)
