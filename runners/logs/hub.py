"""Run every log source of a config over the shared SSH pool; emit batched events.

The hub owns one :class:`~runners.logs.sources.Source` per configured log (all sources of
a host share that host's one ``SshHost`` connection from the caller's ``SshPool``) and
turns what they read into ``LogLines`` / ``LogGap`` / ``Notice`` events:

- Lines are coalesced per source for ``coalesce`` seconds (20 ms) or ``max_batch`` lines,
  whichever comes first: a flood becomes a few large events instead of one per line,
  a quiet log still shows a line within ~20 ms.
- Order per source is kept (a gap is emitted between the lines before and after it).
- Back-pressure: with a slow consumer (``events()``), a source stops reading once
  ``high_water`` lines wait for it; SSH flow control then holds the remote ``tail``,
  so nothing is dropped, it is read later.
- Restart without repeats: a hub built with ``resume=`` the sources of the hub it
  replaces (stopped: ``wait_stopped()``) continues each unchanged log where that one
  stopped, instead of showing its backlog again. A stopping hub hands what its sources
  had read but not yet emitted to the sinks, so those lines are not lost either.

Consumers: ``sinks`` (plain callables, called in the loop: the TUI posts messages, the
headless CLI prints) and/or the ``events()`` async iterator. No Textual here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from runners.config import Config, Host
from runners.errors import SshError
from runners.events import Event, LogGap, LogLines, Notice
from runners.logs.sources import RemoteHost, Source, make_source

log = logging.getLogger(__name__)

EventSink = Callable[[Event], None]


class _History(list):
    """A pending run of a source's backlog lines (emitted as ``LogLines(history=True)``)."""


class LogHub:
    def __init__(self, cfg: Config, pool: Any = None, *, hosts: Sequence[str] = (),
                 sinks: Sequence[EventSink] = (), coalesce: float = 0.02, max_batch: int = 4096,
                 high_water: int = 50_000, backlog_bytes: int = 16 << 10, backlog_lines: int = 100,
                 run_id: str = "", connect: Callable[[Host], Awaitable[RemoteHost]] | None = None,
                 resume: Sequence[Source] = ()):
        """``pool``: a ``runners.ssh.SshPool`` shared with the other runners (needed for
        file/journal/command logs). ``hosts``: only these (default: all). ``connect``
        replaces the pool (tests). ``resume``: the sources of a stopped hub; a log
        configured the same way (same host, same ``LogSource``) resumes where it was."""
        self.cfg = cfg
        self.pool = pool
        self.sinks = list(sinks)
        self.coalesce = coalesce
        self.max_batch = max_batch
        self.high_water = high_water
        self.run_id = run_id
        self._connect_override = connect
        self.sources: list[Source] = []
        self._problems: list[Notice] = []
        chosen = set(hosts)
        unknown = chosen - {h.name for h in cfg.hosts}
        if unknown:
            known = ", ".join(h.name for h in cfg.hosts) or "none"
            raise ValueError(f"unknown host(s) {', '.join(sorted(unknown))} (configured: {known})")
        previous = {(s.host, s.spec): s for s in resume}
        self.resumed = 0
        for h in cfg.hosts:
            if chosen and h.name not in chosen:
                continue
            conn = self._connector(h)
            for spec in h.logs:
                try:
                    src = make_source(h.name, spec, connect=conn, resolve=cfg.resolve,
                                      backlog_bytes=backlog_bytes, backlog_lines=backlog_lines)
                except (SshError, ValueError) as e:
                    self._problems.append(Notice(level="error", message=str(e), host=h.name,
                                                 code="LOG_SOURCE", run_id=run_id))
                    continue
                old = previous.get((h.name, spec))
                if old is not None and src.resume_from(old):
                    self.resumed += 1
                self.sources.append(src)
        # pending per source: an ordered list of segments (a list of lines, or a LogGap)
        self._pending: dict[Source, list[Any]] = {}
        self._pending_lines: dict[Source, int] = {}
        self._wake = asyncio.Event()
        self._room = asyncio.Event()
        self._queue: asyncio.Queue[Event] | None = None
        self._tasks: list[asyncio.Task] = []
        self._running = False
        self._stopped = asyncio.Event()
        self.events_emitted = 0
        self.lines_emitted = 0

    def _connector(self, h: Host) -> Callable[[], Awaitable[RemoteHost]] | None:
        if self._connect_override is not None:
            override = self._connect_override
            return lambda: override(h)
        if not h.ssh.host or self.pool is None:
            return None
        pool, resolve = self.pool, self.cfg.resolve
        return lambda: pool.host(h, resolve)

    def positions(self) -> dict[str, dict[str, Any]]:
        """Resume state per ``host/source`` (byte offsets, inodes, journal cursors)."""
        return {s.label: s.position() for s in self.sources}

    # ------------------------------------------------------------------ Sink protocol
    async def lines(self, src: Source, lines: list[str], history: bool = False) -> None:
        # Taken first, then the source waits for room: the source's position already counts
        # these lines read, so they must reach the sinks even if the hub is stopped now.
        segs = self._pending.setdefault(src, [])
        kind = _History if history else list
        if segs and type(segs[-1]) is kind:
            segs[-1].extend(lines)
        else:
            segs.append(kind(lines))
        self._pending_lines[src] = self._pending_lines.get(src, 0) + len(lines)
        self._wake.set()
        while self._pending_lines.get(src, 0) >= self.high_water:
            self._room.clear()
            await self._room.wait()

    def gap(self, src: Source, reason: str, lost_bytes: int | None) -> None:
        self._pending.setdefault(src, []).append(
            LogGap(host=src.host, source=src.name, reason=reason, lost_bytes=lost_bytes, run_id=self.run_id))
        self._wake.set()

    def notice(self, src: Source, level: str, message: str) -> None:
        self._pending.setdefault(src, []).append(
            Notice(level=level if level in ("info", "warning", "error") else "warning",  # type: ignore[arg-type]
                   message=message, host=src.host, code="LOG_SOURCE", run_id=self.run_id))
        self._wake.set()

    def connected(self, src: Source) -> None:
        self.notice(src, "info", f"log {src.label}: following again")

    # ------------------------------------------------------------------ running
    async def run(self) -> None:
        """Run every source until cancelled; events go to the sinks (and ``events()``)."""
        self._running = True
        loop = asyncio.get_running_loop()
        flusher: asyncio.Task | None = None
        try:
            for n in self._problems:
                await self._out(n)
            self._tasks = [loop.create_task(s.run(self), name=f"log {s.label}") for s in self.sources]
            flusher = loop.create_task(self._flusher(), name="log hub flusher")
            # Sources only end on their own when a command finished; keep flushing until
            # they all did (or we are cancelled).
            if self._tasks:
                await asyncio.gather(*self._tasks)
            await self._flush_all()
        finally:
            tasks = [*self._tasks, *([flusher] if flusher is not None else [])]
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(BaseException):
                    await t
            self._tasks = []
            # What the sources read (their positions count it) but was not emitted yet:
            # to the sinks now, or a hub resuming from these positions would never show it.
            self._flush_to_sinks()
            self._running = False
            self._stopped.set()

    async def wait_stopped(self) -> None:
        """Return once ``run()`` has ended (at once if it is not running): the sources'
        positions are final then, for a hub that resumes from them."""
        if self._running:
            await self._stopped.wait()

    async def events(self, queue_size: int = 256) -> AsyncIterator[Event]:
        """``run()`` as an async iterator (bounded queue: a slow consumer slows the tails)."""
        self._queue = asyncio.Queue(queue_size)
        runner = asyncio.get_running_loop().create_task(self.run())
        try:
            while True:
                get = asyncio.ensure_future(self._queue.get())
                done, _ = await asyncio.wait({get, runner}, return_when=asyncio.FIRST_COMPLETED)
                if get in done:
                    yield get.result()
                    continue
                get.cancel()
                while not self._queue.empty():
                    yield self._queue.get_nowait()
                runner.result()  # re-raise a failure
                return
        finally:
            runner.cancel()
            with contextlib.suppress(BaseException):
                await runner
            self._queue = None

    async def _flusher(self) -> None:
        # Leading-edge throttle: a line after a quiet spell goes out at once; during a burst
        # lines wait until `coalesce` has passed since the previous flush, so a flood is a
        # few big events and a trickle is not delayed.
        loop = asyncio.get_running_loop()
        last = 0.0
        while True:
            await self._wake.wait()
            wait = last + self.coalesce - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            else:
                await asyncio.sleep(0)  # let the other sources' reads of this moment land
            self._wake.clear()
            last = loop.time()
            await self._flush_all()

    def _take_pending(self) -> list[Event]:
        """What the sources handed over since the last flush, as events in order (and room
        for them to read on)."""
        pending, self._pending = self._pending, {}
        self._pending_lines = {}
        self._room.set()
        out: list[Event] = []
        for src, segs in pending.items():
            for seg in segs:
                if isinstance(seg, list):
                    for i in range(0, len(seg), self.max_batch):
                        chunk = tuple(seg[i:i + self.max_batch])
                        self.lines_emitted += len(chunk)
                        out.append(LogLines(host=src.host, source=src.name, lines=chunk, run_id=self.run_id,
                                            history=isinstance(seg, _History)))
                else:
                    out.append(seg)
        return out

    async def _flush_all(self) -> None:
        for ev in self._take_pending():
            await self._out(ev)

    def _flush_to_sinks(self) -> None:
        for ev in self._take_pending():
            self._to_sinks(ev)

    def _to_sinks(self, ev: Event) -> None:
        self.events_emitted += 1
        for sink in self.sinks:
            try:
                sink(ev)
            except Exception:  # one broken consumer must not stop the tails  # noqa: BLE001
                log.exception("log event sink failed")

    async def _out(self, ev: Event) -> None:
        self._to_sinks(ev)
        if self._queue is not None:
            await self._queue.put(ev)
