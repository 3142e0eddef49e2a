"""``LogPane``: the log view with its status line (follow state, counts, filter,
search) above it and a prompt below it for search / include / exclude patterns
(``/``, ``i``, ``x``; ``escape`` closes the prompt or clears the search)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Input, Static

from runners.logs.buffer import LogBuffer, PatternError, compile_pattern
from tui.widgets.logview.filters import replace_filter
from tui.widgets.logview.view import LogView


class LogPane(Vertical):
    """LogView + a status line + a prompt for search / include / exclude patterns."""

    DEFAULT_CSS = """
    LogPane { height: 1fr; }
    LogPane > #log-status { height: 1; padding: 0 1; background: $boost; color: $text;
                            text-wrap: nowrap; text-overflow: ellipsis; }
    LogPane > #log-prompt { display: none; height: 3; }
    LogPane > #log-prompt.-open { display: block; }
    """
    BINDINGS: ClassVar[list[Binding]] = [
        Binding("slash", "prompt('search')", "Search", id="logs.search", tooltip="regex; n / N for next / previous"),
        Binding("i", "prompt('include')", "Include", id="logs.include", show=False,
                tooltip="show only lines matching a regex"),
        Binding("x", "prompt('exclude')", "Exclude", id="logs.exclude", show=False,
                tooltip="hide lines matching a regex"),
        Binding("escape", "close_prompt", "Close prompt", id="logs.escape", show=False,
                tooltip="close the prompt, or clear the search"),
    ]
    _PLACEHOLDERS = {"search": "search (regex, lower case = any case); Enter to find, empty to clear",
                     "include": "show only lines matching (regex); empty to drop this filter",
                     "exclude": "hide lines matching (regex); empty to drop this filter"}

    def __init__(self, buffer: LogBuffer | None = None, *, save_dir: Path | None = None, cap: int = 100_000,
                 flush_hz: float = 20.0, **kw: Any) -> None:
        super().__init__(**kw)
        self._view_args = dict(buffer=buffer, save_dir=save_dir, cap=cap, flush_hz=flush_hz)
        self._prompt_kind = ""

    def compose(self) -> ComposeResult:
        yield Static("", id="log-status")
        yield LogView(id="log-view", **self._view_args)  # type: ignore[arg-type]
        yield Input(id="log-prompt")

    @property
    def view(self) -> LogView:
        return self.query_one(LogView)

    def on_mount(self) -> None:
        self._show_status()

    def on_log_view_status_changed(self, message: LogView.StatusChanged) -> None:
        self._show_status()

    def on_log_view_saved(self, message: LogView.Saved) -> None:
        if message.error:
            self.notify(message.error, title="Logs not saved", severity="error", timeout=10)
        else:
            self.notify(f"{message.lines:,} lines saved to {message.path}", title="Logs saved", timeout=6)

    def _show_status(self) -> None:
        # fixed height: no layout pass (a layout re-renders the whole screen)
        self.query_one("#log-status", Static).update(self.view.status(), layout=False)

    def action_prompt(self, kind: str) -> None:
        self._prompt_kind = kind
        inp = self.query_one("#log-prompt", Input)
        inp.placeholder = self._PLACEHOLDERS[kind]
        f = self.view.buffer.filter
        current = {"search": self.view.search, "include": f.include, "exclude": f.exclude}[kind]
        inp.value = current.pattern if current is not None else ""
        inp.add_class("-open")
        inp.focus()

    def action_close_prompt(self) -> None:
        inp = self.query_one("#log-prompt", Input)
        if inp.has_class("-open"):
            inp.remove_class("-open")
            self.view.focus()
        elif self.view.search is not None:
            self.view.set_search("")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value
        view = self.view
        try:
            if self._prompt_kind == "search":
                n = view.set_search(text)
                if text and not n:
                    self.notify(f"no line matches /{text}/", timeout=3)
            else:
                pat = compile_pattern(text) if text else None
                view.set_filter(replace_filter(view.buffer.filter, **{self._prompt_kind: pat}))
        except PatternError as e:
            self.notify(str(e), title="Pattern", severity="error", timeout=6)
            return
        event.input.remove_class("-open")
        view.focus()
        self._show_status()
