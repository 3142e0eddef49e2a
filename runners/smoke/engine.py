"""The smoke engine: SMK checks on every selected host, as a stream of events.

Flow (pytest-like): ``-k`` selection, ``--ff`` ordering, ``--count`` rounds, quarantine
skips, ``--maxfail`` and fail-fast modes, hard timeouts on every attempt, ``cancel()``.

Scheduling: hosts run in parallel, at most ``checks.max_parallel_hosts`` at once. On a
host, each round runs the barrier check (SMK-1, which may restart the service and drop
every socket) alone first, then all other selected checks concurrently; recorders are
serialised per camera by the host's camera pool (SMK-5 vs SMK-7's recorder), so a
host's wall time is its critical path: health -> discovery -> the longer of recording
and the concurrency window.

Stopping: after ``maxfail`` failures (soft fail-fast = 1) no new check starts and the
running ones finish (their results are partial metrics); hard fail-fast cancels the
running ones at once, reporting them skipped ("cancelled"). ``cancel()`` does the same
and ends with ``RunFinished(interrupted=True)``.

The engine never raises for host faults: every fault becomes a failed/error result with
expected vs seen. An engine bug ends the run with an error Notice and ``internal_error``
set, so the caller can exit 3.
"""

from __future__ import annotations

import asyncio
import time
import traceback
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from runners.config import Config
from runners.events import CheckFinished, CheckStarted, Event, Notice, RunFinished, RunStarted
from runners.smoke.context import CheckContext, HostRun, default_health_url
from runners.smoke.options import RunOptions
from runners.smoke.outcome import CheckFailed, CheckSkipped
from runners.smoke.registry import CheckSpec, default_registry
from runners.smoke.select import normalise_check_id, parse_keyword
from runners.smoke.text import LINE_LIMIT, safe

ATTRIBUTION_TIMEOUT = 5.0  # s: fetching the service log for a failure never holds a run up longer
EXCERPT_FRAMES = 12
LOG_EXCERPT_LINES = 20


def _norm_quarantine(q: dict[str, str] | None) -> dict[str, str]:
    """Keys "SMK-3" (every host) or "host::SMK-3"; "SMK_3" spelled either way."""
    out: dict[str, str] = {}
    for key, reason in (q or {}).items():
        host, _, check = key.rpartition("::")
        try:
            cid = normalise_check_id(check)
        except ValueError:
            continue  # not a smoke check id (the quarantine file's own validator reports it)
        out[f"{host}::{cid}" if host else cid] = reason
    return out


class SmokeEngine:
    def __init__(self, cfg: Config, options: RunOptions, *, artifacts_dir: Path,
                 quarantine: dict[str, str] | None = None, last_failed: set[tuple[str, str]] | None = None,
                 registry: dict[str, CheckSpec] | None = None, record_root: Path | None = None,
                 ssh_pool: Any = None):
        self.cfg = cfg
        self.options = options.validate()
        self.artifacts_dir = Path(artifacts_dir)
        self.record_root = Path(record_root) if record_root else None
        self.registry = registry if registry is not None else default_registry()
        self.quarantine = _norm_quarantine(quarantine)
        self.last_failed = set(last_failed or ())
        self._ssh_pool = ssh_pool
        self._own_pool = ssh_pool is None
        self.run_id = uuid.uuid4().hex[:12]
        hosts = self._hosts()
        matcher = parse_keyword(options.keyword)
        self.plan: dict[str, list[str]] = {}
        for h in hosts:
            ids = [c for c in sorted(self.registry, key=_id_key) if matcher.matches(h.name, c)]
            self.plan[h.name] = self._order(h.name, ids)
        self.deselected = sum(len(self.registry) for _ in hosts) - sum(len(v) for v in self.plan.values())
        self.internal_error: str = ""
        self._stop_reason = ""
        self._failures = 0
        self._first_failure = ""
        self._t0 = time.monotonic()
        self._counts = {"passed": 0, "failed": 0, "error": 0, "skipped": 0}
        self._inflight: set[asyncio.Task] = set()
        self._emit_fn: Any = None
        self._started = False
        self._runner: asyncio.Task | None = None

    # -- selection --------------------------------------------------------------------

    def _hosts(self):
        if not self.cfg.hosts:
            raise ValueError("no hosts configured: add a [[hosts]] table to the config (or start `dryrun sim`)")
        if not self.options.hosts:
            return list(self.cfg.hosts)
        known = {h.name: h for h in self.cfg.hosts}
        out = []
        for name in self.options.hosts:
            if name not in known:
                raise ValueError(f"--host {name}: not a configured host (configured: {', '.join(known)})")
            if known[name] not in out:
                out.append(known[name])
        return out

    def _order(self, host: str, ids: list[str]) -> list[str]:
        """Barriers first (SMK-1), then --ff's last failures, then the rest in id order."""
        barrier = [c for c in ids if self.registry[c].barrier]
        rest = [c for c in ids if not self.registry[c].barrier]
        if self.options.failed_first:
            rest.sort(key=lambda c: (0 if (host, c) in self.last_failed else 1, _id_key(c)))
        return barrier + rest

    @property
    def selected(self) -> list[tuple[str, str]]:
        return [(h, c) for h, cs in self.plan.items() for c in cs]

    @property
    def check_order(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for cs in self.plan.values():
            for c in cs:
                seen.setdefault(c)
        return tuple(seen)

    # -- public API --------------------------------------------------------------------

    async def events(self) -> AsyncIterator[Event]:
        """RunStarted ... RunFinished. Closing the iterator early cancels the run."""
        if self._started:
            raise RuntimeError("a SmokeEngine runs once; make a new one for another run")
        self._started = True
        queue: asyncio.Queue[Event] = asyncio.Queue()
        self._queue = queue
        self._emit_fn = queue.put_nowait
        self._runner = asyncio.create_task(self._run(), name=f"smoke-{self.run_id}")
        try:
            while True:
                ev = await queue.get()
                yield ev
                if isinstance(ev, RunFinished):
                    break
        finally:
            if not self._runner.done():
                self.cancel()
                try:
                    await asyncio.wait_for(asyncio.shield(self._runner), timeout=10)
                except (asyncio.TimeoutError, asyncio.CancelledError):
                    self._runner.cancel()

    def cancel(self) -> None:
        """End the run promptly: nothing new starts, running checks are cancelled."""
        if not self._stop_reason:
            self._stop_reason = "interrupted"
        self._cancel_inflight()

    def drain_pending(self) -> list[Event]:
        """Events emitted but not yet yielded (after the iterator was cancelled: the run's
        last results and its RunFinished, so the caller can still record them)."""
        out: list[Event] = []
        q = getattr(self, "_queue", None)
        while q is not None and not q.empty():
            out.append(q.get_nowait())
        return out

    @property
    def stopping(self) -> bool:
        return bool(self._stop_reason)

    # -- internals ---------------------------------------------------------------------

    def _emit(self, ev: Event) -> None:
        if isinstance(ev, CheckFinished):
            self._counts[ev.outcome] = self._counts.get(ev.outcome, 0) + 1
        if self._emit_fn is not None:
            self._emit_fn(ev)

    def _cancel_inflight(self, keep: asyncio.Task | None = None) -> None:
        for t in list(self._inflight):
            if t is not keep and not t.done():
                t.cancel()

    def _stop(self, reason: str, first: str = "") -> None:
        if self._stop_reason:
            return
        self._stop_reason = reason
        detect = f"; first failure {first} after {time.monotonic() - self._t0:.2f} s" if first else ""
        self._emit(Notice(level="warning", code="EARLY_EXIT_DETECTED", run_id=self.run_id,
                          message=f"stopping after {self._failures} failure(s) ({reason}){detect}"))
        if reason == "failfast:hard":
            self._cancel_inflight(keep=asyncio.current_task())

    async def _run(self) -> None:
        t0 = self._t0 = time.monotonic()
        o = self.options
        self._emit(RunStarted(hosts=tuple(self.plan), checks=self.check_order, label=o.label,
                              options={**o.as_dict(), "deselected": self.deselected, "argv": o.as_argv(),
                                       "total": len(self.selected) * o.count},
                              run_id=self.run_id))
        if o.failfast != "off":
            self._emit(Notice(level="info", code="FAILFAST_MODE_APPLIED", run_id=self.run_id,
                              message=f"fail-fast mode {o.failfast}: "
                              + ("stop at first failure, running checks finish (partial metrics)"
                                 if o.failfast == "soft" else "stop at once, running checks cancelled")))
        try:
            needs_ssh = any(self.cfg.host(h).ssh.host for h in self.plan)
            if needs_ssh and self._ssh_pool is None:
                from runners.ssh import SshPool

                # OpenSSH's MaxStartups (~10) limits handshakes per sshd. Each host has its own
                # sshd and gets one connection, so only a shared bastion needs the cap of 10.
                bastion = any(self.cfg.host(h).ssh.proxy_jump for h in self.plan)
                self._ssh_pool = SshPool(max_handshakes=10 if bastion else max(10, self.cfg.checks.max_parallel_hosts),
                                         connect_timeout=max(self.cfg.checks.connect_timeout, 1.0))
            tls = any((self.cfg.host(h).health_url or default_health_url(self.cfg.host(h).rpc_url))
                      .startswith("https://") for h in self.plan)
            await asyncio.to_thread(_warm_up, tls)
            sem = asyncio.Semaphore(self.cfg.checks.max_parallel_hosts)
            await asyncio.gather(*(self._host(self.cfg.host(h), checks, sem) for h, checks in self.plan.items()))
        except asyncio.CancelledError:
            self._stop_reason = self._stop_reason or "interrupted"
        except Exception as e:  # an engine bug: report it, still close the run properly
            self.internal_error = f"{type(e).__name__}: {e}"
            self._emit(Notice(level="error", code="ENGINE_INTERNAL", run_id=self.run_id,
                              message=f"internal error in the smoke engine: {self.internal_error}\n"
                              + traceback.format_exc(limit=8)))
            self._stop_reason = self._stop_reason or "internal error"
        finally:
            if self._own_pool and self._ssh_pool is not None:
                try:
                    await asyncio.wait_for(self._ssh_pool.close(), timeout=5)
                except BaseException:
                    pass
            c = self._counts
            stopped = self._stop_reason if self._stop_reason not in ("interrupted",) else ""
            self._emit(RunFinished(passed=c["passed"], failed=c["failed"], errors=c["error"], skipped=c["skipped"],
                                   duration=time.monotonic() - t0,
                                   interrupted=self._stop_reason in ("interrupted", "internal error"),
                                   stopped_early=stopped, run_id=self.run_id))

    async def _host(self, host, checks: list[str], sem: asyncio.Semaphore) -> None:
        if not checks:
            return
        async with sem:
            if self.stopping:
                return
            run = HostRun(cfg=self.cfg, host=host, run_id=self.run_id, emit=self._emit,
                          artifacts_dir=self.artifacts_dir / host.name, ssh_pool=self._ssh_pool)
            prefetch = None
            if host.ssh.host and any(self.registry[c].needs_ssh(self.cfg.checks) for c in checks):
                # The SSH handshake overlaps SMK-1 instead of delaying SMK-4/5; a failure is
                # remembered by the HostRun and reported by the checks that need SSH.
                prefetch = asyncio.create_task(_quietly(run.ssh()), name=f"ssh-prefetch:{host.name}")
            try:
                for attempt in range(1, self.options.count + 1):
                    if self.stopping:
                        break
                    barrier = [c for c in checks if self.registry[c].barrier]
                    rest = [c for c in checks if not self.registry[c].barrier]
                    for c in barrier:
                        await self._spawn(run, self.registry[c], attempt)
                    if rest:
                        await asyncio.gather(*(self._spawn(run, self.registry[c], attempt) for c in rest))
            finally:
                if prefetch is not None and not prefetch.done():
                    prefetch.cancel()
                await self._save_trace(run)

    async def _spawn(self, run: HostRun, spec: CheckSpec, attempt: int) -> None:
        if self.stopping:
            return
        task = asyncio.create_task(self._attempt(run, spec, attempt), name=f"{run.name}::{spec.id}#{attempt}")
        self._inflight.add(task)
        try:
            await asyncio.shield(task)  # a host task being cancelled must not orphan the check's report
        except asyncio.CancelledError:
            task.cancel()
            try:
                await asyncio.wait_for(task, timeout=ATTRIBUTION_TIMEOUT + 6)
            except BaseException:
                pass
            raise
        finally:
            self._inflight.discard(task)

    def _rel(self, p: str | Path) -> str:
        path = Path(p)
        if self.record_root:
            try:
                return str(path.resolve().relative_to(self.record_root.resolve()))
            except ValueError:
                pass
        return str(path)

    async def _attempt(self, run: HostRun, spec: CheckSpec, attempt: int) -> None:
        host = run.name
        reason = self.quarantine.get(f"{host}::{spec.id}") or self.quarantine.get(spec.id)
        if reason is not None and self.options.respect_quarantine:
            self._emit(CheckFinished(host=host, check=spec.id, outcome="skipped", duration=0.0, attempt=attempt,
                                     summary=f"quarantined: {reason}", fault="quarantined", run_id=self.run_id))
            return
        ctx = CheckContext(run, spec.id, attempt)
        ctx.ops |= set(spec.ops)
        self._emit(CheckStarted(host=host, check=spec.id, attempt=attempt, title=spec.title, run_id=self.run_id))
        limit = spec.timeout(self.cfg.checks)
        res: dict[str, Any] = {"outcome": "passed", "summary": "", "expected": "", "seen": "", "fault": "",
                               "metrics": {}, "artifacts": ()}
        t0 = time.monotonic()
        cancelled = False
        try:
            tm = asyncio.timeout(limit)
            try:
                async with tm:
                    passed = await spec.fn(ctx)
                res["summary"] = passed.summary
                res["metrics"] = dict(passed.metrics)
                res["artifacts"] = tuple(self._rel(a) for a in passed.artifacts)
            except TimeoutError as e:
                if tm.expired():
                    res.update(outcome="error", fault="timeout",
                               expected=f"{spec.id} to finish within its hard limit of {limit:g} s",
                               seen=f"still running after {limit:g} s"
                               + (f" (last step: {ctx.last_step})" if ctx.last_step else ""))
                    res["summary"] = f"hard timeout after {limit:g} s"
                else:
                    self._map_error(res, ctx, e)
        except CheckSkipped as s:
            res.update(outcome="skipped", summary=s.reason, fault="not_applicable")
        except CheckFailed as f:
            res.update(outcome=f.outcome, summary=f.summary, expected=f.expected, seen=f.seen, fault=f.fault,
                       metrics=dict(f.metrics))
        except asyncio.CancelledError:
            if not self.stopping:
                raise
            cancelled = True
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()  # we asked for this cancellation and handle it here
            why = {"failfast:hard": "fail-fast hard stopped the run", "interrupted": "the run was interrupted"}
            res.update(outcome="skipped", fault="cancelled",
                       summary=f"cancelled: {why.get(self._stop_reason, self._stop_reason)}"
                       + (f" (at step: {ctx.last_step})" if ctx.last_step else ""))
        except Exception as e:
            self._map_error(res, ctx, e)
        finally:
            await ctx.close()
        duration = time.monotonic() - t0
        log_excerpt: tuple[str, ...] = ()
        if res["outcome"] in ("failed", "error") and not cancelled:
            try:
                log_excerpt = await asyncio.wait_for(self._attribute(run, ctx, res, t0_wall=ctx.window_start),
                                                     timeout=ATTRIBUTION_TIMEOUT)
            except asyncio.CancelledError:
                if not self.stopping:
                    raise
            except Exception as e:  # attribution is best effort: say why it was not possible
                log_excerpt = (f"(service log not fetched: {type(e).__name__}: {e})",)
        secrets = run.secret_values()
        self._emit(CheckFinished(
            host=host, check=spec.id, outcome=res["outcome"], duration=duration, attempt=attempt,
            summary=safe(res["summary"], secrets=secrets), expected=safe(res["expected"], secrets=secrets),
            seen=safe(res["seen"], secrets=secrets), fault=safe(res["fault"], 200, secrets),
            artifacts=res["artifacts"], rpc_excerpt=tuple(ctx.excerpt(EXCERPT_FRAMES)) if res["outcome"] in (
                "failed", "error") else (),
            metrics=res["metrics"], log_excerpt=tuple(safe(ln, LINE_LIMIT, secrets) for ln in log_excerpt),
            run_id=self.run_id))
        if res["outcome"] in ("failed", "error") and not cancelled:
            self._failures += 1
            self._first_failure = self._first_failure or f"{host}::{spec.id}"
            mf = self.options.effective_maxfail
            if mf and self._failures >= mf:
                o = self.options.failfast
                self._stop("failfast:hard" if o == "hard" else "failfast:soft" if o == "soft" else "maxfail",
                           first=self._first_failure or f"{host}::{spec.id}")

    def _map_error(self, res: dict[str, Any], ctx: CheckContext, e: BaseException) -> None:
        """An exception escaping a check -> failed (the service answered wrongly) or error
        (it could not be exercised), with the current step's expectation as 'expected'."""
        from runners import errors as E

        expected = ctx.expecting or (f"{ctx.last_step} to succeed" if ctx.last_step else f"{ctx.check} to run")
        seen = str(e) or type(e).__name__
        if isinstance(e, E.RpcError):
            res.update(outcome="failed", fault=e.fault_code)
        elif isinstance(e, E.AuthRejected):
            res.update(outcome="failed", fault="auth_rejected")
            seen = f"{seen} (form: {e.form})"
        elif isinstance(e, E.ProtocolError):
            res.update(outcome="failed", fault="protocol")
        elif isinstance(e, E.DryRunError):
            res.update(outcome="error", fault=e.fault)
        elif isinstance(e, (TimeoutError, asyncio.TimeoutError)):
            res.update(outcome="error", fault="timeout")
        elif isinstance(e, OSError):
            res.update(outcome="error", fault="unreachable")
        else:
            tb = traceback.extract_tb(e.__traceback__)
            where = f" at {Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else ""
            res.update(outcome="error", fault=f"internal:{type(e).__name__}")
            seen = f"{type(e).__name__}: {e}{where} (a console bug: please report it)"
        res.update(expected=expected, seen=seen, summary=f"{seen}")

    async def _attribute(self, run: HostRun, ctx: CheckContext, res: dict[str, Any], *, t0_wall: float) -> tuple[str, ...]:
        """Look for an injected fault (CHAOS marker) on this check's operations in the
        service log of the check's window; on a match the fault becomes chaos:<name>."""
        from runners.smoke import attribution as A

        src = A.pick_service_log(run.host.logs)
        if src is None:
            return ()
        end = time.time()
        lines: list[str]
        if src.kind == "local":
            lines = _tail_local(self.cfg.resolve(src.path), A.TAIL_LINES)
        else:
            ssh = await run.ssh()  # raises the host's SSH error (caught by the caller)
            if ssh is None:
                return ()
            cmd = A.log_fetch_command(src, t0_wall)
            if cmd is None:
                return ()
            r = await ssh.run(cmd, timeout=ATTRIBUTION_TIMEOUT - 0.5)
            lines = r.stdout.splitlines()
        markers = A.markers_in(lines, t0_wall, end)
        m = A.attribute(markers, failed=ctx.failed_requests(), requests=ctx.requests(), ops=ctx.ops,
                        fault=res.get("fault", ""))
        if m is None:
            return tuple(A.window_lines(lines, t0_wall, end)[-LOG_EXCERPT_LINES:])
        res["fault"] = f"chaos:{m.fault}"
        res["summary"] = f"{res['summary']} [injected fault {m.fault} on {m.op}]"
        related = [mk.line for mk in markers]
        return tuple(related[-LOG_EXCERPT_LINES:])

    async def _save_trace(self, run: HostRun) -> None:
        """rpc_trace.json of the host: every client of every check, merged by time. Written
        in a thread (redaction, JSON and fsync would stall the loop other hosts run on)."""
        if not run.traces:
            return
        try:
            from runners.trace import Trace

            merged = Trace(host=run.name)
            first = min(run.traces, key=lambda t: t[3].origin_mono)[3]
            merged.origin_mono, merged.origin_wall = first.origin_mono, first.origin_wall
            entries = [{**e, "check": c, "attempt": a, "client": n} for c, a, n, tr in run.traces for e in tr.entries]
            entries.sort(key=lambda e: e["t"])
            merged.entries = entries
            path = run.artifacts_dir / "rpc_trace.json"
            await asyncio.shield(asyncio.to_thread(merged.save, path))
            self._emit(Notice(level="info", code="ARTIFACT_SAVED", host=run.name, run_id=self.run_id,
                              message=f"rpc trace: {self._rel(path)} ({len(entries)} frames, tokens redacted)"))
        except Exception as e:  # a trace that cannot be written is reported, never fatal
            self._emit(Notice(level="warning", code="ARTIFACT_FAILED", host=run.name, run_id=self.run_id,
                              message=f"rpc_trace.json not written: {type(e).__name__}: {e}"))


def _warm_up(tls: bool = False) -> None:
    """Import the I/O and media libraries before any check runs: a first import inside a
    check holds the GIL for tens of ms and would show up as RPC latency of the calls in
    flight on every other host. ``tls``: some health URL is https, so load the probes'
    shared CA bundle now too rather than during the checks."""
    import importlib

    for name in ("av", "PIL.Image", "PIL.JpegImagePlugin", "websockets.asyncio.client", "httpx",
                 "httpcore._async.http11", "asyncssh", "asyncssh.sftp", "runners.rpc", "runners.health",
                 "runners.ssh", "runners.tokens", "jwt"):
        try:
            importlib.import_module(name)
        except ImportError:  # reported by the check that needs it
            pass
    if tls:
        from runners.health import shared_ssl_context

        shared_ssl_context()


async def _quietly(coro: Any) -> None:
    try:
        await coro
    except Exception:  # remembered by the HostRun; the checks report it
        pass


def _tail_local(path: Path, n: int) -> list[str]:
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - 512 * 1024))
            data = f.read()
    except OSError as e:
        return [f"(local log {path} not readable: {e.strerror or e})"]
    return data.decode("utf-8", errors="replace").splitlines()[-n:]


def _id_key(check: str) -> tuple[int, str]:
    try:
        return (int(check.split("-")[1]), check)
    except (IndexError, ValueError):
        return (999, check)
