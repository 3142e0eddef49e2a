"""Run a selection: the pytest-like knobs of a smoke run, validated as you type.

-k expression (parsed live, the preview names what it selects), hosts, repeat count,
max failures, fail-fast mode, failed-first, quarantine. Enter or ctrl+s runs.

Hosts, for fleets: the list scrolls, and a pattern above it selects the hosts it matches
as you type (names, globs ``cam-0[1-5]``, or a state: failing, down, degraded)."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from runners.smoke.options import FAILFAST_MODES, RunOptions
from tui.widgets.marked import MarkedCheckbox, MarkedSelectionList


class RunOptionsScreen(ModalScreen[RunOptions | None]):
    BINDINGS: ClassVar[list[Binding]] = [
        Binding("escape", "cancel", "Cancel", id="runopts.cancel"),
        Binding("ctrl+s", "submit", "Run", id="runopts.run", priority=True),
    ]
    DEFAULT_CSS = """
    RunOptionsScreen { align: center middle; }
    RunOptionsScreen > VerticalScroll {
        width: 90%; max-width: 90; height: auto; max-height: 95%;
        border: round $primary; background: $surface; padding: 0 1;
    }
    RunOptionsScreen Label { margin-top: 1; text-style: bold; }
    RunOptionsScreen .row { height: auto; }
    RunOptionsScreen .row > Vertical { width: 1fr; height: auto; }
    RunOptionsScreen #k-preview { color: $text-muted; height: auto; }
    RunOptionsScreen .error { color: $error; text-style: bold; height: auto; }
    RunOptionsScreen MarkedSelectionList { height: auto; max-height: 6; }
    RunOptionsScreen #host-pattern { margin-bottom: 0; }
    RunOptionsScreen #buttons { height: auto; margin-top: 1; }
    RunOptionsScreen Button { margin-right: 2; }
    """

    def __init__(self, options: RunOptions, hosts: tuple[str, ...], *,
                 host_tags: dict[str, frozenset[str]] | None = None, **kw: Any) -> None:
        """``host_tags``: host -> its state words (``tui.fleet.HostRollup.tags``), for the
        host pattern's "failing", "down"..."""
        super().__init__(**kw)
        self.options = options
        self.hosts = hosts
        self.host_tags = host_tags or {}

    def compose(self) -> ComposeResult:
        o = self.options
        with VerticalScroll():
            yield Static("[b]Run a selection[/b]  (enter or ctrl+s runs, escape cancels)")
            yield Label("Checks (-k expression)")
            yield Input(o.keyword, placeholder='all; e.g. "SMK_3 or SMK_5", "not SMK_7", "snapshot"',
                        id="keyword")
            yield Static(id="k-preview")
            yield Label("Hosts", id="hosts-label")
            if len(self.hosts) > 6:
                yield Input(placeholder="select hosts matching: cam-4, cam-0[1-5], failing, down (empty: as ticked)",
                            id="host-pattern")
            yield MarkedSelectionList[str](*((h, h, not o.hosts or h in o.hosts) for h in self.hosts), id="hosts")
            with Horizontal(classes="row"):
                with Vertical():
                    yield Label("Repeat (count)")
                    yield Input(str(o.count), type="integer", id="count")
                with Vertical():
                    yield Label("Max failures (0: all)")
                    yield Input(str(o.maxfail), type="integer", id="maxfail")
                with Vertical():
                    yield Label("Fail-fast")
                    yield Select([(m, m) for m in FAILFAST_MODES], value=o.failfast, allow_blank=False,
                                 id="failfast")
            yield MarkedCheckbox("Failed first (--ff)", o.failed_first, id="ff")
            yield MarkedCheckbox("Skip quarantined checks", o.respect_quarantine, id="quarantine")
            yield Static(id="errors", classes="error")
            with Horizontal(id="buttons"):
                yield Button("Run", variant="primary", id="run")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self._validate()
        self.query_one("#keyword", Input).focus()

    @on(Input.Changed, "#host-pattern")
    def _pattern_changed(self, event: Input.Changed) -> None:
        from tui.fleet import match_hosts

        picked = match_hosts(event.value, self.hosts, self.host_tags)
        if picked is None:
            return
        sel = self.query_one("#hosts", MarkedSelectionList)
        keep = set(picked)
        with sel.prevent(MarkedSelectionList.SelectedChanged):
            sel.deselect_all()
            for h in self.hosts:
                if h in keep:
                    sel.select(h)
        if picked:
            sel.highlighted = self.hosts.index(picked[0])  # scroll the list to the first one picked
        self._validate()

    @on(Input.Changed)
    @on(MarkedSelectionList.SelectedChanged)
    @on(Select.Changed)
    def _changed(self) -> None:
        self._validate()

    def _build(self) -> tuple[RunOptions | None, list[str]]:
        from runners.smoke.select import select

        errors: list[str] = []
        kw = self.query_one("#keyword", Input).value.strip()
        hosts = tuple(self.query_one("#hosts", MarkedSelectionList).selected)
        if not hosts:
            errors.append("hosts: pick at least one host")

        def number(id_: str, lo: int, hi: int, name: str) -> int:
            raw = self.query_one(f"#{id_}", Input).value.strip()
            try:
                v = int(raw)
            except ValueError:
                errors.append(f"{name}: expected a whole number {lo}..{hi}, got {raw!r}")
                return lo
            if not lo <= v <= hi:
                errors.append(f"{name}: expected {lo}..{hi}, got {v}")
            return v

        count = number("count", 1, 1000, "repeat")
        maxfail = number("maxfail", 0, 10000, "max failures")
        failfast = str(self.query_one("#failfast", Select).value)
        opts = dataclasses.replace(
            self.options, keyword=kw, hosts=() if set(hosts) == set(self.hosts) else hosts, count=count,
            maxfail=maxfail, failfast=failfast, failed_first=self.query_one("#ff", MarkedCheckbox).value,
            respect_quarantine=self.query_one("#quarantine", MarkedCheckbox).value, label="")
        self.query_one("#hosts-label", Label).update(f"Hosts · {len(hosts)} of {len(self.hosts)} selected")
        preview = self.query_one("#k-preview", Static)
        try:
            opts.validate()
            picked = select(hosts or self.hosts, _smk_ids(), kw)
            checks = sorted({c for _h, c in picked}, key=lambda c: int(c.split("-")[1]))
            n_hosts = len({h for h, _c in picked})
            preview.update(f"selects {len(picked)} check runs: {', '.join(checks) or 'nothing'}"
                           + (f" × {count}" if count > 1 else "")
                           + (f" on {n_hosts} of {len(self.hosts)} hosts" if len(self.hosts) > 2 else ""))
            if not picked:
                errors.append("selection: the -k expression selects no check")
        except ValueError as e:
            preview.update("")
            errors.append(str(e))
        return (None if errors else opts), errors

    def _validate(self) -> RunOptions | None:
        opts, errors = self._build()
        self.query_one("#errors", Static).update("\n".join(f"✖ {e}" for e in errors))
        self.query_one("#run", Button).disabled = bool(errors)
        return opts

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_submit()

    @on(Button.Pressed, "#run")
    def action_submit(self) -> None:
        opts = self._validate()
        if opts is not None:
            self.dismiss(opts)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


def _smk_ids() -> tuple[str, ...]:
    from record.state import SMK_IDS

    return SMK_IDS
