"""The log view's keys: their bindings (each with an id and a description, as
everywhere in the console) and the actions behind them. ``LogPane`` adds / search and
i / x include / exclude (``pane``). A mixin of :class:`tui.widgets.logview.view.LogView`
(Textual only reads ``BINDINGS`` from widget classes: ``LogView.BINDINGS = VIEW_BINDINGS``)."""

from __future__ import annotations

from collections.abc import Callable

from textual.binding import Binding

from runners.logs.buffer import LogFilter
from tui.widgets.logview.filters import next_host, next_level

VIEW_BINDINGS: list[Binding] = [
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


class ActionsMixin:
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
        self.set_filter(next_level(self.buffer.filter))

    def action_cycle_host(self) -> None:
        nxt = next_host(self.buffer.filter, self.buffer.hosts)
        if nxt is not None:
            self.set_filter(nxt)

    def action_clear_filters(self) -> None:
        self.set_filter(LogFilter())

    def action_save(self, view_only: bool) -> None:
        self.save(view_only)
