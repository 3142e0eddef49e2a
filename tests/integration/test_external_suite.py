"""External pytest suites run from the console: the sample suite (tests/sample_suite) probing
the simulator through the console's own client code, streamed live into a real dry_run/
record (run log, JUnit, events, the pass ledger, flake hunts); failures with expected vs
seen; --maxfail, --count and -k passed through; cancel, timeout and start failures."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import textwrap
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from record.events_log import read_events
from record.layout import DryRunDir
from runners.config import Checks, Config, Run, Suite
from runners.events import CheckFinished, CheckStarted, RunFinished, RunStarted
from runners.external.runner import ExternalSuiteRun, run_suite
from runners.sim.fleet import make_specs, run_fleet
from runners.smoke.options import RunOptions

pytestmark = pytest.mark.timeout(120)

SAMPLE = Path(__file__).resolve().parents[1] / "sample_suite"
ROOT = Path(__file__).resolve().parents[2]


def _sample_cfg(tmp_path: Path, sim_hosts, **suite) -> Config:
    s = Suite(name="team-smoke", command="{python} -m pytest . -q -p no:cacheprovider", cwd=str(SAMPLE),
              env=("SIM_CONFIG",), **suite)
    return Config(checks=Checks(), run=Run(dry_run_dir=str(tmp_path / "dry_run")), hosts=tuple(sim_hosts),
                  suites=(s,),
                  path=tmp_path / "dryrun.toml")


def _tmp_suite(tmp_path: Path, body: str, **suite) -> Config:
    d = tmp_path / "suite"
    d.mkdir(exist_ok=True)
    (d / "pytest.ini").write_text("[pytest]\n")
    (d / "test_team.py").write_text(textwrap.dedent(body))
    s = Suite(name="team", command="{python} -m pytest test_team.py -q -p no:cacheprovider", cwd=str(d), **suite)
    return Config(run=Run(dry_run_dir=str(tmp_path / "dry_run")), suites=(s,), path=tmp_path / "dryrun.toml")


class Recorder:
    """A sink that notes what arrived when (to prove results stream live)."""

    def __init__(self) -> None:
        self.events: list = []
        self.at: list[float] = []
        self.started = asyncio.Event()

    def __call__(self, ev) -> None:
        self.events.append(ev)
        self.at.append(time.monotonic())
        if isinstance(ev, CheckStarted):
            self.started.set()


async def test_sample_suite_streams_live_into_the_record_and_the_pass_ledger(tmp_path, monkeypatch):
    from record import ledger, triage
    from record.verify import conclude, prepare

    specs = make_specs(2, dialect="mixed", discovery_delay=0.3)
    async with run_fleet(specs, tmp_path / "sim", config=tmp_path / "sim.toml") as fleet:
        monkeypatch.setenv("SIM_CONFIG", str(tmp_path / "sim.toml"))
        cfg = _sample_cfg(tmp_path, fleet.config().hosts, hosts=("*",))
        d = DryRunDir(cfg.dry_run_path)
        sink = Recorder()
        res = await run_suite(cfg, "team-smoke", RunOptions(label="02_smoke_run_1"), log_path=d.smoke_run_log(1),
                              sinks=[sink])
        log = res.log_path.read_text()
        assert res.exit_code == 0, log
        rs = {(r.host, r.check): r for r in res.results}
        assert sorted(rs) == [(h, f"SMK-{i}") for h in ("cam-01", "cam-02") for i in range(1, 8)]
        assert all(r.outcome == "passed" for r in rs.values()), log
        assert "2 test(s) passed" in rs[("cam-02", "SMK-2")].summary  # the two SMK-2 tests are one attempt
        assert rs[("cam-01", "SMK-3")].metrics["discovery_s"] >= 0  # record_property("metric_...")
        # Live: RunStarted first; SMK-1's result reached the sink well before the run ended
        # (SMK-5 records for a second after it), not in one batch at the end.
        kinds = [type(e) for e in sink.events]
        assert kinds.index(RunStarted) < kinds.index(CheckStarted) and kinds[-1] is RunFinished
        first = next(i for i, e in enumerate(sink.events) if isinstance(e, CheckFinished) and e.check == "SMK-1")
        assert sink.at[-1] - sink.at[first] > 0.8
        # The record: pytest-style log, JUnit, events with the run's label and the suite.
        assert "cam-02::SMK-5 PASSED" in log and log.splitlines()[-1].startswith("14 passed, 0 failed in ")
        assert ET.parse(res.junit_path).getroot().find("testsuite").get("tests") == "14"
        evs = [e for e in read_events(d.events_log) if e.get("run_id") == res.run_id]
        started = next(e for e in evs if e["kind"] == "run_started")
        assert started["label"] == "02_smoke_run_1" and started["options"]["suite"] == "team-smoke"
        assert started["checks"] == [f"SMK-{i}" for i in range(1, 8)]
        assert sum(e["kind"] == "check_finished" for e in evs) == 14
        assert (d.artifacts / "02_smoke_run_1" / "cam-01" / "pytest_output.log").read_text().count("passed") >= 1

        # The fix loop: DRY-01 on SMK-3 verified by the external suite -> the pass ledger.
        triage.add_issue(d, {"smk": "SMK-3", "symptom": "slow discovery", "severity": "A"},
                         extra={"hosts": ["cam-01"]})
        plan = prepare(d, "DRY-01")
        assert plan.keyword == "SMK_3" and plan.hosts == ["cam-01"]
        vres = await run_suite(cfg, "team-smoke", RunOptions(keyword=plan.keyword, maxfail=1, hosts=tuple(plan.hosts),
                                                             label=plan.label), log_path=plan.log_path)
        assert [(r.host, r.check, r.outcome) for r in vres.results] == [("cam-01", "SMK-3", "passed")]
        out = conclude(d, plan, vres.results, run_id=vres.run_id)
        assert out.result == "PASS"
    (entry,) = ledger.load_ledger(d)
    assert (entry.dry_id, entry.smk, entry.result, entry.log) == ("DRY-01", ["SMK-3"], "PASS",
                                                                 "04_verify_DRY-01.log")
    assert "| DRY-01 | SMK-3 | 1 | PASS |" in d.pass_ledger.read_text()


async def test_count_passes_through_for_a_flake_hunt(tmp_path, monkeypatch):
    from record.flakes import analyse

    async with run_fleet(make_specs(1, discovery_delay=0.2), tmp_path / "sim", config=tmp_path / "sim.toml") as fleet:
        monkeypatch.setenv("SIM_CONFIG", str(tmp_path / "sim.toml"))
        cfg = _sample_cfg(tmp_path, fleet.config().hosts)
        d = DryRunDir(cfg.dry_run_path)
        res = await run_suite(cfg, None, RunOptions(keyword="SMK-6", count=3, label="flake_SMK-6"),
                              log_path=d.flake_log("SMK-6"))
    assert res.exit_code == 0, res.log_path.read_text()
    assert [(r.host, r.check, r.attempt) for r in res.results] == [("team-smoke", "SMK-6", a) for a in (1, 2, 3)]
    assert "team-smoke::SMK-6[3-3] PASSED" in res.log_path.read_text()
    hunt = analyse("SMK-6", 3, res.results, run_id=res.run_id, label="flake_SMK-6")
    assert hunt.verdict == "stable-pass" and len(hunt.ran) == 3


FAILING = """
    import os, time
    def test_SMK_1_ok():
        pass
    def test_SMK_3_discovery():
        cameras = []
        assert len(cameras) >= 1
    def test_SMK_4_snapshot():
        raise ConnectionRefusedError("[Errno 111] refused by 192.0.2.7:8002")
    def test_SMK_5_recording():
        pass
"""


async def test_failures_carry_expected_and_seen_and_maxfail_stops(tmp_path):
    cfg = _tmp_suite(tmp_path, FAILING)
    d = DryRunDir(cfg.dry_run_path)
    shown_before_written: list[str] = []

    def sink(ev) -> None:  # what the operator is shown is already in events.log.jsonl
        if isinstance(ev, CheckFinished):
            done = [json.loads(ln) for ln in d.events_log.read_text().splitlines()]
            if not any(e["kind"] == "check_finished" and e["check"] == ev.check for e in done):
                shown_before_written.append(ev.check)

    res = await run_suite(cfg, None, RunOptions(), log_path=d.smoke_run_log(1), sinks=[sink])
    assert not shown_before_written
    rs = {r.check: r for r in res.results}
    assert res.exit_code == 1
    assert (rs["SMK-3"].outcome, rs["SMK-3"].expected, rs["SMK-3"].seen) == ("failed", ">= 1", "0 (where 0 = len([]))")
    assert (rs["SMK-4"].outcome, rs["SMK-4"].fault) == ("error", "unreachable")
    assert "ConnectionRefusedError" in rs["SMK-4"].seen and rs["SMK-5"].outcome == "passed"
    log = res.log_path.read_text()
    assert "E   expected: >= 1" in log and "E   seen:     0 (where 0 = len([]))" in log
    assert "--- pytest traceback (tail) ---" in log

    res2 = await run_suite(cfg, None, RunOptions(maxfail=1), log_path=d.smoke_run_log(2))
    assert [r.check for r in res2.results] == ["SMK-1", "SMK-3"]
    assert res2.finished.stopped_early == "maxfail" and not res2.finished.interrupted and res2.exit_code == 1


SLOW = """
    import os, subprocess, sys, time
    from pathlib import Path
    def test_SMK_1_slow():
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        Path(os.environ["PIDFILE"]).write_text(str(child.pid))
        time.sleep(60)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped by its dead parent's reaper) counts as gone
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


async def _until(cond, timeout: float = 10.0) -> None:
    t = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < t, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_cancel_stops_pytest_and_its_children(tmp_path):
    pidfile = tmp_path / "child.pid"
    cfg = _tmp_suite(tmp_path, SLOW, env=("PIDFILE",))
    run = ExternalSuiteRun(cfg, None, RunOptions(label="02_smoke_run_1"), artifacts_dir=tmp_path / "art",
                           kill_grace=1.0, environ={**os.environ, "PIDFILE": str(pidfile)})
    seen: list = []

    async def consume():
        async for ev in run.events():
            seen.append(ev)
            if isinstance(ev, CheckStarted):
                await _until(pidfile.exists)
                run.cancel()

    t0 = time.monotonic()
    await asyncio.wait_for(consume(), 20)
    assert time.monotonic() - t0 < 15
    fin = [e for e in seen if isinstance(e, CheckFinished)]
    assert [(e.check, e.outcome, e.fault) for e in fin] == [("SMK-1", "skipped", "cancelled")]
    assert seen[-1].interrupted
    await _until(lambda: not _alive(int(pidfile.read_text())))  # the whole process group went


async def test_a_cancelled_consumer_kills_at_once(tmp_path):
    pidfile = tmp_path / "child.pid"
    cfg = _tmp_suite(tmp_path, SLOW, env=("PIDFILE",))
    run = ExternalSuiteRun(cfg, None, RunOptions(), artifacts_dir=tmp_path / "art", kill_grace=30.0,
                           environ={**os.environ, "PIDFILE": str(pidfile)})
    started = asyncio.Event()

    async def consume():
        async for ev in run.events():
            if isinstance(ev, CheckStarted):
                started.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(started.wait(), 20)
    await _until(pidfile.exists)
    t0 = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - t0 < 5  # SIGKILL, not the 30 s grace
    pids = [p.pid for p in run._procs.values()]
    assert pids == []
    await _until(lambda: not _alive(int(pidfile.read_text())))
    tail = run.drain_pending()
    assert isinstance(tail[-1], RunFinished) and tail[-1].interrupted


async def test_suite_timeout_is_an_error(tmp_path):
    cfg = _tmp_suite(tmp_path, "import time\ndef test_SMK_2_hangs():\n    time.sleep(60)\n", timeout=2.0)
    d = DryRunDir(cfg.dry_run_path)
    t0 = time.monotonic()
    res = await run_suite(cfg, None, RunOptions(), log_path=d.smoke_run_log(1), kill_grace=1.0)
    assert time.monotonic() - t0 < 15
    (r,) = res.results
    assert (r.check, r.outcome, r.fault) == ("SMK-2", "error", "timeout")
    assert "stopped by the suite's timeout" in r.summary
    codes = [e.get("code") for e in read_events(d.events_log) if e.get("kind") == "notice"]
    assert "EXT_TIMEOUT" in codes


async def test_a_suite_that_cannot_run_says_why(tmp_path):
    cfg = _tmp_suite(tmp_path, "def test_SMK_1():\n    pass\n")
    bad = Config(run=cfg.run, path=cfg.path, suites=(Suite(name="team", command="/nonexistent/python -m pytest",
                                                           cwd=cfg.suites[0].cwd),))
    d = DryRunDir(cfg.dry_run_path)
    res = await run_suite(bad, None, RunOptions(), log_path=d.smoke_run_log(1))
    assert res.exit_code == 3 and "cannot start '/nonexistent/python'" in res.internal_error
    # --count without pytest-repeat in the suite's pytest: a usage error, with the hint
    norepeat = Config(run=cfg.run, path=cfg.path, suites=(Suite(
        name="team", command="{python} -m pytest test_team.py -q -p no:repeat", cwd=cfg.suites[0].cwd),))
    res = await run_suite(norepeat, None, RunOptions(count=2), log_path=d.smoke_run_log(2))
    assert res.exit_code == 3 and "pytest-repeat" in res.internal_error, res.internal_error
    assert res.results == []
    msgs = [e.get("message", "") for e in read_events(d.events_log) if e.get("code") == "EXT_SUITE_FAILED"]
    assert any("unrecognized arguments: --count=2" in m for m in msgs)


def test_plugin_writes_json_lines_and_honours_quarantine(tmp_path):
    import subprocess

    (tmp_path / "test_q.py").write_text(textwrap.dedent("""
        import pytest
        @pytest.mark.smk(2)
        def test_token(): pass
        def test_smk3_cams(): pass
        def test_nothing(): pass
    """))
    out = tmp_path / "out.jsonl"
    env = {**os.environ, "DRYRUN_QUARANTINE": json.dumps({"SMK-3": "flaky (DRY-04)"}),
           "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p",
                           "runners.external.pytest_plugin", f"--dryrun-jsonl={out}", "-k", "SMK_2 or SMK_3"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    recs = [json.loads(ln) for ln in out.read_text().splitlines()]
    assert all(r["v"] == 1 and isinstance(r["ts"], float) for r in recs)
    items = {r["nodeid"]: r["smk"] for r in recs if r["type"] == "item"}
    assert items == {"test_q.py::test_token": "SMK-2", "test_q.py::test_smk3_cams": "SMK-3"}  # -k via keywords
    coll = next(r for r in recs if r["type"] == "collected")
    assert coll["selected"] == 2 and coll["deselected"] == 1
    fin = {r["nodeid"]: r["outcome"] for r in recs if r["type"] == "test_finish"}
    assert fin == {"test_q.py::test_token": "passed", "test_q.py::test_smk3_cams": "skipped"}
    skip = next(r for r in recs if r["type"] == "report" and r["outcome"] == "skipped")
    assert skip["crash"]["message"].endswith("quarantined: flaky (DRY-04)")
    assert recs[-1]["type"] == "session_finish" and recs[-1]["exitstatus"] == 0


def test_dryrun_suite_command(tmp_cwd):
    import subprocess

    cfg = _tmp_suite(tmp_cwd, FAILING)
    (tmp_cwd / "dryrun.toml").write_text(
        f'[run]\ndry_run_dir = "dry_run"\n\n[[suites]]\nname = "team"\n'
        f'command = "{{python}} -m pytest test_team.py -q -p no:cacheprovider"\ncwd = "{cfg.suites[0].cwd}"\n')
    env = {**os.environ, "NO_COLOR": "1"}
    p = subprocess.run([sys.executable, "-m", "tui.cli", "suite", "--maxfail", "1"], cwd=tmp_cwd, env=env,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "team::SMK-1 PASSED" in p.stdout and "team::SMK-3 FAILED" in p.stdout
    assert (tmp_cwd / "dry_run" / "02_smoke_run_1.log").exists()
    p = subprocess.run([sys.executable, "-m", "tui.cli", "suite", "team", "-k", "SMK_5", "--json"], cwd=tmp_cwd,
                       env=env, capture_output=True, text=True, timeout=60)
    out = json.loads(p.stdout)
    assert p.returncode == 0 and out["suite"] == "team" and out["label"] == "02_smoke_run_2"
    assert [(r["check"], r["outcome"]) for r in out["results"]] == [("SMK-5", "passed")]
    p = subprocess.run([sys.executable, "-m", "tui.cli", "suite", "nope"], cwd=tmp_cwd, env=env,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "unknown suite 'nope'" in p.stderr
