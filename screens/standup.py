"""Stand-up: the whole dry-run on one screen, built for screen sharing.

SMK-1..7 x hosts grid (word + glyph + colour, duration, last run, flaky rate); the exit
gates against their thresholds and the decision they would give now; the triage summary;
the timebox; host health. Read-only by nature: its keys jump to where work happens."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from screens.base import ConsoleScreen
from tui.widgets.gates_panel import GatesPanel
from tui.widgets.panels import HostsPanel, RunsPanel, TimeboxPanel
from tui.widgets.smoke_grid import SmokeGrid
from tui.widgets.triage_panel import TriagePanel


class StandupScreen(ConsoleScreen):
    MODE = "standup"
    TITLE = "Stand-up"
    HELP = ("The dry-run at a glance for the 09:00/16:00 stand-ups: smoke grid, gates and the decision "
            "they give now, triage, timebox and host health. Select a grid cell and press enter to open "
            "that check in Smoke.")
    BINDINGS: ClassVar[list[Binding]] = [
        Binding("enter", "open_cell", "Open check", id="standup.open", show=False),
        Binding("r", "refresh_all", "Refresh", id="standup.refresh", tooltip="re-read the record and probe hosts"),
    ]

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="standup-top"):
            with Vertical(id="grid-box"):
                yield Static(id="grid-title")
                yield SmokeGrid(id="grid")
            yield GatesPanel(id="gates")
        with Horizontal(id="standup-bottom"):
            with Vertical(id="standup-main"):
                yield TriagePanel(id="triage")
                yield RunsPanel(id="runs-panel")
            with Vertical(id="standup-side"):
                yield TimeboxPanel(id="timebox")
                yield HostsPanel(id="hosts")

    def refresh_view(self, topic: str) -> None:
        m = self.model
        if topic in ("all", "run", "record", "config", "theme"):
            self.query_one(SmokeGrid).rebuild(m, wide=self.app.size.width >= 120, width=self._grid_width())
            self.query_one("#grid-title", Static).update(self._grid_title())
        if topic in ("all", "record", "config", "theme", "run"):
            self.query_one(GatesPanel).show(m)
            self.query_one(TriagePanel).show(m)
            self.query_one(TimeboxPanel).show(m)
            self.query_one(RunsPanel).show(m)
        if topic in ("all", "health", "config", "theme", "run"):
            self.query_one(HostsPanel).show(m)

    def _grid_width(self) -> int:
        gates = 36 if self.app.size.width >= 120 else 29
        return max(40, self.app.size.width - gates - 4)

    def on_resize(self) -> None:
        self.query_one(SmokeGrid).rebuild(self.model, wide=self.app.size.width >= 120, width=self._grid_width())

    def on_clock(self) -> None:
        self.query_one(TimeboxPanel).show(self.model)
        if self.model.live.running:
            self.query_one(SmokeGrid).update_cells(self.model)

    def _grid_title(self) -> str:
        m = self.model
        if m.live.running:
            c = m.live.counts()
            return (f"[b]▶ {m.live.label}[/b] {c['passed']}✔ {c['failed']}✖ "
                    f"{c['error']}‼ {c['running']}▶ {c['pending']}·")
        last = m.history.last_run
        if last is None:
            return "[b]Smoke[/b] no run yet (2 Smoke, r to run)"
        from datetime import datetime

        at = datetime.fromtimestamp(last.started, tz=m.now().tzinfo)
        fin = last.finished
        tail = (f" {fin.passed}✔ {fin.failed}✖ {fin.errors}‼ {fin.skipped}–" if fin else " (did not finish)")
        when = f"{at:%H:%M}" if at.date() == m.now().date() else f"{at:%a %H:%M}"
        return f"[b]{last.label or last.run_id}[/b] {when}{tail}"

    async def action_open_cell(self) -> None:
        grid = self.query_one(SmokeGrid)
        if not grid.row_count:
            return
        row_key, col_key = grid.coordinate_to_cell_key(grid.cursor_coordinate)
        col = str(col_key.value or "")
        host = col[2:] if col.startswith("h:") else (self.model.hosts[0] if self.model.hosts else "")
        await self.app.switch_mode("smoke")
        select = getattr(self.app.screen, "select_cell", None)
        if select is not None:
            select(host, str(row_key.value))

    async def on_data_table_cell_selected(self) -> None:
        await self.action_open_cell()

    def action_refresh_all(self) -> None:
        self.app.reload_record()
        if self.app.probe_hosts:
            self.app.start_probe()

