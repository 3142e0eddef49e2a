"""The console's non-drawing parts: the events-log follower, the sprint clock, `dryrun serve`
and `dryrun demo`'s fleet process."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runners.events import CheckFinished, RunFinished, RunStarted
from tests.ui import scenario
from tui.history import History

pytestmark = pytest.mark.timeout(90)


def _line(ev) -> bytes:
    return (json.dumps(ev.to_dict()) + "\n").encode()


def test_history_reads_only_new_complete_lines_and_restarts_on_a_new_file(tmp_path):
    log = tmp_path / "events.log.jsonl"
    h = History(log)
    assert h.refresh() is False  # no file yet
    started = RunStarted(hosts=("cam-01",), checks=("SMK-1",), label="02_smoke_run_1", run_id="r1", ts=1.0)
    done = CheckFinished(host="cam-01", check="SMK-1", outcome="failed", duration=0.5, run_id="r1", ts=2.0)
    fin = RunFinished(passed=0, failed=1, errors=0, skipped=0, duration=1.0, run_id="r1", ts=3.0)
    torn = _line(done)[:25]
    log.write_bytes(_line(started) + b'{"kind": "triage_added", "dry_id": "DRY-01"}\n' + b"not json\n" + torn)
    assert h.refresh() is True
    assert h.last_run.label == "02_smoke_run_1" and h.last_run.finished is None
    assert h.skipped_lines == 1  # the garbage line; the record event is not a run event; the torn one waits
    with open(log, "ab") as f:
        f.write(_line(done)[25:] + _line(fin))
    assert h.refresh() is True
    assert h.last_finish[("cam-01", "SMK-1")].outcome == "failed"
    assert h.last_run.finished.failed == 1
    assert h.refresh() is False  # nothing new
    # replaced by a shorter file (a restore, a new dry_run/): start over
    log.write_bytes(_line(started))
    assert h.refresh() is True
    assert h.last_run.finished is None and not h.last_finish


def test_sprint_clock_gives_shorter_variants_for_narrow_terminals(tmp_path):
    from runners.config import load_config
    from tui.model import ConsoleModel
    from tui.recordview import load_record_view
    from tui.sprintclock import clock_variants

    cfg = load_config(scenario.build(tmp_path))
    m = ConsoleModel(cfg, now=scenario.clock, read_only=True)
    m.record = load_record_view(cfg, m.dry, scenario.NOW)
    v = clock_variants(m)
    assert v[0] == "Day 2/3 · it 1/2 · stand-up 16:00 in 5:30:00 · READ-ONLY · 10:30:00"
    assert all(len(a) >= len(b) for a, b in zip(v, v[1:]))
    assert all("READ-ONLY" in x for x in v)  # an observer always sees that they are one


def test_serve_is_observer_only_and_loopback_unless_told(tmp_path):
    from tui.cli import build_parser, main
    from tui.commands.serve import console_command

    cfg = scenario.build(tmp_path)
    args = build_parser().parse_args(["serve", "--config", str(cfg)])
    cmd = console_command(args)
    assert "--read-only" in cmd and "--theme presentation" in cmd and str(cfg) in cmd
    assert args.host == "127.0.0.1"
    args = build_parser().parse_args(["serve", "--config", str(cfg), "--control"])
    assert "--read-only" not in console_command(args)
    assert main(["serve", "--config", str(cfg), "--host", "0.0.0.0"]) == 2  # refused, nothing bound


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_serve_answers_on_loopback_with_the_console_page(tmp_path):
    import httpx

    cfg = scenario.build(tmp_path)
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tui.cli", "serve", "--config", str(cfg), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=Path(__file__).resolve().parents[2])
    try:
        async with httpx.AsyncClient() as client:
            deadline = time.monotonic() + 30
            while True:
                try:
                    r = await client.get(f"http://127.0.0.1:{port}/", timeout=2)
                    break
                except httpx.TransportError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise AssertionError(f"serve did not come up: {proc.stdout.read().decode()[-2000:]}")
                    await asyncio.sleep(0.1)  # polling a port that is not open yet: nothing to await
        assert r.status_code == 200
        assert f"ws://127.0.0.1:{port}/ws" in r.text
        assert "dry-run console (observer)" in r.text
    finally:
        proc.terminate()
        proc.wait(10)


def test_demo_fleet_starts_writes_its_config_and_stops(tmp_path):
    from runners.config import load_config
    from tui.demo_fleet import DemoFleet

    with DemoFleet(tmp_path / "demo", chaos="light", seed=3) as fleet:
        cfg = load_config(fleet.config_path)
        assert [(h.name, h.dialect) for h in cfg.hosts] == [("cam-01", "current"), ("cam-02", "legacy")]
        pid = fleet.proc.pid
        with socket.create_connection(("127.0.0.1", int(cfg.hosts[0].rpc_url.split(":")[2].split("/")[0])), 5):
            pass  # the RPC port answers
    assert fleet.proc.poll() is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
