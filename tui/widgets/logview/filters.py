"""The pane's filter and status words: level and host cycling (``l``, ``h``), the
filter summary, and the status line above the lines. Pure functions over
``runners.logs.buffer.LogFilter``; no Textual here."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from typing import Any

from runners.logs.buffer import LogBuffer, LogFilter
from runners.logs.parse import ERROR, INFO, LEVEL_NAMES, WARNING

LEVEL_CYCLE = (0, INFO, WARNING, ERROR)


def replace_filter(f: LogFilter, **kw: Any) -> LogFilter:
    return dataclasses.replace(f, **kw)


def next_level(f: LogFilter) -> LogFilter:
    """all -> INFO -> WARNING -> ERROR -> all."""
    i = LEVEL_CYCLE.index(f.min_level) if f.min_level in LEVEL_CYCLE else 0
    return replace_filter(f, min_level=LEVEL_CYCLE[(i + 1) % len(LEVEL_CYCLE)])


def next_host(f: LogFilter, hosts: Iterable[str]) -> LogFilter | None:
    """All hosts -> the first -> the next ... -> all again (None: no hosts yet)."""
    names = sorted(hosts)
    if not names:
        return None
    if f.hosts is None:
        nxt: frozenset[str] | None = frozenset({names[0]})
    else:
        cur = sorted(f.hosts)[0] if f.hosts else ""
        i = names.index(cur) + 1 if cur in names else 0
        nxt = frozenset({names[i]}) if i < len(names) else None
    return replace_filter(f, hosts=nxt)


def _first_more(values: Iterable[str]) -> str:
    """``cam-01`` / ``cam-01 +4`` (the whole list is in the hosts bar and in saved files)."""
    names = sorted(values)
    if not names:
        return "(none)"
    return names[0] + (f" +{len(names) - 1}" if len(names) > 1 else "")


def filter_summary(f: LogFilter) -> str:
    """The filter in a few words: ``host=cam-01 +4 level>=WARNING +/re/ -/re/ id=17 +1``."""
    parts = []
    if f.hosts is not None:
        parts.append("host=" + _first_more(f.hosts))
    if f.min_level:
        parts.append(f"level>={LEVEL_NAMES.get(f.min_level, f.min_level)}")
    if f.include is not None:
        parts.append(f"+/{f.include.pattern}/")
    if f.exclude is not None:
        parts.append(f"-/{f.exclude.pattern}/")
    if f.ids is not None:
        parts.append("id=" + _first_more(f.ids))
    return " ".join(parts)


def status_line(buf: LogBuffer, *, follow: bool, new_while_paused: int, dropped_pending: int,
                search: re.Pattern[str] | None, wrap: bool, legend: str = "") -> str:
    """``FOLLOW · 120/1,150 lines · 3 errors · filter: host=cam-01 +4 · cam=camera-service …``."""
    parts = ["FOLLOW" if follow else f"PAUSED (+{new_while_paused:,} new)"]
    shown, total = len(buf.view), len(buf.records)
    parts.append(f"{shown:,}/{total:,} lines" if shown != total else f"{total:,} lines")
    if buf.evicted or dropped_pending:
        parts.append(f"{buf.evicted + dropped_pending:,} oldest dropped (cap {buf.cap:,})")
    if buf.errors:
        parts.append(f"{buf.errors:,} error{'s' if buf.errors != 1 else ''}")
    if buf.filter.active:
        parts.append("filter: " + filter_summary(buf.filter))
    if search is not None:
        parts.append(f"search /{search.pattern}/")
    if wrap:
        parts.append("wrap")
    if legend:
        parts.append(legend)
    return " · ".join(parts)
