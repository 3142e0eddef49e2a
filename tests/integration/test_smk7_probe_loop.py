"""SMK-7 times the service, not the console: its listers run on the probe loop, so a console
loop that is busy elsewhere (50 hosts' work) does not fail a healthy host's latency budget.

The simulated host runs on its own thread and loop here, as a real host runs on its own
machine; the console's loop is then blocked for 60 ms in every pass of its loop (``time.sleep``: a blocking
call that releases the GIL, as file I/O or a C codec does) for the whole run."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from record.layout import DryRunDir
from runners.config import Checks, Config, Run
from runners.pipeline import run_smoke
from runners.sim.fleet import make_specs, run_fleet
from runners.smoke.options import RunOptions
from runners.smoke.probe_loop import LagSampler, shared_probe_loop

pytestmark = pytest.mark.timeout(90)


class SimOnThread:
    """A simulated fleet on its own thread and event loop."""

    def __init__(self, state: Path):
        self.state = state
        self.hosts = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            async with run_fleet(make_specs(1, discovery_delay=0.3), self.state) as fleet:
                self.hosts = fleet.config().hosts
                self._ready.set()
                await self._stop.wait()
        except BaseException as e:  # reported by __enter__'s wait
            self.error = e
            self._ready.set()

    def __enter__(self) -> SimOnThread:
        self.thread.start()
        assert self._ready.wait(30), "the simulated host did not start"
        if self.error:
            raise self.error
        return self

    def __exit__(self, *exc) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(30)


async def test_a_busy_console_loop_does_not_fail_the_latency_budget(tmp_path):
    with SimOnThread(tmp_path / "sim") as sim:
        cfg = Config(checks=Checks(recording_seconds=1.5, concurrency_seconds=2.0, health_timeout=10.0),
                     run=Run(dry_run_dir=str(tmp_path / "dry_run")), hosts=sim.hosts)
        stop = False

        async def hog() -> None:  # the console's loop, busy with other hosts' work
            while not stop:  # 60 ms of work in every pass of the loop: a saturated console
                time.sleep(0.06)
                await asyncio.sleep(0)

        console_lag = LagSampler()
        console_lag.start()
        hog_task = asyncio.create_task(hog())
        try:
            d = DryRunDir(cfg.dry_run_path)
            res = await run_smoke(cfg, RunOptions(label="02_smoke_run_1", keyword="SMK_7"),
                                  log_path=d.smoke_run_log(1))
        finally:
            stop = True
            await hog_task
            console_lag.stop()
    [r] = res.results
    lags = sorted(console_lag.lags_ms)
    assert lags[int(len(lags) * 0.95)] > 50, "the console loop was not busy enough to matter"
    assert r.outcome == "passed", r.summary
    assert r.metrics["p95_ms"] <= 50 and "probe_lag_p95_ms" in r.metrics
    assert "measuring loop's own lag" in r.summary


async def test_probe_loop_returns_results_errors_and_cancels():
    probe = shared_probe_loop()
    home = threading.get_ident()

    async def where() -> int:
        return threading.get_ident()

    assert await probe.run(where()) not in (home, None)

    async def boom() -> None:
        raise ValueError("seen on the probe loop")

    with pytest.raises(ValueError, match="seen on the probe loop"):
        await probe.run(boom())

    cleaned = threading.Event()

    async def long() -> None:
        try:
            await asyncio.sleep(30)
        finally:
            cleaned.set()

    task = asyncio.create_task(probe.run(long()))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(cleaned.wait, 5), "cancelling the caller did not cancel the probe-loop coroutine"


def test_measuring_windows_shorten_the_gil_switch_interval_and_restore_it():
    import sys

    from runners.smoke.probe_loop import WINDOW_SWITCH_INTERVAL, measuring_window

    before = sys.getswitchinterval()
    with measuring_window():
        with measuring_window():  # two hosts' windows overlap
            assert sys.getswitchinterval() == min(before, WINDOW_SWITCH_INTERVAL)
        assert sys.getswitchinterval() == min(before, WINDOW_SWITCH_INTERVAL)  # one still open
    assert sys.getswitchinterval() == before
