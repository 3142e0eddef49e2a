"""Which record goes on which screen row, and each row's cells: the line API half of
``LogView`` (``render_line``). Only the rows on screen are ever drawn; drawn rows are
kept in a small cache keyed by everything that changes how they look.

A row: time (12 cells), the host/source label (``labels``), the level tag (3 cells),
then the message - from column ``scroll_x`` when scrolled sideways, or the n-th piece
when wrapped. A mixin of :class:`tui.widgets.logview.view.LogView`."""

from __future__ import annotations

from rich.cells import cell_len, chop_cells
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from runners.logs.buffer import GAP, HOST, KIND, LEVEL, LINE, MARK, SEQ, SOURCE, LogRecord
from runners.logs.display import message, time_label, wrap
from runners.logs.parse import CRITICAL, DEBUG, ERROR, INFO, LEVEL_TAGS, NOTICE, TRACE, WARNING, id_spans

HOST_PALETTE = ("#4C9BE8", "#C678DD", "#56B6C2", "#E5C07B", "#98C379", "#D19A66", "#61AFEF", "#E06C75")
TIME_CELLS, LEVEL_CELLS = 12, 3
FIXED_COLUMNS = TIME_CELLS + 1 + 1 + LEVEL_CELLS + 1  # every column but the label, with their spaces
LEVEL_STYLE = {TRACE: "debug", DEBUG: "debug", INFO: "info", NOTICE: "notice", WARNING: "warning",
               ERROR: "error", CRITICAL: "critical"}


class RowsMixin:
    # ------------------------------------------------------------------ layout
    def _prefix_width(self) -> int:
        return FIXED_COLUMNS + self.labels.width(self._compact)

    def _message_width(self) -> int:
        return max(1, self.scrollable_content_region.width - self._prefix_width())

    def _check_compact(self) -> None:
        """Full or compact labels for the current width; on a change every row is stale."""
        compact = self.labels.use_compact(self.scrollable_content_region.width, FIXED_COLUMNS)
        if compact == self._compact:
            return
        self._compact = compact
        self._rows.clear()
        self._layout_key = None
        if self.is_mounted:
            self._update_virtual_size()
            self.refresh()
            self.post_message(self.StatusChanged(self))

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

    def _wrapped(self, r: LogRecord, width: int) -> list[str]:
        key = (r[SEQ], width)
        rows = self._wrap_cache.get(key)
        if rows is None:
            rows = wrap(message(r, self.display_max), width)
            self._wrap_cache[key] = rows
        return rows

    # ------------------------------------------------------------------ drawing
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
        rkey = (rec[SEQ], row, width, sx, self.wrap_lines, self._search_gen, is_cursor, self.labels.generation,
                self._compact)
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
                    Segment(" " * (pw - TIME_CELLS - 1), base)]
        else:
            level_key = LEVEL_STYLE.get(level, "")
            lstyle = base + st.get(level_key, Style()) if level_key else base
            label = self.labels.label(r[HOST], r[SOURCE], self._compact)
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
            part = cells_slice(text, sx, avail)
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


def cells_slice(text: str, start: int, width: int) -> str:
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
