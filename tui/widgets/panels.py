"""Small read-only panels of the stand-up: timebox, host health, record-part errors.

Each is a Static re-rendered from the model; the border title names the panel."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from tui.sprintclock import standup_countdown
from tui.widgets.status import fmt_countdown, host_text

if TYPE_CHECKING:
    from tui.model import ConsoleModel

COMPONENTS = (("ssh", "SSH"), ("rpc", "RPC"), ("health", "Health"), ("cameras", "Cams"))


class Panel(Static):
    """A bordered Static with a title; ``show(model)`` re-renders it."""

    DEFAULT_CSS = """
    Panel { border: round $secondary; padding: 0 1; height: auto; }
    """
    TITLE = ""

    def on_mount(self) -> None:
        self.border_title = self.TITLE
        self._model: ConsoleModel | None = None

    def show(self, model: ConsoleModel) -> None:
        self._model = model
        self.update(self.render_model(model))

    def on_resize(self) -> None:
        # layouts depend on the panel's width (80 columns vs a 4K shared screen)
        if self._model is not None:
            self.update(self.render_model(self._model))

    def render_model(self, model: ConsoleModel) -> Any:
        return ""


def error_text(msg: str) -> Text:
    return Text(f"✖ cannot read: {msg}", style="bold")


class TimeboxPanel(Panel):
    TITLE = "Timebox"

    def render_model(self, model: ConsoleModel) -> Any:
        rec = model.record
        if rec is None:
            return Text("loading…", style="dim")
        if "timebox" in rec.errors:
            return error_text(rec.errors["timebox"])
        tb = rec.timebox
        now = model.now()
        t = Table.grid(padding=(0, 1))
        t.add_column(style="bold", no_wrap=True)
        t.add_column()
        if tb.day == 0:
            day = f"starts {tb.start:%a %d %b}"
        elif tb.over:
            day = Text(f"day {tb.day} of {tb.days}: OVER", style="bold reverse")
        else:
            day = f"day {tb.day} of {tb.days}"
        t.add_row("Day", day)
        t.add_row("Iteration", f"{tb.iteration} of {tb.iterations}")
        cd = standup_countdown(tb, now)
        if cd is not None:
            t.add_row("Stand-up", Text.assemble((cd[0], "bold"), f" in {fmt_countdown(cd[1])}"))
        else:
            t.add_row("Stand-up", "none left in the timebox")
        today = now.date()
        nxt = [d for d in tb.decision_points if d >= today]
        if nxt:
            t.add_row("Decision", f"end of {nxt[0]:%a %d %b}"
                      + (f" (day {list(tb.dates).index(nxt[0]) + 1})" if nxt[0] in tb.dates else ""))
        return t


class HostsPanel(Panel):
    """Host health, worst first (down, degraded, not probed yet, ok): the border title
    counts them ("Hosts · 50: 47 ok · 3 down"); when the panel is shorter than the fleet,
    the last line says how many more there are and in what state."""

    TITLE = "Hosts"
    SHORT = {"ssh": "ssh", "rpc": "rpc", "health": "http", "cameras": "cam"}
    ORDER = ("down", "degraded", "unknown", "ok")

    def render_model(self, model: ConsoleModel) -> Any:
        from tui.fleet import host_health

        states = {h.name: host_health(model.health, h.name) for h in model.cfg.hosts}
        hosts = [h for _i, h in sorted(enumerate(model.cfg.hosts),
                                        key=lambda ih: (self.ORDER.index(states[ih[1].name]), ih[0]))]
        self.border_title = self._title(states)
        wide = self.size.width >= 56
        room = self.size.height if self.size.height > 0 else len(hosts) + 1  # the content area's lines
        if wide:
            room -= 1  # the header row
        shown = hosts if len(hosts) <= room else hosts[:max(0, room - 1)]
        if wide:
            t = Table(box=None, padding=(0, 1), show_edge=False, expand=False)
            t.add_column("Host", style="bold", no_wrap=True)
            for _key, label in COMPONENTS:
                t.add_column(label, no_wrap=True)
        lines: list[Any] = []
        for h in shown:
            cells = []
            for key, _label in COMPONENTS:
                st = model.health.get((h.name, key))
                status = st.status if st is not None else "unknown"
                label = ""
                if key == "cameras" and st is not None and st.detail and st.detail[0].isdigit():
                    label = st.detail.split()[0]  # "2/2"
                cells.append((key, status, label))
            if wide:
                t.add_row(h.name + (" (legacy)" if h.dialect == "legacy" else ""),
                          *(host_text(self.app, s, lab) for _k, s, lab in cells))
            else:
                # one line per host; each part names its component and carries a glyph + word
                line = Text(f"{h.name:<7}", style="bold", no_wrap=True, overflow="ellipsis")
                for key, status, lab in cells:
                    line.append(f" {self.SHORT[key]}")
                    line.append_text(host_text(self.app, status, lab or None, short=True))
                lines.append(line)
        rest = hosts[len(shown):]
        more: list[Any] = []
        if rest:
            counts = {s: sum(1 for h in rest if states[h.name] == s) for s in self.ORDER}
            what = ", ".join(f"{n} {_HEALTH_WORDS[s]}" for s, n in counts.items() if n)
            more.append(Text(f"+{len(rest)} more: {what}", style="italic", no_wrap=True, overflow="ellipsis"))
        left = max(0, room - len(shown) - len(more))
        notes = [Text(f"{h}: {st.component}: {st.detail}", style="dim", no_wrap=True, overflow="ellipsis")
                 for (h, _c), st in sorted(model.health.items()) if st.status in ("down", "degraded") and st.detail]
        body: list[Any] = [t] if wide else lines
        return Group(*body, *more, *notes[:min(4, left)])

    def _title(self, states: dict[str, str]) -> str:
        if len(states) < 2:
            return self.TITLE
        counts = {s: sum(1 for v in states.values() if v == s) for s in self.ORDER}
        words = _HEALTH_WORDS if self.size.width >= 56 else _HEALTH_SHORT
        parts = [f"{counts['ok']} ok"] + [f"{n} {words[s]}" for s, n in counts.items() if n and s != "ok"]
        return f"{self.TITLE} {len(states)}: " + " · ".join(parts)


_HEALTH_WORDS = {"down": "down", "degraded": "degraded", "unknown": "not probed", "ok": "ok"}
_HEALTH_SHORT = {"down": "down", "degraded": "degr", "unknown": "n/a", "ok": "ok"}


class RunsPanel(Panel):
    """The runs so far (newest first): label, when, counts in words, duration."""

    TITLE = "Runs"

    def render_model(self, model: ConsoleModel) -> Any:
        from datetime import datetime

        runs = list(reversed(model.history.runs))[:10]
        if not runs:
            return Text("No runs recorded yet.", style="dim")
        now = model.now()
        t = Table(box=None, padding=(0, 1), show_header=True, header_style="bold", expand=True)
        for col, kw in (("Run", {"no_wrap": True}), ("When", {"no_wrap": True}), ("Result", {"no_wrap": True}),
                        ("Took", {"no_wrap": True, "justify": "right"})):
            t.add_column(col, **kw)
        for r in runs:
            at = datetime.fromtimestamp(r.started, tz=now.tzinfo)
            when = f"{at:%H:%M}" if at.date() == now.date() else f"{at:%a %H:%M}"
            f = r.finished
            if f is None:
                result, took = Text("▶ running / did not finish", style="italic"), ""
            else:
                result = Text(f"{f.passed} PASS  {f.failed} FAIL  {f.errors} ERR  {f.skipped} SKIP"
                              + ("  interrupted" if f.interrupted else ""),
                              style="bold" if (f.failed or f.errors) else "")
                took = f"{f.duration:.1f}s"
            t.add_row(r.label or r.run_id, when, result, took)
        return t
