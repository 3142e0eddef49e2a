"""``dryrun serve``: the console in a browser (textual-serve) for stand-up screen sharing.

Binds 127.0.0.1 by default: anyone who can open the page drives a console process, so
it is observer-only (``--read-only``) unless ``--control`` is given, and a non-loopback
``--host`` needs ``--i-know-this-is-exposed``. Each browser tab gets its own console
process running ``dryrun console`` with the same options."""

from __future__ import annotations

import argparse
import ipaddress
import shlex
import sys

from tui.commands._common import EXIT_OK, CommandError, add_config_arg

LOOPBACK = "127.0.0.1"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve the console to a browser (loopback by default)",
                       description="Serve the console over HTTP with textual-serve, for stand-up screen "
                                   "sharing. Observer (read-only) unless --control.")
    add_config_arg(p)
    p.add_argument("--host", default=LOOPBACK, help=f"address to bind (default: {LOOPBACK})")
    p.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    p.add_argument("--theme", metavar="NAME", default="presentation",
                   help="theme of the served console (default: presentation)")
    p.add_argument("--screen", default="standup", help="screen to open first (default: standup)")
    p.add_argument("--control", action="store_true",
                   help="allow actions (runs, triage edits) from the browser; default is observer-only")
    p.add_argument("--i-know-this-is-exposed", dest="exposed", action="store_true",
                   help="allow a non-loopback --host (there is no authentication)")
    p.set_defaults(func=run)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def console_command(args: argparse.Namespace) -> str:
    argv = [sys.executable, "-m", "tui.cli", "console", "--config", str(args.config.resolve()),
            "--theme", args.theme, "--screen", args.screen]
    if not args.control:
        argv.append("--read-only")
    return shlex.join(argv)


def run(args: argparse.Namespace) -> int:
    from tui.commands._common import load

    load(args)  # refuse a broken config here, not in every browser tab
    if not 0 <= args.port < 65536:
        raise CommandError(f"--port: expected 0-65535, got {args.port}")
    if not _is_loopback(args.host) and not args.exposed:
        raise CommandError(f"--host {args.host} is not a loopback address: the served console has no "
                           "authentication; pass --i-know-this-is-exposed to bind it anyway")
    from textual_serve.server import Server

    server = Server(console_command(args), host=args.host, port=args.port,
                    title="dry-run console" + ("" if args.control else " (observer)"))
    server.serve()
    return EXIT_OK
