"""``events.log.jsonl``: the structured event stream, one JSON object per line.

Every line carries the seed-002 fields ``timestamp`` (ISO 8601 UTC), ``event`` (its name)
and ``context`` (correlation: run id, label, host, check, baseline, env SHA), plus the
contract's ``kind``, ``ts`` and ``run_id`` and the event's own fields. Runner events
(``runners.events``) and record events (``triage_added``, ``verify_result``...) share the
stream; metrics are computed from it alone.

Durability: each append is one ``write`` of a whole line under an exclusive ``flock`` on
the log itself, then ``fsync``; an append returns only when the line is on disk. A writer
killed mid-line leaves a torn tail without its newline: readers skip (and count) it, and
the next append cuts it off first, so the file never holds a torn line in the middle.
The log's own lock (not the dry_run/ lock) keeps a running engine from waiting on a long
record operation such as building the evidence pack.

Secrets: values under secret-sounding keys, JWT-shaped strings and the configured secret
values are written as ``<redacted>``.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import fcntl
import json
import os
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from record.errors import RecordError
from record.redact import redact

_CONTEXT_KEYS = ("label", "host", "check", "attempt")


def new_correlation_id(prefix: str = "op") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def iso(ts: float) -> str:
    return _dt.datetime.fromtimestamp(ts, tz=_dt.timezone.utc).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def _to_dict(event: Any) -> dict[str, Any]:
    if isinstance(event, Mapping):
        d = dict(event)
    elif dataclasses.is_dataclass(event) and hasattr(event, "to_dict"):
        d = event.to_dict()
    else:
        raise TypeError(f"EventsLog.append: expected an event or a dict, got {type(event).__name__}")
    name = d.get("kind") or d.get("event")
    if not name or not isinstance(name, str):
        raise ValueError("EventsLog.append: an event needs a 'kind' (or 'event') name")
    d["kind"] = d["event"] = name
    return d


class EventsLog:
    """Appender for one ``events.log.jsonl``.

    ``run_id``: correlation id stamped on lines that carry none; ``context``: fields merged
    into every line's ``context`` (e.g. baseline, env_sha); ``secrets``: values to redact."""

    def __init__(self, path: Path | str, *, run_id: str = "", context: Mapping[str, Any] | None = None,
                 secrets: Iterable[str] = (), fsync: bool = True):
        self.path = Path(path)
        self.run_id = run_id
        self.context = dict(context or {})
        self.secrets = tuple(s for s in secrets if s)
        self.fsync = fsync

    def line(self, event: Any, **context: Any) -> dict[str, Any]:
        """The dict that ``append`` would write (redacted)."""
        d = _to_dict(event)
        ts = float(d.get("ts") or time.time())
        d["ts"] = ts
        d.setdefault("run_id", self.run_id)
        if not d["run_id"]:
            d["run_id"] = self.run_id
        ctx = {k: d[k] for k in _CONTEXT_KEYS if d.get(k) not in (None, "")}
        ctx.update(self.context)
        ctx.update(d.pop("context", None) or {})
        ctx.update(context)
        if d["run_id"]:
            ctx["run_id"] = d["run_id"]
        out = {"timestamp": iso(ts), "event": d["event"], "context": ctx}
        out.update((k, v) for k, v in d.items() if k not in out)
        return redact(out, self.secrets)

    def append(self, event: Any, **context: Any) -> dict[str, Any]:
        """Write one event line; returns it once it is on disk."""
        line = self.line(event, **context)
        self._write([line])
        return line

    def append_many(self, events: Iterable[Any]) -> int:
        """Write several events with one lock and one fsync (for high-rate streams)."""
        lines = [self.line(e) for e in events]
        if lines:
            self._write(lines)
        return len(lines)

    def _write(self, lines: list[dict[str, Any]]) -> None:
        data = "".join(json.dumps(ln, ensure_ascii=False, default=str, separators=(",", ":")) + "\n"
                       for ln in lines).encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            _cut_torn_tail(fd)
            view = memoryview(data)
            while view:  # a regular file takes it whole; loop only for robustness
                n = os.write(fd, view)
                view = view[n:]
            if self.fsync:
                os.fsync(fd)
        finally:
            os.close(fd)  # also drops the flock


def _cut_torn_tail(fd: int) -> None:
    """Drop a last line that has no newline (its writer died mid-write; it was never acknowledged)."""
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return
    pos, block = size, 65536
    while pos > 0:
        start = max(0, pos - block)
        chunk = os.pread(fd, pos - start, start)
        i = chunk.rfind(b"\n")
        if i >= 0:
            os.ftruncate(fd, start + i + 1)
            return
        pos = start
    os.ftruncate(fd, 0)


class EventsReader:
    """Iterate the events of a log. ``torn`` counts a skipped torn last line; in non-strict
    mode ``bad_lines`` lists the numbers of other unparseable lines (strict mode raises a
    RecordError naming the file and line)."""

    def __init__(self, path: Path | str, *, strict: bool = True):
        self.path = Path(path)
        self.strict = strict
        self.torn = 0
        self.bad_lines: list[int] = []
        self.lines = 0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        self.torn, self.bad_lines, self.lines = 0, [], 0
        try:
            f = open(self.path, "rb")
        except FileNotFoundError:
            return
        with f:
            for n, raw in enumerate(f, start=1):
                self.lines = n
                if not raw.endswith(b"\n"):
                    self.torn += 1  # the last line, cut by a kill: never acknowledged
                    return
                if not raw.strip():
                    continue
                try:
                    obj = json.loads(raw)
                    if not isinstance(obj, dict):
                        raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
                except (ValueError, UnicodeDecodeError) as e:
                    if self.strict:
                        raise RecordError(self.path, f"not a JSON event line ({e})", line=n,
                                          hint="fix or delete that line; the rest of the log is intact") from None
                    self.bad_lines.append(n)
                    continue
                yield obj


def read_events(path: Path | str, *, strict: bool = True) -> EventsReader:
    """The events of ``path`` (an iterable; see :class:`EventsReader`). A missing file has none."""
    return EventsReader(path, strict=strict)
