"""``dryrun sim``: run simulated camera hosts on 127.0.0.1 and write a dryrun.toml for them."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from tui.commands._common import CommandError

SIM_HEADER = "# Written by `dryrun sim`"


def _positive_int(lo: int, hi: int):
    def conv(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number {lo}..{hi}, got {text!r}") from None
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"expected {lo}..{hi}, got {v}")
        return v
    return conv


def _seconds(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds (a number >= 0), got {text!r}") from None
    if not 0 <= v <= 3600:
        raise argparse.ArgumentTypeError(f"expected 0..3600 seconds, got {text}")
    return v


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sim", help="run simulated camera hosts and write a ready dryrun.toml for them",
        description=("Start N simulated camera hosts on 127.0.0.1 (JSON-RPC WebSocket, HTTP health, SSH/SFTP "
                     "with generated keys), write a ready config for them and serve until Ctrl-C. "
                     "Use it to rehearse the dry-run with no hardware; --chaos injects faults."),
        epilog="Example: dryrun sim --hosts 3 --dialect mixed --chaos light   (then `dryrun` in another terminal)",
    )
    p.add_argument("--hosts", type=_positive_int(1, 64), default=1, metavar="N", help="number of hosts (default 1)")
    p.add_argument("--dialect", choices=("current", "legacy", "mixed"), default="current",
                   help="service implementation to play; mixed alternates (default current)")
    p.add_argument("--chaos", choices=("none", "light", "medium", "heavy", "hellfire"), default="none",
                   help="fault-injection profile (default none)")
    p.add_argument("--seed", type=int, default=0, help="chaos seed; host i uses seed+i (default 0)")
    p.add_argument("--discovery-delay", type=_seconds, default=1.0, metavar="S",
                   help="seconds until cameras are discovered after a (re)start (default 1.0)")
    p.add_argument("--cameras", type=_positive_int(0, 64), default=2, metavar="N", help="cameras per host (default 2)")
    p.add_argument("--out", "--config", "-c", dest="out", type=Path, default=Path("dryrun.toml"), metavar="PATH",
                   help="where to write the config (default: ./dryrun.toml)")
    p.add_argument("--state-dir", type=Path, default=Path(".dryrun-sim"), metavar="DIR",
                   help="keys, secrets and host filesystems (default: ./.dryrun-sim)")
    p.add_argument("--media", choices=("auto", "full", "light"), default="auto",
                   help="recordings at 15 fps 320x240 (full) or 5 fps 160x120 (light); auto: light above "
                        "8 hosts, so the simulator's own encoding load does not show up as service latency")
    p.add_argument("--force", action="store_true", help="overwrite a config not written by `dryrun sim`")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import asyncio

    out: Path = args.out
    if out.exists() and not args.force:
        try:
            head = out.read_text(encoding="utf-8", errors="replace")[:200]
        except OSError as e:
            raise CommandError(f"cannot read {out}: {e.strerror or e}") from None
        if not head.startswith(SIM_HEADER):
            raise CommandError(f"{out} exists and was not written by `dryrun sim`; pass --out PATH or --force")
    return asyncio.run(_serve(args))


def _short(path: Path | str) -> str:
    """A path as short as possible for copy-paste from the current folder."""
    p = Path(path).absolute()
    try:
        rel = os.path.relpath(p)
    except ValueError:
        return str(p)
    return rel if not rel.startswith("../..") else str(p)


async def _serve(args: argparse.Namespace) -> int:
    import asyncio
    import signal

    from runners.config import ConfigError
    from runners.sim.fleet import make_specs, run_fleet

    try:
        specs = make_specs(args.hosts, dialect=args.dialect, cameras=args.cameras,
                           discovery_delay=args.discovery_delay, chaos=args.chaos, seed=args.seed,
                           media=args.media)
    except ValueError as e:
        raise CommandError(str(e)) from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with run_fleet(specs, args.state_dir, config=args.out) as fleet:
            _print_banner(fleet, args)
            await stop.wait()
            print("dryrun sim: stopping…", flush=True)
    except (ValueError, ConfigError, OSError) as e:
        raise CommandError(str(e)) from None
    except RuntimeError as e:  # a host failed to start (port, key or service problem)
        raise CommandError(str(e), exit_code=1) from None
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    print(f"dryrun sim: stopped; {_short(args.out)} now points at stopped hosts until the next `dryrun sim`",
          flush=True)
    return 0


def _print_banner(fleet, args: argparse.Namespace) -> None:
    w = sys.stdout.write
    n = len(fleet.hosts)
    w(f"dryrun sim: {n} simulated camera host{'s' if n != 1 else ''} on 127.0.0.1 "
      f"(dialect {args.dialect}, chaos {args.chaos}, seed {args.seed}, {args.cameras} cameras each)\n")
    from runners.sim.fleet import media_profile

    s = fleet.hosts[0].spec
    w(f"recordings: {s.recording_fps} fps {s.recording_size[0]}x{s.recording_size[1]} "
      f"(--media {media_profile(args.media, n)}; see --help)\n")
    for h in fleet.hosts:
        w(f"  {h.name:<8} {h.spec.dialect:<8} rpc {h.rpc_url:<28} health {h.health_url:<24} ssh 127.0.0.1:{h.ssh_port}\n")
    w(f"wrote {_short(args.out)}: run `dryrun` (or `dryrun --config {_short(args.out)}`) in another terminal\n")
    h = fleet.hosts[0]
    key, kh = _short(h.client_key), _short(h.known_hosts)
    ssh_opts = f"-o UserKnownHostsFile={kh} -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes"
    # Double quotes inside, single quotes around: pastes into any POSIX shell unchanged (the
    # newline inside the quotes too). websockets >= 17.1 wants its connection in a `with`.
    ping = ('import json, websockets.sync.client as c\n'
            'with c.connect("%s") as ws: ws.send(json.dumps({"jsonrpc":"2.0","method":"ping","id":1})); '
            'print(ws.recv())' % h.rpc_url)
    w(f"\nTry {h.name} ({h.spec.dialect}):\n")
    w(f"  ssh -i {key} -p {h.ssh_port} {ssh_opts} {h.spec.user}@127.0.0.1 uname -a\n")
    w(f"  ssh -i {key} -p {h.ssh_port} {ssh_opts} {h.spec.user}@127.0.0.1 tail -F {h.service_log_path}\n")
    w(f"  sftp -i {key} -P {h.ssh_port} {ssh_opts} {h.spec.user}@127.0.0.1\n")
    w(f"  curl {h.health_url}/{'health' if h.spec.dialect == 'current' else 'health/system'}\n")
    w(f"  {shlex.quote(sys.executable)} -c '{ping}'\n")
    if h.spec.dialect == "legacy":
        w("  (legacy: ping needs `authenticate` first, so expect error -32001)\n")
    w(f"JWT secrets are in files under {_short(fleet.state_dir)}/hosts/*/jwt_secret (never printed).\n")
    w("Serving; Ctrl-C to stop.\n")
    sys.stdout.flush()
