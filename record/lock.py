"""The dry_run/ lock: one writer at a time across processes (two consoles, a console and a
CI job) so a read-modify-write of the register or the ledger never loses an entry.

``fcntl.flock`` on ``dry_run/.state/lock``: the kernel drops it when the holder dies (even
on kill -9), so a crash never leaves a stale lock behind. flock locks belong to an open
file, so two independent ``flock`` calls in one process would block each other; the lock
is therefore re-entrant per process (a counter per lock file) and serialised between
threads with an ``RLock``.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from record.layout import DryRunDir
from runners.errors import DryRunError

DEFAULT_TIMEOUT = 30.0


class LockTimeout(DryRunError):
    """Another process held the dry_run/ lock for longer than we were willing to wait."""

    fault = "lock"


@dataclass
class _Held:
    rlock: threading.RLock = field(default_factory=threading.RLock)
    fd: int = -1
    depth: int = 0


_registry: dict[str, _Held] = {}
_registry_guard = threading.Lock()


def _held_for(path: Path) -> _Held:
    key = os.path.realpath(path)
    with _registry_guard:
        return _registry.setdefault(key, _Held())


class DryRunLock:
    """``with DryRunLock(d):`` — exclusive access to ``d`` for the block.

    ``timeout`` seconds to wait (``LockTimeout`` names the holder's pid when it can);
    ``0`` means try once."""

    def __init__(self, d: DryRunDir | Path | str, *, timeout: float = DEFAULT_TIMEOUT):
        self.dir = d if isinstance(d, DryRunDir) else DryRunDir(Path(d))
        self.path = self.dir.lock
        self.timeout = timeout

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        held = _held_for(self.path)
        got = held.rlock.acquire(timeout=self.timeout) if self.timeout > 0 else held.rlock.acquire(blocking=False)
        if not got:
            raise LockTimeout(f"{self.path}: another thread holds the dry_run/ lock")
        try:
            if held.depth == 0:
                held.fd = self._flock()
            held.depth += 1
        except BaseException:
            held.rlock.release()
            raise

    def _flock(self) -> int:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.timeout
        delay = 0.001
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        holder = self._holder(fd)
                        raise LockTimeout(
                            f"{self.path}: the dry_run/ folder is locked by another process{holder} "
                            f"for more than {self.timeout:g} s",
                            hint="wait for the other console or command to finish, then retry",
                        ) from None
                    time.sleep(delay)  # flock has no timed wait; back off briefly
                    delay = min(delay * 2, 0.05)
            # Who holds it, for the message another process may print (informational only).
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            return fd
        except BaseException:
            os.close(fd)
            raise

    @staticmethod
    def _holder(fd: int) -> str:
        try:
            pid = os.pread(fd, 32, 0).decode().strip()
        except OSError:
            return ""
        return f" (pid {pid})" if pid.isdigit() else ""

    def release(self) -> None:
        held = _held_for(self.path)
        held.depth -= 1
        if held.depth == 0:
            fd, held.fd = held.fd, -1
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)
        held.rlock.release()

    def __enter__(self) -> DryRunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _after_fork_in_child() -> None:
    # A forked child inherits the parent's fds but not its ownership of the lock's logic:
    # start with an empty registry (the child never releases the parent's locks).
    global _registry_guard
    _registry.clear()
    _registry_guard = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)
