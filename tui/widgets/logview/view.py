"""``LogView``: every host's logs merged by time, followed or paused, filtered, searched;
a line-API ``ScrollView`` over :class:`runners.logs.buffer.LogBuffer`. This module holds
the widget's state, styles, messages and public API; the mixins hold the rest
(``ingest``: lines in and frames, ``follow``: scrolling, ``rows``: drawing,
``actions``: keys, ``saving``: files)."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import ClassVar

from rich.style import Style
from textual.binding import Binding
from textual.cache import LRUCache
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from runners.logs.buffer import TEXT, LogBuffer, LogFilter, LogRecord, compile_pattern
from runners.logs.display import DISPLAY_MAX
from runners.logs.parse import id_spans
from tui.widgets.logview.actions import VIEW_BINDINGS, ActionsMixin
from tui.widgets.logview.filters import status_line
from tui.widgets.logview.follow import FollowMixin
from tui.widgets.logview.ingest import IngestMixin
from tui.widgets.logview.labels import SourceLabels
from tui.widgets.logview.rows import RowsMixin
from tui.widgets.logview.saving import SaveMixin


class LogView(IngestMixin, FollowMixin, RowsMixin, ActionsMixin, SaveMixin, ScrollView, can_focus=True):
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
    BINDINGS: ClassVar[list[Binding]] = VIEW_BINDINGS

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
        self.labels = SourceLabels()  # the host/source column
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
        self._compact = False  # compact host/source labels (a narrow pane)
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

    # ------------------------------------------------------------------ lifecycle and styles
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

    def set_sources(self, sources: Mapping[str, Iterable[str]]) -> None:
        """The log sources configured per host (the label column counts them before they
        send anything, so it does not change when a quiet source speaks first)."""
        if not self.labels.configure(sources):
            return
        self._rows.clear()
        self._layout_key = None
        if self.is_mounted:
            self._check_compact()
            self._update_virtual_size()
            self.refresh()
            self.post_message(self.StatusChanged(self))

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
        return status_line(self.buffer, follow=self.follow, new_while_paused=self.new_while_paused,
                           dropped_pending=self.dropped_pending, search=self.search, wrap=self.wrap_lines,
                           legend=self.labels.legend() if self._compact else "")
