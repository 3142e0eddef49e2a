from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from record.layout import DryRunDir
from record.lock import DryRunLock, LockTimeout


def _holder(d: DryRunDir, hold: float = 30.0) -> subprocess.Popen:
    code = textwrap.dedent(f"""
        import sys, time
        from record.layout import DryRunDir
        from record.lock import DryRunLock
        with DryRunLock(DryRunDir(__import__('pathlib').Path({str(d.root)!r}))):
            print("held", flush=True)
            time.sleep({hold})
    """)
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "held"
    return p


def test_reentrant_in_one_process(tmp_path):
    d = DryRunDir(tmp_path / "dry_run")
    with DryRunLock(d):
        with DryRunLock(d, timeout=0.2):  # the same process nests freely
            assert d.lock.exists()


def test_other_process_waits_then_times_out_naming_the_holder(tmp_path):
    d = DryRunDir(tmp_path / "dry_run")
    p = _holder(d)
    try:
        t0 = time.monotonic()
        with pytest.raises(LockTimeout) as e:
            with DryRunLock(d, timeout=0.3):
                pass
        assert time.monotonic() - t0 >= 0.3
        assert f"pid {p.pid}" in str(e.value) and "locked by another process" in str(e.value)
    finally:
        p.kill()
        p.wait()


def test_kill_9_releases_the_lock(tmp_path):
    d = DryRunDir(tmp_path / "dry_run")
    p = _holder(d)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    with DryRunLock(d, timeout=5):  # the kernel dropped the flock with the process
        pass


def test_threads_are_serialised(tmp_path):
    d = DryRunDir(tmp_path / "dry_run")
    inside = []
    overlap = []

    def work():
        for _ in range(20):
            with DryRunLock(d):
                inside.append(1)
                if len(inside) > 1:
                    overlap.append(1)
                time.sleep(0.0005)
                inside.pop()

    ts = [threading.Thread(target=work) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not overlap
