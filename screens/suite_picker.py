"""Pick one of the configured external pytest suites ([[suites]]) to run (Enter runs it,
Escape cancels). Dismisses with the suite's name, or None."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option


class SuitePicker(ModalScreen[str | None]):
    BINDINGS: ClassVar[list[Binding]] = [
        Binding("escape", "cancel", "Cancel", id="suites.cancel", tooltip="close without running a suite"),
    ]
    DEFAULT_CSS = """
    SuitePicker { align: center middle; }
    SuitePicker > Vertical {
        width: 90%; max-width: 100; height: auto; max-height: 90%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    SuitePicker #suites-title { text-style: bold; margin-bottom: 1; }
    SuitePicker OptionList { height: auto; max-height: 20; }
    """

    def __init__(self, suites: list[Any], **kw: Any) -> None:
        """``suites``: ``runners.config.Suite`` objects, in config order."""
        super().__init__(**kw)
        self.suites = list(suites)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Run which external suite? (Enter runs it, Escape cancels)", id="suites-title")
            yield OptionList(*(Option(self._describe(s), id=s.name) for s in self.suites), id="suites")

    @staticmethod
    def _describe(s: Any) -> Text:
        # Text, not markup: a command may well contain brackets
        per = f"  per host: {', '.join(s.hosts)}" if s.hosts else ""
        return Text.assemble((s.name, "bold"), "  ", (f"{s.command}{per}", "dim"))

    def on_mount(self) -> None:
        ol = self.query_one(OptionList)
        ol.highlighted = 0
        ol.focus()

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
