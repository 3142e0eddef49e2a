"""What every console screen shares: the nav bar, the footer, read-only hiding of
actions that change hosts or the record, and refresh when the model changes.

Screens read the App's ConsoleModel; they are told what changed through the App's
``model_changed`` signal (topics: run, record, health, config, clock, logs). A screen
that is not on display only marks itself stale and refreshes when shown again. While a
run is live, "run" refreshes are coalesced to ``RUN_REFRESH_HZ`` a second: a 50-host run
posts hundreds of events a second, and redrawing 350 rows for each froze the keys."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import ComposeResult
from textual.screen import Screen

from tui.widgets.footer import ConsoleFooter
from tui.widgets.navbar import NavBar

if TYPE_CHECKING:
    from tui.app import DryRunApp
    from tui.model import ConsoleModel


RUN_REFRESH_HZ = 4.0


class ConsoleScreen(Screen):
    MODE: ClassVar[str] = ""
    TITLE: ClassVar[str] = ""
    HELP: ClassVar[str] = ""  # shown by `?`; first sentence also in the palette
    # action names (without arguments) that change hosts or the record: hidden in --read-only
    MUTATING: ClassVar[frozenset[str]] = frozenset()

    app: DryRunApp  # type: ignore[assignment]

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._stale = True
        self._run_refreshed = 0.0
        self._run_timer: Any = None

    @property
    def model(self) -> ConsoleModel:
        return self.app.model

    def compose(self) -> ComposeResult:
        yield NavBar(self.MODE, id="navbar")
        yield from self.compose_body()
        yield ConsoleFooter()  # the App's keys pinned right: never cut at 80 columns

    def compose_body(self) -> ComposeResult:
        yield from ()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in self.MUTATING and self.app.read_only:
            return False  # hidden from footer, help and palette; refused if invoked
        return True

    def on_worker_state_changed(self, event) -> None:
        # a screen's own workers report to the App's one failure handler too
        self.app.on_worker_state_changed(event)

    def on_mount(self) -> None:
        self.app.model_changed.subscribe(self, self._on_model_changed)
        self.app.clock_tick.subscribe(self, self._on_clock)
        self._on_clock(None)

    def on_screen_resume(self) -> None:
        if self._stale:
            self._stale = False
            self.refresh_view("all")
        self._on_clock(None)

    def _on_model_changed(self, topic: str) -> None:
        if not self.is_current:
            self._stale = True
            return
        if topic == "run" and self.model.live.running:
            wait = self._run_refreshed + 1.0 / RUN_REFRESH_HZ - time.monotonic()
            if wait > 0:
                if self._run_timer is None:
                    self._run_timer = self.set_timer(wait, self._deferred_run_refresh)
                return
        if topic == "run":
            self._run_refreshed = time.monotonic()
        self.refresh_view(topic)

    def _deferred_run_refresh(self) -> None:
        self._run_timer = None
        if self.is_current:
            self._run_refreshed = time.monotonic()
            self.refresh_view("run")
        else:
            self._stale = True

    def _on_clock(self, _: object) -> None:
        self.query_one(NavBar).set_right(self.app.clock_variants())
        if self.is_current:
            self.on_clock()

    def refresh_view(self, topic: str) -> None:
        """Re-read the model for ``topic`` ("all" after being shown again)."""

    def on_clock(self) -> None:
        """Once a second while shown (countdowns, ticking durations)."""
