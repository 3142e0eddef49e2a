"""A tiny systemd-journal stand-in: entries per unit with cursors, for ``journalctl`` over SSH.

The console's log tail resumes with ``--after-cursor``; that only works if cursors are
stable and ordered, so every entry gets a sequence number and a cursor string shaped
like systemd's (``s=…;i=…;b=…;m=…;t=…;x=…``). Appends may come from any thread;
followers wait on an asyncio event set thread-safely.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import socket
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import datetime

# syslog priorities, as journalctl shows them in PRIORITY
PRIORITIES = {"EMERG": 0, "ALERT": 1, "CRIT": 2, "CRITICAL": 2, "ERR": 3, "ERROR": 3, "WARNING": 4, "WARN": 4,
              "NOTICE": 5, "INFO": 6, "DEBUG": 7}


class CursorError(ValueError):
    """A cursor that does not belong to this journal (``journalctl`` says "Failed to seek")."""


@dataclass(frozen=True, slots=True)
class JournalEntry:
    seq: int
    unit: str  # "camera-service" (no ".service")
    message: str
    priority: int
    realtime_us: int
    monotonic_us: int
    pid: int
    cursor: str
    identifier: str = ""  # SYSLOG_IDENTIFIER; "systemd" for the unit's start/stop lines

    @property
    def ident(self) -> str:
        return self.identifier or self.unit

    def short(self, hostname: str) -> str:
        """``journalctl -o short`` style: ``Nov 21 10:00:00 host unit[pid]: message``."""
        ts = datetime.fromtimestamp(self.realtime_us / 1e6).strftime("%b %d %H:%M:%S")
        return f"{ts} {hostname} {self.ident}[{self.pid}]: {self.message}"

    def as_json(self, boot_id: str, hostname: str) -> str:
        """``journalctl -o json``: one object per line, every value a string, like systemd."""
        return json.dumps({
            "__CURSOR": self.cursor,
            "__REALTIME_TIMESTAMP": str(self.realtime_us),
            "__MONOTONIC_TIMESTAMP": str(self.monotonic_us),
            "_BOOT_ID": boot_id,
            "PRIORITY": str(self.priority),
            "SYSLOG_IDENTIFIER": self.ident,
            "_SYSTEMD_UNIT": f"{self.unit}.service" if not self.identifier else "init.scope",
            "UNIT": f"{self.unit}.service",
            "_PID": str(self.pid),
            "_HOSTNAME": hostname,
            "_TRANSPORT": "stdout",
            "MESSAGE": self.message,
        }, separators=(", ", " : "))


def unit_name(unit: str) -> str:
    return unit[: -len(".service")] if unit.endswith(".service") else unit


class Journal:
    def __init__(self, *, hostname: str | None = None, max_entries: int = 10_000):
        self.boot_id = uuid.uuid4().hex
        self.hostname = hostname or socket.gethostname()
        self._seqnum_id = uuid.uuid4().hex
        self._entries: deque[JournalEntry] = deque(maxlen=max_entries)
        self._seq = 0
        self._lock = threading.Lock()
        self._t0 = time.monotonic()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self.pids: dict[str, int] = {}

    def append(self, unit: str, message: str, priority: int | str = 6, *, identifier: str = "",
               pid: int | None = None) -> JournalEntry:
        unit = unit_name(unit)
        if isinstance(priority, str):
            priority = PRIORITIES.get(priority.upper(), 6)
        with self._lock:
            self._seq += 1
            seq = self._seq
            rt = time.time_ns() // 1000
            mono = int((time.monotonic() - self._t0) * 1e6) + 1_000_000
            x = hashlib.blake2b(f"{seq}{message}".encode(), digest_size=8).hexdigest()
            cursor = f"s={self._seqnum_id};i={seq:x};b={self.boot_id};m={mono:x};t={rt:x};x={x}"
            if pid is None:
                pid = self.pids.setdefault(unit, 1000 + (os.getpid() + len(self.pids) * 97) % 30000)
            entry = JournalEntry(seq, unit, message, priority, rt, mono, pid, cursor, identifier)
            self._entries.append(entry)
            waiters = list(self._waiters)
        for loop, ev in waiters:
            try:
                loop.call_soon_threadsafe(ev.set)
            except RuntimeError:  # loop closed: the follower is gone
                pass
        return entry

    def restart_unit(self, unit: str) -> None:
        """A restarted service gets a new PID, as under systemd."""
        with self._lock:
            self.pids[unit_name(unit)] = 1000 + (self.pids.get(unit_name(unit), 1000) + 1234) % 30000

    def parse_cursor(self, cursor: str) -> int:
        """The sequence number in ``cursor``; :class:`CursorError` if it is not ours."""
        parts = dict(p.split("=", 1) for p in cursor.strip().split(";") if "=" in p)
        if parts.get("s") != self._seqnum_id or "i" not in parts:
            raise CursorError(f"cursor {cursor[:60]!r} does not belong to this journal")
        try:
            return int(parts["i"], 16)
        except ValueError:
            raise CursorError(f"cursor {cursor[:60]!r} has a bad sequence number") from None

    def entries(self, unit: str | None = None, *, after_seq: int = 0) -> list[JournalEntry]:
        unit = unit_name(unit) if unit else None
        with self._lock:
            return [e for e in self._entries if e.seq > after_seq and (unit is None or e.unit == unit)]

    @property
    def last_seq(self) -> int:
        with self._lock:
            return self._seq

    async def wait_new(self, after_seq: int, timeout: float | None = None) -> bool:
        """Wait until an entry newer than ``after_seq`` exists; False on timeout."""
        loop = asyncio.get_running_loop()
        ev = asyncio.Event()
        key = (loop, ev)
        with self._lock:
            if self._seq > after_seq:
                return True
            self._waiters.add(key)
        try:
            await asyncio.wait_for(ev.wait(), timeout)
            return True
        except asyncio.TimeoutError:
            return False
        finally:
            with self._lock:
                self._waiters.discard(key)
