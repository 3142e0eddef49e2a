"""Stand-up: the whole dry-run on one screen, built for screen sharing.

SMK-1..7 x hosts grid (word + glyph + colour, duration, last run, flaky rate); the exit
gates against their thresholds and the decision they would give now; the triage summary;
the timebox; host health. Read-only by nature: its keys jump to where work happens.

A fleet (more hosts than fit as columns) turns the grid into a row per host, worst first,
under a summary line ("50 hosts: 47 ok · 2 failing · 1 down"); H filters it by host."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from screens.base import ConsoleScreen
from tui.fleet import summary
from tui.widgets.gates_panel import GatesPanel
from tui.widgets.host_filter import HostScope
from tui.widgets.panels import HostsPanel, RunsPanel, TimeboxPanel
from tui.widgets.smoke_grid import SmokeGrid
from tui.widgets.triage_panel import TriagePanel


class StandupScreen(ConsoleScreen):
    MODE = "standup"
    TITLE = "Stand-up"
    HELP = ("The dry-run at a glance for the 09:00/16:00 stand-ups: smoke grid, gates and the decision "
            "they give now, triage, timebox and host health. Select a grid cell and press enter to open "
            "that check in Smoke. With many hosts the grid has a row per host, worst first; H filters it "
            "(cam-4, cam-0[1-5], failing, down).")
    BINDINGS: ClassVar[list[Binding]] = [
        Binding("enter", "open_cell", "Open check", id="standup.open", show=False),
        Binding("r", "refresh_all", "Refresh", id="standup.refresh", tooltip="re-read the record and probe hosts"),
    ]

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="standup-top"):
            with HostScope(id="grid-box"):
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
        if topic in ("all", "run", "record", "config", "theme", "health"):
            if topic in ("all", "theme"):
                self.query_one(SmokeGrid).invalidate()
            self._rebuild_grid()
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
        self._rebuild_grid()

    def _rebuild_grid(self) -> None:
        grid = self.query_one(SmokeGrid)
        scope = self.query_one(HostScope)
        grid.rebuild(self.model, wide=self.app.size.width >= 120, width=self._grid_width())
        scope.enabled = grid.fleet
        scope.set_hosts(self.model.hosts)
        self._apply_filter()

    def _apply_filter(self) -> None:
        from tui.fleet import match_hosts

        grid = self.query_one(SmokeGrid)
        text = self.query_one(HostScope).text if grid.fleet else ""
        states = {r.host: r.tags for r in grid.rollups}
        grid.set_filter(self.model, match_hosts(text, self.model.hosts, states))
        title = self.query_one("#grid-title", Static)
        title.set_class(grid.fleet, "-fleet")
        title.update(self._grid_title())

    def on_host_scope_changed(self, event: HostScope.Changed) -> None:
        self._apply_filter()

    def on_clock(self) -> None:
        self.query_one(TimeboxPanel).show(self.model)
        if self.model.live.running:
            grid = self.query_one(SmokeGrid)
            grid.update_cells(self.model)
            if grid.fleet:
                self.query_one("#grid-title", Static).update(self._grid_title())

    def _grid_title(self) -> str | Text:
        grid = self.query_one(SmokeGrid)
        run = self._run_title()
        if not grid.fleet:
            return run
        text = self.query_one(HostScope).text
        shown = set(grid.host_rows)
        wide = self.app.size.width >= 120
        line = summary([r for r in grid.rollups if r.host in shown], total=len(grid.rollups),
                       names=3 if wide else 0, short=not wide)
        out = Text.from_markup(run)
        out.append(f"\n{line}")
        out.append(f" · filter {text!r}" if text else " · H filters", style="dim")
        return out

    def _run_title(self) -> str:
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
        host, check = grid.target()
        await self.app.switch_mode("smoke")
        screen = self.app.screen
        if not check:  # a fleet row's host or health cell: that host's checks on Smoke
            show = getattr(screen, "show_host", None)
            if show is not None:
                show(host)
            return
        select = getattr(screen, "select_cell", None)
        if select is not None:
            select(host, check)

    async def on_data_table_cell_selected(self) -> None:
        await self.action_open_cell()

    def action_refresh_all(self) -> None:
        self.app.reload_record()
        if self.app.probe_hosts:
            self.app.start_probe()

