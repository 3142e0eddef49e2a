"""Smoke: start a run (all, a selection, failed first, repeat, fail-fast) and watch the
checks and their steps live, durations ticking; a failure shows expected vs seen, the RPC
exchange and the host's log lines around it. From a failure: triage it, or hunt a flake.

Shows this console's run while one is live, else the latest state of every check from
the events log (which also follows a run started by another console).

Fleets: the status line's second line rolls the run up per host ("50 hosts: 38 ok · 12
failing (cam-03, cam-05 +10)"); H filters the rows by host (a name, a glob, or a state
word: failing, down...), o orders them by check, by host or failures first."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Static

from record.state import SMK_IDS, RunState
from screens.base import ConsoleScreen
from tui.fleet import HostRollup, match_hosts, rollups, summary
from tui.widgets.check_detail import CheckDetail
from tui.widgets.host_filter import HostScope
from tui.widgets.run_table import ORDERS, RunTable, split_key


class SmokeScreen(ConsoleScreen):
    MODE = "smoke"
    TITLE = "Smoke"
    HELP = ("Run the smoke set SMK-1..7 on the hosts and watch it live. r runs everything, s runs a selection "
            "(-k expression, hosts, repeat count, max failures, fail-fast mode), f runs last failures first, "
            "x cancels, e runs a configured external pytest suite ([[suites]]) the same way. Select a failed "
            "check to see expected vs seen, the RPC exchange and the host log; t opens the triage form "
            "prefilled from it, h repeats it 10 times to prove a flake. Fleets: the second status line counts "
            "hosts ok / failing / down; H shows only some hosts (cam-4, cam-0[1-5], failing, down), o orders "
            "the rows by check, by host or failures first.")
    MUTATING: ClassVar[frozenset[str]] = frozenset(
        {"run_all", "run_selection", "run_failed_first", "run_again", "cancel_run", "triage", "flake_hunt",
         "run_suite"})
    # Footer order (tui/widgets/footer.py): the context keys (only shown when they apply)
    # first, then the run keys; short descriptions so they fit at 80 columns, the rest
    # show=False (in ? help and the palette).
    BINDINGS: ClassVar[list[Binding]] = [
        Binding("x", "cancel_run", "Cancel", id="smoke.cancel", tooltip="stop the live run; it ends as interrupted"),
        Binding("t", "triage", "Triage", id="smoke.triage", tooltip="open the triage form for this failure"),
        Binding("r", "run_all", "Run all", id="smoke.run_all"),
        Binding("s", "run_selection", "Select…", id="smoke.run_selection",
                tooltip="run a selection: -k expression, hosts, repeat, max failures, fail-fast"),
        Binding("f", "run_failed_first", "Failed first", id="smoke.run_ff"),
        Binding("R", "run_again", "Run again", id="smoke.run_again", show=False,
                tooltip="the last run's options again"),
        Binding("h", "flake_hunt", "Flake hunt ×10", id="smoke.flake", show=False,
                tooltip="repeat the selected check 10 times on its host"),
        Binding("e", "run_suite", "Suite…", id="smoke.run_suite", show=False,
                tooltip="run an external pytest suite from the config ([[suites]]); live results here"),
    ]

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._last_options = None
        self._ticker = None

    def compose_body(self) -> ComposeResult:
        yield Static(id="run-status")
        with HostScope(id="smoke-scope"), Horizontal(id="smoke-body"):
            yield RunTable(id="runs")
            yield CheckDetail(id="detail")

    def on_mount(self) -> None:
        super().on_mount()
        self._ticker = self.set_interval(0.25, self._tick, pause=True)

    # ------------------------------------------------------------------ view
    def _view(self) -> tuple[RunState, dict, str]:
        m = self.model
        if m.live.run_id:
            return m.live, m.live_steps, m.live.label
        last = m.history.last_run
        return m.history.state, m.history.steps, (last.label if last else "")

    def refresh_view(self, topic: str) -> None:
        if topic not in ("all", "run", "config", "theme", "record", "health"):
            return
        state, _steps, label = self._view()
        table = self.query_one(RunTable)
        if topic in ("all", "theme"):
            table.invalidate()
        hosts = self._hosts(state)
        ups = rollups(hosts, self.model.health, lambda h, c: _status(state, h, c), SMK_IDS)
        scope = self.query_one(HostScope)
        scope.set_hosts(hosts)
        shown = match_hosts(scope.text, hosts, {r.host: r.tags for r in ups})
        table.show(state, self.model.now(), wide=self.app.size.width >= 120, hosts=shown)
        status = self.query_one("#run-status", Static)
        status.set_class(len(ups) > 2 or shown is not None, "-fleet")
        status.update(self._status_text(state, label, ups, shown))
        self._show_detail()
        if self._ticker is not None:
            if state.running:
                self._ticker.resume()
            else:
                self._ticker.pause()
        self.refresh_bindings()

    def on_resize(self) -> None:
        self.call_after_refresh(self.refresh_view, "run")  # after the table has its new size

    def _tick(self) -> None:
        state, _s, _l = self._view()
        if not self.is_current:
            return
        now = self.model.now()
        self.query_one(RunTable).tick(state, now)
        sel = self.query_one(RunTable).selected
        if sel is not None and state.cells.get(sel) is not None and state.cells[sel].status == "running":
            self._show_detail()

    def _hosts(self, state: RunState) -> list[str]:
        hosts = list(self.model.hosts)
        seen = set(hosts)
        return hosts + sorted({h for h, _c in state.cells if h not in seen})

    def _status_text(self, state: RunState, label: str, ups: list[HostRollup], shown: list[str] | None) -> Text:
        """Line 1: the run and its counts; line 2 (fleets, or a filter): per host."""
        line = self._status_line(state, label)
        scope = self.query_one(HostScope)
        if len(ups) > 2 or shown is not None:
            keep = set(shown) if shown is not None else None
            wide = self.app.size.width >= 120
            part = summary([r for r in ups if keep is None or r.host in keep], total=len(ups),
                           names=5 if wide else 2)
            order = self.query_one(RunTable).order
            tail = f" · filter {scope.text!r}" if scope.text else ""
            tail += f" · {ORDERS[order]}" if order != "check" else ""
            if not scope.text:
                tail += " · H hosts · o order"
            line += f"\n{part}[dim]{tail}[/dim]"
        return Text.from_markup(line)

    def show_host(self, host: str) -> None:
        """Called by the stand-up grid: only this host's checks."""
        self.query_one(HostScope).set_text(host)
        self.query_one(RunTable).focus()

    def on_host_scope_changed(self, event: HostScope.Changed) -> None:
        self.refresh_view("run")

    def on_run_table_order_changed(self, event: RunTable.OrderChanged) -> None:
        self.refresh_view("run")
        table = self.query_one(RunTable)
        if table.row_count:
            table.move_cursor(row=0, animate=False)

    def _status_line(self, state: RunState, label: str) -> str:
        m = self.model
        c = state.counts()
        counts = f"{c['passed']}✔PASS {c['failed']}✖FAIL {c['error']}‼ERR {c['skipped']}–SKIP"
        if state.running:
            return f"[b]▶ {label}[/b] {counts} {c['running']}▶RUN {c['pending']}·WAIT"
        if m.running_label:
            return f"[b]▶ {m.running_label}[/b]: {m.run_phase or 'starting'}…"
        if not state.cells:
            return "No run yet. [b]r[/b] runs all checks on all hosts, [b]s[/b] a selection."
        fin = state.finished
        how = ""
        if fin is not None:
            how = " (interrupted)" if fin.interrupted else (f" (stopped: {fin.stopped_early})"
                                                            if fin.stopped_early else "")
            how = f" {fin.duration:.1f}s{how}"
        src = "" if m.live.run_id else " [dim](from the events log)[/dim]"
        return f"[b]{label or 'last run'}[/b]{how} {counts}{src}"

    def _show_detail(self) -> None:
        state, steps, label = self._view()
        detail = self.query_one(CheckDetail)
        sel = self.query_one(RunTable).selected
        if sel is None or sel not in state.cells:
            detail.show_none("Select a check to see its steps; a failure shows expected vs seen, the RPC "
                             "exchange and the host log around it.")
            return
        host, check = sel
        detail.show_cell(host, check, state.cells[sel], steps.get(sel, []), self.model.now(), label=label)

    @on(DataTable.RowHighlighted)
    def _row_highlighted(self) -> None:
        self._show_detail()
        self.refresh_bindings()

    def select_cell(self, host: str, check: str) -> None:
        """Called by the stand-up grid: show this check."""
        scope = self.query_one(HostScope)
        if scope.text and not self.query_one(RunTable).shows(host, check):
            scope.set_text("")  # the host filter hides that check: drop the filter
            self.refresh_view("run")
        self.query_one(RunTable).select(host, check)
        self.query_one(RunTable).focus()
        self._show_detail()

    # ------------------------------------------------------------------ actions
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        allowed = super().check_action(action, parameters)
        if not allowed:
            return allowed
        running = self.model.live.running or bool(self.model.running_label)
        if action in ("run_all", "run_selection", "run_failed_first", "run_again", "flake_hunt", "run_suite"):
            return None if running else True  # shown but disabled while a run is going
        # context actions are hidden (not just greyed) when they do not apply: 80 columns are precious
        if action == "cancel_run":
            return running
        if action == "triage":
            res = self._selected_result()
            return res is not None and res.outcome in ("failed", "error")
        return True

    def _base_options(self):
        from runners.smoke.options import RunOptions

        return RunOptions(failfast=self.model.cfg.run.failfast)

    def _start(self, options) -> None:
        self._last_options = options
        if self.app.start_smoke(options) is not None:
            self.query_one(RunTable).reset_follow()

    def action_run_all(self) -> None:
        self._start(self._base_options())

    def action_run_failed_first(self) -> None:
        self._start(dataclasses.replace(self._base_options(), failed_first=True))

    def action_run_again(self) -> None:
        self._start(self._last_options or self._base_options())

    def action_run_selection(self) -> None:
        from screens.run_options import RunOptionsScreen

        def done(options) -> None:
            if options is not None:
                self._start(options)

        state, _steps, _label = self._view()
        ups = rollups(self.model.hosts, self.model.health, lambda h, c: _status(state, h, c), SMK_IDS)
        self.app.push_screen(RunOptionsScreen(self._last_options or self._base_options(), self.model.hosts,
                                              host_tags={r.host: r.tags for r in ups}), done)

    def action_run_suite(self) -> None:
        suites = list(self.model.cfg.suites)
        if not suites:
            self.notify("No external suite configured: add a [[suites]] section to the config "
                        "(name, command, cwd, env, hosts), then press e again.",
                        title="No suite", severity="warning", timeout=10)
            return
        if len(suites) == 1:
            self._start_suite(suites[0].name)
            return
        from screens.suite_picker import SuitePicker

        def chosen(name: str | None) -> None:
            if name:
                self._start_suite(name)

        self.app.push_screen(SuitePicker(suites), chosen)

    def _start_suite(self, name: str) -> None:
        from runners.smoke.options import RunOptions

        if self.app.start_suite(name, RunOptions(failfast="off")) is not None:
            self.query_one(RunTable).reset_follow()

    def action_cancel_run(self) -> None:
        if self.app.cancel_smoke():
            self.notify("cancelling the run: running checks stop, the run ends as interrupted", timeout=4)

    def action_flake_hunt(self) -> None:
        sel = self.query_one(RunTable).selected
        if sel is None:
            self.notify("select a check first", severity="warning")
            return
        host, check = sel
        self.app.start_flake_hunt(host, check, count=10)

    def _selected_result(self):
        state, _steps, _label = self._view()
        sel = self.query_one(RunTable).selected
        cell = state.cells.get(sel) if sel else None
        return cell.result if cell is not None else None

    def action_triage(self) -> None:
        res = self._selected_result()
        if res is None or res.outcome not in ("failed", "error"):
            self.notify("select a failed check to triage it", severity="warning")
            return
        _state, _steps, label = self._view()
        self.app.open_triage_form(res, run_label=label)


def _status(state: RunState, host: str, check: str) -> str:
    cell = state.cells.get((host, check))
    return cell.status if cell is not None else "none"


__all__ = ["SmokeScreen", "split_key"]
