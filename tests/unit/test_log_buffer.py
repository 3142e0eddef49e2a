"""The log buffer: cap, merge by time across hosts, continuation lines, filters, search."""

from __future__ import annotations

import random
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runners.logs.buffer import (CONT, GAP, HOST, K, KIND, LEVEL, LINE, LOST, MARK, SEQ, TEXT, TS, LogBuffer,
                                 LogFilter, PatternError, compile_pattern, format_record, render_export)
from runners.logs.parse import ERROR, INFO, WARNING

T0 = time.mktime((2026, 11, 21, 10, 0, 0, 0, 0, -1))
NOW = T0 + 60  # "arrival" time used by the tests: lines are a minute old at most


def stamp(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) + f",{int(round((t % 1) * 1000)):03d}"


def line(t: float, level: str = "INFO", msg: str = "m") -> str:
    return f"{stamp(t)} {level} svc: {msg}"


def texts(buf: LogBuffer) -> list[str]:
    return [r[TEXT].split(" svc: ", 1)[-1] for r in buf.view]


def test_lines_from_two_hosts_merge_by_time():
    b = LogBuffer()
    b.add_lines("a", "svc", [line(T0 + 1, msg="a1"), line(T0 + 3, msg="a3")], arrival=NOW)
    b.add_lines("b", "svc", [line(T0 + 2, msg="b2"), line(T0 + 4, msg="b4")], arrival=NOW)
    b.add_lines("a", "svc", [line(T0 + 3.5, msg="a3.5")], arrival=NOW)
    assert texts(b) == ["a1", "b2", "a3", "a3.5", "b4"]
    assert [r[HOST] for r in b.view] == ["a", "b", "a", "a", "b"]


def test_equal_times_keep_arrival_order():
    b = LogBuffer()
    b.add_lines("a", "svc", [line(T0, msg="first"), line(T0, msg="second")], arrival=NOW)
    b.add_lines("b", "svc", [line(T0, msg="third")], arrival=NOW)
    assert texts(b) == ["first", "second", "third"]


def test_continuation_lines_stay_under_their_header():
    b = LogBuffer()
    b.add_lines("a", "svc", [line(T0 + 1, "ERROR", "crash"), "Traceback (most recent call last):",
                             '  File "x.py", line 1', "ValueError: bad"], arrival=NOW)
    b.add_lines("b", "svc", [line(T0 + 1.5, msg="other host")], arrival=NOW)
    assert texts(b)[:4] == ["crash", "Traceback (most recent call last):", '  File "x.py", line 1', "ValueError: bad"]
    cont = [r for r in b.view if r[KIND] == CONT]
    assert len(cont) == 3 and all(r[LEVEL] == ERROR and r[TS] == pytest.approx(T0 + 1) for r in cont)
    # ... so a level filter keeps the whole traceback
    b.set_filter(LogFilter(min_level=ERROR))
    assert len(b.view) == 4


def test_lines_without_any_time_use_arrival_order():
    b = LogBuffer()
    b.add_lines("a", "cmd", ["one", "two"], arrival=NOW)
    b.add_lines("a", "cmd", ["three"], arrival=NOW + 1)
    assert [r[TEXT] for r in b.view] == ["one", "two", "three"]


def test_future_and_far_past_times_are_clamped():
    b = LogBuffer(reorder_window=10)
    b.add_lines("a", "svc", [line(NOW - 1, msg="recent")], arrival=NOW)
    b.add_lines("skewed", "svc", [line(NOW + 3600, msg="from the future")], arrival=NOW)
    b.add_lines("behind", "svc", [line(NOW - 7200, msg="two hours behind")], arrival=NOW)
    # future -> at arrival (end); far behind -> arrival - window, not two hours up
    ks = {r[TEXT].split(": ")[-1]: r[K] for r in b.view}
    assert ks["from the future"] == NOW
    assert ks["two hours behind"] == NOW - 10
    # the line keeps its own time for display
    assert [r for r in b.view if "behind" in r[TEXT]][0][TS] == pytest.approx(NOW - 7200)


def test_backlogs_merge_by_their_own_times_however_old():
    """Two hosts' backlogs (history: written before the follow began), hours old, interleave
    by time; a live line from a clock two hours behind still lands near its arrival."""
    b = LogBuffer(reorder_window=10)
    old = NOW - 7200
    b.add_lines("a", "svc", [line(old + 1, msg="a1"), line(old + 3, msg="a3")], arrival=NOW, history=True)
    b.add_lines("b", "svc", [line(old + 2, msg="b2"), line(old + 4, msg="b4")], arrival=NOW, history=True)
    b.add_lines("b", "svc", [line(NOW + 3600, msg="b future")], arrival=NOW, history=True)
    b.add_lines("a", "svc", [line(NOW - 1, msg="a live")], arrival=NOW)
    b.add_lines("behind", "svc", [line(old, msg="skewed live")], arrival=NOW)
    assert texts(b) == ["a1", "b2", "a3", "b4", "skewed live", "a live", "b future"]
    assert [r[K] for r in b.view][:4] == [old + 1, old + 2, old + 3, old + 4]


def test_cap_is_respected_and_evictions_counted():
    b = LogBuffer(cap=1000)
    for i in range(50):
        b.add_lines("a", "s", [line(T0 + i * 0.001 + j * 1e-6, msg=f"{i}-{j}") for j in range(100)], arrival=NOW)
    assert len(b) <= 1000 + 50  # the slack: trimmed in chunks
    assert b.evicted + len(b) == 5000 == b.total
    assert texts(b)[-1] == "49-99"  # the newest are kept
    with pytest.raises(ValueError, match="at least 1"):
        LogBuffer(cap=0)


def test_filtered_view_follows_trimming():
    b = LogBuffer(cap=200)
    b.set_filter(LogFilter(min_level=WARNING))
    for i in range(1000):
        b.add_lines("a", "s", [line(T0 + i * 0.01, "WARNING" if i % 10 == 0 else "INFO", f"n{i}")], arrival=NOW)
    assert all(r[LEVEL] >= WARNING for r in b.view)
    # the view holds exactly the WARNING lines still in the buffer, in order
    assert b.view == [r for r in b.records if r[LEVEL] >= WARNING]
    assert texts(b)[-1] == "n990"


def test_filters():
    b = LogBuffer()
    b.add_lines("cam-01", "svc", [line(T0 + 1, "INFO", "alpha request_id=r1"), line(T0 + 2, "ERROR", "beta")],
                arrival=NOW)
    b.add_lines("cam-02", "svc", [line(T0 + 3, "WARNING", "gamma"), line(T0 + 4, "INFO", "Alpha two")], arrival=NOW)
    b.add_gap("cam-02", "svc", "connection lost", 123, at=T0 + 3.5)
    b.set_filter(LogFilter(hosts=frozenset({"cam-01"})))
    assert texts(b) == ["alpha request_id=r1", "beta"]
    b.set_filter(LogFilter(min_level=WARNING))
    assert [r[KIND] for r in b.view] == [LINE, LINE, GAP]  # gaps survive level filters

    def lines_only() -> list[str]:  # gaps stay visible under every text filter: they explain the view
        return [t for r, t in zip(b.view, texts(b)) if r[KIND] == LINE]

    b.set_filter(LogFilter(include=compile_pattern("alpha")))  # smart case: lower -> ignore case
    assert lines_only() == ["alpha request_id=r1", "Alpha two"]
    assert any(r[KIND] == GAP for r in b.view)
    b.set_filter(LogFilter(include=compile_pattern("Alpha")))  # upper case -> exact case
    assert lines_only() == ["Alpha two"]
    b.set_filter(LogFilter(exclude=compile_pattern("alpha|gamma")))
    assert lines_only() == ["beta"]
    b.set_filter(LogFilter(ids=frozenset({"r1"})))
    assert lines_only() == ["alpha request_id=r1"]
    assert "id=r1" in b.filter.describe()
    b.set_filter(LogFilter())
    assert len(b.view) == 5 and b.view is b.records


def test_new_lines_go_into_the_filtered_view_incrementally():
    b = LogBuffer()
    b.set_filter(LogFilter(min_level=ERROR))
    b.add_lines("a", "s", [line(T0 + 1, "INFO"), line(T0 + 2, "ERROR", "e1")], arrival=NOW)
    b.take_changes()
    b.add_lines("b", "s", [line(T0 + 1.5, "ERROR", "e0")], arrival=NOW)  # late, goes before e1
    assert texts(b) == ["e0", "e1"]
    c = b.take_changes()
    assert c.first_changed == 0 and c.added == 1


def test_bad_pattern_is_a_clear_error():
    with pytest.raises(PatternError, match=r"not a valid regular expression '\(unclosed'"):
        compile_pattern("(unclosed")
    assert compile_pattern("a.b", regex=False).search("a.b") and not compile_pattern("a.b", regex=False).search("axb")


def test_search_and_jump_to_error_wrap_around():
    b = LogBuffer()
    b.add_lines("a", "s", [line(T0 + i, "ERROR" if i in (2, 7) else "INFO", f"msg{i}") for i in range(10)],
                arrival=NOW)
    pat = compile_pattern("msg[35]")
    assert b.find(pat, -1) == 3
    assert b.find(pat, 3) == 5
    assert b.find(pat, 5) == 3  # wraps
    assert b.find(pat, 3, -1) == 5  # backwards wraps too
    assert b.find(compile_pattern("nothing"), 0) is None
    assert b.find_level(0) == 2 and b.find_level(2) == 7 and b.find_level(7) == 2
    assert b.find_level(2, -1) == 7
    assert b.count_matches(pat) == 2


def test_marker_and_gap_records():
    b = LogBuffer()
    b.add_lines("a", "s", [line(T0 + 1, msg="before")], arrival=NOW)
    m = b.add_marker(at=T0 + 2)
    b.add_lines("a", "s", [line(T0 + 3, msg="after")], arrival=NOW)
    g = b.add_gap("a", "s", "journal cursor lost", None, at=T0 + 2.5)
    assert [r[KIND] for r in b.view] == [LINE, MARK, GAP, LINE]
    assert m[TEXT].startswith("now ") and "unknown size" in g[TEXT] and g[LOST] is None
    assert b.find_level(0) == 2  # a gap is where to look, like an error
    assert "1,234 bytes lost" in b.add_gap("a", "s", "x", 1234, at=T0)[TEXT]


def test_index_of_survives_trimming_and_inserts():
    b = LogBuffer(cap=150)  # trims in chunks of 7 (cap // 20)
    b.add_lines("a", "s", [line(T0 + i) for i in range(100)], arrival=NOW)
    target = b.view[50]
    assert b.index_of(target) == 50
    b.add_lines("b", "s", [line(T0 + 10.5, msg="late")], arrival=NOW)  # inserted before it
    assert b.index_of(target) == 51
    b.add_lines("a", "s", [line(T0 + 200 + i) for i in range(60)], arrival=NOW + 300)
    i = b.index_of(target)
    assert i == 51 - 11 and b.view[i] is target  # 161 records, 11 oldest trimmed
    gone = b.view[0]
    b.add_lines("a", "s", [line(T0 + 400 + i) for i in range(200)], arrival=NOW + 400)
    assert b.index_of(gone) is None
    assert 0 <= b.nearest_index(gone) < len(b.view)


def test_text_is_neutralised_and_saved_whole():
    b = LogBuffer()
    long = "x" * 100_000
    b.add_lines("a", "s", ["evil \x1b[2J", long], arrival=NOW)
    assert "\x1b" not in b.view[0][TEXT]
    assert b.view[1][TEXT] == long
    out = "".join(render_export(b.export(view_only=False)))
    assert long in out and out.count("\n") == 2
    assert format_record(b.view[0]).split(" ", 2)[2].startswith("a/s")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abc"), st.floats(0, 100), st.sampled_from(["INFO", "ERROR"])),
                max_size=300),
       st.integers(1, 50))
def test_view_is_always_sorted_and_consistent(items, cap):
    b = LogBuffer(cap=cap, reorder_window=1e9)
    rng = random.Random(len(items))
    flt = LogFilter(min_level=ERROR) if rng.random() < 0.5 else LogFilter()
    b.set_filter(flt)
    for host, t, lv in items:
        b.add_lines(host, "s", [line(T0 + t, lv)], arrival=T0 + 1000)
    keys = [(r[K], r[SEQ]) for r in b.records]
    assert keys == sorted(keys)
    assert b.view == [r for r in b.records if flt.matches(r)]
    assert len(b.records) <= cap + max(1, min(1000, cap // 20))
    assert b.total == len(items) == len(b.records) + b.evicted


def test_levels_counted():
    b = LogBuffer()
    b.add_lines("a", "s", [line(T0, "ERROR"), line(T0, "CRITICAL"), line(T0, "INFO")], arrival=NOW)
    assert b.errors == 2 and b.hosts == {"a": 3}
    assert b.view[2][LEVEL] == INFO


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("ab"), st.integers(0, 40), st.sampled_from(["INFO", "ERROR", "GAP"])),
                min_size=1, max_size=120),
       st.integers(5, 60), st.booleans(), st.integers(-2, 130), st.sampled_from([1, -1]))
def test_indexed_find_level_agrees_with_a_scan(items, cap, filtered, start, direction):
    b = LogBuffer(cap=cap, reorder_window=1e9)
    if filtered:
        b.set_filter(LogFilter(hosts=frozenset({"a"})))
    for host, t, kind in items:
        if kind == "GAP":
            b.add_gap(host, "s", "lost", None, at=T0 + t)
        else:
            b.add_lines(host, "s", [line(T0 + t, kind)], arrival=T0 + 1000)
    view = b.view
    start = max(-1, min(start, len(view)))
    expected = b._scan(lambda r: r[LEVEL] >= ERROR and r[KIND] != MARK, start, direction) if view else None
    if view and not 0 <= start < len(view):
        # the indexed version treats "before the start" / "after the end" as the ends
        step = 1 if direction >= 0 else -1
        i0 = -1 if step > 0 else len(view)
        expected = next((i0 + step * k for k in range(1, len(view) + 1)
                         if view[i0 + step * k][LEVEL] >= ERROR and view[i0 + step * k][KIND] != MARK), None)
    assert b.find_level(start, direction) == expected
