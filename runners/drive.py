"""Record any engine-like event source the way ``runners.pipeline.run_smoke`` records the
built-in smoke engine: the record's ``Recorder`` on its writer thread (run log, JUnit XML,
``events.log.jsonl``, the --ff cache), extra sinks on the loop, a ``RunResult`` at the end.

Sinks see an event only once the record has it on disk (``run_smoke``'s acknowledge-after-
write rule). An *engine-like* source has ``events()`` (an async iterator ending with ``RunFinished``),
``cancel()``, ``drain_pending()``, ``run_id``, ``internal_error`` and ``selected``. The
external pytest runner (``runners.external.runner``) and ``dryrun stress`` use it, so their
runs land in the record exactly like the built-in engine's.

(The wiring mirrors ``run_smoke``; that function builds its own ``SmokeEngine``, so it
cannot take another source without a change in its owner's module.)
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from runners.events import CheckFinished, Event, RunFinished, RunStarted
from runners.pipeline import RunResult, Sink, _Writer, exit_code_for


async def drive(source: Any, *, record_dir: Path, log_path: Path, label: str, durations: int = 10,
                secrets: Sequence[str] = (), sinks: Sequence[Sink] = (), notices: Sequence[Any] = (),
                write_lastfailed: bool = True, artifacts_dir: Path | None = None,
                source_ready: Callable[[Any], None] | None = None) -> RunResult:
    from record.layout import DryRunDir
    from record.recorder import Recorder

    d = DryRunDir(Path(record_dir))
    log_path = Path(log_path)
    if source_ready is not None:
        source_ready(source)
    recorder = Recorder(d, log_path, durations=durations, secrets=secrets, write_lastfailed=write_lastfailed)
    results: list[CheckFinished] = []
    finished: RunFinished | None = None
    sink_errors: list[str] = []

    def _safe(s: Sink, ev: Event) -> None:
        try:
            s(ev)
        except Exception as e:  # a broken display must not break the run or the record
            if len(sink_errors) < 20:
                sink_errors.append(f"sink {getattr(s, '__name__', s)!s}: {type(e).__name__}: {e}")

    def show(batch: list[Event]) -> None:  # on the loop, once the batch is on disk (as run_smoke)
        for ev in batch:
            for s in sinks:
                _safe(s, ev)

    writer = _Writer(recorder, show)

    def handle(ev: Event) -> None:
        nonlocal finished
        writer.put(ev)
        if isinstance(ev, RunStarted):
            for n in notices:
                handle(dataclasses.replace(n, run_id=ev.run_id))
        elif isinstance(ev, CheckFinished):
            results.append(ev)
        elif isinstance(ev, RunFinished):
            finished = ev

    try:
        async for ev in source.events():
            handle(ev)
    except asyncio.CancelledError:
        for ev in source.drain_pending():
            handle(ev)
        await asyncio.shield(writer.close())
        raise
    finally:
        if writer.thread.is_alive():
            await writer.close()
    if finished is None:  # a source that broke its contract: still return a result
        finished = RunFinished(passed=0, failed=0, errors=0, skipped=0, duration=0.0, interrupted=True,
                               run_id=getattr(source, "run_id", ""))
    errors = list(recorder.errors) + sink_errors
    return RunResult(finished=finished, results=results, log_path=log_path, junit_path=recorder.junit_path,
                     exit_code=exit_code_for(finished, internal_error=source.internal_error,
                                             selected=len(source.selected)),
                     run_id=source.run_id, label=label, artifacts_dir=artifacts_dir, record_errors=errors,
                     internal_error=source.internal_error)
