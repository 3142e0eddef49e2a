"""Messages workers post to the App. Small dataclass-like messages, one job each.

High-rate ones merge with a queued successor (``can_replace``): Textual asks the older
queued message whether the next one may supersede it; we fold the older payload into
the newer one and say yes, so nothing is lost and the handler runs once per burst.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.message import Message

if TYPE_CHECKING:
    from runners.events import Event


class RunEvents(Message):
    """Events from a smoke run, in order (batched: one message per burst)."""

    def __init__(self, events: list[Event]) -> None:
        super().__init__()
        self.events = events

    def can_replace(self, message: Message) -> bool:
        if isinstance(message, RunEvents):
            message.events[:0] = self.events  # keep order: ours happened first
            return True
        return False


class RunDone(Message):
    """A run flow (smoke, final, verify, flake hunt) ended or was halted before starting."""

    def __init__(self, label: str, result: Any, retry: Any = None) -> None:
        super().__init__()
        self.label = label
        self.result = result  # tui.flows.FlowResult
        self.retry = retry  # (label, flow) to start it again (after an environment-drift override)


class RunPhase(Message):
    """What the run is doing now ("validating the environment", "running"); "" = it ended."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class HostProbed(Message):
    """Fresh host health (runners.events.HostState events) from the probe worker."""

    def __init__(self, states: list[Event]) -> None:
        super().__init__()
        self.states = states

    def can_replace(self, message: Message) -> bool:
        if isinstance(message, HostProbed):
            message.states[:0] = self.states
            return True
        return False


class FilesChanged(Message):
    """Files under dry_run/ or the config changed on disk (another console, an editor)."""

    def __init__(self, paths: set[str]) -> None:
        super().__init__()
        self.paths = paths

    def can_replace(self, message: Message) -> bool:
        if isinstance(message, FilesChanged):
            message.paths |= self.paths
            return True
        return False


class TaskDone(Message):
    """A one-shot record/runner task (generate closeout, freeze env...) finished."""

    def __init__(self, name: str, ok: bool, detail: str = "", data: Any = None, *,
                 reply: Any = None, reported: bool = False) -> None:
        super().__init__()
        self.name = name
        self.ok = ok
        self.detail = detail  # success text, or why it failed
        self.data = data
        self.reply = reply  # callable(TaskDone) of whoever asked, called on the UI loop
        self.reported = reported  # already notified (an unexpected worker failure)


class RecordLoaded(Message):
    """A fresh snapshot of the record (tui.recordview.RecordView) and the run events
    appended to the events log since the last load, read off the UI loop."""

    def __init__(self, view: Any, reset: bool, events: list[Event]) -> None:
        super().__init__()
        self.view = view
        self.reset = reset
        self.events = events

    def can_replace(self, message: Message) -> bool:
        if isinstance(message, RecordLoaded):
            # only the newest snapshot matters, but no event read by the older one may be lost
            if not message.reset:
                message.events[:0] = self.events
                message.reset = self.reset
            return True
        return False
