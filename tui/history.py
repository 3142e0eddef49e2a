"""Run history folded from ``events.log.jsonl`` (the record's single source of truth).

Split in two so file I/O stays off the UI loop: ``read_new()`` (any thread, serialised by
a lock) reads only new complete lines and parses them; ``fold()`` (the UI loop) applies
them. The reading is ``record.events_log.EventsTail``'s (non-strict: a damaged line is
counted and skipped, never stops the console): a torn last line is left for the next read;
a truncated or replaced file is re-read from the start and ``fold`` is told to reset."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from record.state import RunState
from runners.events import (EVENT_TYPES, CheckFinished, CheckStarted, CheckStep, Event, RunFinished, RunStarted,
                            event_from_dict)


@dataclass
class RunSummary:
    run_id: str
    label: str
    started: float
    finished: RunFinished | None = None


@dataclass
class History:
    path: Path
    state: RunState = field(default_factory=RunState)
    runs: list[RunSummary] = field(default_factory=list)
    last_finish: dict[tuple[str, str], CheckFinished] = field(default_factory=dict)  # (host, check)
    steps: dict[tuple[str, str], list[Event]] = field(default_factory=dict)  # latest attempt's events
    skipped_lines: int = 0
    _tail: Any = field(default=None, repr=False)  # record.events_log.EventsTail, made on the first read
    _bad_seen: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def read_new(self) -> tuple[bool, list[Event]]:
        """(reset, new events) since the last call. Safe to call from a worker thread."""
        with self._lock:
            if self._tail is None:
                from record.events_log import EventsTail  # ~10 ms of imports: on the reading thread, not at start-up

                self._tail = EventsTail(self.path, strict=False)
            t = self._tail
            r = t.read()
            bad = len(t.bad_lines) - (0 if r.reset else self._bad_seen)  # lines that are not JSON objects
            self._bad_seen = len(t.bad_lines)
            events: list[Event] = []
            for d in r.events:
                if d.get("kind") not in EVENT_TYPES:
                    continue  # record events (triage_added, verify_result...) are not run events
                try:
                    events.append(event_from_dict(d))
                except (ValueError, KeyError, TypeError):
                    bad += 1  # a foreign or damaged line never stops the console
            self.skipped_lines += bad
            return r.reset, events

    def fold(self, reset: bool, events: list[Event]) -> bool:
        """Apply what ``read_new`` returned (UI loop). True if anything changed."""
        if reset:
            self.state, self.runs, self.last_finish, self.steps = RunState(), [], {}, {}
        for ev in events:
            self.state.apply(ev)
            if isinstance(ev, RunStarted):
                self.runs.append(RunSummary(ev.run_id, ev.label, ev.ts))
            elif isinstance(ev, RunFinished):
                for r in reversed(self.runs):
                    if r.run_id == ev.run_id:
                        r.finished = ev
                        break
            elif isinstance(ev, CheckStarted):
                self.steps[(ev.host, ev.check)] = [ev]
            elif isinstance(ev, CheckStep):
                self.steps.setdefault((ev.host, ev.check), []).append(ev)
            if isinstance(ev, CheckFinished):
                self.last_finish[(ev.host, ev.check)] = ev
                self.steps.setdefault((ev.host, ev.check), []).append(ev)
        return reset or bool(events)

    def refresh(self) -> bool:
        """Read and fold in one go (tests, headless use)."""
        return self.fold(*self.read_new())

    @property
    def last_run(self) -> RunSummary | None:
        return self.runs[-1] if self.runs else None
