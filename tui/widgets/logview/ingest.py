"""Lines in, frames out: how ``LogView`` takes a flood without freezing the UI.

``ingest`` only queues (O(1), no drawing). A pump parses the queue into the buffer
``pump_hz`` times a second, each time for at most ``pump_budget`` seconds (right away
for a trickle, so a lone line shows at once); a frame shows what the pump added, at
most ``flush_hz`` times a second while lines are sparse and ``stream_hz`` while a stream
keeps coming. What exceeds the buffer's cap before it was even parsed is dropped here,
counted. A mixin of :class:`tui.widgets.logview.view.LogView`."""

from __future__ import annotations

import time
from collections.abc import Iterable

from runners.events import Event, LogGap, LogLines

CHUNK = 256  # lines per queued item: a drain can stop between chunks when its time is up


class IngestMixin:
    # ------------------------------------------------------------------ data in
    def ingest(self, ev: Event) -> None:
        """Queue a ``LogLines`` / ``LogGap`` event (other events are ignored). Cheap: no drawing."""
        if isinstance(ev, LogLines):
            self.ingest_lines(ev.host, ev.source, ev.lines, history=ev.history)
        elif isinstance(ev, LogGap):
            self._pending.append(("gap", ev.host, ev.source, ev.reason, ev.lost_bytes, ev.ts))
            self._pump_soon()

    def ingest_lines(self, host: str, source: str, lines: Iterable[str], fmt: str = "auto", *,
                     history: bool = False) -> None:
        lines = lines if isinstance(lines, (list, tuple)) else list(lines)
        now = time.time()
        for i in range(0, len(lines), CHUNK):
            chunk = lines[i:i + CHUNK]
            self._pending.append(("lines", host, source, chunk, fmt, now, history))
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
        labels_changed = False
        while pending:
            item = pending.popleft()
            if item[0] == "lines":
                _, host, source, chunk, fmt, arrival, history = item
                self.pending_lines -= len(chunk)
                n += buf.add_lines(host, source, chunk, fmt=fmt, arrival=arrival, history=history)
                if self.labels.add(host, source):
                    labels_changed = True
                w = max(map(len, chunk), default=0)
                if w > self._max_width:
                    self._max_width = min(w, self.display_max + 40)
            else:
                _, host, source, reason, lost, ts = item
                buf.add_gap(host, source, reason, lost, at=ts)
                n += 1
            if time.perf_counter() >= t_end:
                break
        if labels_changed:
            self._rows.clear()
            self._check_compact()
        self._changed = True
        self._added_since_frame += n
        if time.perf_counter() - self._last_frame >= self._frame_interval():
            self.frame()  # leading edge: after a quiet spell, show at once
        return n

    def _frame_interval(self) -> float:
        return 1 / (self.stream_hz if self.rate > self.stream_rate else self.flush_hz)

    def frame(self, force: bool = False) -> bool:
        """Show what the pump added: one redraw, rate-limited (see ``LogView.__init__``)."""
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
