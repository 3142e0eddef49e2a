"""Log lines -> (timestamp, level); safe text for a terminal.

The camera service writes two formats (``camera-service-api.md``): plain lines
(current, ``2026-11-21 10:00:00,123 INFO camera_service.api: msg k=v``) and JSON lines
(legacy, ``{"timestamp": ..., "level": ..., "message": ...}``). MediaMTX writes
``2026/11/21 10:00:00 INF [RTSP] ...``; syslog and ``journalctl -o short`` write
``Nov 21 10:00:00 host unit[pid]: msg``; ``journalctl -o json`` writes objects with
``__REALTIME_TIMESTAMP`` / ``PRIORITY`` / ``MESSAGE``. Everything else is kept as-is
with no timestamp (the buffer then uses the previous line's time, so a traceback stays
under its header).

Remote bytes never reach the operator's terminal raw: :func:`safe_decode` replaces
invalid UTF-8 with visible ``\\xNN`` escapes and :func:`neutralise` turns control and
escape characters (ESC, CR, C1, bidi overrides) into visible stand-ins, so a log line
can neither move the cursor nor recolour the screen nor reorder what is shown.

Hot path: ~1-3 us per line (one anchored regex, a per-minute epoch cache), because the
pane ingests tens of thousands of lines per second on the UI's event loop.
"""

from __future__ import annotations

import calendar
import json
import re
import time
from dataclasses import dataclass
from typing import Any

# ----------------------------------------------------------------------------- levels
# Python logging's numbers, plus TRACE and NOTICE; 0 = the line names no level.
UNKNOWN, TRACE, DEBUG, INFO, NOTICE, WARNING, ERROR, CRITICAL = 0, 5, 10, 20, 25, 30, 40, 50

LEVEL_NAMES = {UNKNOWN: "", TRACE: "TRACE", DEBUG: "DEBUG", INFO: "INFO", NOTICE: "NOTICE",
               WARNING: "WARNING", ERROR: "ERROR", CRITICAL: "CRITICAL"}
# Three letters, always shown: the level is never carried by colour alone.
LEVEL_TAGS = {UNKNOWN: "   ", TRACE: "TRC", DEBUG: "DBG", INFO: "INF", NOTICE: "NTC",
              WARNING: "WRN", ERROR: "ERR", CRITICAL: "CRT"}

_LEVEL_WORDS = {
    "TRACE": TRACE, "TRC": TRACE,
    "DEBUG": DEBUG, "DBG": DEBUG, "DEB": DEBUG, "D": DEBUG,
    "INFO": INFO, "INF": INFO, "INFORMATION": INFO, "I": INFO,
    "NOTICE": NOTICE, "NTC": NOTICE,
    "WARNING": WARNING, "WARN": WARNING, "WAR": WARNING, "WRN": WARNING, "W": WARNING,
    "ERROR": ERROR, "ERR": ERROR, "E": ERROR,
    "CRITICAL": CRITICAL, "CRIT": CRITICAL, "CRT": CRITICAL, "FATAL": CRITICAL, "FTL": CRITICAL,
    "PANIC": CRITICAL, "EMERG": CRITICAL, "ALERT": CRITICAL, "C": CRITICAL, "F": CRITICAL,
}
# syslog / journald PRIORITY 0..7
_SYSLOG_PRIORITY = {0: CRITICAL, 1: CRITICAL, 2: CRITICAL, 3: ERROR, 4: WARNING, 5: NOTICE, 6: INFO, 7: DEBUG}


def level_from_name(name: Any) -> int:
    """``"warn"``, ``"WARNING"``, ``"E"``, ``4`` (a syslog priority) -> a level number; UNKNOWN if unsure."""
    if isinstance(name, bool):
        return UNKNOWN
    if isinstance(name, int):
        return _SYSLOG_PRIORITY.get(name, UNKNOWN)
    if not isinstance(name, str):
        return UNKNOWN
    s = name.strip()
    if s.isdigit():
        return _SYSLOG_PRIORITY.get(int(s), UNKNOWN)
    return _LEVEL_WORDS.get(s.upper(), UNKNOWN)


def level_from_text(s: str) -> int | None:
    """Parse an operator's level name for a filter (``warn``, ``error``...); None if unknown."""
    lv = level_from_name(s)
    return lv if lv != UNKNOWN else None


# ----------------------------------------------------------------------------- safe text
# C0 controls except TAB, DEL, C1 controls, and the bidi embedding/override/isolate
# characters (a "Trojan Source" line could otherwise display reordered text).
_UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_SAFE_MAP: dict[int, str] = {c: chr(0x2400 + c) for c in range(0x20) if c != 0x09}  # ␀ ... ␛ ...
_SAFE_MAP[0x7F] = "\u2421"  # ␡
_SAFE_MAP.update({c: f"\\x{c:02x}" for c in range(0x80, 0xA0)})
_SAFE_MAP.update({c: f"\\u{c:04x}" for c in (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F),
                                               *range(0x2066, 0x206A))})


def neutralise(text: str) -> str:
    """Replace every character that could drive the terminal with a visible stand-in."""
    if _UNSAFE.search(text) is None:  # the common case costs one C-level scan
        return text
    return text.translate(_SAFE_MAP)


def is_safe(text: str) -> bool:
    return _UNSAFE.search(text) is None


def safe_decode(raw: bytes) -> str:
    """Bytes from a remote host -> text that is safe to show: invalid UTF-8 becomes
    ``\\xNN`` (visible, and nothing is silently lost), controls become stand-ins."""
    return neutralise(raw.decode("utf-8", "backslashreplace"))


# ----------------------------------------------------------------------------- timestamps
# One anchored regex covers ISO 8601 (T or space, '.' or ',' fraction, Z / +hh:mm / +hhmm),
# MediaMTX's 2026/11/21 and an optional '[' in front.
_ISO = re.compile(
    r"\[?(\d{4})[-/](\d\d)[-/](\d\d)[T ](\d\d):(\d\d):(\d\d)(?:[.,](\d{1,9}))?"
    r"(?:\s?(Z|[+-]\d\d(?::?\d\d)?)(?![\d:]))?\]?"
)
_SYSLOG = re.compile(r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ([ \d]\d) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?")
_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
                                       "Oct", "Nov", "Dec"), 1)}
# Words that name a level right after the timestamp (upper case only: "error" inside a
# message is not a level), or logfmt ``level=warn``.
_LEVEL_TOKEN = re.compile(
    r"\b(TRACE|TRC|DEBUG|DBG|DEB|INFO|INF|NOTICE|WARNING|WARN|WAR|WRN|ERROR|ERR|CRITICAL|CRIT|FATAL|FTL|PANIC|EMERG|ALERT)\b")
_LEVEL_TOKEN_LOGFMT = re.compile(r"\b(?:level|lvl|severity)=\"?([A-Za-z]+)")
_LEVEL_WINDOW = 96  # chars after the timestamp searched for the level

_minute_cache: dict[tuple, float] = {}


def _epoch_minute(y: int, mo: int, d: int, h: int, mi: int, tz: str | None) -> float:
    """Seconds since the epoch at the start of that minute. Naive times are the lab
    machine's local time (the hosts of one lab share a zone; merging only needs order)."""
    key = (y, mo, d, h, mi, tz)
    v = _minute_cache.get(key)
    if v is None:
        if tz is None:
            v = time.mktime((y, mo, d, h, mi, 0, 0, 0, -1))
        else:
            v = _utc_minute(y, mo, d, h, mi) - _tz_seconds(tz)
        if len(_minute_cache) > 4096:  # a long-running console sees a new minute every minute
            _minute_cache.clear()
        _minute_cache[key] = v
    return v


def _utc_minute(y: int, mo: int, d: int, h: int, mi: int) -> float:
    return float(calendar.timegm((y, mo, d, h, mi, 0, 0, 0, 0)))


def _tz_seconds(tz: str) -> int:
    if tz == "Z":
        return 0
    sign = -1 if tz[0] == "-" else 1
    digits = tz[1:].replace(":", "")
    hh = int(digits[:2])
    mm = int(digits[2:4]) if len(digits) >= 4 else 0
    return sign * (hh * 3600 + mm * 60)


def _frac(f: str | None) -> float:
    return int(f) / (10 ** len(f)) if f else 0.0


def parse_timestamp(text: str, pos: int = 0) -> tuple[float | None, int]:
    """(epoch seconds or None, index just after the timestamp) for a timestamp at ``pos``."""
    m = _ISO.match(text, pos)
    if m is not None:
        y, mo, d, h, mi, s, frac, tz = m.groups()
        if not ("01" <= mo <= "12" and "01" <= d <= "31" and h <= "23" and mi <= "59" and s <= "60"):
            return None, pos  # looks like a time but is not one (mktime would "normalise" it)
        try:
            base = _epoch_minute(int(y), int(mo), int(d), int(h), int(mi), tz)
        except (ValueError, OverflowError):
            return None, pos
        return base + int(s) + _frac(frac), m.end()
    m = _SYSLOG.match(text, pos)
    if m is not None:
        mon, d, h, mi, s, frac = m.groups()
        if not (h <= "23" and mi <= "59" and s <= "60" and d.strip() not in ("", "0")):
            return None, pos
        now = time.localtime()
        year = now.tm_year
        # syslog lines carry no year: a December line read in January is last year's
        if _MONTHS[mon] > now.tm_mon + 1:
            year -= 1
        try:
            base = _epoch_minute(year, _MONTHS[mon], int(d), int(h), int(mi), None)
        except (ValueError, OverflowError):
            return None, pos
        return base + int(s) + _frac(frac), m.end()
    return None, pos


def parse_iso(value: str) -> float | None:
    """An ISO 8601 string (as JSON logs carry) -> epoch seconds, or None."""
    ts, end = parse_timestamp(value.strip())
    return ts if end else None


def _epoch_number(v: float) -> float | None:
    """A number that is a timestamp in s, ms, us or ns -> seconds (by magnitude)."""
    if v <= 0:
        return None
    for scale in (1.0, 1e3, 1e6, 1e9):
        if v / scale < 1e11:  # < year 5138 in seconds
            return v / scale
    return None


# ----------------------------------------------------------------------------- lines
@dataclass(slots=True)
class Parsed:
    ts: float | None
    level: int
    is_json: bool = False


_TS_KEYS = ("timestamp", "time", "ts", "@timestamp", "asctime", "datetime", "date", "t")
_LEVEL_KEYS = ("level", "levelname", "severity", "lvl", "loglevel", "log.level", "PRIORITY", "priority")
_MSG_KEYS = ("message", "msg", "MESSAGE", "text", "event")


# The shape most lines have (the current service, most Go/Python loggers):
# "YYYY-MM-DD HH:MM:SS[,.]fff[zone] LEVEL ...". One match and two dict lookups.
_FAST = re.compile(
    r"(\d{4}-[01]\d-[0-3]\d[T ][0-2]\d:[0-5]\d):([0-6]\d)(?:[.,](\d{1,9}))?(Z|[+-]\d\d:?\d\d)? "
    r"\[?(TRACE|DEBUG|INFO|NOTICE|WARNING|WARN|ERROR|CRITICAL|FATAL|DBG|INF|WRN|ERR|CRT)\b")
_fast_minutes: dict[str, float] = {}
_FRAC = {n: 10.0 ** -n for n in range(1, 10)}


def _fast(text: str) -> Parsed | None:
    m = _FAST.match(text)
    if m is None:
        return None
    minute, sec, frac, tz, level = m.groups()
    key = minute if tz is None else minute + tz
    base = _fast_minutes.get(key)
    if base is None:
        y, mo, d, h, mi = int(minute[0:4]), int(minute[5:7]), int(minute[8:10]), int(minute[11:13]), int(minute[14:16])
        if not (1 <= mo <= 12 and 1 <= d <= 31 and h <= 23):
            return None
        try:
            base = _epoch_minute(y, mo, d, h, mi, tz)
        except (ValueError, OverflowError):
            return None
        if len(_fast_minutes) > 4096:
            _fast_minutes.clear()
        _fast_minutes[key] = base
    ts = base + int(sec)
    if frac:
        ts += int(frac) * _FRAC[len(frac)]
    return Parsed(ts, _LEVEL_WORDS[level], False)


def parse_line(text: str, fmt: str = "auto") -> Parsed:
    """Timestamp and level of one line. ``fmt``: "auto" (JSON if it looks like an
    object), "plain" or "json" (a line that is not a JSON object falls back to plain)."""
    first = text[:1]
    if first == "{":
        if fmt != "plain":
            obj = _load_object(text)
            if obj is not None:
                return _parse_object(obj)
    elif "0" <= first <= "9":
        p = _fast(text)
        if p is not None:
            return p
    return _parse_plain(text)


def _load_object(text: str) -> dict | None:
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return obj if isinstance(obj, dict) else None


def _parse_object(obj: dict) -> Parsed:
    ts: float | None = None
    rt = obj.get("__REALTIME_TIMESTAMP")  # journalctl -o json: microseconds, as a string
    if rt is not None:
        try:
            ts = int(rt) / 1e6
        except (TypeError, ValueError):
            ts = None
    if ts is None:
        for k in _TS_KEYS:
            v = obj.get(k)
            if v is None:
                continue
            if isinstance(v, str):
                ts = parse_iso(v)
            elif isinstance(v, (int, float)) and not isinstance(v, bool):
                ts = _epoch_number(float(v))
            if ts is not None:
                break
    level = UNKNOWN
    for k in _LEVEL_KEYS:
        v = obj.get(k)
        if v is not None:
            level = level_from_name(v)
            if level:
                break
    if level == UNKNOWN:
        msg = obj.get("MESSAGE") or obj.get("message") or obj.get("msg")
        if isinstance(msg, str) and msg:  # a journal entry wrapping a service line
            level = _parse_plain(msg).level
    return Parsed(ts, level, True)


_LOGFMT_TIME = re.compile(r"(?:time|ts|t)=\"?")


def _parse_plain(text: str) -> Parsed:
    ts, end = parse_timestamp(text)
    if ts is None and text[:1] == "t":  # logfmt: time=2026-11-21T10:00:00Z level=info msg=...
        m = _LOGFMT_TIME.match(text)
        if m is not None:
            ts, end2 = parse_timestamp(text, m.end())
            end = end2 if ts is not None else 0
    window = text[end:end + _LEVEL_WINDOW]
    m = _LEVEL_TOKEN.search(window)
    level = UNKNOWN
    if m is not None:
        level = _LEVEL_WORDS[m.group(1)]
    if level == UNKNOWN:
        m2 = _LEVEL_TOKEN_LOGFMT.search(window)
        if m2 is not None:
            level = level_from_name(m2.group(1))
    return Parsed(ts, level, False)


# ----------------------------------------------------------------------------- display
def json_display(text: str) -> str | None:
    """A JSON log line as a reader wants it: ``logger: message k=v ...`` (time and level
    are shown in their own columns). None if the line is not a JSON object."""
    obj = _load_object(text) if text[:1] == "{" else None
    if obj is None:
        return None
    if "__REALTIME_TIMESTAMP" in obj or "__CURSOR" in obj:
        msg = obj.get("MESSAGE", "")
        if isinstance(msg, list):  # journald gives binary messages as a byte array
            try:
                msg = safe_decode(bytes(int(b) & 0xFF for b in msg))
            except (TypeError, ValueError):
                msg = str(msg)
        ident = obj.get("SYSLOG_IDENTIFIER") or obj.get("_SYSTEMD_UNIT") or ""
        return neutralise(f"{ident}: {msg}" if ident else str(msg))
    skip = set(_TS_KEYS) | set(_LEVEL_KEYS)
    msg = ""
    for k in _MSG_KEYS:
        if isinstance(obj.get(k), str):
            msg = obj[k]
            skip.add(k)
            break
    logger = obj.get("logger") or obj.get("name") or obj.get("caller") or ""
    skip.update(("logger", "name", "caller"))
    extra = " ".join(f"{k}={_fmt_value(v)}" for k, v in obj.items() if k not in skip)
    out = f"{logger}: {msg}" if logger else msg
    if extra:
        out = f"{out} {extra}" if out else extra
    return neutralise(out)


def _fmt_value(v: Any) -> str:
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False) if (not v or any(c in v for c in ' "=')) else v
    return json.dumps(v, ensure_ascii=False, default=str, separators=(",", ":"))


def strip_prefix(text: str) -> str:
    """A plain line without its leading timestamp (the pane shows time in a column)."""
    ts, end = parse_timestamp(text)
    if ts is None:
        return text
    return text[end:].lstrip(" ")


# ----------------------------------------------------------------------------- ids
# Request / correlation ids a line may carry, in logfmt or JSON form. The pane links
# them to the smoke run's RPC trace (JSON-RPC ids the console sent).
_ID_RE = re.compile(
    r"""["']?\b(request_id|req_id|rpc_id|correlation_id|corr_id|trace_id|x-request-id|requestId|correlationId)"""
    r"""["']?\s*[:=]\s*["']?([A-Za-z0-9._:\-]{1,80})"""
)


def extract_ids(text: str) -> tuple[str, ...]:
    """Every request/correlation id value in the line, in order."""
    if "id" not in text and "Id" not in text:
        return ()
    return tuple(m.group(2) for m in _ID_RE.finditer(text))


def id_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, value) of each id value in ``text`` (for highlighting)."""
    return [(m.start(2), m.end(2), m.group(2)) for m in _ID_RE.finditer(text)]
