"""``dryrun init``: write a commented starter dryrun.toml."""

from __future__ import annotations

import argparse
from pathlib import Path

from tui.commands._common import CommandError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("init", help="write a commented starter dryrun.toml",
                       description="Write a commented starter config for one camera host.")
    p.add_argument("--config", "-c", type=Path, default=Path("dryrun.toml"), metavar="PATH",
                   help="where to write it (default: ./dryrun.toml)")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from record.atomic import atomic_write_text
    from runners.config import load_config
    from runners.starter import render_starter

    path: Path = args.config
    if path.exists() and not args.force:
        raise CommandError(f"{path} exists; pass --force to overwrite it")
    atomic_write_text(path, render_starter())
    load_config(path)  # the starter must always be a valid config
    print(f"wrote {path}: edit [[hosts]], then `dryrun env freeze` and `dryrun run`")
    return 0
