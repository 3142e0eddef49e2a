"""The simulated camera service's log file, written like the real services write theirs.

current (Go service, plain text)::

    2026-11-21 10:00:00,123 INFO camera_service.api: snapshot taken device=camera0 file_size=48211

legacy (Python service, JSON lines)::

    {"timestamp": "2026-11-21T10:00:00.123+00:00", "level": "INFO", "logger": "camera_service.api",
     "message": "snapshot taken", "device": "camera0", "file_size": 48211}

Every line is flushed as it is written (a tail over SSH sees it at once). Writes are
thread-safe. A test may rotate (rename) or truncate the file under us: the file is opened
in append mode (writes land at the new end after a truncation) and reopened when the
path's inode changes or the path vanishes (rotation), like logrotate's ``create``.
Optionally every line also goes to a :class:`~runners.sim.journal.Journal` unit, which is
what ``journalctl -u camera-service`` over the simulator's SSH serves.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runners.sim.journal import Journal

FORMATS = ("plain", "json")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_LEVEL_ALIASES = {"WARN": "WARNING", "ERR": "ERROR", "FATAL": "CRITICAL"}
DEFAULT_LOGGER = "camera_service.api"


def format_value(v: Any) -> str:
    """``key=value`` value: bare if simple, JSON-quoted if it has spaces, quotes or '='."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, (int, float)):
        return repr(v)
    s = v if isinstance(v, str) else json.dumps(v, default=str, separators=(",", ":"))
    if s == "" or any(c in s for c in ' "=\t\n\\'):
        return json.dumps(s)
    return s


def normalise_level(level: str) -> str:
    up = str(level).upper()
    up = _LEVEL_ALIASES.get(up, up)
    if up not in LEVELS:
        raise ValueError(f"log level must be one of {', '.join(LEVELS)}, got {level!r}")
    return up


class ServiceLog:
    """Appends lines like a real camera service; plain (current) or JSON lines (legacy)."""

    def __init__(self, path: Path, *, fmt: str = "plain", logger: str = DEFAULT_LOGGER,
                 journal: Journal | None = None, unit: str = "camera-service"):
        if fmt not in FORMATS:
            raise ValueError(f"service log format must be 'plain' or 'json', got {fmt!r}")
        self.path = Path(path)
        self.fmt = fmt
        self.logger = logger
        self.journal = journal
        self.unit = unit
        self.lines_written = 0
        self._lock = threading.Lock()
        self._fh = None
        self._ino: tuple[int, int] | None = None
        self._closed = False

    # -- formatting ---------------------------------------------------------------

    def format(self, level: str, message: str, *, logger: str | None = None,
               when: datetime | None = None, **fields: Any) -> str:
        level = normalise_level(level)
        when = when or datetime.now().astimezone()
        logger = logger or self.logger
        message = str(message).replace("\n", " ")
        if self.fmt == "json":
            rec: dict[str, Any] = {
                "timestamp": when.isoformat(timespec="milliseconds"),
                "level": level,
                "logger": logger,
                "message": message,
            }
            for k, v in fields.items():
                rec[k if k not in rec else f"field_{k}"] = v
            return json.dumps(rec, default=str, ensure_ascii=False)
        stamp = when.strftime("%Y-%m-%d %H:%M:%S") + f",{when.microsecond // 1000:03d}"
        extra = "".join(f" {k}={format_value(v)}" for k, v in fields.items())
        return f"{stamp} {level} {logger}: {message}{extra}"

    # -- writing ------------------------------------------------------------------

    def write(self, level: str, message: str, **fields: Any) -> None:
        """Append one line. ``logger=`` among the fields overrides the logger name."""
        logger = fields.pop("logger", None)
        line = self.format(level, message, logger=logger, **fields)
        self.write_raw(line, level=normalise_level(level))

    def write_raw(self, line: str, *, level: str = "INFO") -> None:
        """Append an already formatted line (another program's format, e.g. MediaMTX's)."""
        line = line.replace("\n", " ")
        with self._lock:
            if self._closed:
                return  # a service still logging while the host shuts down: drop, don't crash
            fh = self._ensure_open()
            fh.write(line + "\n")
            fh.flush()
            self.lines_written += 1
        if self.journal is not None:
            self.journal.append(self.unit, line, level)

    def info(self, message: str, **fields: Any) -> None:
        self.write("INFO", message, **fields)

    def warning(self, message: str, **fields: Any) -> None:
        self.write("WARNING", message, **fields)

    def error(self, message: str, **fields: Any) -> None:
        self.write("ERROR", message, **fields)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._fh is not None:
                self._fh.close()
                self._fh = None

    def _ensure_open(self):
        # Reopen if the file was rotated away (inode changed) or deleted.
        try:
            st = os.stat(self.path)
            ident: tuple[int, int] | None = (st.st_dev, st.st_ino)
        except FileNotFoundError:
            ident = None
        if self._fh is not None and ident == self._ino:
            return self._fh
        if self._fh is not None:
            self._fh.close()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Append mode: after a truncation by someone else the next write lands at offset 0,
        # not at our old offset (which would leave a hole of NUL bytes).
        self._fh = open(self.path, "a", encoding="utf-8", buffering=1)
        st = os.fstat(self._fh.fileno())
        self._ino = (st.st_dev, st.st_ino)
        return self._fh

