"""What the console shows, as plain data (no Textual): the config, the live run, the
run history from the events log, host health and the record's files.

The App owns one ConsoleModel; workers' messages update it in the App's handlers, and
screens read it when told (``App.model_changed`` signal with a topic)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from record.layout import DryRunDir
from record.state import RunState
from runners.config import Config
from runners.events import Event, HostState, RunStarted
from tui.history import History

if TYPE_CHECKING:
    from tui.recordview import RecordViewLoader

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now().astimezone()


@dataclass
class ConsoleModel:
    cfg: Config
    now: Clock = system_clock
    read_only: bool = False
    live: RunState = field(default_factory=RunState)
    live_steps: dict[tuple[str, str], list[Event]] = field(default_factory=dict)  # (host, check) -> steps
    health: dict[tuple[str, str], HostState] = field(default_factory=dict)  # (host, component)
    running_label: str = ""  # label of the run this console started and is watching
    run_phase: str = ""  # what that run is doing: validating the environment, running
    record: Any = None  # tui.recordview.RecordView, None until first loaded

    def __post_init__(self) -> None:
        self.dry = DryRunDir(self.cfg.dry_run_path)
        self.history = History(self.dry.events_log)
        self._record_loader: RecordViewLoader | None = None

    @property
    def hosts(self) -> tuple[str, ...]:
        return tuple(h.name for h in self.cfg.hosts)

    @property
    def config_path(self) -> Path | None:
        return self.cfg.path

    def set_config(self, cfg: Config) -> None:
        moved = cfg.dry_run_path != self.cfg.dry_run_path
        self.cfg = cfg
        if self._record_loader is not None:
            self._record_loader.cfg = cfg
        if moved:
            self.dry = DryRunDir(cfg.dry_run_path)
            self.history = History(self.dry.events_log)
            self._record_loader = None

    @property
    def record_loader(self) -> RecordViewLoader:
        """The record view loader of this dry_run/ (incremental: it keeps what it derived),
        made on first use (on the loader's thread: its imports stay off the first frame)."""
        if self._record_loader is None:
            from tui.recordview import RecordViewLoader

            self._record_loader = RecordViewLoader(self.cfg, self.dry)
        return self._record_loader

    def apply_run_event(self, ev: Event) -> None:
        from runners.events import CheckStarted, CheckStep, CheckFinished

        if isinstance(ev, RunStarted):
            self.live = RunState()
            self.live_steps.clear()
        self.live.apply(ev)
        if isinstance(ev, CheckStarted):
            self.live_steps[(ev.host, ev.check)] = [ev]
        elif isinstance(ev, (CheckStep, CheckFinished)):
            self.live_steps.setdefault((ev.host, ev.check), []).append(ev)
        if isinstance(ev, HostState):
            self.health[(ev.host, ev.component)] = ev

    def apply_health(self, states: list[Event]) -> None:
        for ev in states:
            if isinstance(ev, HostState):
                self.health[(ev.host, ev.component)] = ev
