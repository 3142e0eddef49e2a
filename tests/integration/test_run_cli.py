"""``dryrun run`` as a real process against a simulated fleet (the fleet lives in the test
process, the CLI in a child): the plan's files, plain/JSON output, pytest's exit codes,
the environment gate, quarantine, repeats and Ctrl-C."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from pathlib import Path

import pytest
import tomli_w

from record.layout import DryRunDir
from record.quarantine import add as quarantine_add
from runners.config import config_to_dict, load_config
from runners.sim.fleet import make_specs, run_fleet

pytestmark = [pytest.mark.timeout(120)]

FAST_CHECKS = {"recording_seconds": 1.5, "concurrency_seconds": 1.5, "health_timeout": 10.0}


async def dryrun(cwd: Path, *args: str, env: dict | None = None, timeout: float = 60) -> tuple[int, str, str]:
    e = {**os.environ, "NO_COLOR": "1", **(env or {})}
    p = await asyncio.create_subprocess_exec(sys.executable, "-m", "tui.cli", *args, cwd=cwd, env=e,
                                             stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(p.communicate(), timeout)
    return p.returncode, out.decode(), err.decode()


def fast_config(path: Path) -> None:
    data = config_to_dict(load_config(path))
    data["checks"].update(FAST_CHECKS)
    path.write_text(tomli_w.dumps(data))


@pytest.fixture
async def fleet_cfg(tmp_path):
    specs = make_specs(2, dialect="mixed", discovery_delay=0.2)
    cfg = tmp_path / "dryrun.toml"
    async with run_fleet(specs, tmp_path / "sim", config=cfg) as fleet:
        fast_config(cfg)
        yield fleet, cfg


async def test_runs_write_numbered_logs_then_the_final_one(fleet_cfg, tmp_path):
    fleet, cfg = fleet_cfg
    rc, out, err = await dryrun(tmp_path, "run", "-c", str(cfg))
    assert rc == 0, out + err
    d = DryRunDir(tmp_path / "dry_run")
    log1 = d.smoke_run_log(1).read_text()
    assert log1.splitlines()[-1].startswith("14 passed, 0 failed in ")
    # plain output (not a TTY, NO_COLOR): the log's lines as they happened, then the end sections
    assert "cam-01::SMK-1 PASSED" in out and re.search(r"^14 passed, 0 failed in \d+\.\d\ds$", out, re.M)
    assert "log: " in out and str(d.smoke_run_log(1)) in out
    assert d.smoke_run_log(1).with_suffix(".xml").exists()
    art = d.artifacts / "02_smoke_run_1"
    assert {p.name for p in (art / "cam-02").iterdir()} >= {"snapshot.jpg", "recording.mp4", "rpc_trace.json"}

    rc, out, _ = await dryrun(tmp_path, "run", "-c", str(cfg), "-k", "SMK_3 or SMK_6", "--count", "2",
                              "--host", "cam-02")
    assert rc == 0
    log2 = d.smoke_run_log(2).read_text()
    assert "cam-02::SMK-3[2-2] PASSED" in log2 and "cam-01" not in log2.split("collected")[1]
    assert log2.splitlines()[-1].startswith("4 passed, 0 failed, 10 deselected in ")

    rc, out, _ = await dryrun(tmp_path, "run", "-c", str(cfg), "--final", "-k", "SMK_1", "--ff",
                              "--maxfail=1", "--durations=3")
    assert rc == 0
    final = d.final_run_log.read_text()
    assert "options: -k 'SMK_1' --maxfail=1 --ff --durations=3" in final and "slowest 3 durations" in final
    assert not d.smoke_run_log(3).exists()


async def test_json_summary_and_exit_code_1_on_failure(fleet_cfg, tmp_path):
    fleet, cfg = fleet_cfg
    data = config_to_dict(load_config(cfg))
    data["hosts"][1]["ssh"]["host"] = ""  # cam-02 without SSH: its file checks must fail
    cfg.write_text(tomli_w.dumps(data))
    rc, out, err = await dryrun(tmp_path, "run", "-c", str(cfg), "-k", "SMK_4", "--json")
    assert rc == 1, out + err
    doc = json.loads(out)  # one JSON document, nothing else on stdout
    assert (doc["passed"], doc["failed"], doc["exit_code"]) == (1, 1, 1)
    bad = next(r for r in doc["results"] if r["outcome"] == "failed")
    assert bad["host"] == "cam-02" and bad["fault"] == "no_ssh" and "host has no SSH configured" in bad["seen"]
    assert doc["environment"]["status"] in ("not_frozen", "unavailable")
    assert Path(doc["log"]).exists() and Path(doc["junit"]).exists()


@pytest.mark.parametrize("args,needle", [
    (["-k", "SMK_3 or"], "at column 9"),
    (["--host", "nope"], "--host nope: not a configured host"),
    (["-k", "SMK_9"], "no checks selected"),
    (["--failfast", "maybe"], "invalid choice"),
    (["--label", "my run"], "--label my run: expected 02_smoke_run_N"),
])
async def test_usage_errors_exit_2_with_a_message(fleet_cfg, tmp_path, args, needle):
    _, cfg = fleet_cfg
    rc, out, err = await dryrun(tmp_path, "run", "-c", str(cfg), *args)
    assert rc == 2 and needle in err, (rc, out, err)
    assert not DryRunDir(tmp_path / "dry_run").smoke_run_log(1).exists()


async def test_failfast_mode_from_env_sh_applies_and_is_validated(fleet_cfg, tmp_path):
    _, cfg = fleet_cfg
    rc, _, err = await dryrun(tmp_path, "run", "-c", str(cfg), env={"DRYRUN_FAILFAST_MODE": "bogus"})
    assert rc == 2 and "DRYRUN_FAILFAST_MODE='bogus'" in err
    rc, out, _ = await dryrun(tmp_path, "run", "-c", str(cfg), "-k", "SMK_6", "--host", "cam-01",
                              env={"DRYRUN_FAILFAST_MODE": "soft"})
    assert rc == 0 and "FAILFAST_MODE_APPLIED" in out
    rc, out, _ = await dryrun(tmp_path, "run", "-c", str(cfg), "-k", "SMK_6", "--host", "cam-01", "--failfast", "off",
                              env={"DRYRUN_FAILFAST_MODE": "soft"})
    assert rc == 0 and "FAILFAST_MODE_APPLIED" not in out  # the flag beats the environment


async def test_missing_config_is_a_usage_error(tmp_path):
    rc, _, err = await dryrun(tmp_path, "run", "-c", str(tmp_path / "nope.toml"))
    assert rc == 2 and "file not found" in err


async def test_environment_drift_halts_unless_overridden(fleet_cfg, tmp_path):
    fleet, cfg = fleet_cfg
    rc, out, err = await dryrun(tmp_path, "env", "-c", str(cfg), "freeze")
    assert rc == 0, out + err
    # The host's OS changes after the freeze: the run must halt with the reason code.
    (fleet.hosts[0].root / "etc/os-release").write_text('PRETTY_NAME="Ubuntu 24.04 LTS"\n')
    rc, out, err = await dryrun(tmp_path, "run", "-c", str(cfg), "-k", "SMK_6")
    assert rc == 2 and "ENV_DRIFT_OS" in err and "cam-01" in err, (out, err)
    d = DryRunDir(tmp_path / "dry_run")
    assert not d.smoke_run_log(1).exists()
    assert "environment_validation_fail" in d.events_log.read_text()
    rc, out, err = await dryrun(tmp_path, "run", "-c", str(cfg), "-k", "SMK_6", "--allow-drift")
    assert rc == 0, out + err
    log = d.smoke_run_log(1).read_text()
    assert "ENV_DRIFT_OS" in log and "--allow-drift" in log  # the override is on the record
    # a subset run on the host that did not drift passes the gate
    rc, out, err = await dryrun(tmp_path, "run", "-c", str(cfg), "-k", "SMK_6", "--host", "cam-02")
    assert rc == 0, out + err


async def test_quarantined_check_is_skipped_with_its_reason(fleet_cfg, tmp_path):
    _, cfg = fleet_cfg
    d = DryRunDir(tmp_path / "dry_run")
    d.root.mkdir(parents=True, exist_ok=True)
    quarantine_add(d.quarantine, "SMK-6", "flaky error matrix, DRY-07")
    rc, out, _ = await dryrun(tmp_path, "run", "-c", str(cfg), "-k", "SMK_6 or SMK_2", "--host", "cam-01")
    assert rc == 0
    log = d.smoke_run_log(1).read_text()
    assert "SKIPPED [1] cam-01::SMK-6: quarantined: flaky error matrix, DRY-07" in log
    assert log.splitlines()[-1].startswith("1 passed, 0 failed, 1 skipped")


async def test_ctrl_c_interrupts_with_exit_2_and_a_complete_log(fleet_cfg, tmp_path):
    _, cfg = fleet_cfg
    data = config_to_dict(load_config(cfg))
    data["checks"]["concurrency_seconds"] = 30.0  # SMK-7 would run for 30 s
    cfg.write_text(tomli_w.dumps(data))
    p = await asyncio.create_subprocess_exec(sys.executable, "-m", "tui.cli", "run", "-c", str(cfg), "-k", "SMK_7",
                                             cwd=tmp_path, env={**os.environ, "NO_COLOR": "1"},
                                             stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    # Wait until the run really started (its header), then interrupt like Ctrl-C.
    while True:
        line = await asyncio.wait_for(p.stdout.readline(), 30)
        assert line, "the run ended before it could be interrupted"
        if line.startswith(b"collected"):
            break
    await asyncio.sleep(1.0)
    p.send_signal(signal.SIGINT)
    out, err = await asyncio.wait_for(p.communicate(), 15)
    assert p.returncode == 2, (out, err)
    log = DryRunDir(tmp_path / "dry_run").smoke_run_log(1).read_text()
    assert "Interrupted" in log and re.search(r"in \d+\.\d\ds$", log.splitlines()[-1])
    assert "cancelled: the run was interrupted" in log
