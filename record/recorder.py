"""The record's sink for a smoke run: one object that turns the engine's events into the
run's files.

- ``events.log.jsonl``: every event, appended (batched: one lock + one fsync per batch);
- the pytest-style run log: progress lines streamed as checks finish (a crash leaves a
  useful partial log), then rewritten atomically in full when the run finishes;
- the JUnit XML beside the log (``.xml``) and the ``--ff`` cache, at the end.

When the run starts it also sweeps the folder of temp files that killed writers left
behind (``record.atomic.sweep_stale_tmp``; never a live writer's).

Every text it writes goes through ``record.redact`` with the configured secrets.
Synchronous on purpose: the pipeline feeds it from a writer thread so fsyncs never stall
the event loop (and so never inflate the RPC latencies being measured).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import IO

from record.atomic import atomic_write_text, sweep_stale_tmp
from record.events_log import EventsLog
from record.junit import junit_xml
from record.lastfailed import update_lastfailed
from record.layout import DryRunDir
from record.redact import redact_text
from record.runlog import RunLog
from runners.events import Event, RunFinished, RunStarted


class Recorder:
    def __init__(self, d: DryRunDir, log_path: Path, *, durations: int = 10, secrets: Iterable[str] = (),
                 junit_path: Path | None = None, write_lastfailed: bool = True):
        self.dir = d
        self.log_path = Path(log_path)
        self.junit_path = Path(junit_path) if junit_path else self.log_path.with_suffix(".xml")
        self.secrets = tuple(s for s in secrets if s)
        self.runlog = RunLog(durations=durations)
        self.events_log = EventsLog(d.events_log, secrets=self.secrets)
        self.write_lastfailed = write_lastfailed
        self.finished: RunFinished | None = None
        self._fh: IO[str] | None = None
        self._steps: dict[tuple[str, str, int], list[str]] = {}
        self.errors: list[str] = []  # writes that failed (reported by the pipeline, never raised mid-run)

    def __call__(self, ev: Event) -> None:
        self.handle([ev])

    def handle(self, events: list[Event]) -> None:
        if not events:
            return
        try:
            self.events_log.append_many(events)
        except Exception as e:  # keep the run going; the caller reports it
            self.errors.append(f"{self.dir.events_log}: {type(e).__name__}: {e}")
        for ev in events:
            self._fold(ev)

    def _fold(self, ev: Event) -> None:
        from runners.events import CheckStep

        if isinstance(ev, RunStarted):
            self._open_log()
        if isinstance(ev, CheckStep):
            self._steps.setdefault((ev.host, ev.check, ev.attempt), []).append(ev.message)
        lines = self.runlog.apply(ev)
        if lines and self._fh is not None:
            try:
                self._fh.write(redact_text("\n".join(lines) + "\n", self.secrets))
                self._fh.flush()
            except OSError as e:
                self.errors.append(f"{self.log_path}: {e}")
        if isinstance(ev, RunFinished):
            self.finished = ev
            self._finish()

    def _open_log(self) -> None:
        # Here, on the writer thread, not in __init__ (on the event loop): the walk is I/O.
        sweep_stale_tmp(self.dir.root)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._fh = open(self.log_path, "w", encoding="utf-8")
        except OSError as e:
            self.errors.append(f"{self.log_path}: {e}")

    def _finish(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        rl = self.runlog
        s = rl.started
        for what, fn in (
            ("run log", lambda: atomic_write_text(self.log_path, redact_text(rl.render(), self.secrets))),
            ("junit xml", lambda: atomic_write_text(self.junit_path, redact_text(junit_xml(
                rl.results, label=s.label if s else "", duration=self.finished.duration if self.finished else 0.0,
                started=s.ts if s else None, count=rl.count, run_id=s.run_id if s else "", steps=self._steps),
                self.secrets))),
            ("lastfailed cache", self._update_lastfailed),
        ):
            try:
                fn()
            except Exception as e:
                self.errors.append(f"{what}: {type(e).__name__}: {e}")

    def _update_lastfailed(self) -> None:
        if not self.write_lastfailed:
            return
        from record.lock import DryRunLock

        with DryRunLock(self.dir, timeout=10):  # read-modify-write: two consoles must not interleave
            update_lastfailed(self.dir.lastfailed, self.runlog.results)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
