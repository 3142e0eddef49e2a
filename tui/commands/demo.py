"""``dryrun demo``: start a simulated fleet, write its config, open the console on it,
stop the fleet on exit. Two hosts: one current, one legacy with light seeded chaos."""

from __future__ import annotations

import argparse
from pathlib import Path

from tui.commands._common import EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    from tui.commands.console import add_console_args

    p = sub.add_parser("demo", help="the console on an embedded simulated fleet (no hardware needed)",
                       description="Start two simulated camera hosts (current + legacy with light chaos) on "
                                   "127.0.0.1, write their config, open the console on it; the fleet stops "
                                   "when the console exits.")
    p.add_argument("--state-dir", type=Path, default=None, metavar="DIR",
                   help="where the fleet and its dry_run/ live (default: a new temporary folder)")
    p.add_argument("--chaos", default="light", choices=("none", "light", "medium", "heavy", "hellfire"),
                   help="fault injection on the legacy host (default: light)")
    p.add_argument("--seed", type=int, default=7, help="chaos seed (default: 7)")
    add_console_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tui.commands._common import CommandError
    from tui.commands.console import make_app
    from tui.demo_fleet import DemoFleet

    if args.state_dir is not None and args.state_dir.exists() and any(args.state_dir.iterdir()) \
            and not (args.state_dir / "demo-fleet.log").exists():
        raise CommandError(f"--state-dir {args.state_dir} is not empty and holds no demo; pick another folder")
    try:
        fleet_cm = DemoFleet(args.state_dir, chaos=args.chaos, seed=args.seed)
        fleet = fleet_cm.__enter__()
    except RuntimeError as e:
        raise CommandError(str(e), exit_code=1) from None
    try:
        from runners.config import load_config

        cfg = load_config(fleet.config_path)
        app = make_app(args, cfg)
        rc = app.run()
    finally:
        fleet_cm.__exit__(None, None, None)
    print(f"demo fleet stopped; its config and dry_run/ stay in {fleet.state_dir}")
    return int(rc or EXIT_OK)
