"""SMK-1..7 x hosts: status word + glyph (+ colour), duration, last run time, flaky rate.

Reads a RunState-like source (history, overlaid with the live run while one is going).
Cells are Rich Text in a DataTable (cell cursor: enter opens the check in Smoke).

A fleet (more hosts than fit as columns) gets a row per host instead: worst first, its
health, a cell per check ("✖ F" at 80 columns, "✖ FAIL 3.43s" on a big screen); only the
cells whose content changed are rewritten, so a live 50-host run stays cheap."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.widgets import DataTable

from record.state import SMK_IDS
from tui.fleet import HostRollup, rollups, worst_first
from tui.widgets.status import check_text, fmt_duration, host_text

if TYPE_CHECKING:
    from tui.model import ConsoleModel

SHORT_TITLES = {
    "SMK-1": "start+health", "SMK-2": "auth", "SMK-3": "discovery", "SMK-4": "snapshot",
    "SMK-5": "recording", "SMK-6": "error codes", "SMK-7": "concurrency",
}


def cell_view(model: ConsoleModel, host: str, check: str) -> tuple[str, float | None, float | None]:
    """(status, duration, finished-at ts) of a cell: the live run if it has touched the
    cell, else the last result in the history."""
    live = model.live.cells.get((host, check))
    if live is not None and model.live.run_id and live.status in ("running", "pending"):
        if live.status == "running":
            return "running", model.now().timestamp() - live.started, None
        if model.live.running:
            return "pending", None, None
    if live is not None and live.result is not None:
        return live.result.outcome, live.result.duration, live.result.ts
    last = model.history.last_finish.get((host, check))
    if last is not None:
        return last.outcome, last.duration, last.ts
    return "none", None, None


def flaky_rate(model: ConsoleModel, check: str) -> float | None:
    """Flaky share of a check's attempts, as the record's metrics count it: failing attempts
    of a check that also passed on the same baseline (a fix in between is not a flake)."""
    metrics = model.record.get("metrics") if model.record else None
    if not metrics:
        return None
    n = (metrics.get("per_check") or {}).get(check, {}).get("n", 0)
    if not n:
        return None
    flaky = sum(f.get("flaky_failures", 0) for f in metrics.get("flaky_checks", []) if f.get("check") == check)
    return flaky / n


def flaky_text(model: ConsoleModel, check: str) -> Text:
    rate = flaky_rate(model, check)
    if rate is None:
        return Text("—", style="dim")
    over = rate * 100 > model.cfg.gates.flaky_max_pct
    return Text(f"{rate * 100:.0f}%" + ("!" if over else ""), style="bold" if rate else "")


class SmokeGrid(DataTable):
    """Two layouts. Few hosts (they fit as columns): a row per check, a column per host,
    then the last run time and the flaky rate. A fleet (more hosts than fit): a row per
    host, worst first (down, failing, degraded, running, then ok), its health and a column
    per check; the table keeps a fixed height and scrolls with the cursor, ``set_filter``
    narrows it to some hosts and ``rollups`` holds what the summary line counts."""

    DEFAULT_CSS = """
    SmokeGrid { height: auto; max-height: 100%; }
    SmokeGrid.-fleet { height: 8; }
    """

    def __init__(self, **kw: Any) -> None:
        super().__init__(cursor_type="cell", zebra_stripes=False, **kw)
        self._hosts: tuple[str, ...] = ()
        self._wide = False
        self._host_w = 0
        self.fleet = False
        self._layout: tuple = ()
        self._rows: tuple[str, ...] = ()  # fleet: hosts in row order
        self._shown: dict[tuple[str, str], tuple] = {}  # fleet: what each cell shows now
        self._check_w = 0
        self._filter: list[str] | None = None
        self._moved_by_user = False
        self.rollups: list[HostRollup] = []

    # ------------------------------------------------------------------ layout
    @staticmethod
    def fits_as_columns(n_hosts: int, width: int, wide: bool) -> bool:
        """Do ``n_hosts`` host columns fit in ``width`` (classic layout, no sideways scroll)?"""
        fixed, per_host = (5 + 12 + 9 + 5 + 2 * 4, 13 + 2) if wide else (5 + 5 + 5 + 2 * 3, 11 + 2)
        return n_hosts <= max(1, (width - fixed) // per_host)

    def rebuild(self, model: ConsoleModel, *, wide: bool, width: int = 80) -> None:
        """``width``: room for the table; on a big shared screen the host columns grow into it."""
        hosts = model.hosts
        fleet = not self.fits_as_columns(len(hosts), width, wide)
        if fleet:
            self._rebuild_fleet(model, hosts, wide=wide, width=width)
            return
        if self.fleet:
            self.fleet, self._layout, self._rows = False, (), ()
            self.remove_class("-fleet")
            self.cell_padding = 1
            self.clear(columns=True)
        host_w = 11
        if wide:
            fixed = 5 + 12 + 9 + 5 + 2 * 4
            host_w = max(13, min(24, (width - fixed) // max(1, len(hosts)) - 2))
        if hosts != self._hosts or wide != self._wide or host_w != self._host_w or not self.columns:
            self._host_w = host_w
            self.clear(columns=True)
            self.add_column("Check", key="check", width=5)
            if wide:
                self.add_column("", key="title", width=12)
            for h in hosts:
                self.add_column(h, key=f"h:{h}", width=host_w)
            # 80 columns: Check 5 + 2 hosts x 11 + Last 5 + Flaky 5 (+ padding) fits beside the gates
            self.add_column("Last", key="last", width=9 if wide else 5)
            self.add_column("Flaky", key="flaky", width=5)
            self._wide = wide
            for c in SMK_IDS:
                self.add_row(*([""] * len(self.columns)), key=c)
            self._hosts = hosts
        self.update_cells(model)

    def _rebuild_fleet(self, model: ConsoleModel, hosts: tuple[str, ...], *, wide: bool, width: int) -> None:
        pad = 1 if wide else 0
        longest = max((len(h) for h in hosts), default=4)
        host_w = max(4, min(longest, 16 if wide else 12)) + (1 - pad)
        up_w = 7 if wide else 6
        avail = width - (host_w + 2 * pad) - (up_w + 2 * pad) - 2  # 2: the vertical scrollbar
        check_w = max(4, min(20 if wide else 14, avail // len(SMK_IDS) - 2 * pad))
        layout = (hosts, wide, host_w, check_w)
        if not self.fleet or layout != self._layout:
            self.fleet, self._layout, self._hosts, self._wide, self._check_w = True, layout, hosts, wide, check_w
            self.add_class("-fleet")
            self.cell_padding = pad
            self.clear(columns=True)
            self._rows, self._shown = (), {}
            self.add_column("Host", key="host", width=host_w)
            self.add_column("Health" if wide else "Up", key="up", width=up_w)
            for c in SMK_IDS:
                label = f"{c} {SHORT_TITLES[c]}"
                if check_w < len(label):
                    label = c if check_w >= 6 else f"S-{c.split('-')[1]}"
                self.add_column(label, key=f"c:{c}", width=check_w)
        self.update_cells(model)

    def invalidate(self) -> None:
        """Rewrite every cell on the next update (the theme changed: styles differ)."""
        self._shown = {}

    def set_filter(self, model: ConsoleModel, hosts: list[str] | None) -> None:
        """Show only ``hosts`` (None: all); the fleet layout only."""
        self._filter = hosts
        if self.fleet:
            self.update_cells(model)

    # ------------------------------------------------------------------ cells
    def update_cells(self, model: ConsoleModel) -> None:
        if self.fleet:
            self._update_fleet(model)
            return
        now = model.now()
        for c in SMK_IDS:
            self.update_cell(c, "check", Text(c, style="bold"))
            if "title" in self.columns:
                self.update_cell(c, "title", Text(SHORT_TITLES[c], style="dim"))
            last_ts: float | None = None
            for h in self._hosts:
                status, dur, ts = cell_view(model, h, c)
                extra = _short_duration(dur, self._wide) if dur is not None else ""
                self.update_cell(c, f"h:{h}", check_text(self.app, status, extra=extra))
                if ts is not None:
                    last_ts = max(last_ts or 0.0, ts)
            when = _when(last_ts, now)
            if not self._wide and len(when) > 5:
                when = when[:3]  # "Tue": an older result; the time is in the wide view and on Smoke
            self.update_cell(c, "last", Text(when, style="dim"))
            self.update_cell(c, "flaky", flaky_text(model, c))

    def _update_fleet(self, model: ConsoleModel) -> None:
        views = {(h, c): cell_view(model, h, c) for h in self._hosts for c in SMK_IDS}
        self.rollups = rollups(self._hosts, model.health, lambda h, c: views[(h, c)][0], SMK_IDS)
        by_host = {r.host: r for r in self.rollups}
        keep = set(self._filter) if self._filter is not None else None
        order = tuple(r.host for r in worst_first(self.rollups) if keep is None or r.host in keep)
        if order != self._rows:
            self._reorder(order)
        cw = self._check_w
        for h in order:
            r = by_host[h]
            self._set(h, "host", (h,), lambda: Text(h, style="bold", no_wrap=True, overflow="ellipsis"))
            self._set(h, "up", (r.health,), lambda: host_text(self.app, r.health, short=not self._wide))
            for c in SMK_IDS:
                status, dur, _ts = views[(h, c)]
                if cw >= 13 and dur is not None:
                    extra = _short_duration(dur, True)
                else:
                    extra = ""
                self._set(h, f"c:{c}", (status, extra),
                          lambda s=status, e=extra: check_text(self.app, s, extra=e, short=cw < 7))

    def _set(self, host: str, col: str, value: tuple, make: Any) -> None:
        if self._shown.get((host, col)) != value:
            self._shown[(host, col)] = value
            self.update_cell(host, col, make())

    def on_key(self, event: Any) -> None:
        if event.key in ("up", "down", "pageup", "pagedown", "home", "end", "ctrl+home", "ctrl+end"):
            self._moved_by_user = True

    def on_click(self) -> None:
        self._moved_by_user = True

    def _reorder(self, order: tuple[str, ...]) -> None:
        """New row order (worst first, or the filter changed). A cursor the operator moved
        stays on its host; otherwise the view stays at the top, where the worst hosts are."""
        at = self.target() if self.row_count else None
        col = self.cursor_coordinate.column
        self.clear()
        self._shown = {}
        for h in order:
            self.add_row(*([""] * len(self.columns)), key=h)
        self._rows = order
        if self._moved_by_user and at is not None and at[0] in order:
            self.move_cursor(row=order.index(at[0]), column=col, animate=False)
        elif order:
            self.move_cursor(row=0, column=col, animate=False)
            self.scroll_home(animate=False)

    @property
    def host_rows(self) -> tuple[str, ...]:
        """Fleet layout: the hosts shown, in row order."""
        return self._rows

    def target(self) -> tuple[str, str]:
        """(host, check) under the cursor; check is "" on a fleet row's host or health cell."""
        row_key, col_key = self.coordinate_to_cell_key(self.cursor_coordinate)
        row, col = str(row_key.value or ""), str(col_key.value or "")
        if self.fleet:
            return row, (col[2:] if col.startswith("c:") else "")
        return (col[2:] if col.startswith("h:") else (self._hosts[0] if self._hosts else "")), row


def _short_duration(seconds: float, wide: bool) -> str:
    if wide or seconds >= 10:
        return fmt_duration(seconds)
    return f"{seconds:.1f}s"  # 80 columns: two hosts must fit beside the gates


def _when(ts: float | None, now: datetime) -> str:
    """Finish time of the cell's last result: HH:MM today, else the weekday (and time when wide)."""
    if ts is None:
        return "—"
    at = datetime.fromtimestamp(ts, tz=now.tzinfo)
    if at.date() == now.date():
        return f"{at:%H:%M}"
    return f"{at:%a %H:%M}"
