"""The live log pane: every host's logs merged by time, followed or paused, filtered,
searched; a line-API ``ScrollView`` over :class:`runners.logs.buffer.LogBuffer`.

Why a line-API widget and not ``Log``: a flood must never freeze the UI. Incoming
lines only go into a queue (``ingest``: O(1), no drawing). A timer drains it
``flush_hz`` times a second (DESIGN.md: ~0.5-0.75 ms fixed cost per UI write, so a
fixed number of flushes, never one per line), each drain time-boxed so one flush
cannot stall the loop; only the rows on screen are ever rendered (``render_line``),
whatever the buffer holds. Memory is bounded by the buffer's cap.

Keys (each Binding has an id and a description, as everywhere in the console):
f follow/pause · / search · n/N next/previous match · e/E next/previous error ·
m "now" marker · w wrap · l level filter · h host filter · i/x include/exclude regex ·
c clear filters · s save view · S save whole buffer (to dry_run/artifacts/logs/).
"""

from __future__ import annotations

import re
import time
from math import ceil
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, ClassVar

from rich.cells import cell_len, chop_cells
from rich.segment import Segment
from rich.style import Style
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.cache import LRUCache
from textual.containers import Vertical
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Input, Static

from runners.events import Event, LogGap, LogLines
from runners.logs.buffer import (GAP, HOST, KIND, LEVEL, LINE, MARK, SEQ, SOURCE, TEXT, LogBuffer, LogFilter,
                                 LogRecord, PatternError, compile_pattern)
from runners.logs.display import DISPLAY_MAX, message, time_label, wrap
from runners.logs.parse import CRITICAL, DEBUG, ERROR, INFO, LEVEL_TAGS, NOTICE, TRACE, WARNING, id_spans

CHUNK = 256  # lines per queued item: a drain can stop between chunks when its time is up
LEVEL_CYCLE = (0, INFO, WARNING, ERROR)
HOST_PALETTE = ("#4C9BE8", "#C678DD", "#56B6C2", "#E5C07B", "#98C379", "#D19A66", "#61AFEF", "#E06C75")


class LogView(ScrollView, can_focus=True):
    """The scrolling log lines. Data in: ``ingest(event)`` / ``ingest_lines(...)``."""

    DEFAULT_CSS = """
    LogView { background: $surface; overflow-y: scroll; overflow-x: auto; scrollbar-gutter: stable; }
    LogView > .logview--time { color: $text-muted; }
    LogView > .logview--debug { color: $text-muted; }
    LogView > .logview--info { color: $success; }
    LogView > .logview--notice { color: $primary; }
    LogView > .logview--warning { color: $warning; text-style: bold; }
    LogView > .logview--error { color: $error; text-style: bold; }
    LogView > .logview--critical { color: $error; text-style: bold reverse; }
    LogView > .logview--gap { color: $warning; text-style: bold reverse; }
    LogView > .logview--marker { color: $accent; text-style: bold; }
    LogView > .logview--match { background: $accent 60%; color: $foreground; text-style: bold; }
    LogView > .logview--cursor { background: $primary 30%; }
    LogView > .logview--linked { color: $accent; text-style: underline; }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "logview--time", "logview--debug", "logview--info", "logview--notice", "logview--warning",
        "logview--error", "logview--critical", "logview--gap", "logview--marker", "logview--match",
        "logview--cursor", "logview--linked",
    }
    BINDINGS: ClassVar[list[Binding]] = [
        # in the footer at 80 columns (with the pane's / Search): f e l h; the rest show=False
        Binding("f", "toggle_follow", "Follow", id="logs.follow",
                tooltip="follow new lines at the bottom, or pause where you are"),
        Binding("end", "follow", "Jump to end", id="logs.end", show=False,
                tooltip="jump to the newest line and follow"),
        Binding("n", "find(1)", "Next match", id="logs.find_next", show=False, tooltip="next line matching the search"),
        Binding("N", "find(-1)", "Previous match", id="logs.find_prev", show=False,
                tooltip="previous line matching the search"),
        Binding("e", "next_error(1)", "Errors", id="logs.next_error",
                tooltip="next ERROR/CRITICAL line or gap"),
        Binding("E", "next_error(-1)", "Previous error", id="logs.prev_error", show=False,
                tooltip="previous ERROR/CRITICAL line or gap"),
        Binding("l", "cycle_level", "Level", id="logs.level", tooltip="minimum level: all, INFO, WARNING, ERROR"),
        Binding("h", "cycle_host", "Host", id="logs.host", tooltip="show one host at a time, or all"),
        Binding("m", "mark_now", "Now marker", id="logs.mark", show=False,
                tooltip="insert a 'now' line at the current time"),
        Binding("w", "toggle_wrap", "Wrap", id="logs.wrap", show=False, tooltip="wrap long lines / scroll sideways"),
        Binding("c", "clear_filters", "Clear filters", id="logs.clear", show=False,
                tooltip="drop level, host, include, exclude and id filters"),
        Binding("s", "save(True)", "Save view", id="logs.save_view", show=False,
                tooltip="the lines shown (filters applied) to dry_run/artifacts/logs/"),
        Binding("S", "save(False)", "Save all", id="logs.save_all", show=False,
                tooltip="the whole buffer, unfiltered, lines whole, to dry_run/artifacts/logs/"),
    ]

    follow: reactive[bool] = reactive(True, repaint=False)
    wrap_lines: reactive[bool] = reactive(False, repaint=False)

    class StatusChanged(Message):
        """Follow state, counts, filters or search changed (the pane's status line)."""

        def __init__(self, view: LogView) -> None:
            super().__init__()
            self.view = view

        @property
        def control(self) -> LogView:
            return self.view

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, LogView.StatusChanged) and message.view is self.view

    class Saved(Message):
        def __init__(self, view: LogView, path: Path | None, lines: int, error: str = "") -> None:
            super().__init__()
            self.view = view
            self.path = path
            self.lines = lines
            self.error = error

        @property
        def control(self) -> LogView:
            return self.view

    def __init__(self, buffer: LogBuffer | None = None, *, cap: int = 100_000, flush_hz: float = 20.0,
                 stream_hz: float | None = None, stream_rate: float = 200.0,
                 pump_hz: float = 50.0, pump_budget: float = 0.004,
                 save_dir: Path | None = None, display_max: int = DISPLAY_MAX,
                 name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        """Frames: at most ``flush_hz`` a second while lines are sparse (a lone line shows
        at once), ``stream_hz`` while more than ``stream_rate`` lines/s keep coming (the
        whole screen changes every frame then: each frame is ~20 KB to the terminal and
        ~10 ms of CPU, and nobody reads faster). ``pump_hz`` / ``pump_budget``: how often
        and for how long at most queued lines are parsed into the buffer (small slices, so
        neither parsing nor drawing ever holds the loop for long)."""
        super().__init__(name=name, id=id, classes=classes)
        if not 0 < flush_hz <= 60:
            raise ValueError(f"flush_hz must be in (0, 60], got {flush_hz}")
        if not 0 < pump_hz <= 200:
            raise ValueError(f"pump_hz must be in (0, 200], got {pump_hz}")
        self.buffer = buffer if buffer is not None else LogBuffer(cap=cap)
        stream_hz = min(10.0, flush_hz) if stream_hz is None else stream_hz
        if not 0 < stream_hz <= flush_hz:
            raise ValueError(f"stream_hz must be in (0, flush_hz={flush_hz}], got {stream_hz}")
        self.flush_hz = flush_hz
        self.stream_hz = stream_hz
        self.stream_rate = stream_rate
        self.pump_hz = pump_hz
        self.pump_budget = pump_budget
        self.rate = 0.0  # lines/s arriving, smoothed
        self.save_dir = save_dir
        self.display_max = display_max
        self.search: re.Pattern[str] | None = None
        self.cursor: LogRecord | None = None  # the line a search / jump landed on
        self.trace_lookup: Callable[[str], str | None] | None = None
        self.new_while_paused = 0
        self.flushes = 0  # frames that showed new lines
        self.pending_lines = 0
        self.dropped_pending = 0  # lines that never reached the buffer (a flood beyond the cap)
        self._pending: deque[tuple] = deque()
        self._changed = False  # the buffer changed since the last frame
        self._added_since_frame = 0
        self._last_frame = 0.0
        self._anchor: LogRecord | None = None  # top line while paused, taken before the buffer changes
        # Rows as drawn, a few screens' worth. Each Textual Strip carries several caches of
        # its own: a big strip cache is thousands of GC-tracked objects every full
        # collection has to walk (measured: the source of 50-100 ms pauses).
        self._rows: LRUCache[tuple, Strip] = LRUCache(384)
        self._wrap_cache: LRUCache[tuple, list[str]] = LRUCache(512)
        self._layout_key: tuple | None = None
        self._layout: list[tuple[int, int]] = []
        self._label_width = 8
        self._max_width = 0
        self._host_styles: dict[str, Style] = {}
        self._styles: dict[str, Style] = {}
        self._base_style: Style | None = None
        self._programmatic_scroll = False
        self._search_gen = 0
        self._frame_width = 0
        self._frame_sx = 0
        self._thumb: tuple[int, int] | None = None
        self._pump_scheduled = False

    # ------------------------------------------------------------------ data in
    def ingest(self, ev: Event) -> None:
        """Queue a ``LogLines`` / ``LogGap`` event (other events are ignored). Cheap: no drawing."""
        if isinstance(ev, LogLines):
            self.ingest_lines(ev.host, ev.source, ev.lines)
        elif isinstance(ev, LogGap):
            self._pending.append(("gap", ev.host, ev.source, ev.reason, ev.lost_bytes, ev.ts))
            self._pump_soon()

    def ingest_lines(self, host: str, source: str, lines: Iterable[str], fmt: str = "auto") -> None:
        lines = lines if isinstance(lines, (list, tuple)) else list(lines)
        now = time.time()
        for i in range(0, len(lines), CHUNK):
            chunk = lines[i:i + CHUNK]
            self._pending.append(("lines", host, source, chunk, fmt, now))
            self.pending_lines += len(chunk)
        # A flood faster than we can parse: what exceeds the cap would be evicted on arrival
        # anyway, so drop it here (counted) instead of growing the queue without bound.
        while self.pending_lines > self.buffer.cap and len(self._pending) > 1:
            item = self._pending.popleft()
            if item[0] == "lines":
                self.pending_lines -= len(item[3])
                self.dropped_pending += len(item[3])
        self._pump_soon()

    def _pump_soon(self) -> None:
        # A trickle: parse right after the message that brought the lines, not at the next
        # tick (up to 1/pump_hz later), so a lone line reaches the screen sooner. A stream
        # waits for the tick: back-to-back pumps would queue ahead of the operator's keys.
        if self.rate > self.stream_rate or self.pending_lines > CHUNK:
            return
        if not self._pump_scheduled and self.is_mounted:
            self._pump_scheduled = True
            self.call_next(self._scheduled_pump)

    def _scheduled_pump(self) -> None:
        self._pump_scheduled = False
        self.pump()

    # ------------------------------------------------------------------ lifecycle
    def on_mount(self) -> None:
        self.set_interval(1 / self.pump_hz, self.pump, name="log pump")
        self.set_interval(1 / self.flush_hz, self.frame, name="log frame")
        self._refresh_styles()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._refresh_styles()

    def _refresh_styles(self) -> None:
        if not self.is_mounted:
            return
        self._styles = {k: self.get_component_rich_style(f"logview--{k}", partial=True)
                        for k in ("time", "debug", "info", "notice", "warning", "error", "critical", "gap",
                                  "marker", "match", "cursor", "linked")}
        self._base_style = None
        self._rows.clear()
        self._layout_key = None

    @property
    def _base(self) -> Style:
        # rich_style walks every ancestor's styles (~0.3 ms): once per frame, not per row.
        if self._base_style is None:
            self._base_style = self.rich_style
        return self._base_style

    # ------------------------------------------------------------------ pump and frames
    def pump(self, budget: float | None = None) -> int:
        """Parse queued lines into the buffer for at most ``budget`` seconds. No drawing."""
        pending = self._pending
        if not pending:
            return 0
        buf = self.buffer
        if not self.follow and self._anchor is None and buf.view:
            # Remember the top line before the view changes under it (kept on screen).
            self._anchor = buf.view[min(int(self.scroll_offset.y), len(buf.view) - 1)]
        t_end = time.perf_counter() + (self.pump_budget if budget is None else budget)
        n = 0
        while pending:
            item = pending.popleft()
            if item[0] == "lines":
                _, host, source, chunk, fmt, arrival = item
                self.pending_lines -= len(chunk)
                n += buf.add_lines(host, source, chunk, fmt=fmt, arrival=arrival)
                if len(host) + len(source) + 1 > self._label_width:
                    self._label_width = min(28, len(host) + len(source) + 1)
                    self._rows.clear()
                w = max(map(len, chunk), default=0)
                if w > self._max_width:
                    self._max_width = min(w, self.display_max + 40)
            else:
                _, host, source, reason, lost, ts = item
                buf.add_gap(host, source, reason, lost, at=ts)
                n += 1
            if time.perf_counter() >= t_end:
                break
        self._changed = True
        self._added_since_frame += n
        if time.perf_counter() - self._last_frame >= self._frame_interval():
            self.frame()  # leading edge: after a quiet spell, show at once
        return n

    def _frame_interval(self) -> float:
        return 1 / (self.stream_hz if self.rate > self.stream_rate else self.flush_hz)

    def frame(self, force: bool = False) -> bool:
        """Show what the pump added: one redraw, rate-limited (see ``__init__``)."""
        if not self._changed:
            return False
        now = time.perf_counter()
        dt = now - self._last_frame
        if not force and dt < self._frame_interval():
            return False
        if dt > 0:
            inst = self._added_since_frame / dt
            self.rate = inst if dt >= 1 else 0.5 * self.rate + 0.5 * inst
        buf = self.buffer
        changes = buf.take_changes()
        self._changed = False
        self._added_since_frame = 0
        self._last_frame = now
        anchor, self._anchor = self._anchor, None
        if not (changes.added or changes.trimmed or changes.first_changed is not None):
            return False
        self.flushes += 1
        if self.cursor is not None and buf.index_of(self.cursor) is None:
            self.cursor = None  # trimmed away
        self._update_virtual_size(sync=False)
        self._programmatic_scroll = True  # no scrollbar sync from the watcher mid-way
        try:
            if self.follow:
                self.scroll_end(animate=False, immediate=True, x_axis=False)
            else:
                self.new_while_paused += changes.added
                if anchor is not None:
                    self._scroll_to_index(buf.nearest_index(anchor), center=False)
        finally:
            self._programmatic_scroll = False
        self._sync_vertical_scrollbar()  # once, with the final size and position
        self._layout_key = None
        # The text only: the scrollbar repaints itself when its thumb moves.
        self.refresh(self.size.region)
        self.post_message(self.StatusChanged(self))
        return True

    def flush(self) -> None:
        """Everything queued into the buffer, then one redraw (actions and tests use it)."""
        while self._pending:
            self.pump(budget=1.0)
        self.frame(force=True)

    def _update_virtual_size(self, sync: bool = True) -> None:
        width = 0 if self.wrap_lines else self._prefix_width() + self._max_width + 2
        new = Size(width, len(self.buffer.view))
        old = self.virtual_size
        if new == old:
            return
        cw, ch = self.container_size
        # Setting virtual_size normally lays out the whole screen (it is a layout reactive):
        # ~3 ms per frame, and every other widget repainted. A layout is only needed when a
        # scrollbar appears or disappears; otherwise update the value and the scrollbars'
        # window (public ScrollBar reactives) and repaint just this widget.
        same_bars = (old.width > cw) == (new.width > cw) and (old.height > ch) == (new.height > ch)
        if not same_bars or not self.is_mounted:
            self.virtual_size = new
            return
        self.set_reactive(LogView.virtual_size, new)
        if sync:
            self._sync_vertical_scrollbar()
        if self.show_horizontal_scrollbar:
            self.horizontal_scrollbar.window_virtual_size = new.width

    def _sync_vertical_scrollbar(self) -> None:
        """Tell the scrollbar the window and position - while following, only when its
        drawn thumb moves (1/8 cell, ScrollBarRender's resolution): at 100,000 lines the
        thumb sits still at the bottom, and a repaint of the bar costs as much as the text."""
        if not self.show_vertical_scrollbar:
            return
        bar = self.vertical_scrollbar
        virtual, pos = self.virtual_size.height, self.scroll_y
        if self.follow:
            size = self.scrollable_content_region.height
            window = bar.window_size or size
            thumb = _thumb_eighths(size, virtual, window, pos)
            if thumb == self._thumb:
                return
            self._thumb = thumb
        else:
            self._thumb = None
        bar.window_virtual_size = virtual
        bar.position = pos

    def _scroll_end(self) -> None:
        self._programmatic_scroll = True
        try:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        finally:
            self._programmatic_scroll = False
        self._sync_vertical_scrollbar()

    def _scroll_to_index(self, index: int, *, center: bool) -> None:
        h = self.scrollable_content_region.height
        y = max(0, index - (h // 2 if center else 0))
        self._programmatic_scroll = True
        try:
            self.scroll_to(y=y, animate=False, immediate=True)
        finally:
            self._programmatic_scroll = False
        self._sync_vertical_scrollbar()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        # ScrollView's own watcher, except the scrollbar is told only what changes its look.
        if not self._programmatic_scroll:
            self._sync_vertical_scrollbar()
        if round(old_value) != round(new_value):
            self.refresh(self.size.region)
        self._layout_key = None
        if self._programmatic_scroll:
            return
        # The operator scrolled: up pauses, back to the bottom follows again.
        if new_value < old_value and self.follow:
            self.follow = False
        elif new_value >= self.max_scroll_y and not self.follow and new_value > old_value:
            self.follow = True

    def watch_follow(self, follow: bool) -> None:
        self._anchor = None
        if follow:
            self.new_while_paused = 0
            self.cursor = None
            self._update_virtual_size()
            self._scroll_end()
            self._layout_key = None
            self.refresh()
        if self.is_mounted:
            self.post_message(self.StatusChanged(self))

    def watch_wrap_lines(self, _: bool) -> None:
        self._rows.clear()
        self._layout_key = None
        self._update_virtual_size()
        if self.follow:
            self._scroll_end()
        self.refresh()
        if self.is_mounted:
            self.post_message(self.StatusChanged(self))

    # ------------------------------------------------------------------ rendering
    def _prefix_width(self) -> int:
        return 12 + 1 + self._label_width + 1 + 3 + 1

    def _compute_layout(self) -> list[tuple[int, int]]:
        """(view index, row within that record) for each row of the viewport."""
        view = self.buffer.view
        height = self.scrollable_content_region.height
        top = int(self.scroll_offset.y)
        n = len(view)
        if not self.wrap_lines:
            return [(top + y, 0) for y in range(height) if top + y < n]
        width = self._message_width()
        rows: list[tuple[int, int]] = []
        if top >= self.max_scroll_y and n:
            # At the bottom: fill upwards from the newest line, so it is always visible.
            i = n - 1
            while i >= 0 and len(rows) < height:
                k = len(self._wrapped(view[i], width))
                rows[:0] = [(i, r) for r in range(k)]
                i -= 1
            return rows[-height:]
        i = top
        while i < n and len(rows) < height:
            k = len(self._wrapped(view[i], width))
            rows.extend((i, r) for r in range(min(k, height - len(rows))))
            i += 1
        return rows

    def _message_width(self) -> int:
        return max(1, self.scrollable_content_region.width - self._prefix_width())

    def _wrapped(self, r: LogRecord, width: int) -> list[str]:
        key = (r[SEQ], width)
        rows = self._wrap_cache.get(key)
        if rows is None:
            rows = wrap(message(r, self.display_max), width)
            self._wrap_cache[key] = rows
        return rows

    def _invalidate(self) -> None:
        self._layout_key = None

    def watch_scroll_x(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_x(old_value, new_value)
        self._layout_key = None

    def on_resize(self) -> None:
        self._layout_key = None

    def render_line(self, y: int) -> Strip:
        # Everything that moves the rows (scrolling, resizing, new lines, filters, wrap)
        # resets _layout_key; per row we only look the row up.
        if self._layout_key is None:
            self._layout = self._compute_layout()
            self._base_style = None
            self._frame_width = self.scrollable_content_region.width
            self._frame_sx = 0 if self.wrap_lines else int(self.scroll_offset.x)
            self._layout_key = (self._frame_width, self._frame_sx)
        width = self._frame_width
        if y >= len(self._layout):
            return Strip.blank(width, self._base)
        index, row = self._layout[y]
        view = self.buffer.view
        if index >= len(view):
            return Strip.blank(width, self._base)
        rec = view[index]
        sx = self._frame_sx
        is_cursor = rec is self.cursor
        rkey = (rec[SEQ], row, width, sx, self.wrap_lines, self._search_gen, is_cursor, self._label_width)
        strip = self._rows.get(rkey)
        if strip is None:
            strip = self._make_row(rec, row, width, sx, is_cursor)
            # While a stream scrolls past, a row is never drawn twice: caching it would only
            # keep it alive long enough to reach the collector's oldest generation (whose
            # full collections are the UI's longest pauses).
            if not (self.follow and self.rate > self.stream_rate):
                self._rows[rkey] = strip
        return strip

    def _make_row(self, r: LogRecord, row: int, width: int, sx: int, is_cursor: bool) -> Strip:
        """One screen row of a record, exactly ``width`` cells: the columns (time,
        host/source, level) on its first row, then the message (from column ``sx`` when
        scrolled sideways, or the ``row``-th wrapped piece)."""
        st = self._styles
        base = self._base
        kind, level = r[KIND], r[LEVEL]
        pw = self._prefix_width()
        if kind in (GAP, MARK):
            style = base + st.get("gap" if kind == GAP else "marker", Style())
            msg_style = style
            lead = [Segment(time_label(r) + " ", base + st.get("time", Style())),
                    Segment(" " * (pw - 13), base)]
        else:
            level_key = _LEVEL_STYLE.get(level, "")
            lstyle = base + st.get(level_key, Style()) if level_key else base
            label = f"{r[HOST]}/{r[SOURCE]}"
            lw = self._label_width
            label = label[:lw - 1] + "…" if len(label) > lw else label.ljust(lw)
            tag = LEVEL_TAGS.get(level, "   ") if kind == LINE or level else "   "
            lead = [Segment(time_label(r) + " ", base + st.get("time", Style())),
                    Segment(label, base + self._host_style(r[HOST])),
                    Segment(f" {tag} ", lstyle)]
            msg_style = lstyle if level >= WARNING else base
        avail = max(1, width - pw)
        if self.wrap_lines:
            pieces = self._wrapped(r, avail)
            part = pieces[min(row, len(pieces) - 1)]
            if row > 0:
                lead = [Segment(" " * pw, base)]
        else:
            text = message(r, self.display_max)
            part = _cells_slice(text, sx, avail)
        segs = lead + self._highlight(part, msg_style)
        used = pw + cell_len(part)
        if used < width:
            last = segs[-1]
            if last.style == base:  # pad inside the last run: one style change less per row
                segs[-1] = Segment(last.text + " " * (width - used), base)
            else:
                segs.append(Segment(" " * (width - used), base))
        if is_cursor:
            cur = st.get("cursor", Style(reverse=True))
            segs = [Segment(t, (s or base) + cur) for t, s, _c in segs]
        return Strip(segs, max(width, used))

    def _highlight(self, row: str, style: Style) -> list[Segment]:
        """Segments for one row of the message: search matches and request ids styled."""
        spans: list[tuple[int, int, Style]] = []
        st = self._styles
        if self.search is not None:
            for m in self.search.finditer(row):
                if m.end() > m.start():
                    spans.append((m.start(), m.end(), st.get("match", Style(reverse=True))))
        if self.trace_lookup is not None and ("id" in row or "Id" in row):
            # Only ids the smoke run's trace knows are marked: that is the signal (and every
            # style run is ~40 bytes to the terminal on every frame).
            for a, b, value in id_spans(row):
                if self.trace_lookup(value):
                    spans.append((a, b, st.get("linked", Style(underline=True))))
        if not spans:
            return [Segment(row, style)]
        spans.sort(key=lambda s: s[0])
        segs: list[Segment] = []
        pos = 0
        for a, b, sp in spans:
            if a < pos:
                continue
            if a > pos:
                segs.append(Segment(row[pos:a], style))
            segs.append(Segment(row[a:b], style + sp))
            pos = b
        if pos < len(row):
            segs.append(Segment(row[pos:], style))
        return segs

    def _host_style(self, host: str) -> Style:
        s = self._host_styles.get(host)
        if s is None:
            s = Style(color=HOST_PALETTE[len(self._host_styles) % len(HOST_PALETTE)], bold=True)
            self._host_styles[host] = s
        return s

    # ------------------------------------------------------------------ actions
    read_only = False  # the console's --read-only: saving writes into dry_run/, so it is hidden

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "save" and self.read_only:
            return False
        return True

    def action_toggle_follow(self) -> None:
        self.follow = not self.follow

    def action_follow(self) -> None:
        self.follow = True

    def action_toggle_wrap(self) -> None:
        self.wrap_lines = not self.wrap_lines

    def action_mark_now(self) -> None:
        self.flush()  # everything that arrived before "now" goes above the marker
        self.buffer.add_marker()
        self.flush_changes()

    def action_find(self, direction: int) -> None:
        if self.search is None:
            self.notify("no search yet: press / to search", severity="warning", timeout=3)
            return
        self._jump(lambda start: self.buffer.find(self.search, start, direction), "no line matches "
                   f"/{self.search.pattern}/", direction)

    def action_next_error(self, direction: int) -> None:
        self._jump(lambda start: self.buffer.find_level(start, direction), "no errors or gaps in view", direction)

    def _jump(self, finder: Callable[[int], int | None], none_msg: str, direction: int) -> None:
        view = self.buffer.view
        if self.cursor is not None and (ci := self.buffer.index_of(self.cursor)) is not None:
            start = ci
        else:
            top = int(self.scroll_offset.y)
            start = (top - 1) if direction > 0 else min(len(view), top + self.scrollable_content_region.height)
        i = finder(start)
        if i is None:
            self.notify(none_msg, timeout=3)
            return
        self.follow = False
        self.cursor = view[i]
        self._scroll_to_index(i, center=True)
        self._layout_key = None
        self.refresh()
        self.post_message(self.StatusChanged(self))

    def action_cycle_level(self) -> None:
        f = self.buffer.filter
        i = LEVEL_CYCLE.index(f.min_level) if f.min_level in LEVEL_CYCLE else 0
        self.set_filter(_replace(f, min_level=LEVEL_CYCLE[(i + 1) % len(LEVEL_CYCLE)]))

    def action_cycle_host(self) -> None:
        hosts = sorted(self.buffer.hosts)
        f = self.buffer.filter
        if not hosts:
            return
        if f.hosts is None:
            nxt: frozenset[str] | None = frozenset({hosts[0]})
        else:
            cur = sorted(f.hosts)[0]
            i = hosts.index(cur) + 1 if cur in hosts else 0
            nxt = frozenset({hosts[i]}) if i < len(hosts) else None
        self.set_filter(_replace(f, hosts=nxt))

    def action_clear_filters(self) -> None:
        self.set_filter(LogFilter())

    def action_save(self, view_only: bool) -> None:
        self.save(view_only)

    # ------------------------------------------------------------------ API
    def set_filter(self, flt: LogFilter) -> None:
        self.flush()
        keep = self.cursor
        self.buffer.set_filter(flt)
        self.buffer.take_changes()
        self._update_virtual_size()
        if self.follow:
            self._scroll_end()
        elif keep is not None:
            self._scroll_to_index(self.buffer.nearest_index(keep), center=True)
        self._layout_key = None
        self.refresh()
        self.post_message(self.StatusChanged(self))

    def set_search(self, text: str, *, regex: bool = True) -> int:
        """Highlight ``text`` and jump to the next match; returns how many lines match.
        Raises PatternError for a bad regex. Empty text clears the search."""
        if not text:
            self.search = None
            self._search_gen += 1
            self._rows.clear()
            self.refresh()
            self.post_message(self.StatusChanged(self))
            return 0
        self.search = compile_pattern(text, regex=regex)
        self._search_gen += 1
        self._rows.clear()
        count = self.buffer.count_matches(self.search)
        if count:
            self.action_find(1)
        else:
            self.refresh()
        self.post_message(self.StatusChanged(self))
        return count

    def set_trace_lookup(self, lookup: Callable[[str], str | None] | None) -> None:
        """Request/correlation ids in lines are underlined; those ``lookup`` knows (the
        smoke run's RPC trace) are coloured and ``describe_ids`` says what they were."""
        self.trace_lookup = lookup
        self._rows.clear()
        self.refresh()

    def describe_ids(self, r: LogRecord) -> list[str]:
        if self.trace_lookup is None:
            return []
        out = []
        for _a, _b, value in id_spans(r[TEXT]):
            what = self.trace_lookup(value)
            if what:
                out.append(f"{value}: {what}")
        return out

    def flush_changes(self) -> None:
        """Redraw after a direct change to the buffer (a marker, a shared buffer fed elsewhere)."""
        self.buffer.take_changes()
        self._update_virtual_size()
        if self.follow:
            self._scroll_end()
        self._layout_key = None
        self.refresh()
        self.post_message(self.StatusChanged(self))

    def status(self) -> str:
        buf = self.buffer
        parts = ["FOLLOW" if self.follow else f"PAUSED (+{self.new_while_paused:,} new)"]
        shown, total = len(buf.view), len(buf.records)
        parts.append(f"{shown:,}/{total:,} lines" if shown != total else f"{total:,} lines")
        if buf.evicted or self.dropped_pending:
            parts.append(f"{buf.evicted + self.dropped_pending:,} oldest dropped (cap {buf.cap:,})")
        if buf.errors:
            parts.append(f"{buf.errors:,} errors")
        if buf.filter.active:
            parts.append("filter: " + buf.filter.describe())
        if self.search is not None:
            parts.append(f"search /{self.search.pattern}/")
        if self.wrap_lines:
            parts.append("wrap")
        return " · ".join(parts)

    # ------------------------------------------------------------------ saving
    def save(self, view_only: bool) -> None:
        """Write the view (filters applied) or the whole buffer, lines whole, off the UI loop."""
        if self.save_dir is None:
            self.notify("no dry_run/ folder configured: nothing saved", severity="error")
            return
        self.flush()
        records = self.buffer.export(view_only=view_only)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        what = "view" if view_only else "all"
        path = self.save_dir / f"logs-{stamp}-{what}.log"
        n = 1
        while path.exists():
            n += 1
            path = self.save_dir / f"logs-{stamp}-{what}-{n}.log"
        header = ""
        if view_only and self.buffer.filter.active:
            header = f"# filter: {self.buffer.filter.describe()}\n"
        self._save_worker(path, records, header)

    @work(thread=True, exclusive=False, group="log-save", exit_on_error=False, name="save logs")
    def _save_worker(self, path: Path, records: list[LogRecord], header: str) -> None:
        from record.atomic import atomic_write_bytes
        from runners.logs.buffer import render_export

        try:
            data = (header + "".join(render_export(records))).encode("utf-8", "backslashreplace")
            atomic_write_bytes(path, data)
        except OSError as e:
            self.post_message(self.Saved(self, None, 0, f"cannot write {path}: {e.strerror or e}"))
            return
        self.post_message(self.Saved(self, path, len(records)))


def _thumb_eighths(size: int, virtual: float, window: float, position: float) -> tuple[int, int] | None:
    """Where ScrollBarRender draws the thumb, in eighths of a cell (same formula)."""
    if not (window and size and virtual and size != virtual) or virtual <= window:
        return None
    thumb = max(1.0, window / (virtual / size))
    pos = (size - thumb) * (position / (virtual - window))
    start = int(pos * 8)
    return start, start + ceil(thumb * 8)


def _cells_slice(text: str, start: int, width: int) -> str:
    """``width`` cells of ``text`` from cell ``start`` (wide characters count as two)."""
    if len(text) == cell_len(text):  # the common case: one cell per character
        return text[start:start + width]
    pieces = chop_cells(text, 1)  # one piece per character, wide ones take two cells
    out, col = [], 0
    for ch in pieces:
        w = cell_len(ch)
        if col >= start and col + w <= start + width:
            out.append(ch)
        col += w
        if col >= start + width:
            break
    return "".join(out)


_LEVEL_STYLE = {TRACE: "debug", DEBUG: "debug", INFO: "info", NOTICE: "notice", WARNING: "warning",
                ERROR: "error", CRITICAL: "critical"}


def _replace(f: LogFilter, **kw: Any) -> LogFilter:
    import dataclasses

    return dataclasses.replace(f, **kw)


class LogPane(Vertical):
    """LogView + a status line + a prompt for search / include / exclude patterns."""

    DEFAULT_CSS = """
    LogPane { height: 1fr; }
    LogPane > #log-status { height: 1; padding: 0 1; background: $boost; color: $text; }
    LogPane > #log-prompt { display: none; height: 3; }
    LogPane > #log-prompt.-open { display: block; }
    """
    BINDINGS: ClassVar[list[Binding]] = [
        Binding("slash", "prompt('search')", "Search", id="logs.search", tooltip="regex; n / N for next / previous"),
        Binding("i", "prompt('include')", "Include", id="logs.include", show=False,
                tooltip="show only lines matching a regex"),
        Binding("x", "prompt('exclude')", "Exclude", id="logs.exclude", show=False,
                tooltip="hide lines matching a regex"),
        Binding("escape", "close_prompt", "Close prompt", id="logs.escape", show=False,
                tooltip="close the prompt, or clear the search"),
    ]
    _PLACEHOLDERS = {"search": "search (regex, lower case = any case); Enter to find, empty to clear",
                     "include": "show only lines matching (regex); empty to drop this filter",
                     "exclude": "hide lines matching (regex); empty to drop this filter"}

    def __init__(self, buffer: LogBuffer | None = None, *, save_dir: Path | None = None, cap: int = 100_000,
                 flush_hz: float = 20.0, **kw: Any) -> None:
        super().__init__(**kw)
        self._view_args = dict(buffer=buffer, save_dir=save_dir, cap=cap, flush_hz=flush_hz)
        self._prompt_kind = ""

    def compose(self) -> ComposeResult:
        yield Static("", id="log-status")
        yield LogView(id="log-view", **self._view_args)  # type: ignore[arg-type]
        yield Input(id="log-prompt")

    @property
    def view(self) -> LogView:
        return self.query_one(LogView)

    def on_mount(self) -> None:
        self._show_status()

    def on_log_view_status_changed(self, message: LogView.StatusChanged) -> None:
        self._show_status()

    def on_log_view_saved(self, message: LogView.Saved) -> None:
        if message.error:
            self.notify(message.error, title="Logs not saved", severity="error", timeout=10)
        else:
            self.notify(f"{message.lines:,} lines saved to {message.path}", title="Logs saved", timeout=6)

    def _show_status(self) -> None:
        # fixed height: no layout pass (a layout re-renders the whole screen)
        self.query_one("#log-status", Static).update(self.view.status(), layout=False)

    def action_prompt(self, kind: str) -> None:
        self._prompt_kind = kind
        inp = self.query_one("#log-prompt", Input)
        inp.placeholder = self._PLACEHOLDERS[kind]
        f = self.view.buffer.filter
        current = {"search": self.view.search, "include": f.include, "exclude": f.exclude}[kind]
        inp.value = current.pattern if current is not None else ""
        inp.add_class("-open")
        inp.focus()

    def action_close_prompt(self) -> None:
        inp = self.query_one("#log-prompt", Input)
        if inp.has_class("-open"):
            inp.remove_class("-open")
            self.view.focus()
        elif self.view.search is not None:
            self.view.set_search("")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value
        view = self.view
        try:
            if self._prompt_kind == "search":
                n = view.set_search(text)
                if text and not n:
                    self.notify(f"no line matches /{text}/", timeout=3)
            else:
                pat = compile_pattern(text) if text else None
                view.set_filter(_replace(view.buffer.filter, **{self._prompt_kind: pat}))
        except PatternError as e:
            self.notify(str(e), title="Pattern", severity="error", timeout=6)
            return
        event.input.remove_class("-open")
        view.focus()
        self._show_status()


__all__ = ["LogPane", "LogView"]
