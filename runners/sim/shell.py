"""The simulated camera host's command line: what ``ssh host COMMAND`` answers.

Not a shell: a small interpreter for the commands an operator and the console run on a
camera host (version probes for the env matrix, ``systemctl restart``, ``stat``/``cat``,
``tail -F`` and ``journalctl -f`` log follows), answering with the output and exit
status a Debian/Ubuntu host would give. Files live under ``ctx.root`` standing for ``/``;
a path that escapes it does not exist. ``&&``, ``||``, ``;``, simple pipes into
``head``/``tail``/``grep``/``wc``, ``VAR=x`` prefixes, ``sudo`` and redirections of
stderr/stdout to ``/dev/null`` are understood; anything else is
``bash: X: command not found`` with exit 127.

All file data is bytes (a ``cat`` of a recording must be byte-exact); the SSH layer
carries it with ``surrogateescape``. File commands live in ``shell_files``, the following
ones (``tail -F``, ``journalctl -f``) in ``shell_follow``.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shlex
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol

from runners.sim.journal import Journal, unit_name
from runners.sim.shell_files import FileCommands
from runners.sim.shell_follow import FOLLOW_INTERVAL, FollowCommands

__all__ = ["FOLLOW_INTERVAL", "BufferIO", "HostInfo", "Shell", "ShellContext", "ShellIO"]


class ShellIO(Protocol):
    """Where a command writes; ``closed`` turns true when the client went away."""

    def out(self, data: bytes) -> None: ...
    def err(self, data: bytes) -> None: ...
    @property
    def closed(self) -> bool: ...
    async def drain(self) -> None: ...


class BufferIO:
    """Collects output (pipes, tests)."""

    def __init__(self, stdin: bytes = b""):
        self.stdin = stdin
        self.stdout = bytearray()
        self.stderr = bytearray()

    def out(self, data: bytes) -> None:
        self.stdout += data

    def err(self, data: bytes) -> None:
        self.stderr += data

    @property
    def closed(self) -> bool:
        return False

    async def drain(self) -> None:
        return None


@dataclass
class HostInfo:
    """What the version probes report. Defaults: an Ubuntu 22.04 lab box."""

    kernel: str = "5.15.0-105-generic"
    kernel_build: str = "#115-Ubuntu SMP Mon Apr 15 09:52:04 UTC 2024"
    machine: str = "x86_64"
    python: str = "3.10.12"
    mediamtx: str = "v1.9.3"
    service_version: str = "camera-service 2.1.0"
    lsb_id: str = "Ubuntu"
    lsb_description: str = "Ubuntu 22.04.4 LTS"
    lsb_release: str = "22.04"
    lsb_codename: str = "jammy"


@dataclass
class ShellContext:
    root: Path
    hostname: str
    user: str = "operator"
    journal: Journal | None = None
    info: HostInfo = field(default_factory=HostInfo)
    # Hooks into the simulated service (set by SimHost): keep this module free of it.
    restart: Callable[[], Awaitable[None]] | None = None
    service_state: Callable[[], str] = lambda: "active"  # active | activating | inactive | failed
    camera_devices: Callable[[], list[str]] = lambda: ["/dev/video0"]
    writable: tuple[str, ...] = ("/tmp", "/home", "/opt/camera-service/recordings", "/opt/camera-service/snapshots")

    @property
    def home(self) -> str:
        return f"/home/{self.user}"


class _Exit(Exception):
    def __init__(self, code: int):
        self.code = code


UNITS = {"camera-service": "MediaMTX Camera Service", "mediamtx": "MediaMTX media server"}


class Shell(FileCommands, FollowCommands):
    def __init__(self, ctx: ShellContext):
        self.ctx = ctx
        self._root = Path(os.path.realpath(ctx.root))

    # ------------------------------------------------------------------ paths

    def abspath(self, p: str) -> str:
        """Absolute host path (``/…``) of ``p`` as the user typed it (cwd = home)."""
        if p.startswith("~"):
            p = self.ctx.home + p[1:]
        if not p.startswith("/"):
            p = f"{self.ctx.home}/{p}"
        return os.path.normpath(p).replace("//", "/")

    def local(self, p: str) -> Path | None:
        """The real path under root, or None if it would leave root (it then does not exist)."""
        host = self.abspath(p)
        candidate = os.path.realpath(self._root / host.lstrip("/"))
        if candidate != str(self._root) and not candidate.startswith(str(self._root) + os.sep):
            return None
        return Path(candidate)

    def may_write(self, p: str) -> bool:
        host = self.abspath(p)
        return any(host == w or host.startswith(w + "/") for w in self.ctx.writable)

    def glob(self, pattern: str) -> list[str]:
        """Shell glob expansion against the simulated filesystem (+ the virtual /dev)."""
        host = self.abspath(pattern)
        if host.startswith("/dev/"):
            devs = sorted(self.ctx.camera_devices())
            return [d for d in devs if fnmatch.fnmatchcase(d, host)]
        base = self.local(os.path.dirname(host))
        if base is None or not base.is_dir():
            return []
        name = os.path.basename(host)
        hits = sorted(e for e in os.listdir(base) if fnmatch.fnmatchcase(e, name) and
                      (name.startswith(".") or not e.startswith(".")))
        prefix = os.path.dirname(pattern)
        return [f"{prefix}/{e}" if prefix else e for e in hits]

    # ------------------------------------------------------------------ parsing

    def split(self, command: str) -> list[tuple[str, list[list[str]]]]:
        """``[(op, pipeline)]`` where op is how it joins the previous one ("", "&&", "||", ";")."""
        lex = shlex.shlex(command, posix=True, punctuation_chars=";&|")
        lex.whitespace_split = True
        lex.commenters = ""
        tokens = list(lex)
        chains: list[tuple[str, list[list[str]]]] = []
        op, pipeline, words = "", [], []
        for tok in tokens:
            if tok in ("&&", "||", ";"):
                pipeline.append(words)
                chains.append((op, pipeline))
                op, pipeline, words = tok, [], []
            elif tok == "|":
                pipeline.append(words)
                words = []
            elif tok in ("&", "|&", ";;") or set(tok) <= set(";&|"):
                raise ValueError(f"syntax error near unexpected token `{tok}'")
            else:
                words.append(tok)
        pipeline.append(words)
        chains.append((op, pipeline))
        for _, pl in chains:
            if any(not w for w in pl) and not (len(pl) == 1 and not pl[0]):
                raise ValueError("syntax error near unexpected token `|'")
        return chains

    @staticmethod
    def _strip_redirections(words: list[str]) -> tuple[list[str], bool, bool]:
        """Drop ``2>/dev/null``, ``>/dev/null``, ``2>&1``; report (quiet_out, quiet_err)."""
        out: list[str] = []
        quiet_out = quiet_err = False
        i = 0
        while i < len(words):
            w = words[i]
            m = re.fullmatch(r"(\d?)(>>?|<)(&?)(.*)", w)
            if m:
                fd, _, amp, target = m.groups()
                if not target and i + 1 < len(words):
                    i += 1
                    target = words[i]
                if not amp and target == "/dev/null":
                    if fd == "2":
                        quiet_err = True
                    elif m.group(2) != "<":
                        quiet_out = True
                i += 1
                continue
            out.append(w)
            i += 1
        return out, quiet_out, quiet_err

    # ------------------------------------------------------------------ running

    async def run(self, command: str, io: ShellIO, stdin: bytes = b"") -> int:
        # fd duplications (2>&1, >&2) would read as a background '&' to the tokenizer; the sim
        # keeps stdout and stderr apart anyway, so they are dropped before parsing.
        command = re.sub(r"(?<!\S)\d?>&\d(?!\S)", " ", command)
        command = re.sub(r"(?<!\S)&>\s*/dev/null(?!\S)", " >/dev/null 2>/dev/null ", command)
        try:
            chains = self.split(command)
        except ValueError as e:
            io.err(f"bash: {e}\n".encode())
            return 2
        status = 0
        for op, pipeline in chains:
            if (op == "&&" and status != 0) or (op == "||" and status == 0):
                continue
            try:
                status = await self._pipeline(pipeline, io, stdin)
            except _Exit as e:
                return e.code
            if io.closed:
                break
        return status

    async def _pipeline(self, pipeline: list[list[str]], io: ShellIO, stdin: bytes) -> int:
        if len(pipeline) == 1:
            return await self._simple(pipeline[0], io, stdin)
        data, status = stdin, 0
        for i, words in enumerate(pipeline):
            last = i == len(pipeline) - 1
            if last:
                return await self._simple(words, io, data)
            buf = BufferIO()
            if words and words[0] in ("tail", "journalctl") and any(a in ("-f", "-F", "--follow") for a in words):
                io.err(b"sim: following output into a pipe is not supported here\n")
                return 2
            status = await self._simple(words, buf, data)
            io.err(bytes(buf.stderr))
            data = bytes(buf.stdout)
        return status

    async def _simple(self, words: list[str], io: ShellIO, stdin: bytes) -> int:
        words, quiet_out, quiet_err = self._strip_redirections(words)
        if quiet_out or quiet_err:
            io = _Filtered(io, quiet_out, quiet_err)
        # Leading VAR=value assignments, sudo, env, exec, command: peel them off.
        while words:
            w = words[0]
            if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", w) or w in ("exec", "env", "nohup"):
                words = words[1:]
            elif w == "sudo":
                words = words[1:]
                while words and words[0].startswith("-"):  # sudo -n, -E, -u root
                    words = words[2:] if words[0] == "-u" else words[1:]
            else:
                break
        if not words:
            return 0
        name, args = words[0], [self._expand(a) for a in words[1:]]
        args = [x for a in args for x in a]
        handler = getattr(self, "cmd_" + name.replace("-", "_").replace(".", "_").replace("[", "bracket"), None)
        if name in ("sh", "bash") and len(args) >= 2 and args[0] == "-c":
            return await self.run(args[1], io, stdin)
        if handler is None or not _is_command_name(name):
            io.err(f"bash: {name}: command not found\n".encode())
            return 127
        try:
            return await handler(args, io, stdin)
        except _Exit:
            raise
        except OSError as e:  # e.g. permission problems in the sim's own folder: report like a tool would
            io.err(f"{name}: {e.strerror or e}\n".encode())
            return 1

    def _expand(self, arg: str) -> list[str]:
        if any(c in arg for c in "*?[") and arg not in ("[", "]"):
            hits = self.glob(arg)
            if hits:
                return hits
        if arg.startswith("~"):
            return [self.abspath(arg)]
        return [arg]

    # ------------------------------------------------------------------ simple commands

    async def cmd_true(self, args, io, stdin) -> int:
        return 0

    async def cmd_false(self, args, io, stdin) -> int:
        return 1

    async def cmd_exit(self, args, io, stdin) -> int:
        raise _Exit(int(args[0]) if args and args[0].isdigit() else 0)

    async def cmd_echo(self, args, io, stdin) -> int:
        newline = True
        if args and args[0] == "-n":
            newline, args = False, args[1:]
        io.out((" ".join(args) + ("\n" if newline else "")).encode())
        return 0

    async def cmd_hostname(self, args, io, stdin) -> int:
        io.out(f"{self.ctx.hostname}\n".encode())
        return 0

    async def cmd_whoami(self, args, io, stdin) -> int:
        io.out(f"{self.ctx.user}\n".encode())
        return 0

    async def cmd_id(self, args, io, stdin) -> int:
        u = self.ctx.user
        io.out(f"uid=1000({u}) gid=1000({u}) groups=1000({u}),27(sudo),44(video)\n".encode())
        return 0

    async def cmd_nproc(self, args, io, stdin) -> int:
        io.out(f"{os.cpu_count() or 1}\n".encode())
        return 0

    async def cmd_date(self, args, io, stdin) -> int:
        utc = "-u" in args or "--utc" in args
        now = datetime.now().astimezone()
        if utc:
            now = now.astimezone(timezone.utc)
        fmt = next((a[1:] for a in args if a.startswith("+")), None)
        if fmt is not None:
            io.out((now.strftime(fmt) + "\n").encode())
        elif any(a.startswith(("-I", "--iso-8601")) for a in args):
            io.out((now.isoformat(timespec="seconds") + "\n").encode())
        else:
            io.out((now.strftime("%a %b %e %H:%M:%S %Z %Y") + "\n").encode())
        return 0

    async def cmd_uname(self, args, io, stdin) -> int:
        i = self.ctx.info
        parts = {
            "s": "Linux", "n": self.ctx.hostname, "r": i.kernel, "v": i.kernel_build, "m": i.machine,
            "p": i.machine, "i": i.machine, "o": "GNU/Linux",
        }
        flags: list[str] = []
        for a in args or ["-s"]:
            if a in ("-a", "--all"):
                flags = ["s", "n", "r", "v", "m", "o"]
                break
            if not re.fullmatch(r"-[snrvmpio]+", a):
                io.err(f"uname: invalid option -- '{a.lstrip('-')[:1]}'\nTry 'uname --help' for more information.\n"
                       .encode())
                return 1
            flags += list(a[1:])
        order = "snrvmpio"
        io.out((" ".join(parts[f] for f in sorted(set(flags), key=order.index)) + "\n").encode())
        return 0

    async def cmd_python3(self, args, io, stdin) -> int:
        if args[:1] in (["--version"], ["-V"]):
            io.out(f"Python {self.ctx.info.python}\n".encode())
            return 0
        io.err(b"sim: only `python3 --version` is available on this host\n")
        return 2

    async def cmd_mediamtx(self, args, io, stdin) -> int:
        if args[:1] == ["--version"]:
            io.out(f"{self.ctx.info.mediamtx}\n".encode())
            return 0
        io.err(b"mediamtx: already running as a service (use systemctl)\n")
        return 1

    async def cmd_camera_service(self, args, io, stdin) -> int:
        if args[:1] in (["--version"], ["-v"], ["version"]):
            io.out(f"{self.ctx.info.service_version}\n".encode())
            return 0
        io.err(b"camera-service: already running as a service (use systemctl)\n")
        return 1

    async def cmd_lsb_release(self, args, io, stdin) -> int:
        i = self.ctx.info
        short = any("s" in a for a in args if a.startswith("-") and not a.startswith("--"))
        rows = []
        flags = "".join(a[1:] for a in args if a.startswith("-") and not a.startswith("--")) or "a"
        if "a" in flags or "i" in flags:
            rows.append(("Distributor ID", i.lsb_id))
        if "a" in flags or "d" in flags:
            rows.append(("Description", i.lsb_description))
        if "a" in flags or "r" in flags:
            rows.append(("Release", i.lsb_release))
        if "a" in flags or "c" in flags:
            rows.append(("Codename", i.lsb_codename))
        if "a" in flags:
            io.err(b"No LSB modules are available.\n")
        for k, v in rows:
            io.out((f"{v}\n" if short else f"{k}:\t{v}\n").encode())
        return 0

    async def cmd_v4l2_ctl(self, args, io, stdin) -> int:
        devs = sorted(self.ctx.camera_devices())
        if "--list-devices" not in args:
            io.err(b"sim: only `v4l2-ctl --list-devices` is available on this host\n")
            return 2
        if not devs:
            io.err(b"Cannot open device /dev/video0, exiting.\n")
            return 1
        for n, d in enumerate(devs):
            io.out(f"SimCam USB Camera {n} (usb-0000:00:14.0-{n + 1}):\n\t{d}\n\n".encode())
        return 0

    async def cmd_command(self, args, io, stdin) -> int:
        if args[:1] == ["-v"] and len(args) > 1:
            return await self.cmd_which(args[1:], io, stdin)
        return await self._simple(args, io, stdin)

    async def cmd_which(self, args, io, stdin) -> int:
        status = 0
        paths = {"python3": "/usr/bin/python3", "mediamtx": "/usr/local/bin/mediamtx",
                 "camera-service": "/usr/local/bin/camera-service"}
        for a in args:
            if a in paths:
                io.out(f"{paths[a]}\n".encode())
            elif _is_command_name(a) and hasattr(self, "cmd_" + a.replace("-", "_")):
                io.out(f"/usr/bin/{a}\n".encode())
            else:
                status = 1
        return status

    # ------------------------------------------------------------------ systemctl

    async def cmd_systemctl(self, args, io, stdin) -> int:
        quiet = "-q" in args or "--quiet" in args
        args = [a for a in args if a not in ("--no-pager", "-q", "--quiet", "--no-ask-password")]
        if not args:
            io.err(b"sim: systemctl needs a verb\n")
            return 1
        verb, units = args[0], [unit_name(u) for u in args[1:]]
        for u in units:
            if u not in UNITS:
                if verb in ("is-active",):
                    io.out(b"inactive\n")
                    return 3
                io.err(f"Unit {u}.service could not be found.\n".encode())
                return 4 if verb == "status" else 5
        if verb == "is-active":
            status = 0
            for u in units:
                state = self._state(u)
                if not quiet:
                    io.out(f"{state}\n".encode())
                status = status or (0 if state == "active" else 3)
            return status
        if verb in ("restart", "try-restart", "reload-or-restart"):
            for u in units:
                await self._restart(u)
            return 0
        if verb in ("start", "stop", "reload", "enable", "disable"):
            io.err(f"sim: `systemctl {verb}` is not simulated; use restart\n".encode())
            return 1
        if verb == "status":
            for u in units:
                self._status(u, io)
            return 0 if all(self._state(u) == "active" for u in units) else 3
        io.err(f'Unknown command verb {verb}.\n'.encode())
        return 1

    def _state(self, unit: str) -> str:
        return self.ctx.service_state() if unit == "camera-service" else "active"

    async def _restart(self, unit: str) -> None:
        j = self.ctx.journal
        desc = UNITS[unit]
        if j is not None:
            j.append(unit, f"Stopping {unit}.service - {desc}...", identifier="systemd", pid=1)
            j.append(unit, f"{unit}.service: Deactivated successfully.", identifier="systemd", pid=1)
            j.append(unit, f"Stopped {unit}.service - {desc}.", identifier="systemd", pid=1)
            j.restart_unit(unit)
            j.append(unit, f"Started {unit}.service - {desc}.", identifier="systemd", pid=1)
        if unit == "camera-service" and self.ctx.restart is not None:
            await self.ctx.restart()

    def _status(self, unit: str, io: ShellIO) -> None:
        state = self._state(unit)
        dot = "●"
        sub = {"active": "running", "activating": "start", "inactive": "dead", "failed": "failed"}.get(state, state)
        pid = self.ctx.journal.pids.get(unit, 0) if self.ctx.journal else 0
        io.out((f"{dot} {unit}.service - {UNITS[unit]}\n"
                f"     Loaded: loaded (/etc/systemd/system/{unit}.service; enabled; vendor preset: enabled)\n"
                f"     Active: {state} ({sub})\n"
                f"   Main PID: {pid} ({unit})\n").encode())
        if self.ctx.journal is not None:
            io.out(b"\n")
            for e in self.ctx.journal.entries(unit)[-10:]:
                io.out((e.short(self.ctx.hostname) + "\n").encode())


# ---------------------------------------------------------------------------- helpers

class _Filtered:
    def __init__(self, inner: ShellIO, quiet_out: bool, quiet_err: bool):
        self.inner, self.quiet_out, self.quiet_err = inner, quiet_out, quiet_err

    def out(self, data: bytes) -> None:
        if not self.quiet_out:
            self.inner.out(data)

    def err(self, data: bytes) -> None:
        if not self.quiet_err:
            self.inner.err(data)

    @property
    def closed(self) -> bool:
        return self.inner.closed

    async def drain(self) -> None:
        await self.inner.drain()


def _is_command_name(name: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z0-9_.\[-]+", name)) and not name.startswith("-")
