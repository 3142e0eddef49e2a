"""Run a team's own pytest suite as a subprocess and stream it as the console's events.

    run = ExternalSuiteRun(cfg, suite, RunOptions(keyword="SMK_3", count=10), artifacts_dir=...)
    async for ev in run.events(): ...            # RunStarted ... RunFinished, like SmokeEngine
    result = await run_suite(cfg, "team-smoke", options, log_path=...)   # + the record

One pytest process per target (once, or once per host for a suite with ``hosts``), at
most ``checks.max_parallel_hosts`` at once. Each gets the console's plugin
(``runners.external.pytest_plugin``) writing JSON lines to an inherited pipe that is read
on the event loop as lines arrive (nothing blocks the loop); ``Translator`` turns them into
events. pytest's own output goes to ``<artifacts>/<host>/pytest_output.log`` (bounded) and
its tail into a notice when pytest fails before running anything.

Processes run in their own session: ``cancel()`` sends SIGINT (pytest finishes its report
and exits 2), then SIGKILL to the whole process group after ``kill_grace`` seconds; a
cancelled consumer (the iterator closed, the task cancelled) kills at once; a process over
the suite's ``timeout`` is stopped the same way and reported.

``RunStarted`` goes out when the first process has collected (its checks are the SMK ids
the suite selected); events before that are held back.
"""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

from runners.config import Config, Suite
from runners.events import CheckFinished, Event, Notice, RunFinished, RunStarted
from runners.external.command import Target, build_targets, find_suite
from runners.external.translate import Translator
from runners.smoke.options import RunOptions

MAX_RECORD_LINE = 1 << 20  # a JSON line longer than this is dropped (the plugin clips its texts far below)
OUTPUT_MAX_BYTES = 10 << 20  # pytest output kept per process
TAIL_LINES = 60
EXIT_NAMES = {0: "all passed", 1: "tests failed", 2: "interrupted", 3: "internal error", 4: "usage error",
              5: "no tests collected"}


class ExternalSuiteRun:
    """An engine-like source (``events``/``cancel``/``drain_pending``) for one suite run."""

    def __init__(self, cfg: Config, suite: Suite | str | None, options: RunOptions, *, artifacts_dir: Path,
                 quarantine: dict[str, str] | None = None, record_root: Path | None = None,
                 kill_grace: float = 3.0, environ: dict[str, str] | None = None, python: str | None = None):
        self.cfg = cfg
        self.suite = suite if isinstance(suite, Suite) else find_suite(cfg, suite)
        self.options = options.validate()
        self.artifacts_dir = Path(artifacts_dir)
        self.record_root = Path(record_root) if record_root else None
        self.kill_grace = kill_grace
        self.run_id = uuid.uuid4().hex[:12]
        self.label = options.label
        self.targets: list[Target] = build_targets(
            cfg, self.suite, self.options, run_id=self.run_id, label=self.label, artifacts_dir=self.artifacts_dir,
            quarantine=quarantine if options.respect_quarantine else {}, environ=environ, python=python)
        self.translators = {t.host: Translator(t.host, run_id=self.run_id, record_root=self.record_root)
                            for t in self.targets}
        self.internal_error = ""
        self.exit_statuses: dict[str, int | None] = {}
        self._stop_reason = ""
        self._procs: dict[str, asyncio.subprocess.Process] = {}
        self._queue: asyncio.Queue[Event] | None = None
        self._held: list[Event] = []
        self._started_ev: RunStarted | None = None
        self._counts = {"passed": 0, "failed": 0, "error": 0, "skipped": 0}
        self._started = False
        self._runner: asyncio.Task | None = None
        self._t0 = 0.0

    # -- engine-like API --------------------------------------------------------------------

    @property
    def hosts(self) -> tuple[str, ...]:
        return tuple(t.host for t in self.targets)

    @property
    def selected(self) -> list[tuple[str, str]]:
        """(host, check) pairs the processes collected (known once they have collected)."""
        return [(h, c) for h, tr in self.translators.items() for c in tr.check_order]

    @property
    def stopping(self) -> bool:
        return bool(self._stop_reason)

    async def events(self) -> AsyncIterator[Event]:
        if self._started:
            raise RuntimeError("an ExternalSuiteRun runs once; make a new one for another run")
        self._started = True
        self._queue = asyncio.Queue()
        self._runner = asyncio.create_task(self._run(), name=f"suite-{self.suite.name}-{self.run_id}")
        try:
            while True:
                ev = await self._queue.get()
                yield ev
                if isinstance(ev, RunFinished):
                    break
        finally:
            if not self._runner.done():
                self._stop_reason = self._stop_reason or "interrupted"
                self._kill_all()  # the consumer is gone: no grace
                try:
                    await asyncio.wait_for(asyncio.shield(self._runner), timeout=10)
                except (asyncio.TimeoutError, asyncio.CancelledError):
                    self._runner.cancel()

    def cancel(self) -> None:
        """Stop promptly: SIGINT to every pytest (it reports what ran), SIGKILL after the grace."""
        if not self._stop_reason:
            self._stop_reason = "interrupted"
        for host in list(self._procs):
            self._interrupt(host)

    def drain_pending(self) -> list[Event]:
        out: list[Event] = []
        q = self._queue
        while q is not None and not q.empty():
            out.append(q.get_nowait())
        return out

    # -- internals --------------------------------------------------------------------------

    def _emit(self, ev: Event) -> None:
        if isinstance(ev, CheckFinished):
            self._counts[ev.outcome] = self._counts.get(ev.outcome, 0) + 1
        assert self._queue is not None
        if self._started_ev is None and not isinstance(ev, (RunStarted, RunFinished)):
            self._held.append(ev)
            return
        self._queue.put_nowait(ev)

    def _announce(self, tr: Translator | None) -> None:
        """RunStarted from the first collection (or none, when no process got that far)."""
        if self._started_ev is not None:
            return
        checks = tuple(tr.check_order) if tr else ()
        groups = len(tr.groups) if tr else 0
        coll = (tr.collected or {}) if tr else {}
        o = self.options
        opts = {**o.as_dict(), "suite": self.suite.name, "external": True,
                "command": self.targets[0].command_line if self.targets else "",
                "argv": self.targets[0].command_line if self.targets else "",
                "count": tr.count if tr else o.count, "deselected": 0, "total": groups * len(self.targets),
                "tests_selected": int(coll.get("selected") or 0), "tests_deselected": int(coll.get("deselected") or 0),
                "tests_unmapped": len(tr.unmapped) if tr else 0}
        self._started_ev = RunStarted(hosts=self.hosts, checks=checks, label=self.label, options=opts,
                                      run_id=self.run_id)
        self._emit(self._started_ev)
        held, self._held = self._held, []
        for ev in held:
            self._queue.put_nowait(ev)  # type: ignore[union-attr]

    async def _run(self) -> None:
        self._t0 = time.monotonic()
        try:
            for t in self.targets:
                if t.missing_env:
                    self._emit(Notice(level="warning", code="EXT_ENV_MISSING", host=t.host, run_id=self.run_id,
                                      message=f"suite {self.suite.name!r} passes {', '.join(t.missing_env)} "
                                              "through, but the console's environment does not set it"))
            sem = asyncio.Semaphore(self.cfg.checks.max_parallel_hosts)
            await asyncio.gather(*(self._target(t, sem) for t in self.targets))
        except asyncio.CancelledError:
            self._stop_reason = self._stop_reason or "interrupted"
            self._kill_all()
        except Exception as e:  # a runner bug: say so, still end the run properly
            import traceback

            self.internal_error = f"{type(e).__name__}: {e}"
            self._emit(Notice(level="error", code="EXT_RUNNER_INTERNAL", run_id=self.run_id,
                              message=f"internal error in the external-suite runner: {self.internal_error}\n"
                                      + traceback.format_exc(limit=8)))
            self._kill_all()
        finally:
            self._announce(None)
            c = self._counts
            stopped = "maxfail" if any(tr.stopped_early for tr in self.translators.values()) else ""
            interrupted = self._stop_reason in ("interrupted",) or bool(self.internal_error) or any(
                s == 2 and not self.translators[h].stopped_early for h, s in self.exit_statuses.items())
            self._emit(RunFinished(passed=c["passed"], failed=c["failed"], errors=c["error"], skipped=c["skipped"],
                                   duration=time.monotonic() - self._t0, interrupted=interrupted,
                                   stopped_early=stopped, run_id=self.run_id))

    async def _target(self, t: Target, sem: asyncio.Semaphore) -> None:
        async with sem:
            if self.stopping:
                return
            await self._run_process(t)

    async def _run_process(self, t: Target) -> None:
        tr = self.translators[t.host]
        out_dir = self.artifacts_dir / t.host
        out_path = out_dir / "pytest_output.log"
        tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
        r, w = os.pipe()
        env = dict(t.env, DRYRUN_PYTEST_FD=str(w))
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
            proc = await asyncio.create_subprocess_exec(
                *t.argv, cwd=str(t.cwd), env=env, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, pass_fds=(w,),
                start_new_session=True)
        except (OSError, ValueError) as e:
            os.close(r)
            os.close(w)
            self.exit_statuses[t.host] = None
            why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
            self.internal_error = self.internal_error or f"{t.host}: cannot start {t.argv[0]!r}: {why}"
            self._emit(Notice(level="error", code="EXT_START_FAILED", host=t.host, run_id=self.run_id,
                              message=f"cannot start the suite's command in {t.cwd}: {t.argv[0]!r}: {why} "
                                      f"(command: {t.command_line})"))
            return
        os.close(w)  # the child holds the write end now; EOF comes when it (and its children) exit
        self._procs[t.host] = proc
        self._emit(Notice(level="info", code="EXT_SUITE_STARTED", host=t.host, run_id=self.run_id,
                          message=f"pytest started (pid {proc.pid}) in {t.cwd}: {t.command_line}"))
        if self.stopping:
            self._interrupt(t.host)
        records = asyncio.create_task(self._read_records(r, tr), name=f"suite-records:{t.host}")
        output = asyncio.create_task(self._read_output(proc, out_path, tail), name=f"suite-output:{t.host}")
        timed_out = False
        try:
            try:
                await asyncio.wait_for(asyncio.shield(proc.wait()), timeout=self.suite.timeout)
            except asyncio.TimeoutError:
                timed_out = True
                self._emit(Notice(level="error", code="EXT_TIMEOUT", host=t.host, run_id=self.run_id,
                                  message=f"suite {self.suite.name!r} ran over its timeout of "
                                          f"{self.suite.timeout:g} s: stopping it"))
                self._interrupt(t.host)
                await proc.wait()
            # The pipes close when the last holder exits; a stray grandchild must not hold us up.
            await _settle(records, output, timeout=2.0)
        except asyncio.CancelledError:
            _killpg(proc)
            records.cancel()
            output.cancel()
            raise
        finally:
            self._procs.pop(t.host, None)
        status = proc.returncode
        self.exit_statuses[t.host] = status
        stopped = ("timeout" if timed_out else "interrupted" if self._stop_reason == "interrupted" else
                   "crashed" if tr.running else "")
        for ev in tr.close(stopped=stopped):
            self._emit(ev)
        self._report_exit(t, tr, status, list(tail), out_path)

    def _report_exit(self, t: Target, tr: Translator, status: int | None, tail: list[str], out_path: Path) -> None:
        rel = _rel(out_path, self.record_root)
        if status is not None and status < 0:
            what = f"killed by signal {-status}"
        else:
            what = f"exit {status} ({EXIT_NAMES.get(status, 'unknown')})"
        ran_nothing = not any(g.started for g in tr.groups.values())
        if status in (0, 1, 5) and not (status == 5 and tr.collected is None):
            level = "info" if status in (0, 1) else "warning"
            msg = f"pytest finished: {what}; output: {rel}"
            if status == 5:
                msg = f"pytest collected no tests ({what}); check -k and the suite's command; output: {rel}"
            self._emit(Notice(level=level, code="EXT_SUITE_FINISHED", host=t.host, run_id=self.run_id, message=msg))
            return
        if self._stop_reason == "interrupted" and status in (2, -signal.SIGINT, -signal.SIGKILL, -signal.SIGTERM):
            self._emit(Notice(level="warning", code="EXT_SUITE_FINISHED", host=t.host, run_id=self.run_id,
                              message=f"pytest stopped ({what}); output: {rel}"))
            return
        if status == 2 and tr.stopped_early:
            self._emit(Notice(level="info", code="EXT_SUITE_FINISHED", host=t.host, run_id=self.run_id,
                              message=f"pytest stopped after --maxfail ({what}); output: {rel}"))
            return
        excerpt = " | ".join(ln for ln in tail[-12:] if ln.strip())
        if status in (3, 4) or (tr.session_start is None and ran_nothing):
            # pytest itself could not run the suite: a usage error (e.g. --count without
            # pytest-repeat), a crash, a missing interpreter or plugin.
            hint = ""
            if "--count" in excerpt and "unrecognized arguments" in excerpt:
                hint = " (--count needs the pytest-repeat plugin in the suite's environment)"
            self.internal_error = self.internal_error or f"{t.host}: pytest could not run the suite: {what}{hint}"
        self._emit(Notice(level="error", code="EXT_SUITE_FAILED", host=t.host, run_id=self.run_id,
                          message=f"pytest {what}{' before collecting' if tr.collected is None else ''}; "
                                  f"output: {rel}; last lines: {excerpt[-1500:]}"))

    async def _read_records(self, fd: int, tr: Translator) -> None:
        import json

        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=MAX_RECORD_LINE, loop=loop)
        transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader, loop=loop),
                                                    os.fdopen(fd, "rb", buffering=0))
        try:
            while True:
                try:
                    line = await reader.readuntil(b"\n")
                except asyncio.IncompleteReadError as e:
                    line = e.partial
                    if not line:
                        break
                except asyncio.LimitOverrunError as e:
                    await reader.readexactly(e.consumed)  # drop the oversized line's head...
                    tr.bad_lines += 1
                    while True:  # ...and the rest of it
                        try:
                            await reader.readuntil(b"\n")
                            break
                        except asyncio.LimitOverrunError as e2:
                            await reader.readexactly(e2.consumed)
                    continue
                try:
                    rec = json.loads(line)
                except ValueError:
                    tr.bad_lines += 1
                    continue
                if not isinstance(rec, dict):
                    tr.bad_lines += 1
                    continue
                for ev in tr.feed(rec):
                    self._emit(ev)
                if rec.get("type") == "collected":
                    self._announce(tr)
        finally:
            transport.close()

    async def _read_output(self, proc: asyncio.subprocess.Process, path: Path, tail: collections.deque) -> None:
        assert proc.stdout is not None
        written = 0
        partial = b""
        with open(path, "wb") as fh:
            while True:
                chunk = await proc.stdout.read(65536)
                if not chunk:
                    break
                if written < OUTPUT_MAX_BYTES:
                    keep = chunk[: OUTPUT_MAX_BYTES - written]
                    fh.write(keep)
                    written += len(keep)
                    if written >= OUTPUT_MAX_BYTES:
                        fh.write(b"\n[dryrun: output over 10 MiB; the rest was not kept]\n")
                    fh.flush()
                partial += chunk
                *lines, partial = partial.split(b"\n")
                partial = partial[-4096:]
                for ln in lines[-TAIL_LINES:]:
                    tail.append(ln[:500].decode("utf-8", "replace"))
            if partial:
                tail.append(partial[:500].decode("utf-8", "replace"))

    def _interrupt(self, host: str) -> None:
        proc = self._procs.get(host)
        if proc is None or proc.returncode is not None:
            return
        _signal(proc, signal.SIGINT)
        loop = asyncio.get_running_loop()
        loop.call_later(self.kill_grace, _killpg, proc)

    def _kill_all(self) -> None:
        for proc in list(self._procs.values()):
            _killpg(proc)


def _signal(proc: asyncio.subprocess.Process, sig: int) -> None:
    if proc.returncode is not None:
        return
    try:
        os.killpg(proc.pid, sig)  # the process is its session's (and group's) leader
    except (ProcessLookupError, PermissionError):
        pass


def _killpg(proc: asyncio.subprocess.Process) -> None:
    _signal(proc, signal.SIGKILL)


async def _settle(*tasks: asyncio.Task, timeout: float) -> None:
    done, pending = await asyncio.wait(tasks, timeout=timeout)
    for t in pending:
        t.cancel()
    for t in pending:
        try:
            await t
        except (asyncio.CancelledError, Exception):
            pass
    for t in done:
        t.result()  # surface a reader bug as the runner's internal error


def _rel(p: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return str(p.resolve().relative_to(root.resolve()))
        except ValueError:
            pass
    return str(p)


async def run_suite(cfg: Config, suite: Suite | str | None, options: RunOptions, *, log_path: Path,
                    sinks: Sequence[Callable[[Event], None]] = (), engine_ready: Callable[[Any], None] | None = None,
                    notices: Sequence[Any] = (), kill_grace: float = 3.0,
                    environ: dict[str, str] | None = None) -> Any:
    """An external suite run recorded like ``runners.pipeline.run_smoke``: the run log at
    ``log_path``, JUnit XML beside it, ``events.log.jsonl``, the --ff cache; returns its
    ``RunResult``. ``engine_ready(run)`` hands over the run (to ``cancel()`` it)."""
    import dataclasses

    from record.layout import DryRunDir
    from record.quarantine import load_quarantine
    from record.redact import configured_secrets
    from runners.pipeline import record_run

    d = DryRunDir(cfg.dry_run_path)
    log_path = Path(log_path)
    label = options.label or log_path.stem
    options = dataclasses.replace(options, label=label)
    quarantine = load_quarantine(d.quarantine) if options.respect_quarantine else {}
    artifacts = d.artifacts / label
    run = ExternalSuiteRun(cfg, suite, options, artifacts_dir=artifacts, quarantine=quarantine, record_root=d.root,
                           kill_grace=kill_grace, environ=environ)
    return await record_run(run, record_dir=d.root, log_path=log_path, label=label, durations=options.durations,
                       secrets=configured_secrets(cfg), sinks=sinks, notices=notices, artifacts_dir=artifacts,
                       source_ready=engine_ready)

