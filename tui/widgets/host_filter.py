"""The host filter of a pane, for fleets: ``H`` opens a one-line filter at the top of the
pane (``HostScope``), typing narrows the pane to the matching hosts as you type, enter
keeps it and goes back to the pane, escape clears it.

Terms (commas or spaces, OR-ed): a substring (``cam-4``), a glob (``cam-0[1-5]``) or a
state word (``failing``, ``down``, ``degraded``, ``running``, ``ok``): see
``tui.fleet.match_hosts``. The pane owns the matching (it knows its hosts' states); the
scope only says what was typed (``HostScope.Changed``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from textual import on
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.suggester import Suggester
from textual.widget import Widget
from textual.widgets import Input

from tui.fleet import STATE_ALIASES, parse_filter


class HostSuggester(Suggester):
    """Completes the last term being typed with a host name (or a state word)."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=False)
        self.hosts: tuple[str, ...] = ()

    async def get_suggestion(self, value: str) -> str | None:
        terms = parse_filter(value)
        if not terms or value[-1:] in (" ", ","):
            return None
        last = terms[-1].lower()
        head = value[: len(value) - len(terms[-1])]
        for word in (*self.hosts, *STATE_ALIASES):
            if word.lower().startswith(last) and word.lower() != last:
                return head + word
        return None


class HostFilterInput(Input):
    BINDINGS: ClassVar[list[Binding]] = [
        Binding("escape", "clear_filter", "Clear host filter", id="hosts.clear",
                tooltip="drop the host filter and go back to the pane"),
    ]

    def allow_focus(self) -> bool:
        # hidden until H: never the screen's first focus, never reached by tab
        return self.parent is not None and self.parent.has_class("-filtering")

    def action_clear_filter(self) -> None:
        scope = self.parent
        if isinstance(scope, HostScope):
            scope.clear()

    async def action_submit(self) -> None:
        # enter: handled here, in the key's own dispatch, not through a Submitted message
        # that would only arrive after the keys already queued behind it
        scope = self.parent
        if isinstance(scope, HostScope):
            scope.accept()


class HostScope(Vertical):
    """A pane with a host filter line (hidden until ``H``)."""

    DEFAULT_CSS = """
    HostScope { height: 1fr; }
    HostScope > HostFilterInput { display: none; height: 1; border: none; padding: 0 1; background: $boost; }
    HostScope > HostFilterInput:focus { background: $primary 25%; }
    HostScope.-filtering > HostFilterInput { display: block; }
    """
    BINDINGS: ClassVar[list[Binding]] = [
        Binding("H", "filter_hosts", "Hosts…", id="hosts.filter", show=False,
                tooltip="show only some hosts: cam-4, cam-0[1-5], failing, down (escape clears)"),
    ]

    class Changed(Message):
        """The filter text changed ("" = no filter)."""

        def __init__(self, scope: HostScope, text: str) -> None:
            super().__init__()
            self.scope = scope
            self.text = text

        @property
        def control(self) -> HostScope:
            return self.scope

    def __init__(self, *children: Widget, **kw: Any) -> None:
        super().__init__(*children, **kw)
        self._suggester = HostSuggester()
        self._back_to: Widget | None = None
        self._enabled = True

    @property
    def enabled(self) -> bool:
        """False: H is hidden and refused (e.g. a grid whose few hosts all fit)."""
        return self._enabled

    @enabled.setter
    def enabled(self, value: bool) -> None:
        if value != self._enabled:
            self._enabled = value
            if not value and self.is_mounted and self.text:
                self.clear()
            if self.is_mounted:
                self.screen.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "filter_hosts":
            return self._enabled
        return True

    def on_mount(self) -> None:
        # select_on_focus off: the Focus event arrives after keys typed right behind H, and
        # selecting then would let the next key replace what was typed
        self.mount(HostFilterInput(placeholder="hosts: cam-4, cam-0[1-5], failing, down · enter keeps, esc clears",
                                   suggester=self._suggester, compact=True, select_on_focus=False,
                                   id=f"{self.id or 'scope'}-filter"),
                   before=0 if self.children else None)

    @property
    def input(self) -> HostFilterInput:
        return self.query_one(HostFilterInput)

    @property
    def text(self) -> str:
        inputs = self.query(HostFilterInput)
        return inputs.first().value.strip() if inputs else ""

    def set_hosts(self, hosts: Sequence[str]) -> None:
        """The names the filter completes (the pane's hosts)."""
        self._suggester.hosts = tuple(hosts)

    def action_filter_hosts(self) -> None:
        focused = self.screen.focused
        if focused is not None and not isinstance(focused, HostFilterInput):
            self._back_to = focused
        self.add_class("-filtering")
        # Focus now, not after the queued messages (what ``focus()`` does), so that keys typed
        # right after H land in the filter and not on the pane's own keys (f on Smoke starts
        # a run). Keys read in the same instant as H (a paste, tmux send-keys) can still go
        # to the old focus: Textual routes each key when it reads it.
        self.screen.set_focus(self.input)

    def set_text(self, text: str) -> None:
        """Set the filter from code (another pane's selection, tests)."""
        same = self.input.value == text
        self.input.value = text  # a new value posts Changed (through Input.Changed)
        self.set_class(bool(text.strip()), "-filtering")
        if same:
            self.post_message(self.Changed(self, text.strip()))

    def clear(self) -> None:
        had = bool(self.text)
        self.input.value = ""
        self.remove_class("-filtering")
        if not had:
            self.post_message(self.Changed(self, ""))  # (a change of value posts it otherwise)
        self._return_focus()

    def _return_focus(self) -> None:
        back = self._back_to
        if back is not None and back.is_attached and back.display:
            self.screen.set_focus(back)  # at once, like H: the next key is the pane's again
        else:
            self.screen.focus_next()

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        if isinstance(event.input, HostFilterInput):
            event.stop()
            self.post_message(self.Changed(self, event.value.strip()))

    def accept(self) -> None:
        """Enter in the filter: keep it (shown while it filters) and go back to the pane."""
        if not self.text:
            self.remove_class("-filtering")
        self._return_focus()
