"""Failure attribution: did an injected fault (the simulator's chaos) cause this failure?

The simulator logs every fault it injects as ``CHAOS fault=<name> op=<op> id=<request id>``
in the host's service log (plain text for the current service, JSON lines for legacy). On
a failure the engine fetches the log lines of the check's time window (tail of the log
file over SSH, or ``journalctl`` for a journal source) and looks for markers on the
operations this check performed. A match makes the failure's fault ``chaos:<name>`` and
puts the lines in the failure section.

Matching, most specific first: a marker whose op is an RPC method this check called with
the same request id; then one on a method it called; then one on a non-RPC operation the
check exercises (``snapshot``, ``recording``, ``discovery``). Markers of other checks'
operations running concurrently on the host never match.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from datetime import datetime
from typing import Any

MARKER_RE = re.compile(r"CHAOS fault=(?P<fault>\S+) op=(?P<op>\S+)(?: id=(?P<id>\"(?:[^\"\\]|\\.)*\"|\S+))?")
_PLAIN_TS = re.compile(r"^(\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d)(?:[,.](\d{1,6}))?")

TAIL_LINES = 3000  # enough for a check's window on a busy host; bounded so a fetch stays quick
WINDOW_SLACK = 1.0  # s before/after the check: clocks of loopback/LAN hosts agree to well under this


@dataclass(frozen=True)
class Marker:
    fault: str
    op: str
    id: str
    ts: float | None
    line: str


def parse_marker(line: str) -> dict[str, str] | None:
    m = MARKER_RE.search(line)
    if not m:
        return None
    rid = m.group("id") or "-"
    if rid.startswith('"'):
        try:
            rid = json.loads(rid)
        except ValueError:
            pass
    return {"fault": m.group("fault"), "op": m.group("op"), "id": str(rid)}


def line_time(line: str) -> float | None:
    """Wall time of a service-log line: JSON ``timestamp`` (legacy) or a leading
    ``YYYY-MM-DD HH:MM:SS,mmm`` in local time (current). None if it has neither."""
    s = line.lstrip()
    if s.startswith("{"):
        try:
            rec = json.loads(s)
        except ValueError:
            return None
        ts = rec.get("timestamp") if isinstance(rec, dict) else None
        if isinstance(ts, (int, float)):
            return float(ts)
        if isinstance(ts, str):
            try:
                return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
            except ValueError:
                return None
        return None
    m = _PLAIN_TS.match(s)
    if not m:
        return None
    try:
        base = datetime.strptime(m.group(1).replace("T", " "), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
    frac = m.group(2) or "0"
    return base.timestamp() + int(frac) / 10 ** len(frac)


def markers_in(lines: list[str], start: float, end: float) -> list[Marker]:
    """CHAOS markers in lines whose time is inside [start - slack, end + slack] (lines
    without a time are kept: better a visible marker than a silent miss)."""
    out: list[Marker] = []
    for line in lines:
        text = line
        if line.lstrip().startswith("{"):
            try:
                rec = json.loads(line)
                if isinstance(rec, dict):
                    text = " ".join(str(v) for v in rec.values())
            except ValueError:
                pass
        p = parse_marker(text)
        if not p:
            continue
        ts = line_time(line)
        if ts is not None and not (start - WINDOW_SLACK <= ts <= end + WINDOW_SLACK):
            continue
        out.append(Marker(p["fault"], p["op"], p["id"], ts, line))
    return out


def window_lines(lines: list[str], start: float, end: float) -> list[str]:
    """Lines inside the window (untimed lines follow the last timed one's verdict)."""
    keep: list[str] = []
    inside = False
    for line in lines:
        ts = line_time(line)
        if ts is not None:
            inside = start - WINDOW_SLACK <= ts <= end + WINDOW_SLACK
        if inside:
            keep.append(line)
    return keep


# How a request failed -> the injected faults that produce it.
HOW_FAULTS: dict[str, frozenset[str]] = {
    "error": frozenset({"error"}),
    "timeout": frozenset({"delay"}),
    "no_response": frozenset({"drop", "delay"}),  # a drop, or a delay cut short by the check's own end
}


def attribute(markers: list[Marker], *, failed: list[tuple[str, str, str]], requests: set[tuple[str, str]],
              ops: set[str], fault: str = "") -> Marker | None:
    """The marker that explains a failure, or None.

    1. a marker on one of the check's failed requests (same method and request id), whose
       fault matches how the request failed (error response / timeout / no response);
    2. a marker on a non-RPC operation the check exercised (recording, snapshot,
       discovery), preferring one whose id is a request id of this check.
    Request ids are per connection, so a marker of another check's request can share an
    id: requiring the request to have *failed here* in the way the fault causes keeps
    other checks' faults out."""
    rpc = [m for m in markers if m.op.startswith("rpc:")]
    for method, rid, how in failed:
        cands = [m for m in rpc if m.op[4:] == method and m.id == rid]
        good = [m for m in cands if m.fault in HOW_FAULTS.get(how, frozenset())]
        if good:
            return good[-1]
    ids = {rid for _, rid in requests}
    other = [m for m in markers if not m.op.startswith("rpc:") and m.op in ops]
    for m in reversed(other):
        if m.id in ids:
            return m
    return other[-1] if other else None


def log_fetch_command(source: Any, since: float) -> str | None:
    """The remote command that prints a log source's recent lines, or None if the source
    kind cannot be fetched over SSH (``command`` sources are streams, not history)."""
    if source.kind == "file" and source.path:
        return f"tail -n {TAIL_LINES} {shlex.quote(source.path)}"
    if source.kind == "journal" and source.unit:
        return (f"journalctl -u {shlex.quote(source.unit)} --since @{int(since - WINDOW_SLACK - 1)} "
                f"--no-pager -o cat -n {TAIL_LINES}")
    return None


def pick_service_log(logs: tuple[Any, ...]) -> Any | None:
    """The host's camera-service log among its sources: a name or path mentioning the
    camera service first, else the first fetchable source."""
    fetchable = [s for s in logs if s.kind in ("file", "journal", "local")]
    for s in fetchable:
        if "camera" in f"{s.name} {s.path} {s.unit}".lower():
            return s
    return fetchable[0] if fetchable else None
