"""Log line parsing: timestamps and levels of every format the hosts write; safe text."""

from __future__ import annotations

import calendar
import json
import time
from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runners.logs.parse import (CRITICAL, DEBUG, ERROR, INFO, NOTICE, UNKNOWN, WARNING, extract_ids, id_spans,
                                is_safe, json_display, level_from_name, level_from_text, neutralise, parse_line,
                                parse_timestamp, safe_decode, strip_prefix)
from runners.sim.journal import Journal
from runners.sim.servicelog import ServiceLog

UTC_10H = calendar.timegm((2026, 11, 21, 10, 0, 0, 0, 0, 0))
LOCAL_10H = time.mktime((2026, 11, 21, 10, 0, 0, 0, 0, -1))


@pytest.mark.parametrize("line, ts, level", [
    # current service (plain, naive local time, comma millis)
    ("2026-11-21 10:00:00,123 INFO camera_service.api: snapshot taken device=camera0", LOCAL_10H + 0.123, INFO),
    ("2026-11-21 10:00:00,500 ERROR camera_service.api: boom", LOCAL_10H + 0.5, ERROR),
    ("2026-11-21 10:00:00,000 WARNING camera_service.mediamtx: slow", LOCAL_10H, WARNING),
    # ISO with zone
    ("2026-11-21T10:00:00.250Z DEBUG x", UTC_10H + 0.25, DEBUG),
    ("2026-11-21T12:00:00+02:00 CRITICAL y", UTC_10H, CRITICAL),
    ("2026-11-21T05:30:00.5-0430 NOTICE z", UTC_10H + 0.5, NOTICE),
    # MediaMTX
    ("2026/11/21 10:00:00 INF [RTSP] listener opened on :8554", LOCAL_10H, INFO),
    ("2026/11/21 10:00:00 WAR [path cam0] no one is publishing", LOCAL_10H, WARNING),
    ("2026/11/21 10:00:00 ERR [RTSP] [conn 1] closed: EOF", LOCAL_10H, ERROR),
    # bracketed, logfmt
    ("[2026-11-21 10:00:00.5] [ERROR] boom", LOCAL_10H + 0.5, ERROR),
    ("time=2026-11-21T10:00:00Z level=warn msg=x", UTC_10H, WARNING),
    # nanosecond fraction
    ("2026-11-21T10:00:00.123456789Z INFO n", UTC_10H + 0.123456789, INFO),
])
def test_plain_formats(line, ts, level):
    p = parse_line(line)
    assert p.ts == pytest.approx(ts, abs=1e-6)
    assert p.level == level
    assert not p.is_json


def test_no_timestamp_and_no_level():
    p = parse_line("Traceback (most recent call last):")
    assert p.ts is None and p.level == UNKNOWN
    # lower-case "error" inside a message is not a level
    assert parse_line("2026-11-21 10:00:00,000 the error count is 0").level == UNKNOWN
    # the first level word wins (INFO line mentioning ERROR later)
    assert parse_line("2026-11-21 10:00:00,000 INFO retry after ERROR").level == INFO


def test_syslog_without_year_gets_a_plausible_year():
    now = time.localtime()
    mon = time.strftime("%b", now)
    p = parse_line(f"{mon} {now.tm_mday:2d} 10:00:00 host unit[1]: hello")
    assert p.ts is not None
    assert time.localtime(p.ts).tm_year == now.tm_year


def test_legacy_json_lines():
    line = json.dumps({"timestamp": "2026-11-21T10:00:00.123+00:00", "level": "WARNING",
                       "logger": "camera_service.api", "message": "snapshot taken", "device": "/dev/video0",
                       "request_id": "req-7"})
    p = parse_line(line)
    assert p.is_json and p.level == WARNING and p.ts == pytest.approx(UTC_10H + 0.123)
    shown = json_display(line)
    assert shown.startswith("camera_service.api: snapshot taken")
    assert "device=/dev/video0" in shown and "request_id=req-7" in shown
    assert "timestamp" not in shown and "WARNING" not in shown


@pytest.mark.parametrize("obj, ts, level", [
    ({"ts": UTC_10H, "level": "error", "msg": "x"}, UTC_10H, ERROR),
    ({"ts": UTC_10H * 1000, "severity": "WARN", "msg": "ms"}, UTC_10H, WARNING),
    ({"time": UTC_10H * 1e9, "lvl": "debug", "msg": "ns"}, UTC_10H, DEBUG),
    ({"@timestamp": "2026-11-21T10:00:00Z", "levelname": "CRITICAL", "message": "m"}, UTC_10H, CRITICAL),
    ({"__REALTIME_TIMESTAMP": str(int(UTC_10H * 1e6)), "PRIORITY": "3", "MESSAGE": "j"}, UTC_10H, ERROR),
    ({"message": "no time, no level"}, None, UNKNOWN),
])
def test_json_variants(obj, ts, level):
    p = parse_line(json.dumps(obj))
    assert p.is_json
    assert (p.ts is None) if ts is None else p.ts == pytest.approx(ts)
    assert p.level == level


def test_json_that_is_not_an_object_is_plain():
    assert not parse_line("[1, 2, 3]").is_json
    assert not parse_line('{"broken": ').is_json  # falls back to plain, no exception
    assert parse_line('{"level": "error"}', fmt="plain").is_json is False


def test_the_simulators_service_log_both_formats(tmp_path):
    """The exact lines the simulated camera service writes, in both dialects."""
    for fmt in ("plain", "json"):
        log = ServiceLog(tmp_path / f"{fmt}.log", fmt=fmt)
        when = datetime(2026, 11, 21, 10, 0, 0, 123000).astimezone()
        for lv, want in (("INFO", INFO), ("WARNING", WARNING), ("ERROR", ERROR), ("CRITICAL", CRITICAL)):
            line = log.format(lv, "event happened", when=when, device="camera0")
            p = parse_line(line)
            assert p.level == want, (fmt, line)
            assert p.ts == pytest.approx(when.timestamp(), abs=1e-3), (fmt, line)


def test_journal_json_of_the_simulator():
    j = Journal(hostname="cam-01")
    e = j.append("camera-service", "service started", "WARNING")
    line = e.as_json(j.boot_id, "cam-01")
    p = parse_line(line)
    assert p.level == WARNING and p.ts == pytest.approx(e.realtime_us / 1e6)
    assert json_display(line) == "camera-service: service started"


@pytest.mark.parametrize("name, level", [
    ("warn", WARNING), ("WARNING", WARNING), ("E", ERROR), ("fatal", CRITICAL), ("Information", INFO),
    (3, ERROR), ("6", INFO), (True, UNKNOWN), (None, UNKNOWN), ("bogus", UNKNOWN),
])
def test_level_names(name, level):
    assert level_from_name(name) == level


def test_level_from_text_for_filters():
    assert level_from_text("warn") == WARNING
    assert level_from_text("nope") is None


# ------------------------------------------------------------------------------ safe text
def test_escape_sequences_never_survive():
    raw = b"ok \x1b[2J\x1b]0;pwned\x07 \x1b[31mred\r\x08 \xc2\x9b31m \xe2\x80\xae evil"
    s = safe_decode(raw)
    assert "\x1b" not in s and "\r" not in s and "\x07" not in s and "\x08" not in s
    assert "\x9b" not in s and "\u202e" not in s
    assert "␛[2J" in s  # visible stand-in, the operator still sees what was there
    assert "\\u202e" in s and "\\x9b" in s
    assert is_safe(s)


def test_invalid_utf8_is_shown_as_escapes_not_dropped():
    s = safe_decode(b"caf\xc3\xa9 \xff\xfe end")
    assert s == "café \\xff\\xfe end"


def test_tab_is_kept_newline_is_not():
    assert neutralise("a\tb") == "a\tb"
    assert neutralise("a\nb") == "a\u240ab"  # ␊


@given(st.binary(max_size=300))
def test_any_bytes_decode_to_safe_text(raw):
    s = safe_decode(raw)
    assert is_safe(s)
    s.encode("utf-8")  # always encodable (no surrogates): it can be saved and logged


@given(st.text(max_size=200))
def test_parse_never_raises(text):
    p = parse_line(text)
    assert p.level in (UNKNOWN, 5, DEBUG, INFO, NOTICE, WARNING, ERROR, CRITICAL)
    parse_line("{" + text)
    json_display("{" + text)
    strip_prefix(text)


def test_bad_dates_do_not_raise():
    assert parse_timestamp("2026-13-45 99:99:99 INFO x") == (None, 0)
    assert parse_timestamp("Nov 21 25:00:00 host") == (None, 0)
    assert parse_line("2026-02-30 10:00:00 INFO x").level == INFO  # Feb 30: mktime rolls it, no crash


def test_strip_prefix():
    assert strip_prefix("2026-11-21 10:00:00,123 INFO a: b") == "INFO a: b"
    assert strip_prefix("no time here") == "no time here"


def test_ids():
    line = 'x request_id=abc-12 y "correlation_id": "zz.9" trace_id:t1'
    assert extract_ids(line) == ("abc-12", "zz.9", "t1")
    spans = id_spans(line)
    assert [line[a:b] for a, b, _ in spans] == ["abc-12", "zz.9", "t1"]
    assert extract_ids("nothing") == ()


# ------------------------------------------------------------------------------ fast path
from runners.logs import parse as _parse  # noqa: E402


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2037, 12, 31)),
       st.sampled_from(["INFO", "ERROR", "WARNING", "DEBUG", "CRITICAL", "WARN", "FATAL", "ERR", "INF", "WRN"]),
       st.sampled_from(["", ",123", ".5", ".123456789"]),
       st.sampled_from(["", "Z", "+02:00", "-0530"]),
       st.sampled_from([" ", "T"]), st.booleans())
def test_fast_path_agrees_with_the_general_parser(when, level, frac, tz, sep, bracket):
    stamp = when.strftime(f"%Y-%m-%d{sep}%H:%M:%S") + frac + tz
    line = f"{stamp} {'[' + level + ']' if bracket else level} svc: message"
    fast = _parse._fast(line)
    slow = _parse._parse_plain(line)
    assert fast is not None
    assert fast.level == slow.level and fast.ts == pytest.approx(slow.ts, abs=1e-6)


def test_fast_path_declines_what_it_does_not_know():
    assert _parse._fast("2026-11-21 10:00:00 hello") is None  # no level word: general path
    assert _parse._fast("2026-19-21 10:00:00 INFO x") is None  # month 19
    assert parse_line("2026-11-21 10:00:00 hello").ts is not None


# ------------------------------------------------------------------------------ display
def test_display_columns_and_truncation():
    from runners.logs.buffer import CONT, GAP, LINE, make_record
    from runners.logs.display import message, rows_needed, time_label, wrap

    t = time.mktime((2026, 11, 21, 10, 0, 5, 0, 0, -1)) + 0.25
    plain = make_record(t, 1, t, INFO, "cam-01", "svc", "2026-11-21 10:00:05,250 INFO camera_service.api: hi")
    assert message(plain) == "camera_service.api: hi" and time_label(plain) == "10:00:05.250"
    cont = make_record(t, 2, t, INFO, "cam-01", "svc", "\tat frame 3", CONT)
    assert time_label(cont) == " " * 12 and message(cont) == "    at frame 3"
    js = make_record(t, 3, t, WARNING, "cam-02", "svc",
                     json.dumps({"timestamp": "2026-11-21T10:00:05Z", "level": "WARNING", "message": "m", "k": 1}))
    assert message(js) == "m k=1"
    gap = make_record(t, 4, t, ERROR, "cam-01", "svc", "gap in cam-01/svc: x (unknown size)", GAP)
    assert message(gap).startswith("━━ gap in") and message(gap).endswith("━━")
    long = make_record(t, 5, t, INFO, "h", "s", "x" * 5000, LINE)
    shown = message(long, 100)
    assert shown.startswith("x" * 100) and shown.endswith("[+4,900 chars, saved whole]")
    assert wrap("abcdefghij", 4) == ["abcd", "efgh", "ij"] and wrap("", 4) == [""]
    assert wrap("日本語テキスト", 4) == ["日本", "語テ", "キス", "ト"]  # wide characters: 2 cells each
    assert rows_needed("x" * 10, 4) == 3 and rows_needed("", 4) == 1
