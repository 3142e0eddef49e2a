"""The ``dryrun`` command: one subcommand per module under ``tui/commands/``.

Each command module exposes ``register(subparsers)``; it must import only the standard
library at module level and do heavy imports inside its handler, so ``dryrun --help``
and the first frame of the console stay fast.

Exit codes follow pytest: 0 ok / all passed, 1 failures, 2 interrupted or usage error,
3 internal error.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from tui.commands import COMMAND_MODULES
from tui.commands._common import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_USAGE, CommandError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dryrun",
        description="The dry-run console: run the MVP CDR camera-service dry-run, live or headless.",
    )
    # Looked up only when asked: importlib.metadata costs ~17 ms of the first frame's budget.
    parser.add_argument("--version", action="store_true", help="show the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"tui.commands.{name}").register(sub)
    return parser


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("dryrun-console")
    except Exception:  # not installed (running from a checkout)
        return "0+unknown"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    # Bare `dryrun` and `dryrun --config X [--theme ...]` open the console, like `dryrun console ...`.
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version")):
        argv = ["console", *argv]
    args = parser.parse_args(argv)
    if args.version:
        print(f"dryrun {_version()}")
        return 0
    try:
        return int(args.func(args) or 0)
    except CommandError as e:
        print(f"dryrun {args.command}: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print(f"dryrun {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return 0
    except Exception as e:  # the one place an unexpected bug is reported, with its type
        import traceback

        traceback.print_exc()
        print(f"dryrun {args.command}: internal error: {type(e).__name__}: {e}", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
