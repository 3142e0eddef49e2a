"""A log hub replaced by another (the console's R, a config reload) over real sockets: the
simulator's sshd for a file and a journal, plus a local file. The new hub resumes from the
old one's positions: every numbered line arrives exactly once across both hubs, also the
ones written while the first hub was stopping and before the second one started."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from runners.config import Config, LogSource
from runners.events import LogGap, LogLines
from runners.logs.hub import LogHub
from tests.logs_support import SEQ_RE, SeqWriter, pool, seq_report, sim  # noqa: F401 (pool, sim: fixtures)

pytestmark = pytest.mark.timeout(60)

LOG = "/var/log/camera-service.log"


class Seen:
    """The hubs' sink: numbered lines per source, and gaps."""

    def __init__(self) -> None:
        self.seqs: dict[str, list[int]] = {}
        self.gaps: list[LogGap] = []

    def __call__(self, ev) -> None:
        if isinstance(ev, LogLines):
            self.seqs.setdefault(ev.source, []).extend(
                int(m.group(1)) for t in ev.lines if (m := SEQ_RE.search(t)))
        elif isinstance(ev, LogGap):
            self.gaps.append(ev)

    def count(self, source: str) -> int:
        return len(self.seqs.get(source, []))


async def _until(cond, what: str, timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not cond():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def _stop(task: asyncio.Task) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def test_a_replacing_hub_resumes_every_log_where_the_old_one_stopped(sim, pool, tmp_path):
    local = tmp_path / "local.log"
    logs = (LogSource(name="file", kind="file", path=LOG),
            LogSource(name="journal", kind="journal", unit="camera-service"),
            LogSource(name="local", kind="local", path=str(local)))
    cfg = Config(hosts=(sim.host_config(logs),))
    remote, near = SeqWriter(sim.local(LOG)), SeqWriter(local)
    jn = 0

    def write(n: int) -> None:
        nonlocal jn
        remote.write(n)
        near.write(n)
        for _ in range(n):
            sim.journal.append("camera-service", f"seq={jn} j", "INFO")
            jn += 1

    write(30)  # the backlog a fresh hub shows (and a restart showed again)
    seen = Seen()
    hub1 = LogHub(cfg, pool, sinks=[seen], coalesce=0.5)  # long: lines are still pending when it stops
    task1 = asyncio.create_task(hub1.run())
    await _until(lambda: all(seen.count(s.name) == 30 for s in logs), "the first hub's backlog")

    # Stop the first hub while lines keep coming: what its sources read but had not emitted
    # yet reaches the sink as it stops; what they had not read, the second hub reads.
    async def steady() -> None:
        for _ in range(20):
            write(5)
            await asyncio.sleep(0.01)

    writer = asyncio.create_task(steady())
    await asyncio.sleep(0.1)
    await _stop(task1)
    await hub1.wait_stopped()
    write(7)  # while no hub runs
    hub2 = LogHub(cfg, pool, sinks=[seen], resume=hub1.sources)
    assert hub2.resumed == 3
    task2 = asyncio.create_task(hub2.run())
    await writer
    write(3)
    total = 30 + 100 + 7 + 3
    try:
        await _until(lambda: all(seen.count(s.name) >= total for s in logs), "every line through the second hub")
        await asyncio.sleep(0.3)  # anything read twice would arrive by now
    finally:
        await _stop(task2)
    for s in logs:
        report = seq_report(seen.seqs[s.name], total)
        assert report == {"received": total, "unique": total, "missing": 0, "duplicates": 0, "out_of_order": 0}, \
            (s.name, report)
    assert not seen.gaps
    remote.close()
    near.close()


async def test_a_changed_log_starts_fresh_and_a_stopped_hub_is_not_waited_for(sim, pool):
    SeqWriter(sim.local(LOG)).write(5)
    other = "/var/log/other.log"
    SeqWriter(sim.local(other)).write(5)
    seen = Seen()
    cfg = Config(hosts=(sim.host_config((LogSource(name="file", kind="file", path=LOG),)),))
    hub1 = LogHub(cfg, pool, sinks=[seen])
    await hub1.wait_stopped()  # never ran: nothing to wait for
    task1 = asyncio.create_task(hub1.run())
    await _until(lambda: seen.count("file") == 5, "the first file")
    await _stop(task1)
    # the same source name now follows another file: its backlog is new, shown
    cfg2 = Config(hosts=(sim.host_config((LogSource(name="file", kind="file", path=other),)),))
    hub2 = LogHub(cfg2, pool, sinks=[seen], resume=hub1.sources)
    assert hub2.resumed == 0
    task2 = asyncio.create_task(hub2.run())
    try:
        await _until(lambda: seen.count("file") == 10, "the other file's backlog")
    finally:
        await _stop(task2)
    assert Path(hub2.sources[0].path) == Path(other)
