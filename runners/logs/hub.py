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


class LogHub:
    def __init__(self, cfg: Config, pool: Any = None, *, hosts: Sequence[str] = (),
                 sinks: Sequence[EventSink] = (), coalesce: float = 0.02, max_batch: int = 4096,
                 high_water: int = 50_000, backlog_bytes: int = 16 << 10, backlog_lines: int = 100,
                 run_id: str = "", connect: Callable[[Host], Awaitable[RemoteHost]] | None = None):
        """``pool``: a ``runners.ssh.SshPool`` shared with the other runners (needed for
        file/journal/command logs). ``hosts``: only these (default: all). ``connect``
        replaces the pool (tests)."""
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
        for h in cfg.hosts:
            if chosen and h.name not in chosen:
                continue
            conn = self._connector(h)
            for spec in h.logs:
                try:
                    self.sources.append(make_source(h.name, spec, connect=conn, resolve=cfg.resolve,
                                                    backlog_bytes=backlog_bytes, backlog_lines=backlog_lines))
                except (SshError, ValueError) as e:
                    self._problems.append(Notice(level="error", message=str(e), host=h.name,
                                                 code="LOG_SOURCE", run_id=run_id))
        # pending per source: an ordered list of segments (a list of lines, or a LogGap)
        self._pending: dict[Source, list[Any]] = {}
        self._pending_lines: dict[Source, int] = {}
        self._wake = asyncio.Event()
        self._room = asyncio.Event()
        self._queue: asyncio.Queue[Event] | None = None
        self._tasks: list[asyncio.Task] = []
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
    async def lines(self, src: Source, lines: list[str]) -> None:
        while self._pending_lines.get(src, 0) >= self.high_water:
            self._room.clear()
            await self._room.wait()
        segs = self._pending.setdefault(src, [])
        if segs and isinstance(segs[-1], list):
            segs[-1].extend(lines)
        else:
            segs.append(list(lines))
        self._pending_lines[src] = self._pending_lines.get(src, 0) + len(lines)
        self._wake.set()

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
        for n in self._problems:
            await self._out(n)
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(s.run(self), name=f"log {s.label}") for s in self.sources]
        flusher = loop.create_task(self._flusher(), name="log hub flusher")
        try:
            # Sources only end on their own when a command finished; keep flushing until
            # they all did (or we are cancelled).
            if self._tasks:
                await asyncio.gather(*self._tasks)
            await self._flush_all()
        finally:
            for t in self._tasks:
                t.cancel()
            flusher.cancel()
            for t in [*self._tasks, flusher]:
                with contextlib.suppress(BaseException):
                    await t
            self._tasks = []

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

    async def _flush_all(self) -> None:
        pending, self._pending = self._pending, {}
        self._pending_lines = {}
        self._room.set()
        for src, segs in pending.items():
            for seg in segs:
                if isinstance(seg, list):
                    for i in range(0, len(seg), self.max_batch):
                        chunk = tuple(seg[i:i + self.max_batch])
                        self.lines_emitted += len(chunk)
                        await self._out(LogLines(host=src.host, source=src.name, lines=chunk, run_id=self.run_id))
                else:
                    await self._out(seg)

    async def _out(self, ev: Event) -> None:
        self.events_emitted += 1
        for sink in self.sinks:
            try:
                sink(ev)
            except Exception:  # one broken consumer must not stop the tails  # noqa: BLE001
                log.exception("log event sink failed")
        if self._queue is not None:
            await self._queue.put(ev)
