"""Shared pieces of the subcommands: exit codes, ``--config`` and ``--json``, loading."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runners.config import Config

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INTERRUPTED = 2
EXIT_USAGE = 2
EXIT_INTERNAL = 3


class CommandError(Exception):
    """A failure the operator can fix; printed as one line, no traceback."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE):
        super().__init__(message)
        self.exit_code = exit_code


def add_config_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config", "-c", type=Path, default=Path("dryrun.toml"), metavar="PATH",
        help="the dry-run config (default: ./dryrun.toml)",
    )


def add_json_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")


def load(args: argparse.Namespace) -> Config:
    from runners.config import ConfigError, load_config

    try:
        return load_config(args.config)
    except ConfigError as e:
        raise CommandError(str(e)) from None


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")
