"""The checks of the run in view, live: one row per (check, host), status word + glyph,
duration (ticking while running), attempts when repeating, the last step.

For fleets (50 hosts x 7 checks = 350 rows): ``o`` orders the rows by check, by host or
failures first; ``show(..., hosts=)`` keeps only some hosts (the pane's host filter); a
refresh only rewrites the rows whose content changed, so a live run stays cheap."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist

from record.state import SMK_IDS, CellState, RunState
from tui.widgets.status import CHECK_WORDS, check_text, fmt_duration

SEP = "\x1f"


def row_key(host: str, check: str) -> str:
    return f"{host}{SEP}{check}"


def split_key(key: str) -> tuple[str, str]:
    host, _, check = key.partition(SEP)
    return host, check


def _order(key: tuple[str, str]) -> tuple[int, str]:
    host, check = key
    return (SMK_IDS.index(check) if check in SMK_IDS else 99, host)


def _check_index(check: str) -> int:
    return SMK_IDS.index(check) if check in SMK_IDS else 99


STATUS_RANK = {"failed": 0, "error": 1, "running": 2, "pending": 3, "skipped": 4, "passed": 5}
ORDERS: dict[str, str] = {"check": "by check", "host": "by host", "failures": "failures first"}


def order_keys(state: RunState, order: str, hosts: set[str] | None = None) -> list[tuple[str, str]]:
    keys = [k for k in state.cells if hosts is None or k[0] in hosts]
    if order == "host":
        return sorted(keys, key=lambda k: (k[0], _check_index(k[1])))
    if order == "failures":
        return sorted(keys, key=lambda k: (STATUS_RANK.get(state.cells[k].status, 9), _order(k)))
    return sorted(keys, key=_order)


class RunTable(DataTable):
    DEFAULT_CSS = """
    RunTable { height: 1fr; }
    """
    BINDINGS: ClassVar[list[Binding]] = [
        Binding("o", "cycle_order", "Order", id="runs.order", show=False,
                tooltip="rows by check, by host, or failures first"),
    ]

    class OrderChanged(Message):
        def __init__(self, table: RunTable) -> None:
            super().__init__()
            self.table = table

        @property
        def control(self) -> RunTable:
            return self.table

    def __init__(self, **kw: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kw)
        self._keys: list[tuple[str, str]] = []
        self._wide: bool | None = None
        self._moved_by_user = False
        self._step_w = 0
        self.order = "check"
        self._shown: dict[tuple[str, str], tuple] = {}  # what each row shows now

    def invalidate(self) -> None:
        """Rewrite every row on the next ``show`` (the theme changed: styles differ)."""
        self._shown = {}

    def action_cycle_order(self) -> None:
        names = list(ORDERS)
        self.order = names[(names.index(self.order) + 1) % len(names)]
        self.post_message(self.OrderChanged(self))

    def on_key(self, event) -> None:
        if event.key in ("up", "down", "pageup", "pagedown", "home", "end", "ctrl+home", "ctrl+end"):
            self._moved_by_user = True

    def on_click(self) -> None:
        self._moved_by_user = True

    def reset_follow(self) -> None:
        """A new run: jump to its first failure again when it ends."""
        self._moved_by_user = False

    def show(self, state: RunState, now: datetime, *, wide: bool, hosts: list[str] | None = None) -> None:
        """``hosts``: only these hosts' rows (None: all)."""
        keys = order_keys(state, self.order, set(hosts) if hosts is not None else None)
        step_w = max(16, self.size.width - 50)  # "Last step" takes the width there is
        if wide != self._wide or (wide and step_w != self._step_w):
            self._step_w = step_w
            self.clear(columns=True)
            self.add_column("Check", key="check", width=5)
            self.add_column("Host", key="host", width=12)
            self.add_column("Status", key="status", width=7)
            self.add_column("Time", key="time", width=6)
            self.add_column("Runs", key="runs", width=6 if not wide else 10)
            if wide:
                self.add_column("Last step", key="step", width=step_w)
            self._wide, self._keys = wide, []
        if keys != self._keys:
            selected = self._selected_key()
            self.clear()
            self._shown = {}
            for host, check in keys:
                self.add_row(*([""] * len(self.columns)), key=row_key(host, check))
            self._keys = keys
            if selected in keys:
                self.move_cursor(row=keys.index(selected), animate=False)
        if not self._moved_by_user and not state.running:
            # a finished run opens on its first failure: that is what the operator came to see
            bad = [k for k in keys if state.cells[k].status in ("failed", "error")]
            if bad:
                self.move_cursor(row=keys.index(bad[0]), animate=False)
        for key in keys:
            self._update_row(key, state.cells[key], now)

    def tick(self, state: RunState, now: datetime) -> None:
        """Only the running rows' clocks (4 Hz while a run is live)."""
        for key in self._keys:
            cell = state.cells.get(key)
            if cell is not None and cell.status == "running":
                self._update_row(key, cell, now)

    def _update_row(self, key: tuple[str, str], cell: CellState, now: datetime) -> None:
        host, check = key
        if cell.status == "running":
            dur: float | None = now.timestamp() - cell.started
        elif cell.result is not None:
            dur = cell.result.duration
        else:
            dur = None
        time = fmt_duration(dur) if dur is not None else ""
        runs = "".join(CHECK_WORDS.get(o, ("?",))[0] for o in cell.history[-8:])
        step = ""
        if "step" in self.columns:
            step = cell.last_step if cell.status == "running" else (cell.result.summary if cell.result else "")
        sig = (cell.status, time, runs, step)
        if self._shown.get(key) == sig:
            return  # 350 rows in a fleet run: only rewrite what changed
        self._shown[key] = sig
        rk = row_key(host, check)
        self.update_cell(rk, "check", Text(check, style="bold"))
        self.update_cell(rk, "host", host)
        self.update_cell(rk, "status", check_text(self.app, cell.status))
        self.update_cell(rk, "time", time)
        self.update_cell(rk, "runs", runs)
        if "step" in self.columns:
            self.update_cell(rk, "step", Text(step, no_wrap=True, overflow="ellipsis"))

    def _selected_key(self) -> tuple[str, str] | None:
        if not self.row_count:
            return None
        try:
            rk, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        except CellDoesNotExist:
            return None
        return split_key(str(rk.value))

    @property
    def selected(self) -> tuple[str, str] | None:
        return self._selected_key()

    def shows(self, host: str, check: str) -> bool:
        """Is this check's row in the table (not hidden by the host filter)?"""
        return (host, check) in self._keys

    def select(self, host: str, check: str) -> None:
        self._moved_by_user = True  # chosen (from the stand-up grid): a refresh must not move it
        if (host, check) in self._keys:
            self.move_cursor(row=self._keys.index((host, check)), animate=False)
