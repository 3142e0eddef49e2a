"""A smoke run wired end to end: engine events -> the record (run log, JUnit XML,
artifacts, events.log.jsonl, --ff cache) and any extra sinks (CLI printer, TUI).

The record is fed from a writer thread (fsyncs must not stall the event loop, where the
RPC latencies are being measured); sinks are called on the loop, in order, and a sink
that raises is reported, never allowed to break the run.
"""

from __future__ import annotations

import asyncio
import dataclasses
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runners.config import Config
from runners.events import CheckFinished, Event, RunFinished, RunStarted
from runners.smoke.options import RunOptions

Sink = Callable[[Event], None]

EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_INTERNAL = 0, 1, 2, 3


@dataclass
class RunResult:
    finished: RunFinished
    results: list[CheckFinished]
    log_path: Path
    junit_path: Path
    exit_code: int
    run_id: str = ""
    label: str = ""
    artifacts_dir: Path | None = None
    record_errors: list[str] = field(default_factory=list)
    internal_error: str = ""

    def summary(self) -> dict[str, Any]:
        f = self.finished
        return {
            "run_id": self.run_id, "label": self.label, "exit_code": self.exit_code,
            "passed": f.passed, "failed": f.failed, "errors": f.errors, "skipped": f.skipped,
            "duration": round(f.duration, 3), "interrupted": f.interrupted, "stopped_early": f.stopped_early,
            "log": str(self.log_path), "junit": str(self.junit_path),
            "artifacts": str(self.artifacts_dir) if self.artifacts_dir else "",
            "results": [{"host": r.host, "check": r.check, "attempt": r.attempt, "outcome": r.outcome,
                         "duration": round(r.duration, 3), "summary": r.summary, "expected": r.expected,
                         "seen": r.seen, "fault": r.fault, "metrics": r.metrics} for r in self.results],
            "record_errors": self.record_errors,
            "internal_error": self.internal_error,
        }


def exit_code_for(finished: RunFinished, *, internal_error: str = "", selected: int = 1) -> int:
    """pytest's codes: 0 all passed, 1 failures, 2 interrupted (or nothing selected), 3 internal."""
    if internal_error:
        return EXIT_INTERNAL
    if finished.interrupted or selected == 0:
        return EXIT_INTERRUPTED
    if finished.failed or finished.errors:
        return EXIT_FAILED
    return EXIT_OK


class _Writer:
    """The recorder on its own thread: events in via a queue, written in batches, then
    handed back to the event loop (``after``) once they are on disk.

    Acknowledge after write: a sink (the CLI printer, the TUI) only sees an event once its
    line is in events.log.jsonl (fsynced) and in the run log, so a kill -9 can never lose
    an entry the operator was shown. The writes stay off the loop (fsync would stall it,
    and the loop is where the RPC latencies are measured)."""

    def __init__(self, recorder: Any, after: Callable[[list[Event]], None]):
        self.recorder = recorder
        self.after = after
        self.loop = asyncio.get_running_loop()
        self.q: queue.Queue[Event | None] = queue.Queue()
        self.thread = threading.Thread(target=self._loop, name="dryrun-recorder", daemon=True)
        self.thread.start()

    def put(self, ev: Event) -> None:
        self.q.put(ev)

    def _loop(self) -> None:
        done = False
        while not done:
            batch: list[Event] = []
            item = self.q.get()
            while True:
                if item is None:
                    done = True
                    break
                batch.append(item)
                if len(batch) >= 500:
                    break
                try:
                    item = self.q.get_nowait()
                except queue.Empty:
                    break
            if not batch:
                continue
            try:
                self.recorder.handle(batch)
            except Exception as e:  # never lose the thread: report and continue
                self.recorder.errors.append(f"recorder: {type(e).__name__}: {e}")
            try:
                self.loop.call_soon_threadsafe(self.after, batch)
            except RuntimeError:  # the loop is gone (process exiting): nobody left to show it to
                pass

    async def close(self) -> None:
        self.q.put(None)
        await asyncio.to_thread(self.thread.join)
        await asyncio.sleep(0)  # let the last ``after`` callbacks (queued before the join's) run


async def run_smoke(cfg: Config, options: RunOptions, *, log_path: Path, sinks: Sequence[Sink] = (),
                    engine_ready: Callable[[Any], None] | None = None, registry: dict | None = None,
                    notices: Sequence[Any] = ()) -> RunResult:
    """Run the smoke set and record it. ``engine_ready(engine)`` hands the engine to the
    caller before it starts (to ``cancel()`` it from a key binding or a signal);
    ``notices`` (e.g. the env validator's) are recorded right after RunStarted."""
    from record.lastfailed import load_lastfailed
    from record.layout import DryRunDir
    from record.quarantine import load_quarantine
    from record.redact import configured_secrets
    from runners.smoke.engine import SmokeEngine

    d = DryRunDir(cfg.dry_run_path)
    log_path = Path(log_path)
    label = options.label or log_path.stem
    options = dataclasses.replace(options, label=label)
    quarantine = load_quarantine(d.quarantine) if options.respect_quarantine else {}
    last_failed = load_lastfailed(d.lastfailed) if options.failed_first else set()
    artifacts = d.artifacts / label
    engine = SmokeEngine(cfg, options, artifacts_dir=artifacts, quarantine=quarantine, last_failed=last_failed,
                         record_root=d.root, registry=registry)
    if engine_ready is not None:
        engine_ready(engine)
    return await record_run(engine, record_dir=d.root, log_path=log_path, label=label,
                            durations=options.durations, secrets=configured_secrets(cfg), sinks=sinks,
                            notices=notices, artifacts_dir=artifacts)


async def record_run(source: Any, *, record_dir: Path, log_path: Path, label: str, durations: int = 10,
                     secrets: Sequence[str] = (), sinks: Sequence[Sink] = (), notices: Sequence[Any] = (),
                     write_lastfailed: bool = True, artifacts_dir: Path | None = None,
                     source_ready: Callable[[Any], None] | None = None) -> RunResult:
    """Record any engine-like event source: the record's ``Recorder`` on its writer thread
    (run log, JUnit XML, ``events.log.jsonl``, the --ff cache), extra sinks on the loop, a
    ``RunResult`` at the end. The built-in engine (``run_smoke``), external pytest suites
    (``runners.external.runner``) and ``dryrun stress`` all go through here, so their runs
    land in the record the same way.

    An engine-like source has ``events()`` (an async iterator ending with ``RunFinished``),
    ``cancel()``, ``drain_pending()``, ``run_id``, ``internal_error`` and ``selected``.
    Sinks see an event only once the record has it on disk: what an operator was shown
    survives a kill -9."""
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

    def show(batch: list[Event]) -> None:  # on the loop, once the batch is on disk
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
        # The caller was cancelled (Ctrl-C in asyncio.run, a TUI worker stopped): the source
        # has wound down in the iterator's cleanup; record what it said last, then go.
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


async def run_checks(cfg: Config, options: RunOptions, *, suite: Any = None, log_path: Path,
                     sinks: Sequence[Sink] = (), engine_ready: Callable[[Any], None] | None = None,
                     notices: Sequence[Any] = ()) -> RunResult:
    """A run of the selected checks: the built-in engine, or the external ``suite`` (a
    ``[[suites]]`` entry) when one is given; recorded the same way either way."""
    if suite is None:
        return await run_smoke(cfg, options, log_path=log_path, sinks=sinks, engine_ready=engine_ready,
                               notices=notices)
    from runners.external.runner import run_suite

    return await run_suite(cfg, suite, options, log_path=log_path, sinks=sinks, engine_ready=engine_ready,
                           notices=notices)


# ------------------------------------------------------------------ environment gate

@dataclass
class EnvGate:
    """What the pre-run environment validator decided.

    status: "ok" (matches the freeze) | "drift" (halt) | "overridden" (drift, --allow-drift)
    | "not_frozen" (no freeze yet: not validated) | "unavailable" (validator modules missing)."""

    status: str
    codes: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    detail: str = ""

    @property
    def halt(self) -> bool:
        return self.status == "drift"

    def notices(self) -> list[Any]:
        from runners.events import Notice

        if self.status == "ok":
            return [Notice(level="info", code="ENV_VALIDATED", message="environment matches the freeze")]
        if self.status in ("drift", "overridden"):
            lvl = "error" if self.status == "drift" else "warning"
            head = [Notice(level=lvl, code="ENV_DRIFT_OVERRIDDEN" if self.status == "overridden" else "ENV_DRIFT",
                           message=("drift from the frozen environment"
                                    + (" (run allowed by --allow-drift)" if self.status == "overridden" else "")
                                    + ": " + ", ".join(self.codes)))]
            return head + [Notice(level=lvl, code=m.split(":", 1)[0], message=m) for m in self.messages]
        return [Notice(level="warning", code="ENV_NOT_VALIDATED", message=self.detail)]


async def validate_environment(cfg: Config, options: RunOptions, *, allow_drift: bool = False,
                               timeout: float = 120.0) -> EnvGate:
    """The seed-002 validator before a run: compare the live environment (runners.envprobe)
    with the freeze (record.envfreeze). No freeze yet -> not validated (said, not hidden)."""
    try:
        from record.envfreeze import check_drift, load_frozen, validate_env
        from runners.envprobe import collect_env
    except ImportError as e:  # the record part not installed yet: say so, do not block
        return EnvGate("unavailable", detail=f"environment validator unavailable ({e}); environment not validated")
    from record.events_log import EventsLog
    from record.layout import DryRunDir

    d = DryRunDir(cfg.dry_run_path)
    frozen = load_frozen(d)  # RecordError when the freeze file was edited: the caller reports it
    if frozen is None:
        return EnvGate("not_frozen", detail="no environment freeze yet (`dryrun env freeze`): environment not validated")
    sub = cfg
    if options.hosts:
        sub = dataclasses.replace(cfg, hosts=tuple(h for h in cfg.hosts if h.name in options.hosts))
    try:
        live = await asyncio.wait_for(collect_env(sub), timeout)
    except asyncio.TimeoutError:
        return EnvGate("drift" if not allow_drift else "overridden", codes=["ENV_PROBE_TIMEOUT"],
                       messages=[f"ENV_PROBE_TIMEOUT: collecting the live environment took over {timeout:g} s"])
    log = EventsLog(d.events_log)
    if not options.hosts:
        res = validate_env(d, live, allow_drift=allow_drift, log=log)
        drifts = res.drifts
    else:  # a subset run: compare only the selected hosts (and the lab machine)
        matrix = dict(frozen["matrix"])
        matrix["hosts"] = {k: v for k, v in (matrix.get("hosts") or {}).items() if k in options.hosts}
        drifts = check_drift(matrix, live)
        log.append({"kind": "environment_validation_start", "hosts": list(options.hosts)})
        if drifts:
            log.append({"kind": "environment_validation_override" if allow_drift else "environment_validation_fail",
                        "reason_codes": sorted({x.code for x in drifts}), "drifts": [x.message for x in drifts]})
        else:
            log.append({"kind": "environment_validated", "hosts": list(options.hosts)})
    if not drifts:
        return EnvGate("ok")
    return EnvGate("overridden" if allow_drift else "drift", codes=sorted({x.code for x in drifts}),
                   messages=[x.message for x in drifts])
