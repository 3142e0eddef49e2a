"""The RPC trace: every frame in and out, on the monotonic clock, with response latencies.

It is the evidence behind a failed check (``excerpt``) and the plan's
``dry_run/artifacts/rpc_trace.json`` (``save``). Recording is cheap (a dict append, no copy,
no redaction) because it sits on every call's path; redaction happens when the trace leaves
memory (``excerpt``, ``save``), so ``entries`` itself may hold tokens and must not be logged raw.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from record.atomic import atomic_write_text

# Redaction lives in runners.redaction; JWT_RE, REDACTED and SECRET_KEYS stay importable from here.
from runners.redaction import JWT_RE, REDACTED, redact_obj
from runners.redaction import TRACE_SECRET_KEYS as SECRET_KEYS

__all__ = ["FORMAT", "JWT_RE", "REDACTED", "SECRET_KEYS", "Trace", "redact"]

FORMAT = "dryrun-rpc-trace/1"

_RAW_LIMIT = 2000  # characters of an unparseable frame kept in the trace
_EXCERPT_FRAME_LIMIT = 2000  # a frame longer than this (as JSON) is cut in excerpts
_SENT_LIMIT = 10_000  # ids kept for latency matching (timed-out calls are never answered)


def redact(obj: Any) -> Any:
    """A copy of ``obj`` with credential values (``auth_token`` and the like) and every
    JWT-looking string (also inside longer text, e.g. ``"Bearer eyJ..."``) replaced by
    ``"<redacted>"``. Never mutates ``obj``."""
    return redact_obj(obj, keys=SECRET_KEYS, jwt_re=JWT_RE)


def _kind_in(frame: dict[str, Any]) -> str:
    if "method" in frame:
        return "request" if frame.get("id") is not None else "notification"
    if "error" in frame:
        return "error"
    if "result" in frame:
        return "response"
    return "invalid"


def _raw_text(raw: str | bytes) -> str:
    if isinstance(raw, bytes):
        head = raw[:_RAW_LIMIT].decode("utf-8", errors="replace")
    else:
        head = raw[:_RAW_LIMIT]
    return head if len(raw) <= _RAW_LIMIT else head + f"... ({len(raw)} in all)"


class Trace:
    """Frames in/out of one or more RPC connections.

    Entry keys: ``t`` (time.monotonic()), ``dir`` ("out" | "in" | "meta"), ``kind``
    (request, notification, response, error, invalid, binary, or a meta kind such as
    connected/closed/timeout), ``method``, ``id``, ``size`` (characters or bytes on the wire),
    ``frame`` (parsed frame) or ``raw`` (unparseable text), ``latency_ms`` on responses,
    ``note`` when the client judged the frame (late response, unknown id...), ``conn``
    (connection number of the client, +1 per reconnect)."""

    def __init__(self, *, host: str = "", max_entries: int = 200_000):
        self.host = host
        self.entries: list[dict[str, Any]] = []
        self.dropped = 0  # oldest entries discarded to stay under max_entries
        self.max_entries = max_entries
        self.origin_mono = time.monotonic()
        self.origin_wall = time.time()
        self._sent: dict[Any, tuple[float, str]] = {}

    # -- recording (hot path) ------------------------------------------------------------

    def record_out(self, frame: dict, raw: str, *, t: float | None = None, conn: int | None = None) -> None:
        if t is None:
            t = time.monotonic()
        id_ = frame.get("id")
        method = frame.get("method")
        entry = {"t": t, "dir": "out", "kind": "request" if id_ is not None else "notification",
                 "method": method, "id": id_, "size": len(raw), "frame": frame}
        if conn is not None:
            entry["conn"] = conn
        if id_ is not None and method is not None:
            sent = self._sent
            sent[id_] = (t, method)
            if len(sent) > _SENT_LIMIT:
                del sent[next(iter(sent))]
        self._append(entry)

    def record_in(self, frame: dict | None, raw: str | bytes, *, t: float | None = None,
                  kind: str | None = None, method: str | None = None, latency_ms: float | None = None,
                  note: str | None = None, conn: int | None = None) -> None:
        """Record a received frame. ``frame`` is None when it could not be parsed (then
        ``raw`` is kept, cut to 2000 characters). Latency of a response is measured from
        the matching ``record_out`` unless the caller passes ``latency_ms``."""
        if t is None:
            t = time.monotonic()
        entry: dict[str, Any] = {"t": t, "dir": "in", "size": len(raw)}
        if isinstance(frame, dict):
            entry["kind"] = kind or _kind_in(frame)
            id_ = frame.get("id")
            entry["id"] = id_
            entry["frame"] = frame
            m = frame.get("method")
            if type(id_) in (int, str) and m is None:  # a response: match its request
                sent = self._sent.pop(id_, None)
                if sent is not None:
                    if latency_ms is None:
                        latency_ms = (t - sent[0]) * 1000.0
                    method = method or sent[1]
            entry["method"] = method or m
            if latency_ms is not None:
                entry["latency_ms"] = round(latency_ms, 3)
        else:
            entry["kind"] = kind or ("binary" if isinstance(raw, bytes) else "invalid")
            entry["method"] = method
            entry["id"] = None
            if frame is not None:  # valid JSON that is not an object (list, number...)
                entry["frame"] = frame
            else:
                entry["raw"] = _raw_text(raw)
        if note:
            entry["note"] = note
        if conn is not None:
            entry["conn"] = conn
        self._append(entry)

    def record_meta(self, kind: str, *, t: float | None = None, **fields: Any) -> None:
        """A connection-level fact: connected, closed (code, reason), reconnect, timeout..."""
        entry = {"t": time.monotonic() if t is None else t, "dir": "meta", "kind": kind}
        entry.update(fields)
        self._append(entry)

    def _append(self, entry: dict[str, Any]) -> None:
        entries = self.entries
        entries.append(entry)
        if len(entries) > self.max_entries:
            cut = max(1, self.max_entries // 10)  # trim in chunks, not one per append
            del entries[:cut]
            self.dropped += cut

    # -- leaving memory (redacted) ---------------------------------------------------------

    def _export(self, entry: dict[str, Any], *, cut_frames: bool) -> dict[str, Any]:
        out = redact(entry)
        out["t"] = round(entry["t"], 6)
        out["t_rel"] = round(entry["t"] - self.origin_mono, 6)
        out["wall"] = round(self.origin_wall + (entry["t"] - self.origin_mono), 6)
        if cut_frames and "frame" in out:
            text = json.dumps(out["frame"], default=repr)
            if len(text) > _EXCERPT_FRAME_LIMIT:
                out.pop("frame")
                out["frame_excerpt"] = text[:_EXCERPT_FRAME_LIMIT] + f"... ({len(text)} in all)"
        if self.host and "host" not in out:
            out["host"] = self.host
        return out

    def excerpt(self, last: int = 10) -> list[dict]:
        """The last ``last`` entries, redacted, big frames cut: for failure sections."""
        if last <= 0:
            return []
        return [self._export(e, cut_frames=True) for e in self.entries[-last:]]

    def document(self) -> dict[str, Any]:
        """The whole trace as the JSON document ``save`` writes (redacted)."""
        return {
            "format": FORMAT,
            "host": self.host,
            "origin_wall": self.origin_wall,
            "origin_monotonic": self.origin_mono,
            "dropped": self.dropped,
            "entries": [self._export(e, cut_frames=False) for e in self.entries],
        }

    def save(self, path: str | Path) -> None:
        """Write ``rpc_trace.json`` atomically, tokens redacted. One entry per line so the
        file greps and diffs well."""
        doc = self.document()
        entries = doc.pop("entries")
        head = json.dumps(doc, default=repr)[:-1]  # reopen the object to append entries
        body = ",\n".join(json.dumps(e, default=repr, ensure_ascii=False) for e in entries)
        text = f'{head}, "entries": [\n{body}\n]}}\n' if entries else f'{head}, "entries": []}}\n'
        atomic_write_text(path, text)

    def clear(self) -> None:
        self.entries.clear()
        self._sent.clear()
        self.dropped = 0
