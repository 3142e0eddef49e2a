"""Log sources: follow one log of one host, survive disconnects, resume where it left off.

Kinds (``runners.config.LogSource.kind``):

- ``file``    ``tail -c +N -F PATH`` over the host's shared SSH connection. Resumes by
              byte offset + inode, and *verifies* the resume point: it restarts at the
              start of the last lines it received (the "anchor") and checks that the file
              still holds exactly those bytes there. If not (rotated, truncated, replaced,
              also while it was connected - ``tail -F`` follows rotations by itself, which
              makes a plain offset drift), it finds the anchor again: in the rotated file
              (``PATH.1``, same inode) and/or by scanning the current file. Only when the
              anchor is nowhere is a gap declared (:class:`Gap`, with its size when known).
- ``journal`` ``journalctl -u UNIT -f -o json``; resumes with ``--after-cursor``. A cursor
              the journal no longer knows is a gap; entries already shown are skipped by time.
- ``command`` any command over SSH; cannot resume: a restart after a failure is a gap.
- ``local``   a file on this machine, followed with ``watchfiles`` (one watcher per folder,
              shared: ``folderwatch``; + a slow poll as a safety net); rotation (inode change: the old file is read to its end first)
              and truncation handled.

A source built to replace another one following the same log (the hub restarted: the
Logs screen's R, a config reload) takes over its resume point (``resume_from``): what the
old one showed is not read and shown again (``command`` cannot resume: it starts over).

Every source turns bytes into safe text (``parse.safe_decode``) and reports through a
:class:`Sink`. Retries back off exponentially (0.2 s .. 5 s, jittered) and reset once a
session delivered data. Nothing here imports Textual.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import shlex
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from runners.config import LogSource
from runners.errors import DryRunError, HostKeyError, SshError
from runners.logs.parse import LEVEL_NAMES, level_from_name, parse_line, safe_decode

log = logging.getLogger(__name__)

ANCHOR_LINES = 4  # lines remembered to verify a resume point
ANCHOR_MAX_BYTES = 8192
SCAN_LIMIT = 32 << 20  # bytes of a file scanned for the anchor before declaring a gap
ROTATED_SUFFIXES = (".1", ".0", "-old")  # where logrotate & co. put the previous file
TAIL_SLEEP = 0.05  # tail's poll interval where it cannot use inotify (and the simulator's)


class RemoteHost(Protocol):
    """What a source needs of ``runners.ssh.SshHost``."""

    name: str

    async def run(self, command: str, *, timeout: float = 30.0, check: bool = False) -> Any: ...
    def stream_batches(self, command: str) -> AsyncIterator[list[bytes]]: ...
    async def stat(self, path: str) -> Any: ...


class Sink(Protocol):
    """Where a source reports. ``lines`` may wait (back-pressure from a slow consumer)."""

    async def lines(self, src: Source, lines: list[str], history: bool = False) -> None: ...
    def gap(self, src: Source, reason: str, lost_bytes: int | None) -> None: ...
    def notice(self, src: Source, level: str, message: str) -> None: ...
    def connected(self, src: Source) -> None: ...


@dataclass
class Backoff:
    initial: float = 0.2
    factor: float = 2.0
    cap: float = 5.0
    jitter: float = 0.2
    _next: float = 0.0

    def __post_init__(self) -> None:
        self._next = self.initial
        self._rng = random.Random()

    def next_delay(self) -> float:
        d = self._next
        self._next = min(self.cap, self._next * self.factor)
        return d * (1 + self.jitter * (self._rng.random() * 2 - 1))

    def reset(self) -> None:
        self._next = self.initial


class Source:
    """Base: a retry loop around ``_session()``; subclasses implement the session."""

    kind = "?"

    def __init__(self, host: str, spec: LogSource, *, backoff: Backoff | None = None):
        self.host = host
        self.spec = spec
        self.name = spec.name
        self.fmt = spec.format
        self.backoff = backoff or Backoff()
        self.lines_read = 0
        self.sessions = 0
        self.gaps = 0
        self.last_error = ""
        self._delivered = False  # the current session produced data (resets the backoff)
        # Byte offset where a file's backlog ends (its size when the first session began):
        # lines ending by it were written before we followed and are delivered as history.
        self._history_end: int | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.host}/{self.name}>"

    @property
    def label(self) -> str:
        return f"{self.host}/{self.name}"

    async def run(self, sink: Sink) -> None:
        """Follow until cancelled (or, for a finished command, until it ends)."""
        while True:
            self._delivered = False
            self.sessions += 1
            try:
                finished = await self._session(sink)
                if finished:
                    return
                err = "stream ended"
            except asyncio.CancelledError:
                raise
            except (DryRunError, OSError, EOFError, ConnectionError) as e:
                err = str(e) or type(e).__name__
                permanent = isinstance(e, HostKeyError)
            except Exception as e:  # noqa: BLE001 - a log tail must outlive a bug in a lower layer
                log.warning("log %s: unexpected %s", self.label, type(e).__name__, exc_info=True)
                err = f"unexpected {type(e).__name__}: {e}"
                permanent = False
            else:
                permanent = False
            if self._delivered:
                self.backoff.reset()
            if err != self.last_error:
                # Once per distinct problem, not on every retry.
                sink.notice(self, "error" if permanent else "warning", f"log {self.label}: {err}; retrying")
                self.last_error = err
            # A refused host key will not fix itself in 5 s: do not hammer the host.
            await asyncio.sleep(30.0 if permanent else self.backoff.next_delay())

    async def _session(self, sink: Sink) -> bool:
        raise NotImplementedError

    def position(self) -> dict[str, Any]:
        """Where the source would resume (for status and tests)."""
        return {}

    def resume_from(self, old: Source) -> bool:
        """Continue where ``old`` (a stopped source of the same log) left off instead of
        starting with the backlog. False when this kind cannot resume."""
        return False

    async def _deliver(self, sink: Sink, lines: list[str], history: bool = False) -> None:
        if lines:
            self._delivered = True
            if self.last_error:
                self.last_error = ""
                sink.connected(self)
            self.lines_read += len(lines)
            await sink.lines(self, lines, history)

    async def _deliver_read(self, sink: Sink, raw: list[bytes], start: int) -> None:
        """Deliver file lines read from byte ``start``: those within the backlog
        (``_history_end``) as history, the rest as live lines."""
        end = self._history_end
        if end is not None:
            k, pos = 0, start
            while k < len(raw) and pos + len(raw[k]) + 1 <= end:
                pos += len(raw[k]) + 1
                k += 1
            if k:
                await self._deliver(sink, _decode_all(raw[:k]), history=True)
                raw = raw[k:]
            if raw or pos >= end:
                self._history_end = None  # past the backlog: everything from here on is live
        await self._deliver(sink, _decode_all(raw))

    def _gap(self, sink: Sink, reason: str, lost: int | None) -> None:
        self.gaps += 1
        sink.gap(self, reason, lost)


def _decode_all(raw: list[bytes]) -> list[str]:
    return [safe_decode(b) for b in raw]


# =============================================================================== file over SSH

class FileTail(Source):
    """``tail -F`` of a remote file with a verified byte-offset resume."""

    kind = "file"

    def __init__(self, host: str, spec: LogSource, connect: Callable[[], Awaitable[RemoteHost]], *,
                 backlog_bytes: int = 16 << 10, backoff: Backoff | None = None):
        super().__init__(host, spec, backoff=backoff)
        self.path = spec.path
        self.connect = connect
        self.backlog_bytes = backlog_bytes
        self.offset: int | None = None  # bytes of the current file consumed (after the last full line)
        self.inode: int | None = None
        self.anchor: deque[bytes] = deque(maxlen=ANCHOR_LINES)
        self.recoveries: list[str] = []  # what each anomaly turned out to be (for tests / status)

    def position(self) -> dict[str, Any]:
        return {"offset": self.offset, "inode": self.inode, "anchor_lines": len(self.anchor)}

    def resume_from(self, old: Source) -> bool:
        # The next session verifies the anchor at the offset, as after a reconnect.
        if not isinstance(old, FileTail) or old.path != self.path or old.offset is None:
            return False
        self.offset, self.inode = old.offset, old.inode
        self.anchor = deque(old.anchor, maxlen=ANCHOR_LINES)
        return True

    @property
    def _anchor_len(self) -> int:
        return sum(len(a) + 1 for a in self.anchor)

    def _remember(self, raw: list[bytes]) -> None:
        for line in raw:
            self.anchor.append(line)
            self.offset = (self.offset or 0) + len(line) + 1
        # Keep the anchor short in bytes (a 1 MiB line is a poor anchor and a big re-read).
        while len(self.anchor) > 1 and self._anchor_len > ANCHOR_MAX_BYTES:
            self.anchor.popleft()

    async def _identity(self, h: RemoteHost, path: str) -> tuple[int | None, int] | None:
        """(inode or None, size) of ``path``; None if it does not exist."""
        q = shlex.quote(path)
        try:
            res = await h.run(f"stat -L -c '%i %s' {q}", timeout=15)
        except SshError:
            raise
        except Exception:  # noqa: BLE001 - a host without GNU stat: fall back to SFTP
            res = None
        if res is not None and getattr(res, "exit_status", 1) == 0:
            parts = res.stdout.split()
            if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit():
                return int(parts[0]), int(parts[1])
        if res is not None and "No such file" in getattr(res, "stderr", ""):
            return None
        st = await h.stat(path)
        return None if st is None else (None, int(st.size))

    def _tail_cmd(self, path: str, start: int, follow: bool = True) -> str:
        # tail -c +N is 1-based: +1 is the first byte.
        f = f" -s {TAIL_SLEEP:g} -F" if follow else ""
        return f"tail -c +{start + 1}{f} {shlex.quote(path)}"

    async def _session(self, sink: Sink) -> bool:
        h = await self.connect()
        ident = await self._identity(h, self.path)
        if self.offset is None:
            await self._fresh(h, sink, ident)
            return False
        inode, size = ident if ident is not None else (None, 0)
        same_file = ident is not None and (inode is None or self.inode is None or inode == self.inode)
        if same_file and size >= self.offset:
            if await self._follow(h, sink, self.path, self.offset - self._anchor_len, verify=list(self.anchor)):
                return False
            # Same name, but the bytes before our offset are not what we read: the file was
            # truncated or replaced (possibly while tail -F was following it).
        await self._recover(h, sink, ident)
        return False

    async def _fresh(self, h: RemoteHost, sink: Sink, ident: tuple[int | None, int] | None) -> None:
        """First session: the last ``backlog_bytes`` of the file, then follow."""
        inode, size = ident if ident is not None else (None, 0)
        start = max(0, size - self.backlog_bytes)
        self.inode = inode
        self._history_end = size
        await self._follow(h, sink, self.path, start, skip_partial=start > 0)

    async def _follow(self, h: RemoteHost, sink: Sink, path: str, start: int, *,
                      verify: list[bytes] | None = None, skip_partial: bool = False,
                      follow: bool = True) -> bool:
        """Stream ``path`` from byte ``start``, delivering lines. With ``verify``, the first
        lines must be exactly those (shown already, not shown again): if they are not, stop
        and return False with the position unchanged."""
        pending = list(verify or [])
        if start < 0:
            return False
        saved = self.offset
        pos = start
        if not pending:
            self.offset = start
        async with contextlib.aclosing(h.stream_batches(self._tail_cmd(path, start, follow))) as batches:
            async for batch in batches:
                if skip_partial and batch:
                    # We started mid-file: the first "line" is probably the end of one.
                    skip_partial = False
                    self.offset = start + len(batch[0]) + 1
                    batch = batch[1:]
                if pending:
                    k = 0
                    while k < len(batch) and pending:
                        got, want = batch[k], pending[0]
                        if got == want:
                            pos += len(got) + 1
                            pending.pop(0)
                            k += 1
                        elif len(pending) == 1 and got.startswith(want):
                            # The last line we showed was a partial line then: show it whole now.
                            self.anchor.pop()
                            pending = []
                        else:
                            self.offset = saved
                            return False
                    if not pending:
                        self.offset = pos
                    batch = batch[k:]
                    if not batch:
                        continue
                start = self.offset or 0
                self._remember(batch)
                await self._deliver_read(sink, batch, start)
        if pending:
            self.offset = saved
            return False
        return True

    def _switch_file(self, inode: int | None) -> None:
        """Positions now refer to a new file, read from its start."""
        self.inode = inode
        self.offset = 0
        self.anchor.clear()
        self._history_end = None  # what a new file holds was written while we followed

    async def _recover(self, h: RemoteHost, sink: Sink, ident: tuple[int | None, int] | None) -> None:
        """The file at our offset is not the one we were reading: find where we were.

        1. The previous file where logrotate put it (``PATH.1``...: renamed by ``create``,
           copied by ``copytruncate``): if it holds our anchor at our offset, read it to
           its end; then everything in the current file is new.
        2. Otherwise scan the current file for the anchor (``tail -F`` followed a rotation
           or truncation while we were connected, so what we read last is in there).
        3. Anchor nowhere: a gap, marked."""
        if self.anchor and await self._finish_rotated(h, sink):
            self.recoveries.append("rotated")
            self._switch_file(ident[0] if ident else None)
            await self._follow(h, sink, self.path, 0)
            return
        await self._scan(h, sink, ident)

    async def _finish_rotated(self, h: RemoteHost, sink: Sink) -> bool:
        """True if a rotated copy held our anchor at our offset and was read to its end.
        The anchor's bytes decide, not the inode (copytruncate's copy has a new one)."""
        start = (self.offset or 0) - self._anchor_len
        for suffix in ROTATED_SUFFIXES:
            cand = self.path + suffix
            cid = await self._identity(h, cand)
            if cid is None or cid[1] < (self.offset or 0):
                continue
            if await self._follow(h, sink, cand, start, verify=list(self.anchor), follow=False):
                return True
        return False

    async def _scan(self, h: RemoteHost, sink: Sink, ident: tuple[int | None, int] | None) -> None:
        """Read the current file from its start looking for the anchor: lines up to it were
        shown already; after it, everything is new. Not found within the file's size (or
        SCAN_LIMIT): what we missed is gone, so mark a gap and show the file from its start."""
        anchor = list(self.anchor)
        inode, size = ident if ident is not None else (None, 0)
        self._switch_file(inode)
        held: list[bytes] = []
        held_bytes = 0
        matched = 0
        decided = not anchor
        if decided:
            self.recoveries.append("new-file")
        async with contextlib.aclosing(h.stream_batches(self._tail_cmd(self.path, 0))) as batches:
            async for batch in batches:
                if decided:
                    self._remember(batch)
                    await self._deliver(sink, _decode_all(batch))
                    continue
                for line in batch:
                    held.append(line)
                    held_bytes += len(line) + 1
                    if decided:
                        continue
                    want = anchor[matched]
                    if line == want or (matched == len(anchor) - 1 and line.startswith(want)):
                        matched += 1
                        if matched == len(anchor):
                            # Found (the earliest occurrence: a duplicate beats a loss).
                            decided = True
                            self.recoveries.append("found")
                            cut = len(held) - (0 if line == want else 1)
                            seen, held = held[:cut], held[cut:]
                            self._remember(seen)  # positions only: these were shown already
                            held_bytes = sum(len(b) + 1 for b in held)
                    else:
                        matched = 1 if line == anchor[0] else 0
                if not decided and (held_bytes >= max(size, 1) or held_bytes >= SCAN_LIMIT):
                    decided = True
                    self.recoveries.append("gap")
                    self._gap(sink, "file rotated or truncated while unread; its earlier lines are gone", None)
                if decided and held:
                    self._remember(held)
                    await self._deliver(sink, _decode_all(held))
                    held, held_bytes = [], 0
        if held:  # the stream ended before the anchor could be found
            if not decided:
                self.recoveries.append("gap")
                self._gap(sink, "file rotated or truncated while unread; its earlier lines are gone", None)
            self._remember(held)
            await self._deliver(sink, _decode_all(held))


# =============================================================================== journal

def journal_line(obj: dict[str, Any]) -> str:
    """One ``journalctl -o json`` entry as a self-describing text line. A message that is
    a service log line with its own time is kept as it is; anything else gets the
    journal's time and priority in front, so the pane can place and colour it."""
    msg = obj.get("MESSAGE")
    if isinstance(msg, list):  # binary messages come as a byte array
        try:
            msg = bytes(int(b) & 0xFF for b in msg).decode("utf-8", "backslashreplace")
        except (TypeError, ValueError):
            msg = str(msg)
    elif msg is None:
        msg = ""
    elif not isinstance(msg, str):
        msg = str(msg)
    if parse_line(msg).ts is not None:
        return msg
    try:
        us = int(obj.get("__REALTIME_TIMESTAMP", ""))
        t = us / 1e6
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{us % 1_000_000:06d}Z"
    except (TypeError, ValueError):
        stamp = ""
    level = LEVEL_NAMES.get(level_from_name(obj.get("PRIORITY", "")), "") or "INFO"
    ident = obj.get("SYSLOG_IDENTIFIER") or obj.get("_SYSTEMD_UNIT") or ""
    pid = obj.get("_PID")
    who = f"{ident}[{pid}]" if ident and pid else str(ident)
    return " ".join(p for p in (stamp, level, f"{who}:" if who else "", msg) if p)


class JournalTail(Source):
    """``journalctl -u UNIT -f -o json``, resumed with ``--after-cursor``."""

    kind = "journal"

    def __init__(self, host: str, spec: LogSource, connect: Callable[[], Awaitable[RemoteHost]], *,
                 backlog_lines: int = 100, backoff: Backoff | None = None):
        super().__init__(host, spec, backoff=backoff)
        self.unit = spec.unit
        self.connect = connect
        self.backlog_lines = backlog_lines
        self.cursor: str | None = None
        self.last_realtime = 0  # us; skips re-shown entries after a lost cursor
        self._skip_upto = 0
        self._backlog_read = False  # the first backlog was read (and shown as history)

    def position(self) -> dict[str, Any]:
        return {"cursor": self.cursor, "realtime_us": self.last_realtime}

    def resume_from(self, old: Source) -> bool:
        if not isinstance(old, JournalTail) or old.unit != self.unit or old.cursor is None:
            return False
        self.cursor, self.last_realtime, self._skip_upto = old.cursor, old.last_realtime, old._skip_upto
        return True

    def command(self) -> str:
        base = f"journalctl -u {shlex.quote(self.unit)} -f -o json --no-pager"
        if self.cursor:
            return f"{base} --after-cursor {shlex.quote(self.cursor)}"
        return f"{base} -n {self.backlog_lines}"

    def backlog_command(self) -> str:
        return f"journalctl -u {shlex.quote(self.unit)} -n {self.backlog_lines} -o json --no-pager -q"

    async def _session(self, sink: Sink) -> bool:
        h = await self.connect()
        if self.cursor is None and not self._skip_upto and not self._backlog_read:
            # The backlog on its own first (history: placed by its own times), then follow
            # after its cursor. One `-f -n N` could not tell the backlog from live entries.
            res = await h.run(self.backlog_command(), timeout=30)
            if res.exit_status == 0:
                self._backlog_read = True
                backlog = []
                for raw in res.stdout.splitlines():
                    if not raw.strip() or raw.startswith("-- "):  # journalctl's own "-- No entries --"
                        continue
                    line = self._entry(raw.encode("utf-8", "surrogateescape"))
                    if line is not None:
                        backlog.append(line)
                await self._deliver(sink, backlog, history=True)
        try:
            async with contextlib.aclosing(h.stream_batches(self.command())) as batches:
                async for batch in batches:
                    out: list[str] = []
                    for raw in batch:
                        line = self._entry(raw)
                        if line is not None:
                            out.append(line)
                    await self._deliver(sink, out)
        except SshError as e:
            # journalctl's own words (the command line in the message also says "cursor")
            if self.cursor and "seek to cursor" in str(e).lower():
                # The journal no longer knows our cursor (rotated/vacuumed, or a new journal).
                self._gap(sink, f"journal cursor no longer valid ({_last_line(str(e))}); "
                                f"resumed from the journal's last {self.backlog_lines} entries", None)
                self.cursor = None
                self._skip_upto = self.last_realtime
                return False
            raise
        return False

    def _entry(self, raw: bytes) -> str | None:
        try:
            obj = json.loads(raw)
        except ValueError:
            return safe_decode(raw)  # not JSON (an old journalctl?): show it as it is
        if not isinstance(obj, dict):
            return safe_decode(raw)
        cur = obj.get("__CURSOR")
        if isinstance(cur, str):
            self.cursor = cur
        try:
            rt = int(obj.get("__REALTIME_TIMESTAMP", 0))
        except (TypeError, ValueError):
            rt = 0
        if self._skip_upto and rt and rt <= self._skip_upto:
            return None  # shown before the cursor was lost
        self._skip_upto = 0
        self.last_realtime = max(self.last_realtime, rt)
        return safe_decode(journal_line(obj).encode("utf-8", "surrogatepass"))


def _last_line(text: str) -> str:
    lines = [x for x in text.strip().splitlines() if x.strip()]
    return lines[-1].strip()[:200] if lines else text[:200]


# =============================================================================== command

class CommandTail(Source):
    """Any command over SSH. It cannot resume: a restart after a failure is a gap."""

    kind = "command"

    def __init__(self, host: str, spec: LogSource, connect: Callable[[], Awaitable[RemoteHost]], *,
                 backoff: Backoff | None = None):
        super().__init__(host, spec, backoff=backoff)
        self.command = spec.command
        self.connect = connect
        self.finished = False

    async def _session(self, sink: Sink) -> bool:
        if self.sessions > 1 and self.lines_read:
            self._gap(sink, "command restarted after a failure; its output in between is lost", None)
        h = await self.connect()
        async with contextlib.aclosing(h.stream_batches(self.command)) as batches:
            async for batch in batches:
                await self._deliver(sink, _decode_all(batch))
        self.finished = True  # exited 0: done (a failure raises and is retried)
        return True


# =============================================================================== local file

class LocalTail(Source):
    """A file on this machine, followed with watchfiles (plus a slow poll as a safety net)."""

    kind = "local"

    def __init__(self, host: str, spec: LogSource, path: Path, *, backlog_bytes: int = 16 << 10,
                 poll_interval: float = 1.0, backoff: Backoff | None = None, read_size: int = 1 << 20):
        super().__init__(host, spec, backoff=backoff)
        self.path = Path(path)
        self.backlog_bytes = backlog_bytes
        self.poll_interval = poll_interval
        self.read_size = read_size
        self.offset: int | None = None
        self.inode: tuple[int, int] | None = None
        self._fh: Any = None
        self._partial = b""
        self.truncations = 0
        self.rotations = 0

    def position(self) -> dict[str, Any]:
        return {"offset": self.offset, "inode": self.inode}

    def resume_from(self, old: Source) -> bool:
        # Its unfinished last line (``_partial``) is read again from ``offset``.
        if not isinstance(old, LocalTail) or old.path != self.path or old.offset is None:
            return False
        self.offset, self.inode = old.offset, old.inode
        return True

    async def _session(self, sink: Sink) -> bool:
        from runners.logs.folderwatch import watching

        wake = asyncio.Event()
        try:
            # The folder's one watcher (shared with the other local logs there) wakes us
            # when our file changes, appears or is replaced by rotation.
            async with watching(self.path, wake) as folder:
                while True:
                    await self._read_available(sink)
                    if folder.failed:
                        raise OSError(f"cannot watch {self.path.parent}: {folder.error}")
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(wake.wait(), self.poll_interval)
                    wake.clear()
        finally:
            self._close()

    def _close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    async def _read_available(self, sink: Sink) -> None:
        try:
            st = os.stat(self.path)
            ident: tuple[int, int] | None = (st.st_dev, st.st_ino)
        except FileNotFoundError:
            st, ident = None, None
        if self._fh is not None and ident != self.inode:
            # Rotated (or deleted): finish the old file first, then switch.
            await self._drain(sink)
            if self._partial:
                await self._deliver(sink, _decode_all([self._partial]))
                self._partial = b""
            self._close()
            self.rotations += 1
            self.offset = 0  # whatever file appears at the path next is new from its start
            self._history_end = None
        if st is None:
            return
        if self._fh is None:
            self._fh = open(self.path, "rb")  # noqa: SIM115 - kept open to follow rotations by inode
            fst = os.fstat(self._fh.fileno())
            ident = (fst.st_dev, fst.st_ino)
            if self.offset and self.inode is not None and ident != self.inode:
                # Not the file our offset belongs to (replaced while nobody followed it): new from its start.
                self.rotations += 1
                self.offset = 0
                self._partial = b""
                self._history_end = None
            self.inode = ident
            if self.offset is None:
                self._history_end = fst.st_size
                self.offset = max(0, fst.st_size - self.backlog_bytes)
                if self.offset:
                    self._fh.seek(self.offset - 1)
                    if self._fh.read(1) != b"\n":
                        self._fh.readline()  # skip the partial first line of the backlog
                        self.offset = self._fh.tell()
        size = os.fstat(self._fh.fileno()).st_size
        if self.offset is not None and size < self.offset + len(self._partial):
            self.truncations += 1
            self._partial = b""
            self.offset = 0
            self._history_end = None
            self._gap(sink, "file truncated; lines written just before the truncation may be missing", None)
        await self._drain(sink)

    async def _drain(self, sink: Sink) -> None:
        fh = self._fh
        if fh is None:
            return
        fh.seek((self.offset or 0) + len(self._partial))
        while True:
            data = fh.read(self.read_size)
            if not data:
                return
            data = self._partial + data
            lines = data.split(b"\n")
            self._partial = lines.pop()
            consumed = sum(len(x) + 1 for x in lines)
            start = self.offset or 0
            self.offset = start + consumed
            if lines:
                await self._deliver_read(sink, lines, start)


# =============================================================================== factory

def make_source(host: str, spec: LogSource, *, connect: Callable[[], Awaitable[RemoteHost]] | None,
                resolve: Callable[[str], Path], backlog_bytes: int = 16 << 10,
                backlog_lines: int = 100) -> Source:
    """The source for one configured log. SSH kinds need ``connect`` (the host's shared
    connection); a host without SSH can only have ``local`` logs."""
    if spec.kind == "local":
        return LocalTail(host, spec, resolve(spec.path), backlog_bytes=backlog_bytes)
    if connect is None:
        raise SshError(f"log {host}/{spec.name}: kind {spec.kind!r} needs SSH, but host {host} has no "
                       f"[hosts.ssh] host (use kind = \"local\" for a file on this machine)")
    if spec.kind == "file":
        return FileTail(host, spec, connect, backlog_bytes=backlog_bytes)
    if spec.kind == "journal":
        return JournalTail(host, spec, connect, backlog_lines=backlog_lines)
    if spec.kind == "command":
        return CommandTail(host, spec, connect)
    raise ValueError(f"log {host}/{spec.name}: unknown kind {spec.kind!r} (expected file, journal, command or local)")
