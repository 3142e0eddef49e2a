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
import hashlib
import io
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
                obj = _event_or_error(self.path, raw, n)
                if isinstance(obj, RecordError):
                    if self.strict:
                        raise obj
                    self.bad_lines.append(n)
                    continue
                yield obj


def _event_or_error(path: Path, raw: bytes, n: int) -> dict[str, Any] | RecordError:
    """Line ``n`` as an event object, or the error naming the file and line (the one rule
    both readers apply to a line)."""
    try:
        obj = json.loads(raw)
        if not isinstance(obj, dict):
            raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    except (ValueError, UnicodeDecodeError) as e:
        return RecordError(path, f"not a JSON event line ({e})", line=n,
                           hint="fix or delete that line; the rest of the log is intact")
    return obj


def read_events(path: Path | str, *, strict: bool = True) -> EventsReader:
    """The events of ``path`` (an iterable; see :class:`EventsReader`). A missing file has none."""
    return EventsReader(path, strict=strict)


class TailRead:
    """What one :meth:`EventsTail.read` found.

    ``reset``: the file was replaced, truncated or removed since the previous read: drop
    everything derived from earlier reads (``events`` then start from the top). ``events``:
    the complete lines appended since, parsed. ``error``: strict mode, the first line that is
    not a JSON object (a ``RecordError`` naming the file and line), reported again by every
    read until the file changes. ``more``: a ``max_bytes`` read stopped early: read again."""

    __slots__ = ("reset", "events", "error", "more")

    def __init__(self, reset: bool, events: list[dict[str, Any]], error: RecordError | None = None,
                 more: bool = False):
        self.reset, self.events, self.error, self.more = reset, events, error, more


class EventsTail:
    """Incremental reader of one events log: each :meth:`read` parses only the complete
    lines appended since the previous one, so following a log that grows for days costs what
    was appended, not the whole file.

    It remembers the byte offset after the last complete line it consumed, the file's
    identity (device, inode), size and mtime, its first bytes and the bytes just before the
    offset. A torn last line (no newline yet: a writer mid-append, or killed) is never
    consumed; it is read again next time and counted in ``torn`` meanwhile, like
    :class:`EventsReader` does. The file counts as *replaced* (``reset``, then a full
    re-read) when its inode changed, it got shorter than the offset, it changed without
    growing (same size, new mtime: an in-place rewrite), or its first bytes or the bytes
    before the offset differ from what was read (an edit or restore through the same inode).
    Not noticed: an in-place edit that keeps the length of what was read and changes none of
    the compared bytes, made between two reads that also saw an append (the append explains
    the new mtime); the log is append-only by contract, and such an edit is read with the
    next replacement or restart.

    ``lines`` (lines consumed, for error line numbers), ``events`` (objects parsed),
    ``torn`` and ``sha256`` (of the whole file as last read, torn tail included; "" when the
    file does not exist) describe the file as of the last read. Not thread-safe: one reader
    per caller, or a lock around it."""

    ANCHOR = 4096  # bytes before the offset compared on each read
    HEAD = 256  # first bytes of the file compared on each read

    def __init__(self, path: Path | str, *, strict: bool = True):
        self.path = Path(path)
        self.strict = strict
        self._clear()

    def _clear(self) -> None:
        self.offset = 0
        self.lines = 0
        self.events = 0
        self.torn = 0
        self.bad_lines: list[int] = []
        self.exists = False
        self._ident: tuple[int, int] | None = None
        self._size = -1  # size and mtime at the end of the last complete read (-1: read again)
        self._mtime = -1
        self._hash = hashlib.sha256()  # of bytes[0:offset]
        self._sha = ""
        self._head = b""
        self._anchor = b""
        self._error: RecordError | None = None
        self._bad: tuple[int, bytes] | None = None  # (offset, bytes) of the bad line in strict mode

    @property
    def sha256(self) -> str:
        return self._sha

    @property
    def error(self) -> RecordError | None:
        return self._error

    def read(self, max_bytes: int | None = None) -> TailRead:
        """What was appended since the last read (see the class doc). ``max_bytes`` bounds
        one read (a cold read of a large log in slices): ``more`` says to call again."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            had = self.exists or self.offset > 0
            self._clear()
            return TailRead(had, [])
        try:
            st = os.fstat(fd)
            reset = False
            if self.exists and not self._same_file(fd, st):
                self._clear()
                reset = True
            self.exists, self._ident = True, (st.st_dev, st.st_ino)
            if self._error is not None:  # stuck on a bad line until the file changes under it
                return TailRead(reset, [], self._error)
            if st.st_size == self._size and st.st_mtime_ns == self._mtime:
                return TailRead(reset, [])  # nothing new
            return self._read_from(fd, st, reset, max_bytes)
        finally:
            os.close(fd)

    def _same_file(self, fd: int, st: os.stat_result) -> bool:
        if (st.st_dev, st.st_ino) != self._ident or st.st_size < self.offset:
            return False
        if st.st_size == self._size and st.st_mtime_ns != self._mtime:
            return False  # rewritten in place without growing: appends always grow the file
        if self._anchor and _pread(fd, len(self._anchor), self.offset - len(self._anchor)) != self._anchor:
            return False
        if self._head and _pread(fd, len(self._head), 0) != self._head:
            return False
        if self._bad is not None and _pread(fd, len(self._bad[1]), self._bad[0]) != self._bad[1]:
            return False  # the bad line was edited: read it all again
        return True

    def _read_from(self, fd: int, st: os.stat_result, reset: bool, max_bytes: int | None) -> TailRead:
        avail = st.st_size - self.offset
        n = avail if not max_bytes or avail <= max_bytes else max_bytes
        data = _pread(fd, n, self.offset)
        end = data.rfind(b"\n")
        if end < 0 and n < avail:  # one line longer than max_bytes: take the rest in one go
            n = avail
            data = _pread(fd, n, self.offset)
            end = data.rfind(b"\n")
        more = n < avail and len(data) == n
        complete = data[: end + 1]
        events: list[dict[str, Any]] = []
        used = self._parse(complete, events)
        self._consume(complete[:used])
        if self._error is not None:
            self._bad = (self.offset, complete[used: complete.index(b"\n", used) + 1])
            self._size, self._mtime = st.st_size, st.st_mtime_ns
            return TailRead(reset, events, self._error)
        if more:
            self._size = -1  # not at the end yet: the next read must not take the "nothing new" path
            return TailRead(reset, events, more=True)
        tail = data[end + 1:]
        self.torn = 1 if tail else 0
        if tail:
            h = self._hash.copy()
            h.update(tail)
            self._sha = h.hexdigest()
        else:
            self._sha = self._hash.hexdigest()
        self._size, self._mtime = st.st_size, st.st_mtime_ns
        return TailRead(reset, events)

    def _parse(self, complete: bytes, out: list[dict[str, Any]]) -> int:
        """Parse newline-terminated lines into ``out``; returns the bytes consumed (all of
        them, or up to the first bad line in strict mode, which sets ``_error``).

        Fast path: the slice is decoded once and each line scanned in place by the json
        module's scanner (half the cost of ``json.loads`` per line). A line it does not take
        cleanly (not a lone JSON object, a BOM, anything odd) goes through ``_parse_line``,
        which is exactly :class:`EventsReader`'s per-line parse; so is a slice that is not
        valid UTF-8."""
        try:
            text = complete.decode("utf-8")
        except UnicodeDecodeError:
            used = 0
            for raw in io.BytesIO(complete):  # splits on b"\n" only, like iterating the file
                if not self._parse_line(raw, out):
                    return used
                used += len(raw)
            return used
        scan = _SCAN
        a = 0
        find = text.find
        while True:
            b = find("\n", a)
            if b < 0:
                return len(complete)
            i = a
            while i < b and text[i] in _JSON_SPACE:
                i += 1
            obj = None
            if i < b:
                try:
                    obj, end = scan(text, i)
                except (StopIteration, ValueError):
                    obj = None
                else:
                    if end > b or (end < b and text[end:b].strip(_JSON_SPACE)) or type(obj) is not dict:
                        obj = None
            if obj is not None:
                out.append(obj)
                self.events += 1
                self.lines += 1
            elif not self._parse_line(text[a:b + 1].encode("utf-8"), out):
                # blank, or anything the fast path does not take, went by the exact per-line rules: a bad line
                return len(complete) - len(text[a:].encode("utf-8"))
            a = b + 1

    def _parse_line(self, raw: bytes, out: list[dict[str, Any]]) -> bool:
        """One newline-terminated line, as :class:`EventsReader` takes it; False (and
        ``_error`` set) on a bad line in strict mode."""
        n = self.lines + 1
        if raw.strip():
            obj = _event_or_error(self.path, raw, n)
            if not isinstance(obj, RecordError):
                out.append(obj)
                self.events += 1
            elif self.strict:
                self._error = obj
                return False
            else:
                self.bad_lines.append(n)
        self.lines = n
        return True

    def _consume(self, data: bytes) -> None:
        if not data:
            return
        self._hash.update(data)
        self.offset += len(data)
        if len(self._head) < self.HEAD:
            self._head = (self._head + data[: self.HEAD - len(self._head)])
        self._anchor = (self._anchor + data[-self.ANCHOR:])[-self.ANCHOR:]


_SCAN = json.JSONDecoder().scan_once  # the C scanner json.loads uses: (obj, end) from a str at an index
_JSON_SPACE = " \t\r"  # JSON whitespace within a line (json.loads' [ \t\n\r], the newline ends the line)


def _pread(fd: int, n: int, offset: int) -> bytes:
    """Up to ``n`` bytes at ``offset`` (short only at the end of the file)."""
    parts: list[bytes] = []
    while n > 0:
        b = os.pread(fd, n, offset)
        if not b:
            break
        parts.append(b)
        n -= len(b)
        offset += len(b)
    return b"".join(parts) if len(parts) != 1 else parts[0]
