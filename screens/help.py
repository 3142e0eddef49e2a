"""``?``: what this screen is for and every key that works here, from the live bindings
(so it never disagrees with the footer or the palette)."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from tui.widgets.navbar import NAV


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,q,question_mark", "dismiss", "Close help", id="help.close"),
    ]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 90%; max-width: 100; height: 90%; border: round $primary; background: $surface;
        padding: 0 1;
    }
    """

    def __init__(self, of: Screen, **kw: Any) -> None:
        super().__init__(**kw)
        self.of = of

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(self._content(), id="help-body")

    def _content(self) -> Table:
        app: Any = self.app
        of = self.of
        title = getattr(of, "TITLE", "") or "Console"
        out = Table.grid(padding=(0, 2))
        out.add_column(style="bold", no_wrap=True)
        out.add_column()
        out.add_row(Text(title, style="bold underline"), "")
        if getattr(of, "HELP", ""):
            out.add_row("", Text(of.HELP))
        if app.read_only:
            out.add_row("", Text("Read-only observer mode: actions that change hosts or the record are hidden."))
        out.add_row("", "")
        screen_rows, app_rows = [], []
        for active in of.active_bindings.values():
            b: Binding = active.binding
            if not b.description or not active.enabled:
                continue
            if active.node is not app and not b.id:
                continue  # stock keys (arrows, tab, copy...): known everywhere, and noise here
            row = (app.get_key_display(b), b.description + (f" — {b.tooltip}" if b.tooltip else ""))
            (app_rows if active.node is app else screen_rows).append(row)
        out.add_row(Text("Keys here", style="bold underline"), "")
        for key, desc in screen_rows:
            out.add_row(key, desc)
        out.add_row("", "")
        out.add_row(Text("Everywhere", style="bold underline"), "")
        for key, desc in app_rows:
            out.add_row(key, desc)
        out.add_row("1 … 6", "go to " + ", ".join(f"{k} {t}" for k, m, t in NAV if m in app.screen_classes()))
        out.add_row("ctrl+p", "command palette: every action of every screen, every theme")
        out.add_row("", "")
        out.add_row("", Text("Status always carries a word: ✔ PASS ✖ FAIL ‼ ERROR – SKIP ▶ RUN · WAIT;"
                             " triage R Red / A Amber / G Green.", style="italic"))
        return out
