"""Log sources against real SSH servers: the simulator's asyncssh sshd and a real OpenSSH
sshd, each behind a loopback relay that the tests cut (forced disconnects). Every line
carries a sequence number, so loss and duplication are counted, not guessed."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from pathlib import Path

import pytest

from runners.config import Config, LogSource
from runners.events import LogGap, LogLines, Notice
from runners.logs.hub import LogHub
from runners.logs.parse import is_safe
from runners.logs.sources import CommandTail, FileTail, JournalTail, LocalTail
from runners.sim.journal import Journal
from runners.ssh import SshPool
from tests.logs_support import (  # noqa: F401 (pool, sim: fixtures)
    Collect, SeqWriter, pool, real_host_via_proxy, seq_report, sim)

LOG = "/var/log/camera-service.log"


@contextlib.asynccontextmanager
async def running(src, sink):
    task = asyncio.create_task(src.run(sink))
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def file_source(sim_or_real, pool, path=LOG, **kw):
    spec = LogSource(name="svc", kind="file", path=path)
    host = sim_or_real.host_config((spec,))
    return FileTail(host.name, spec, lambda: pool.host(host, Path), **kw)


async def outage(host, sink, do) -> None:
    """Cut the link, keep the host unreachable until the source noticed, act, restore."""
    before = len(sink.notices)
    host.proxy.refuse = True
    host.proxy.drop()
    await sink.wait(lambda: len(sink.notices) > before, 10, "the source to notice the drop")
    do()
    host.proxy.refuse = False


def assert_exact(sink: Collect, n: int) -> None:
    rep = seq_report(sink.seqs(), n)
    assert rep["missing"] == 0 and rep["duplicates"] == 0 and rep["out_of_order"] == 0, rep


# ------------------------------------------------------------------------------ file (sim)
async def test_forced_disconnects_during_a_steady_stream_lose_nothing(sim, pool):
    w = SeqWriter(sim.local(LOG))
    w.write(20)
    src = file_source(sim, pool)
    sink = Collect()
    async with running(src, sink):
        await sink.wait(lambda: len(sink.seqs()) >= 20, what="the backlog")
        stop = asyncio.Event()
        writer = asyncio.create_task(w.run(rate=2000, batch=20, stop=stop))
        for i in range(10):
            # cut the link each time another 200 lines went through (so: on a live session)
            target = len(sink.seqs()) + 200
            await sink.wait(lambda: len(sink.seqs()) >= target, what=f"lines before drop {i}")
            assert sim.proxy.drop() >= 1
        stop.set()
        await writer
        await sink.wait(lambda: len(sink.seqs()) >= w.n, what="every line")
    assert_exact(sink, w.n)
    # (a drop that hits a reconnect still in its handshake is retried inside one session)
    assert sim.proxy.drops == 10 and src.sessions >= 6
    assert not sink.gaps


async def test_rotation_while_connected_then_a_drop(sim, pool):
    w = SeqWriter(sim.local(LOG))
    w.write(10)
    src = file_source(sim, pool)
    sink = Collect()
    async with running(src, sink):
        await sink.wait(lambda: len(sink.seqs()) >= 10)
        w.write(5)
        w.rotate()  # tail -F follows the new file by itself...
        w.write(7)
        await sink.wait(lambda: len(sink.seqs()) >= w.n)
        sim.proxy.drop()  # ...which makes a plain byte offset wrong: the anchor finds the spot
        w.write(3)
        await sink.wait(lambda: len(sink.seqs()) >= w.n)
    assert_exact(sink, w.n)
    assert "found" in src.recoveries and not sink.gaps


async def test_rotation_while_disconnected_reads_the_rest_of_the_rotated_file(sim, pool):
    w = SeqWriter(sim.local(LOG))
    w.write(10)
    src = file_source(sim, pool)
    sink = Collect()
    async with running(src, sink):
        await sink.wait(lambda: len(sink.seqs()) >= 10)
        await outage(sim, sink, lambda: (w.write(4), w.rotate(), w.write(6)))
        await sink.wait(lambda: len(sink.seqs()) >= w.n)
    assert_exact(sink, w.n)
    assert src.recoveries == ["rotated"] and not sink.gaps


async def test_copytruncate_while_disconnected_reads_the_copy(sim, pool):
    w = SeqWriter(sim.local(LOG))
    w.write(10)
    src = file_source(sim, pool)
    sink = Collect()
    async with running(src, sink):
        await sink.wait(lambda: len(sink.seqs()) >= 10)
        await outage(sim, sink, lambda: (w.write(4), w.copytruncate(), w.write(6)))
        await sink.wait(lambda: len(sink.seqs()) >= w.n)
    assert_exact(sink, w.n)
    assert src.recoveries == ["rotated"] and not sink.gaps


async def test_truncation_while_disconnected_is_a_marked_gap(sim, pool):
    w = SeqWriter(sim.local(LOG))
    w.write(10)
    src = file_source(sim, pool)
    sink = Collect()
    async with running(src, sink):
        await sink.wait(lambda: len(sink.seqs()) >= 10)
        # 4 lines written and destroyed while we could not read: really lost
        await outage(sim, sink, lambda: (w.write(4), w.truncate(), w.write(6)))
        await sink.wait(lambda: len(sink.seqs()) >= w.n - 4)
    seqs = sink.seqs()
    assert seqs == list(range(10)) + list(range(14, 20))
    assert len(sink.gaps) == 1 and sink.gaps[0][1] is None  # size unknown: said so
    assert "truncated" in sink.gaps[0][0]
    # the gap is reported before the lines after it
    assert src.recoveries == ["gap"]


async def test_truncation_while_connected_then_a_drop(sim, pool):
    w = SeqWriter(sim.local(LOG))
    w.write(10)
    src = file_source(sim, pool)
    sink = Collect()
    async with running(src, sink):
        await sink.wait(lambda: len(sink.seqs()) >= 10)
        w.truncate()
        w.write(5)
        await sink.wait(lambda: len(sink.seqs()) >= w.n)
        sim.proxy.drop()
        w.write(5)
        await sink.wait(lambda: len(sink.seqs()) >= w.n)
    assert_exact(sink, w.n)
    assert not sink.gaps


async def test_first_start_shows_only_the_backlog_and_whole_lines(sim, pool):
    w = SeqWriter(sim.local(LOG), pad=10)
    w.write(1000)
    size = os.path.getsize(sim.local(LOG))
    src = file_source(sim, pool, backlog_bytes=2000)
    sink = Collect()
    async with running(src, sink):
        await sink.wait(lambda: sink.seqs() and sink.seqs()[-1] == 999)
        w.write(1)
        await sink.wait(lambda: sink.seqs()[-1] == 1000)
    seqs = sink.seqs()
    assert seqs == list(range(seqs[0], 1001)) and 10 < len(seqs) < 60
    assert all(line.endswith("x" * 10) for line in sink.got)  # no partial first line
    assert src.offset == os.path.getsize(sim.local(LOG)) > size
    assert sink.history == sink.got[:-1]  # the backlog is history; the line written later is not


async def test_a_file_that_appears_later(sim, pool):
    src = file_source(sim, pool, path="/var/log/later.log")
    sink = Collect()
    async with running(src, sink):
        await asyncio.sleep(0)  # the tail starts on a missing file and waits for it
        w = SeqWriter(sim.local("/var/log/later.log"))
        w.write(3)
        await sink.wait(lambda: len(sink.seqs()) >= 3)
    assert sink.seqs() == [0, 1, 2]


async def test_binary_and_escape_sequences_arrive_neutralised(sim, pool):
    p = sim.local(LOG)
    p.write_bytes(b"plain\n\x1b[2J\x1b]0;owned\x07 clear screen\n\xff\xfe\x00 binary\n" + b"y" * 300_000 + b"\n")
    src = file_source(sim, pool, backlog_bytes=1 << 20)
    sink = Collect()
    async with running(src, sink):
        await sink.wait(lambda: len(sink.got) >= 4)
    assert sink.got[0] == "plain"
    assert all(is_safe(t) for t in sink.got)
    assert "\\xff\\xfe" in sink.got[2] and "␀" in sink.got[2]
    assert len(sink.got[3]) == 300_000  # long lines arrive whole (the pane truncates its display)


async def test_unreachable_host_is_retried_with_one_notice(sim, pool):
    w = SeqWriter(sim.local(LOG))
    w.write(2)
    sim.proxy.refuse = True
    src = file_source(sim, pool)
    src.backoff.initial = 0.05
    src.backoff.reset()
    sink = Collect()
    async with running(src, sink):
        await sink.wait(lambda: src.sessions >= 4, what="a few retries")
        assert len(sink.notices) == 1 and "retrying" in sink.notices[0][1]
        sim.proxy.refuse = False
        await sink.wait(lambda: len(sink.seqs()) >= 2)
    assert sink.seqs() == [0, 1]


# ------------------------------------------------------------------------------ journal (sim)
def journal_source(sim, pool):
    spec = LogSource(name="journal", kind="journal", unit="camera-service")
    host = sim.host_config((spec,))
    return JournalTail(host.name, spec, lambda: pool.host(host, Path), backlog_lines=50)


async def test_journal_resumes_by_cursor_across_drops(sim, pool):
    for i in range(5):
        sim.journal.append("camera-service", f"seq={i} started", "INFO")
    sim.journal.append("mediamtx", "seq=999 other unit", "INFO")
    src = journal_source(sim, pool)
    sink = Collect()
    async with running(src, sink):
        await sink.wait(lambda: len(sink.seqs()) >= 5)
        for k in range(3):
            sim.proxy.drop()
            for i in range(5 + k * 5, 10 + k * 5):
                sim.journal.append("camera-service", f"seq={i} tick", "ERROR" if i % 2 else "INFO")
            await sink.wait(lambda: len(sink.seqs()) >= 10 + k * 5)
    assert_exact(sink, 20)
    assert src.cursor and not sink.gaps
    assert sink.history == sink.got[:5]  # the journal's backlog, read before following
    # journal lines carry the journal's time and priority as text the pane can parse
    assert " ERROR camera-service[" in sink.got[-2] or " ERROR camera-service[" in sink.got[-1]


async def test_journal_cursor_lost_is_a_gap(sim, pool):
    for i in range(5):
        sim.journal.append("camera-service", f"seq={i} a", "INFO")
    src = journal_source(sim, pool)
    sink = Collect()
    async with running(src, sink):
        await sink.wait(lambda: len(sink.seqs()) >= 5)

        def new_journal() -> None:  # vacuumed / reinstalled: our cursor means nothing to it
            j = Journal(hostname=sim.name)
            for i in range(5, 8):
                j.append("camera-service", f"seq={i} b", "INFO")
            sim.ctx.journal = j

        await outage(sim, sink, new_journal)
        await sink.wait(lambda: len(sink.seqs()) >= 8)
    assert len(sink.gaps) == 1 and "cursor" in sink.gaps[0][0] and sink.gaps[0][1] is None
    assert_exact(sink, 8)


class _FakeJournalHost:
    """Answers journalctl with prepared JSON entries; ``cut`` drops the link; a cursor it
    was told to forget fails the way journalctl does."""

    name = "fake"

    def __init__(self, entries):
        self.entries = entries  # (cursor, realtime_us, message)
        self.forget = False
        self.cut = asyncio.Event()
        self.commands: list[str] = []

    async def run(self, command, *, timeout=30.0, check=False):
        from runners.ssh import ExecResult

        self.commands.append(command)
        n = int(command.split(" -n ")[1].split()[0])
        return ExecResult(0, "".join(json.dumps({"__CURSOR": c, "__REALTIME_TIMESTAMP": str(rt), "PRIORITY": "6",
                                                  "SYSLOG_IDENTIFIER": "camera-service", "MESSAGE": m}) + "\n"
                                      for c, rt, m in self.entries[-n:]), "")

    async def stream_batches(self, command):
        from runners.errors import SshError

        self.commands.append(command)
        if "--after-cursor" in command and self.forget:
            raise SshError(f"fake: {command!r} exited with status 1: Failed to seek to cursor: Invalid argument")
        after = command.split("--after-cursor ")[-1] if "--after-cursor" in command else None
        rows = [e for i, e in enumerate(self.entries) if after is None or any(c == after for c, _, _ in self.entries[:i])]
        yield [json.dumps({"__CURSOR": c, "__REALTIME_TIMESTAMP": str(rt), "PRIORITY": "6",
                           "SYSLOG_IDENTIFIER": "camera-service", "MESSAGE": m}).encode() for c, rt, m in rows]
        await self.cut.wait()
        self.cut.clear()
        raise SshError("fake: SSH connection lost while streaming")


async def test_journal_lost_cursor_does_not_show_entries_twice():
    t0 = 1_700_000_000_000_000
    fake = _FakeJournalHost([(f"c{i}", t0 + i, f"seq={i}") for i in range(5)])

    async def connect():
        return fake

    src = JournalTail("fake", LogSource(name="j", kind="journal", unit="camera-service"), connect, backlog_lines=50)
    src.backoff.initial = 0.01
    src.backoff.reset()
    sink = Collect()
    async with running(src, sink):
        await sink.wait(lambda: len(sink.seqs()) == 5)
        assert src.cursor == "c4"
        # The journal is rotated under us: old entries keep their times, our cursor is gone.
        fake.entries = [(f"d{i}", t0 + i, f"seq={i}") for i in range(7)]
        fake.forget = True
        fake.cut.set()
        await sink.wait(lambda: len(sink.seqs()) >= 7 and sink.gaps)
    assert sink.seqs() == list(range(7))  # the re-listed entries were skipped by their time
    assert "cursor" in sink.gaps[0][0] and len(sink.gaps) == 1
    assert any("--after-cursor c4" in c for c in fake.commands) and fake.commands[-1].endswith("-n 50")


async def test_service_log_in_both_formats_through_the_journal(sim, pool):
    from runners.sim.servicelog import ServiceLog

    for fmt in ("plain", "json"):
        ServiceLog(sim.local(f"/tmp/{fmt}.log"), fmt=fmt, journal=sim.journal).write("WARNING", "disk low", pct=91)
    src = journal_source(sim, pool)
    sink = Collect()
    async with running(src, sink):
        await sink.wait(lambda: len(sink.got) >= 2)
    from runners.logs.parse import WARNING, parse_line

    for text in sink.got:
        p = parse_line(text)
        assert p.level == WARNING and p.ts is not None, text


# ------------------------------------------------------------------------------ command (sim)
async def test_command_restart_after_a_drop_is_a_gap(sim, pool):
    w = SeqWriter(sim.local(LOG))
    w.write(3)
    spec = LogSource(name="cmd", kind="command", command=f"tail -n +1 -F {LOG}")
    host = sim.host_config((spec,))
    src = CommandTail(host.name, spec, lambda: pool.host(host, Path))
    sink = Collect()
    async with running(src, sink):
        await sink.wait(lambda: len(sink.seqs()) >= 3)
        sim.proxy.drop()
        await sink.wait(lambda: len(sink.gaps) == 1 and len(sink.seqs()) >= 6)
    assert "command restarted" in sink.gaps[0][0]
    assert sink.seqs() == [0, 1, 2, 0, 1, 2]  # a re-run repeats itself: the marker says why


async def test_command_that_finishes_is_not_restarted(sim, pool):
    spec = LogSource(name="once", kind="command", command="echo hello")
    host = sim.host_config((spec,))
    src = CommandTail(host.name, spec, lambda: pool.host(host, Path))
    sink = Collect()
    await asyncio.wait_for(src.run(sink), 10)
    assert sink.got == ["hello"] and src.finished and src.sessions == 1


# ------------------------------------------------------------------------------ local files
async def test_local_file_follow_rotation_and_truncation(tmp_path):
    path = tmp_path / "svc.log"
    w = SeqWriter(path)
    w.write(3)
    spec = LogSource(name="local", kind="local", path=str(path))
    src = LocalTail("lab", spec, path, poll_interval=5.0)  # watchfiles must do the waking
    sink = Collect()
    async with running(src, sink):
        await sink.wait(lambda: len(sink.seqs()) >= 3)
        assert sink.history == sink.got  # what the file held when the follow began
        w.write(2)
        await sink.wait(lambda: len(sink.seqs()) >= 5, 4, "watchfiles to report the append")
        w.write(2)
        w.rotate()
        w.write(3)
        await sink.wait(lambda: len(sink.seqs()) >= 10, 4)
        assert src.rotations == 1
        assert_exact(sink, 10)
        w.truncate()
        w.write(2)
        await sink.wait(lambda: len(sink.seqs()) >= 12, 4)
    assert_exact(sink, 12)
    assert src.truncations == 1 and len(sink.gaps) == 1
    assert len(sink.history) == 3  # appends, the rotated-in and the truncated file's lines are live


async def test_local_files_in_one_folder_share_one_watcher(tmp_path):
    """Two local logs side by side: one folder watcher wakes each for its own file only
    (the slow poll is 5 s, so only the watcher can deliver within the wait); it stops with
    the last follower."""
    from runners.logs import folderwatch

    paths = [tmp_path / "camera-service.log", tmp_path / "mediamtx.log"]
    writers = [SeqWriter(p) for p in paths]
    srcs = [LocalTail("lab", LogSource(name=p.stem, kind="local", path=str(p)), p, poll_interval=5.0) for p in paths]
    sinks = [Collect(), Collect()]
    async with running(srcs[0], sinks[0]), running(srcs[1], sinks[1]):
        await asyncio.sleep(0.2)  # both sessions open (no backlog: the files are empty)
        assert len([k for k in folderwatch._WATCHES if k[1] == tmp_path]) == 1
        writers[0].write(3)
        await sinks[0].wait(lambda: len(sinks[0].seqs()) == 3, 4, "the watcher to wake the first follower")
        writers[1].write(2)
        await sinks[1].wait(lambda: len(sinks[1].seqs()) == 2, 4, "the watcher to wake the second follower")
    assert sinks[0].seqs() == [0, 1, 2] and sinks[1].seqs() == [0, 1]
    assert not [k for k in folderwatch._WATCHES if k[1] == tmp_path]


async def test_local_partial_line_waits_for_its_end(tmp_path):
    path = tmp_path / "p.log"
    path.write_bytes(b"one\ntw")
    src = LocalTail("lab", LogSource(name="p", kind="local", path=str(path)), path)
    sink = Collect()
    async with running(src, sink):
        await sink.wait(lambda: sink.got == ["one"])
        with open(path, "ab") as f:
            f.write(b"o\n")
        await sink.wait(lambda: sink.got == ["one", "two"])


# ------------------------------------------------------------------------------ hub
async def test_hub_runs_every_source_over_one_connection_per_host(sim, pool):
    w = SeqWriter(sim.local(LOG))
    w.write(5)
    for i in range(3):
        sim.journal.append("camera-service", f"seq={100 + i} j", "INFO")
    logs = (LogSource(name="svc", kind="file", path=LOG),
            LogSource(name="journal", kind="journal", unit="camera-service"),
            LogSource(name="nossh", kind="local", path=str(sim.folder / "nothing.log")))
    cfg = Config(hosts=(sim.host_config(logs),))
    seen: list = []
    hub = LogHub(cfg, pool, sinks=[seen.append])
    got: list = []
    async def consume():
        async for ev in hub.events():
            got.append(ev)
            lines = [t for e in got if isinstance(e, LogLines) for t in e.lines]
            if sum("seq=" in t for t in lines) >= 8:
                return
    await asyncio.wait_for(consume(), 20)
    assert got == seen[:len(got)]  # sinks and the iterator see the same events
    by_source = {(e.host, e.source) for e in got if isinstance(e, LogLines)}
    assert by_source == {(sim.name, "svc"), (sim.name, "journal")}
    assert pool.handshakes_started == 1  # one SSH connection for both remote logs
    assert set(hub.positions()) == {f"{sim.name}/svc", f"{sim.name}/journal", f"{sim.name}/nossh"}
    # batched: fewer events than lines
    assert len([e for e in got if isinstance(e, LogLines)]) < 8
    # everything was written before the hub started: both sources' backlogs come as history
    assert all(e.history for e in got if isinstance(e, LogLines))


async def test_hub_keeps_gap_order_and_reports_config_problems(sim, pool):
    logs = (LogSource(name="svc", kind="file", path=LOG),)
    nossh = sim.host_config(logs)
    from dataclasses import replace

    from runners.config import SshTarget

    cfg = Config(hosts=(replace(nossh, name="no-ssh", ssh=SshTarget()),))
    hub = LogHub(cfg, pool)
    evs = []
    async for ev in hub.events():  # no source can run: the hub ends after its notice
        evs.append(ev)
    assert len(evs) == 1 and isinstance(evs[0], Notice) and "needs SSH" in evs[0].message
    with pytest.raises(ValueError, match="unknown host"):
        LogHub(cfg, pool, hosts=["nope"])


async def test_hub_gap_event_sits_between_the_lines(sim, pool):
    w = SeqWriter(sim.local(LOG))
    w.write(10)
    cfg = Config(hosts=(sim.host_config((LogSource(name="svc", kind="file", path=LOG),)),))
    evs: list = []
    hub = LogHub(cfg, pool, sinks=[evs.append])
    src = hub.sources[0]
    task = asyncio.create_task(hub.run())
    watch = Collect()  # only its wait(): the conditions below look at `evs` and the source

    def lines() -> list[str]:
        return [t for e in evs if isinstance(e, LogLines) for t in e.lines]

    try:
        await watch.wait(lambda: len(lines()) >= 10, what="the first lines through the hub")
        before = src.sessions
        sim.proxy.refuse = True
        sim.proxy.drop()
        await watch.wait(lambda: src.sessions > before, what="the source to notice the drop")
        w.write(4)
        w.truncate()  # these 4 are destroyed unread: a real gap
        w.write(6)
        sim.proxy.refuse = False
        await watch.wait(lambda: any("seq=19" in t for t in lines()), what="the lines after the gap")
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    order = [("gap" if isinstance(e, LogGap) else "lines") for e in evs if isinstance(e, (LogLines, LogGap))]
    gi = order.index("gap")
    before_gap = [t for e in evs[:evs.index(next(e for e in evs if isinstance(e, LogGap)))]
                  if isinstance(e, LogLines) for t in e.lines]
    after_gap = [t for e in evs[evs.index(next(e for e in evs if isinstance(e, LogGap))):]
                 if isinstance(e, LogLines) for t in e.lines]
    assert any("seq=9 " in t for t in before_gap) and "seq=14 " in after_gap[0]  # 10..13 were destroyed
    assert order.count("gap") == 1 and gi > 0
    gap = next(e for e in evs if isinstance(e, LogGap))
    assert gap.host == sim.name and gap.source == "svc" and gap.lost_bytes is None


# ------------------------------------------------------------------------------ real OpenSSH
@pytest.mark.sshd
async def test_real_sshd_drops_and_rotations_lose_nothing(sshd, tmp_path):
    real = await real_host_via_proxy(sshd, tmp_path)
    path = str(tmp_path / "logs" / "camera-service.log")
    w = SeqWriter(Path(path))
    w.write(10)
    async with SshPool(ssh_config=None, connect_timeout=5) as p:
        src = file_source(real, p, path=path)
        sink = Collect()
        async with running(src, sink):
            await sink.wait(lambda: len(sink.seqs()) >= 10)
            stop = asyncio.Event()
            writer = asyncio.create_task(w.run(rate=1000, batch=10, stop=stop))
            for _ in range(5):
                # Lines buffered before the last drop can reach the sink while the source is
                # still reconnecting; drop only once a new session is live and has read on.
                target = len(sink.seqs()) + 200
                sessions = src.sessions
                await sink.wait(lambda: len(sink.seqs()) >= target and real.proxy.connections >= 1,
                                what="200 more lines over a live connection")
                assert real.proxy.drop() >= 1
                await sink.wait(lambda: src.sessions > sessions, what="the source to reconnect")
            stop.set()
            await writer
            await sink.wait(lambda: len(sink.seqs()) >= w.n)
            w.write(1)  # a line read after the last drop: a live session, not a pending reconnect
            await sink.wait(lambda: len(sink.seqs()) >= w.n)
            w.rotate()  # GNU tail -F (inotify) follows; then a drop makes the anchor search it
            w.write(5)
            await sink.wait(lambda: len(sink.seqs()) >= w.n)
            real.proxy.drop()
            w.write(5)
            await sink.wait(lambda: len(sink.seqs()) >= w.n)
            await outage(real, sink, lambda: (w.write(3), w.rotate(), w.write(4)))
            await sink.wait(lambda: len(sink.seqs()) >= w.n)
    await real.proxy.stop()
    assert_exact(sink, w.n)
    assert not sink.gaps
    assert "found" in src.recoveries and "rotated" in src.recoveries


@pytest.mark.sshd
async def test_real_sshd_command_source(sshd, tmp_path):
    real = await real_host_via_proxy(sshd, tmp_path)
    path = tmp_path / "cmd.log"
    path.write_text(json.dumps({"timestamp": "2026-11-21T10:00:00Z", "level": "ERROR", "message": "seq=0"}) + "\n")
    spec = LogSource(name="cmd", kind="command", command=f"tail -n +1 -F {path}")
    async with SshPool(ssh_config=None, connect_timeout=5) as p:
        host = real.host_config((spec,))
        src = CommandTail(host.name, spec, lambda: p.host(host, Path))
        sink = Collect()
        async with running(src, sink):
            await sink.wait(lambda: len(sink.got) >= 1)
            real.proxy.drop()
            await sink.wait(lambda: len(sink.gaps) == 1 and len(sink.got) >= 2)
    await real.proxy.stop()
    assert sink.got[0] == sink.got[1]  # a command re-run repeats itself: hence the gap marker
