"""Shared pieces of the record subcommands (plan, env, triage, fix, verify, flake, metrics,
closeout, pack, say): the dry_run/ folder, the events log, and turning the record's
errors into one-line command errors. Standard library only at module level."""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable
from typing import Any

from tui.commands._common import EXIT_FAILED, CommandError, load


def record_command(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Report the record's own errors (bad file + line, refused operation) as command errors."""

    @functools.wraps(fn)
    def wrapper(args: argparse.Namespace) -> int:
        from record.errors import RecordError
        from record.lock import LockTimeout
        from runners.errors import DryRunError

        try:
            return fn(args)
        except (RecordError, LockTimeout) as e:
            raise CommandError(str(e), EXIT_FAILED) from None
        except DryRunError as e:
            raise CommandError(str(e), EXIT_FAILED) from None

    return wrapper


def context(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    """(config, DryRunDir, EventsLog) for a record command."""
    from record.events_log import EventsLog, new_correlation_id
    from record.layout import DryRunDir
    from record.redact import configured_secrets

    cfg = load(args)
    d = DryRunDir(cfg.dry_run_path)
    log = EventsLog(d.events_log, secrets=configured_secrets(cfg),
                    context={"command": f"dryrun {args.command}", "op_id": new_correlation_id("op")})
    return cfg, d, log


def rel(d: Any, path: Any) -> str:
    """A dry_run/ file as the operator would type it (dry_run/NAME)."""
    from pathlib import Path

    p = Path(path)
    try:
        return f"{d.root.name}/{p.relative_to(d.root).as_posix()}"
    except ValueError:
        return str(p)


def warn(msg: str) -> None:
    print(f"warning: {msg}", file=sys.stderr)


def rerun_target(cfg: Any, explicit: str | None, hosts: tuple[str, ...], dry_id: str | None) -> tuple[Any, tuple[str, ...], str]:
    """What a verify or flake hunt re-runs with: (the suite or None for the built-in checks,
    the hosts to narrow to, a phrase for the operator). Hosts no longer configured are
    dropped with a warning (``dry_id`` names the entry they came from)."""
    from runners.external.command import rerun_suite

    try:
        suite, hosts = rerun_suite(cfg, explicit, hosts)
    except ValueError as e:
        raise CommandError(str(e)) from None
    known = {h.name for h in cfg.hosts}
    missing = [h for h in hosts if h not in known]
    hosts = tuple(h for h in hosts if h in known)
    where = ", ".join(hosts) or "every host"
    if missing:
        warn(f"{dry_id + ': ' if dry_id else ''}host(s) {', '.join(missing)} no longer configured; running on {where}")
    if suite is not None:
        where = f"suite {suite.name}" + (f" ({where})" if suite.hosts else "")
    return suite, hosts, where


def env_gate(cfg: Any, options: Any, allow_drift: bool, as_json: bool, *, suite: Any = None) -> Any:
    """Run the pre-run environment validator; raise CommandError (exit 2) on drift. For an
    external ``suite`` the gate compares the hosts that suite runs on."""
    import asyncio
    import dataclasses

    from record.errors import RecordError
    from runners.pipeline import validate_environment
    from tui.commands._common import EXIT_USAGE

    if suite is not None:
        from runners.external.command import gate_hosts

        try:
            options = dataclasses.replace(options, hosts=gate_hosts(cfg, suite, options.hosts))
        except ValueError as e:  # a --host the suite does not run on
            raise CommandError(str(e)) from None
    try:
        gate = asyncio.run(validate_environment(cfg, options, allow_drift=allow_drift))
    except RecordError as e:
        raise CommandError(f"environment validator: {e}") from None
    if gate.halt:
        raise CommandError("environment drift from the freeze (run halted; --allow-drift to override): "
                           + "; ".join(gate.messages), EXIT_USAGE)
    if gate.status == "overridden":
        warn("environment drift overridden by --allow-drift: " + ", ".join(gate.codes))
    elif gate.status != "ok" and not as_json:
        print(f"note: {gate.detail}", file=sys.stderr)
    return gate


def add_sub_config_arg(p: argparse.ArgumentParser) -> None:
    """``--config`` on a sub-subcommand: given there or before the action, both work
    (SUPPRESS keeps an unset sub-level option from overriding the parent's value)."""
    from pathlib import Path

    p.add_argument("--config", "-c", type=Path, default=argparse.SUPPRESS, metavar="PATH",
                   help="the dry-run config (default: ./dryrun.toml)")
