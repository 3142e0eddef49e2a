"""Temp files of atomic writes that a kill -9 left behind are swept when a dry_run/ folder is
opened for writing (the Recorder's start) — and a live writer's temp file never is.

The writers are real processes looping ``atomic_write_bytes``: one is SIGKILLed while its
temp file is on disk (a dead writer's leftover), another is SIGSTOPped in the same state (a
live writer mid-write, however slow) and must be able to finish its rename afterwards."""

from __future__ import annotations

import fcntl
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from record.atomic import REUSED_PID_AGE, atomic_write_bytes, sweep_stale_tmp
from record.layout import DryRunDir
from record.recorder import Recorder
from runners.events import RunStarted

ROOT = Path(__file__).resolve().parents[2]
SIZE = 4 << 20  # big enough that a write is in flight most of the time
WRITER = f"""
import sys
from record.atomic import atomic_write_bytes
data = bytes([int(sys.argv[2])]) * {SIZE}
print("ready", flush=True)
while True:
    atomic_write_bytes(sys.argv[1], data)
"""


class Writer:
    """A process looping atomic writes of ``path``; ``catch(sig)`` signals it while one of
    its temp files exists and returns that file."""

    def __init__(self, path: Path, byte: int):
        self.path = path
        self.byte = byte
        self.p: subprocess.Popen | None = None

    def start(self) -> None:
        self.p = subprocess.Popen([sys.executable, "-c", WRITER, str(self.path), str(self.byte)], cwd=ROOT,
                                  stdout=subprocess.PIPE, text=True)
        assert self.p.stdout.readline().strip() == "ready"

    def temps(self) -> list[Path]:
        pat = re.compile(rf"^\.{re.escape(self.path.name)}\.{self.p.pid}\.[a-z0-9_]{{8}}\.tmp$")
        return [self.path.parent / n for n in os.listdir(self.path.parent) if pat.match(n)]

    def catch(self, sig: int) -> Path:
        for _ in range(200):
            if self.p is None:
                self.start()
            time.sleep(0.01)
            os.kill(self.p.pid, sig)
            if sig == signal.SIGKILL:
                self.p.wait()  # reaped: its pid is dead, not a zombie
            found = self.temps()
            if found:
                (tmp,) = found
                return tmp
            if sig == signal.SIGKILL:  # killed between a rename and the next write: again
                self.p = None
            else:
                os.kill(self.p.pid, signal.SIGCONT)
        raise AssertionError("never caught the writer mid-write")

    def stop(self) -> None:
        if self.p is not None and self.p.poll() is None:
            os.kill(self.p.pid, signal.SIGCONT)
            self.p.kill()
            self.p.wait()


@pytest.fixture
def writers():
    made: list[Writer] = []

    def make(path: Path, byte: int) -> Writer:
        w = Writer(path, byte)
        made.append(w)
        return w

    yield make
    for w in made:
        w.stop()


def test_a_killed_writers_temp_goes_a_live_writers_stays(tmp_path, writers):
    target = tmp_path / "05_pass_ledger.md"
    dead = writers(target, 1).catch(signal.SIGKILL)
    live_writer = writers(target, 2)
    live = live_writer.catch(signal.SIGSTOP)
    assert dead.exists() and live.exists() and dead != live

    assert sweep_stale_tmp(tmp_path) == [dead]
    assert not dead.exists() and live.exists()

    # The live writer was only paused: it finishes its rename, onto a complete file.
    os.kill(live_writer.p.pid, signal.SIGCONT)
    t = time.monotonic() + 10
    while live.exists():
        assert time.monotonic() < t, "the live writer could not finish its write"
        time.sleep(0.01)
    live_writer.stop()
    sweep_stale_tmp(tmp_path)  # whatever the stop's kill -9 left
    assert not list(tmp_path.glob(".*.tmp"))
    assert target.read_bytes() in (b"\x01" * SIZE, b"\x02" * SIZE)  # never torn


def test_the_recorder_sweeps_when_a_run_starts(tmp_path, writers):
    d = DryRunDir(tmp_path / "dry_run")
    d.state_dir.mkdir(parents=True)
    dead_top = writers(d.root / "05_pass_ledger.md", 1).catch(signal.SIGKILL)
    dead_state = writers(d.lastfailed, 1).catch(signal.SIGKILL)  # in a subfolder too
    live = writers(d.root / "03_triage_register.md", 3).catch(signal.SIGSTOP)

    rec = Recorder(d, d.smoke_run_log(1), write_lastfailed=False)
    assert dead_top.exists() and dead_state.exists()  # constructing it does no I/O on the loop
    rec.handle([RunStarted(hosts=("cam-01",), checks=("SMK-1",), label="02_smoke_run_1", run_id="r1")])
    rec.close()
    assert not dead_top.exists() and not dead_state.exists()
    assert live.exists()


def test_names_it_does_not_own_or_cannot_judge_are_left_alone(tmp_path):
    old = time.time() - 3600
    parent = os.getppid()  # a live process that is not writing anything here
    files = {
        "foreign_old": tmp_path / ".01_env_matrix.md.abcd1234.tmp",   # pid-less (older naming), old
        "foreign_new": tmp_path / ".01_env_matrix.md.wxyz5678.tmp",   # pid-less, fresh
        "someone_elses": tmp_path / ".notes.tmp",                     # not a name atomic writes give
        "reused_pid": tmp_path / f".x.md.{parent}.abcdefgh.tmp",      # live pid, unlocked for an hour
        "fresh_live_pid": tmp_path / f".y.md.{parent}.abcdefgh.tmp",  # live pid, unlocked just now
        "locked_old": tmp_path / f".z.md.{os.getpid()}.abcdefgh.tmp",  # a (slow) write in flight here
    }
    for p in files.values():
        p.write_text("half")
    for k in ("foreign_old", "someone_elses", "reused_pid", "locked_old"):
        os.utime(files[k], (old, old))
    assert old < time.time() - REUSED_PID_AGE
    fd = os.open(files["locked_old"], os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)  # as atomic_write_bytes holds it from creation to rename
    try:
        removed = set(sweep_stale_tmp(tmp_path))
    finally:
        os.close(fd)
    assert removed == {files["foreign_old"], files["reused_pid"]}
    assert all(p.exists() for p in files.values() if p not in removed)
    assert sweep_stale_tmp(tmp_path) == [files["locked_old"]]  # its writer let go without renaming


def test_atomic_writes_leave_no_temp_and_keep_the_mode(tmp_path):
    p = tmp_path / "env.sh"
    atomic_write_bytes(p, b"export X=1\n", mode=0o755)
    atomic_write_bytes(p, b"export X=2\n", mode=0o755)
    assert p.read_bytes() == b"export X=2\n" and (p.stat().st_mode & 0o777) == 0o755
    assert os.listdir(tmp_path) == ["env.sh"]
