"""Run numbers (02_smoke_run_N) are claimed atomically across processes: many processes
allocating at once all get distinct numbers, a crashed run's reserved-but-empty log keeps
its number, and two real `dryrun suite` commands started together write two logs."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from record.layout import DryRunDir

ROOT = Path(__file__).resolve().parents[2]
PROCS = 8
EACH = 6


def _allocate(root: str, go, out) -> None:
    d = DryRunDir(Path(root))
    go.wait(30)  # everyone starts at once: the race the reservation must win
    out.put([d.reserve_run_log()[0] for _ in range(EACH)])


def test_processes_allocating_at_once_get_distinct_numbers(tmp_path):
    d = DryRunDir(tmp_path / "dry_run")
    ctx = multiprocessing.get_context("fork")
    go, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_allocate, args=(str(d.root), go, out)) for _ in range(PROCS)]
    for p in procs:
        p.start()
    go.set()
    got = [n for _ in procs for n in out.get(timeout=60)]
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    assert len(got) == len(set(got)) == PROCS * EACH, sorted(got)
    assert sorted(got) == list(range(1, PROCS * EACH + 1))  # no gaps either: nobody crashed
    assert d.run_numbers() == sorted(got)


def test_a_crashed_runs_empty_log_keeps_its_number(tmp_path):
    d = DryRunDir(tmp_path / "dry_run")
    # A real process reserves a number and is killed before writing anything.
    code = textwrap.dedent(f"""
        import time
        from pathlib import Path
        from record.layout import DryRunDir
        n, path = DryRunDir(Path({str(d.root)!r})).reserve_run_log()
        print(n, flush=True)
        time.sleep(60)
    """)
    p = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "1"
    finally:
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
    assert d.smoke_run_log(1).read_bytes() == b""
    assert d.reserve_run_log() == (2, d.smoke_run_log(2))
    assert d.reserve_run_log() == (3, d.smoke_run_log(3))
    assert d.smoke_run_log(1).exists() and d.smoke_run_log(1).read_bytes() == b""  # never reused


def test_numbers_continue_after_the_highest_existing_log(tmp_path):
    d = DryRunDir(tmp_path / "dry_run")
    d.root.mkdir()
    for n in (1, 4):
        d.smoke_run_log(n).write_text(f"run {n}\n")
    assert d.next_run_number() == 5
    assert d.reserve_run_log()[0] == 5
    assert d.smoke_run_log(4).read_text() == "run 4\n"  # an existing log is never opened


PASSING = "import time\n\ndef test_SMK_1_ok():\n    time.sleep(0.2)\n"


@pytest.mark.timeout(120)
def test_two_suite_commands_started_together_write_two_logs(tmp_cwd):
    suite = tmp_cwd / "suite"
    suite.mkdir()
    (suite / "pytest.ini").write_text("[pytest]\n")
    (suite / "test_team.py").write_text(PASSING)
    (tmp_cwd / "dryrun.toml").write_text(
        '[run]\ndry_run_dir = "dry_run"\n\n[[suites]]\nname = "team"\n'
        f'command = "{{python}} -m pytest test_team.py -q -p no:cacheprovider"\ncwd = "{suite}"\n')
    env = {**os.environ, "NO_COLOR": "1"}
    procs = [subprocess.Popen([sys.executable, "-m", "tui.cli", "suite", "--json"], cwd=tmp_cwd, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=90) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    labels = sorted(json.loads(out)["label"] for out, _ in outs)
    assert labels == ["02_smoke_run_1", "02_smoke_run_2"]
    d = DryRunDir(tmp_cwd / "dry_run")
    for n in (1, 2):
        assert d.smoke_run_log(n).read_text().splitlines()[-1].startswith("1 passed, 0 failed in ")
