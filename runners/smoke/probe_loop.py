"""A second event loop, on its own thread, for latency measurements (SMK-7's listers).

SMK-7 times ``get_camera_list`` round trips against a 50 ms budget. Timed on the console's
own loop, every millisecond that loop spends on other work (50 hosts' SFTP fetches, JSON,
the record's writer, the TUI) lands in the readings, and a busy console fails healthy
services: at 50 simulated hosts the console's loop lag alone reached p95 23 ms, max 150 ms
(``python -m tests.bench.bench_fleet``). On this loop nothing but the measurements runs, so
a reading is the service's answer time plus at most a GIL hand-off from the busy thread
(``sys.getswitchinterval()``, 5 ms). What is left of the loop's own lag is sampled during
each window (``LagSampler``) and reported beside the latencies.

One loop per process, started on first use, shared by every host's SMK-7 (a daemon thread:
it holds nothing that needs an orderly stop). Coroutines handed to ``run()`` must create
their sockets there and close them there: asyncio objects belong to the loop that made them.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_guard = threading.Lock()
_shared: ProbeLoop | None = None


class ProbeLoop:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self.thread = threading.Thread(target=self._serve, name="dryrun-probe-loop", daemon=True)
        self.thread.start()
        self._ready.wait()

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._ready.set)
        self.loop.run_forever()

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the probe loop and await its result from the caller's loop.
        Cancelling the caller cancels ``coro`` there (its ``finally`` blocks run on the probe
        loop); exceptions come back unchanged."""
        fut = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return await asyncio.wrap_future(fut)


def shared_probe_loop() -> ProbeLoop:
    global _shared
    with _guard:
        if _shared is None or not _shared.thread.is_alive():
            _shared = ProbeLoop()
        return _shared


_switch_guard = threading.Lock()
_windows = 0
_saved_interval = 0.0
WINDOW_SWITCH_INTERVAL = 0.001  # s: the GIL hand-off while a window measures (default 0.005)


class measuring_window:
    """``with measuring_window():`` around a latency window: while any window is open, the
    interpreter hands the GIL between threads every millisecond instead of every five, so a
    reply that lands while the console's thread computes (a big table render, a record
    reload) is read within about a millisecond. Re-entrant across hosts; the previous
    interval comes back when the last window closes."""

    def __enter__(self) -> measuring_window:
        global _windows, _saved_interval
        with _switch_guard:
            if _windows == 0:
                _saved_interval = sys.getswitchinterval()
                sys.setswitchinterval(min(_saved_interval, WINDOW_SWITCH_INTERVAL))
            _windows += 1
        return self

    def __exit__(self, *exc: object) -> None:
        global _windows
        with _switch_guard:
            _windows -= 1
            if _windows == 0:
                sys.setswitchinterval(_saved_interval)


class LagSampler:
    """How late the current loop wakes a sleeper, sampled every ``period`` s while running:
    the measuring loop's own share of a latency reading."""

    def __init__(self, period: float = 0.01) -> None:
        self.period = period
        self.lags_ms: list[float] = []
        self._task: asyncio.Task | None = None

    async def _sample(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            t = loop.time()
            await asyncio.sleep(self.period)
            self.lags_ms.append(max(0.0, (loop.time() - t - self.period) * 1000))

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._sample())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
