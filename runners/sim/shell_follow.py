"""Following commands of the simulated host's shell: ``tail`` (incl. ``-F``/``-f``) and ``journalctl``.

Mixed into :class:`runners.sim.shell.Shell`. A follow runs until the output reports
``closed`` (the SSH channel went away), polling the file every ``FOLLOW_INTERVAL`` s
(GNU tail uses inotify) and handling truncation and rotation like GNU ``tail -F``.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from runners.sim.journal import CursorError, unit_name

if TYPE_CHECKING:
    from runners.sim.shell import ShellIO

FOLLOW_INTERVAL = 0.1  # seconds between polls of a followed file
# A followed name is resolved (realpath: an lstat per path component) at most this often;
# a console following 50 hosts' logs polls 500 files ten times a second, and resolving
# each poll was a third of the simulator's loop. A vanished file is re-resolved at once.
RESOLVE_EVERY = 1.0


class FollowCommands:
    async def cmd_tail(self, args, io, stdin) -> int:
        try:
            mode, follow, by_name, interval, files = _tail_args(args)
        except ValueError as e:
            io.err(f"tail: {e}\nTry 'tail --help' for more information.\n".encode())
            return 1
        if not files:
            io.out(_tail_slice(stdin, mode))
            return 0
        if len(files) > 1:
            io.err(b"sim: tail follows one file at a time here\n")
            return 1
        p = files[0]
        if not follow:
            lp = self._file(p)
            if lp is None:
                io.err(f"tail: cannot open '{p}' for reading: No such file or directory\n".encode())
                return 1
            io.out(_tail_slice(lp.read_bytes(), mode))
            return 0
        return await self._follow(p, mode, by_name, interval, io)

    async def _follow(self, p: str, mode: tuple[str, int], by_name: bool, interval: float, io: ShellIO) -> int:
        """GNU ``tail -F`` (by name, retry) or ``-f`` (by descriptor) until the client goes away."""
        fh = None
        ident: tuple[int, int] | None = None
        pos = 0
        seen = b""  # the last bytes sent, to notice a truncate-and-refill between polls
        announced_missing = False

        def open_current(first: bool) -> bool:
            nonlocal fh, ident, pos, seen
            lp = self.local(p)
            if lp is None:
                return False
            try:
                f = open(lp, "rb")
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                return False
            st = os.fstat(f.fileno())
            if fh is not None:
                fh.close()
            fh, ident = f, (st.st_dev, st.st_ino)
            if first:
                data = f.read()
                out = _tail_slice(data, mode)
                pos, seen = len(data), data[-64:]
                io.out(out)
            else:
                pos, seen = 0, b""  # a new file: everything in it is new
            return True

        if not open_current(True):
            io.err(f"tail: cannot open '{p}' for reading: No such file or directory\n".encode())
            if not by_name:
                io.err(b"tail: no files remaining\n")
                return 1
            announced_missing = True
        lp: Path | None = None
        resolved_at = -RESOLVE_EVERY
        last_sig: tuple[int, int] | None = None  # (size, mtime) at the last poll
        try:
            while not io.closed:
                progressed = False
                if by_name:
                    now = time.monotonic()
                    if lp is None or now - resolved_at >= RESOLVE_EVERY:
                        lp, resolved_at = self.local(p), now
                    try:
                        st = os.stat(lp) if lp is not None else None
                    except (FileNotFoundError, NotADirectoryError):
                        lp, st = self.local(p), None  # gone, or a parent replaced: resolve again now
                        try:
                            st = os.stat(lp) if lp is not None else None
                        except (FileNotFoundError, NotADirectoryError):
                            st = None
                    if st is None:
                        if fh is not None and not announced_missing:
                            progressed |= self._drain(fh, io)
                            io.err(f"tail: '{p}' has become inaccessible: No such file or directory\n".encode())
                            announced_missing = True
                    elif fh is None or (st.st_dev, st.st_ino) != ident:
                        if fh is not None:
                            self._drain(fh, io)  # what the old file got before it was rotated away
                        was_missing = fh is None or announced_missing
                        if open_current(False):
                            io.err((f"tail: '{p}' has appeared;  following new file\n" if was_missing else
                                    f"tail: '{p}' has been replaced;  following new file\n").encode())
                            announced_missing = False
                            progressed = True
                if fh is not None:
                    fst = os.fstat(fh.fileno())
                    size, sig = fst.st_size, (fst.st_size, fst.st_mtime_ns)
                    # Truncated: shorter than what we read, or (truncated and refilled between two
                    # polls) the bytes just before our offset are no longer the ones we sent. A
                    # file whose size and mtime did not change since the last poll was not touched.
                    changed, last_sig = sig != last_sig, sig
                    if size < pos or (changed and seen and os.pread(fh.fileno(), len(seen), pos - len(seen)) != seen):
                        io.err(f"tail: {p}: file truncated\n".encode())
                        pos, seen = 0, b""
                    if size > pos:
                        fh.seek(pos)
                        chunk = fh.read(min(size - pos, 1 << 20))
                        pos += len(chunk)
                        seen = (seen + chunk)[-64:]
                        io.out(chunk)
                        progressed = True
                await io.drain()
                if not progressed:
                    await asyncio.sleep(interval)
        finally:
            if fh is not None:
                fh.close()
        return 0

    @staticmethod
    def _drain(fh, io: ShellIO) -> bool:
        data = fh.read()
        if data:
            io.out(data)
        return bool(data)

    # ------------------------------------------------------------------ journalctl

    async def cmd_journalctl(self, args, io, stdin) -> int:
        j = self.ctx.journal
        try:
            o = _journal_args(args)
        except ValueError as e:
            io.err(f"journalctl: {e}\n".encode())
            return 1
        if j is None:
            io.err(b"No journal files were found.\n")
            return 1
        after = 0
        if o["after_cursor"] or o["cursor"]:
            try:
                after = j.parse_cursor(o["after_cursor"] or o["cursor"])
            except CursorError:
                io.err(b"Failed to seek to cursor: Invalid argument\n")
                return 1
            if o["cursor"] and not o["after_cursor"]:
                after -= 1  # --cursor includes the entry itself
        units = o["units"] or [None]
        entries = sorted({e.seq: e for u in units for e in j.entries(u, after_seq=after)}.values(),
                         key=lambda e: e.seq)
        if o["since"] is not None:
            entries = [e for e in entries if e.realtime_us >= o["since"] * 1e6]
        if o["until"] is not None:
            entries = [e for e in entries if e.realtime_us <= o["until"] * 1e6]
        n = o["lines"]
        if n is None and o["follow"] and not (o["after_cursor"] or o["cursor"]):
            n = 10
        if n is not None:
            entries = entries[-n:] if n > 0 else []
        emit = self._journal_formatter(o["output"])
        for e in entries:
            io.out(emit(e))
        if not o["follow"]:
            if not entries and not o["quiet"]:
                io.out(b"-- No entries --\n")
            if o["show_cursor"] and entries:
                io.out(f"-- cursor: {entries[-1].cursor}\n".encode())
            return 0
        # Follow from the last entry shown; with nothing shown, from the cursor (resume) or from now.
        if entries:
            last = entries[-1].seq
        elif o["after_cursor"] or o["cursor"]:
            last = after
        else:
            last = j.last_seq
        while not io.closed:
            if not await j.wait_new(last, timeout=0.25):
                continue
            new = sorted({e.seq: e for u in units for e in j.entries(u, after_seq=last)}.values(),
                         key=lambda e: e.seq)
            last = j.last_seq if not new else max(new[-1].seq, last)
            for e in new:
                io.out(emit(e))
            await io.drain()
        return 0

    def _journal_formatter(self, output: str) -> Callable:
        j = self.ctx.journal
        assert j is not None
        host = self.ctx.hostname
        if output == "json":
            return lambda e: (e.as_json(j.boot_id, host) + "\n").encode()
        if output == "cat":
            return lambda e: (e.message + "\n").encode()
        return lambda e: (e.short(host) + "\n").encode()


def _tail_args(args: list[str]) -> tuple[tuple[str, int], bool, bool, float, list[str]]:
    """mode: ("lines", N) last N lines | ("from_line", N) | ("bytes", N) | ("from_byte", N)."""
    mode: tuple[str, int] = ("lines", 10)
    follow = by_name = False
    interval = FOLLOW_INTERVAL
    files: list[str] = []
    it = iter(args)

    def count(kind: str, v: str | None) -> tuple[str, int]:
        if v is None or not re.fullmatch(r"[+-]?\d+", v):
            raise ValueError(f"invalid number of {kind}: {v!r}")
        if v.startswith("+"):
            return ("from_line" if kind == "lines" else "from_byte", int(v[1:]))
        return (kind, abs(int(v)))

    for a in it:
        if a in ("-n", "--lines"):
            mode = count("lines", next(it, None))
        elif a.startswith("--lines="):
            mode = count("lines", a.split("=", 1)[1])
        elif re.fullmatch(r"-n[+-]?\d+", a):
            mode = count("lines", a[2:])
        elif a in ("-c", "--bytes"):
            mode = count("bytes", next(it, None))
        elif a.startswith("--bytes="):
            mode = count("bytes", a.split("=", 1)[1])
        elif re.fullmatch(r"-c[+-]?\d+", a):
            mode = count("bytes", a[2:])
        elif a == "-F":
            follow = by_name = True
        elif a in ("-f", "--follow", "--follow=descriptor"):
            follow = True
        elif a == "--follow=name":
            follow = by_name = True
        elif a == "--retry":
            by_name = by_name or follow
        elif a in ("-s", "--sleep-interval"):
            try:
                interval = max(0.05, float(next(it, "1")))
            except ValueError:
                raise ValueError("invalid number of seconds") from None
        elif a in ("-q", "--quiet", "--silent", "-v"):
            continue
        elif re.fullmatch(r"-\d+", a):
            mode = ("lines", int(a[1:]))
        elif a.startswith("-") and a != "-":
            raise ValueError(f"invalid option -- '{a.lstrip('-')}'")
        else:
            files.append(a)
    return mode, follow, by_name, interval, files


def _tail_slice(data: bytes, mode: tuple[str, int]) -> bytes:
    kind, n = mode
    if kind == "bytes":
        return data[-n:] if n else b""
    if kind == "from_byte":
        return data[max(n - 1, 0):]
    lines = data.splitlines(keepends=True)
    if kind == "from_line":
        return b"".join(lines[max(n - 1, 0):])
    return b"".join(lines[-n:]) if n else b""


def _journal_args(args: list[str]) -> dict:
    o: dict = {"units": [], "follow": False, "lines": None, "output": "short", "after_cursor": "", "cursor": "",
               "show_cursor": False, "quiet": False, "since": None, "until": None}
    it = iter(args)

    def value(a: str, short: str, long: str) -> str | None:
        if a == short or a == long:
            v = next(it, None)
            if v is None:
                raise ValueError(f"option '{a}' requires an argument")
            return v
        if a.startswith(long + "="):
            return a.split("=", 1)[1]
        if short and a.startswith(short) and len(a) > len(short):
            return a[len(short):]
        return None

    for a in it:
        if a in ("-f", "--follow"):
            o["follow"] = True
        elif a == "--show-cursor":
            o["show_cursor"] = True
        elif a in ("-q", "--quiet"):
            o["quiet"] = True
        elif a in ("--no-pager", "--no-hostname", "-a", "--all", "-l", "--full", "--utc", "-e", "--pager-end",
                   "-b", "--boot", "--no-tail"):
            continue
        elif (v := value(a, "-u", "--unit")) is not None:
            o["units"].append(unit_name(v))
        elif (v := value(a, "-n", "--lines")) is not None:
            if v == "all":
                o["lines"] = None
            elif v.lstrip("+").isdigit():
                o["lines"] = int(v.lstrip("+"))
            else:
                raise ValueError(f'Failed to parse lines \'{v}\'')
        elif (v := value(a, "-o", "--output")) is not None:
            if v not in ("short", "short-iso", "short-precise", "json", "cat", "json-seq"):
                raise ValueError(f"Unknown output format '{v}'.")
            o["output"] = "json" if v.startswith("json") else ("cat" if v == "cat" else "short")
        elif (v := value(a, "", "--after-cursor")) is not None:
            o["after_cursor"] = v
        elif (v := value(a, "-c", "--cursor")) is not None:
            o["cursor"] = v
        elif (v := value(a, "-S", "--since")) is not None:
            o["since"] = _journal_time(v, "since")
        elif (v := value(a, "-U", "--until")) is not None:
            o["until"] = _journal_time(v, "until")
        elif (v := value(a, "-p", "--priority")) is not None:
            continue  # accepted, not applied
        else:
            raise ValueError(f"unrecognized option '{a}'")
    return o


def _journal_time(v: str, what: str) -> float:
    """``@EPOCH``, ``YYYY-MM-DD [HH:MM[:SS]]``, ``now``, ``today``, ``-5min``/``-2h``/``-30s``: epoch seconds."""
    now = time.time()
    if v.startswith("@"):
        try:
            return float(v[1:])
        except ValueError:
            pass
    elif v == "now":
        return now
    elif v == "today":
        return datetime.now().replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    elif m := re.fullmatch(r"-(\d+)\s*(s|sec|m|min|h|hour|d|day)s?", v):
        unit = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}[m.group(2)]
        return now - int(m.group(1)) * unit
    else:
        try:
            return datetime.fromisoformat(v).timestamp()
        except ValueError:
            pass
    raise ValueError(f"Failed to parse timestamp: {v}" if what == "since" else f"Failed to parse timestamp: {v}")
