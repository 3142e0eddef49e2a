"""Atomic file writes: temp file in the same folder, fsync, rename, fsync the folder.

A kill at any moment leaves either the old file or the new one, never a torn one.

A kill -9 mid-write does leave the temp file behind, though, so ``sweep_stale_tmp`` (run
when a dry_run/ folder is opened for writing) removes dead writers' leftovers — and never a
temp file a live writer is using. Temp files are named ``.{name}.{pid}.{random}.tmp`` and
the writer holds an ``flock`` on it from creation to rename; the kernel drops that lock
when the writer dies (even on kill -9). A temp file goes when nobody holds its lock and
its pid is dead — or, the lock free for over a minute, when the pid lives on in another
process (reused). Temp names without a pid (written before this naming, unlocked) go only
once they are old.
"""

from __future__ import annotations

import fcntl
import os
import re
import tempfile
import time
from pathlib import Path

# ``.{name}.{pid}.{8 random chars}.tmp`` (mkstemp's random part), and the pid-less older shape.
_TMP_PID = re.compile(r"^\..+\.(\d+)\.[a-z0-9_]{8}\.tmp$")
_TMP_OLD = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")
# Unlocked with a live pid: only in the instant between mkstemp and flock (a live writer)
# or because the pid was reused. Past this age it can only be the latter.
REUSED_PID_AGE = 60.0
FOREIGN_MAX_AGE = 15 * 60.0  # seconds: no old-style write took this long between create and rename


def atomic_write_bytes(path: Path | str, data: bytes, *, mode: int = 0o644) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # getpid() per call, not cached: a forked child names its own temp files.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    try:
        # Held until after the rename (the fd stays open): tells a sweep this file is in flight.
        fcntl.flock(fd, fcntl.LOCK_EX)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
        os.fchmod(fd, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    finally:
        os.close(fd)
    _fsync_dir(path.parent)


def atomic_write_text(path: Path | str, text: str, *, mode: int = 0o644) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), mode=mode)


def sweep_stale_tmp(root: Path | str, *, foreign_max_age: float = FOREIGN_MAX_AGE) -> list[Path]:
    """Remove the temp files killed writers left under ``root`` (recursively) and return
    them. Best effort: a file that vanished or cannot be removed is skipped (the next
    sweep tries again)."""
    removed: list[Path] = []
    for folder, _dirs, files in os.walk(root):
        for name in files:
            if not (name.startswith(".") and name.endswith(".tmp")):
                continue
            path = Path(folder) / name
            try:
                if _stale(path, name, foreign_max_age):
                    path.unlink()
                    removed.append(path)
            except OSError:
                pass
    return removed


def _stale(path: Path, name: str, foreign_max_age: float) -> bool:
    if m := _TMP_PID.match(name):
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return False  # a live writer holds it
            age = time.time() - os.fstat(fd).st_mtime
        finally:
            os.close(fd)  # drops our probe lock at once
        return not _pid_alive(int(m.group(1))) or age > REUSED_PID_AGE
    if _TMP_OLD.match(name):
        return time.time() - path.lstat().st_mtime > foreign_max_age
    return False  # not a name atomic_write gives: someone else's file


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    except OverflowError:
        return False
    try:  # a zombie (killed, not yet reaped) will never rename its temp file
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
    except (OSError, IndexError):
        return True  # no /proc here: trust kill(0)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on a directory; the rename is still atomic
    finally:
        os.close(fd)
