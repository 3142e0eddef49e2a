"""Follow or pause, and the scrolling behind it: following keeps the newest line at the
bottom; the operator scrolling up pauses (the view then stays put while lines arrive),
scrolling back to the bottom or ``end`` follows again. Moves the pane makes itself
(``_programmatic_scroll``) and moves Textual makes when the bottom moves up (the first
layout, a resize, a shorter view: the position is clamped to the new bottom) are not the
operator's. Also keeps the virtual size and the vertical scrollbar up to date without a
screen layout per frame. A mixin of :class:`tui.widgets.logview.view.LogView`."""

from __future__ import annotations

from math import ceil

from textual.geometry import Size


class FollowMixin:
    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        # ScrollView's own watcher, except the scrollbar is told only what changes its look.
        if not self._programmatic_scroll:
            self._sync_vertical_scrollbar()
        if round(old_value) != round(new_value):
            self.refresh(self.size.region)
        self._layout_key = None
        if self._programmatic_scroll:
            return
        # The operator scrolled: up pauses, back to the bottom follows again. A move up that
        # ends at the bottom is not the operator: the first layout, a resize or a shorter
        # view clamps the position to a new, higher bottom (the pane replays the App's
        # backlog before it has a size: scroll_end then overshoots what the layout allows).
        if new_value < old_value and self.follow:
            if new_value < self.max_scroll_y:
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

    def watch_scroll_x(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_x(old_value, new_value)  # type: ignore[misc]
        self._layout_key = None

    def on_resize(self) -> None:
        self._layout_key = None
        self._check_compact()  # full or compact labels for the new width

    # ------------------------------------------------------------------ sizes and scrollbar
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
        self.set_reactive(type(self).virtual_size, new)
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
            thumb = thumb_eighths(size, virtual, window, pos)
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


def thumb_eighths(size: int, virtual: float, window: float, position: float) -> tuple[int, int] | None:
    """Where ScrollBarRender draws the thumb, in eighths of a cell (same formula)."""
    if not (window and size and virtual and size != virtual) or virtual <= window:
        return None
    thumb = max(1.0, window / (virtual / size))
    pos = (size - thumb) * (position / (virtual - window))
    start = int(pos * 8)
    return start, start + ceil(thumb * 8)
