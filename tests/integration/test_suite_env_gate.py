"""The pre-run environment gate also guards external pytest suites: ``dryrun suite`` (a real
child process) and the console's suite flow halt on drift from the freeze exactly as
``dryrun run`` does — same message, exit code 2, nothing run and no run log — and run with
``--allow-drift`` (the console's override), the override on the record. A per-host suite
is gated on its own hosts only."""

from __future__ import annotations

import json
import os
import re

import pytest
import tomli_w

from record.events_log import read_events
from record.layout import DryRunDir
from runners.config import config_to_dict, load_config
from runners.sim.fleet import make_specs, run_fleet
from tests.integration.test_run_cli import dryrun, fast_config

pytestmark = [pytest.mark.timeout(180)]

TEAM = "import time\n\ndef test_SMK_1_ok():\n    pass\n\ndef test_SMK_6_ok():\n    time.sleep(0.1)\n"


def _with_suites(cfg, suite_dir) -> None:
    data = config_to_dict(load_config(cfg))
    cmd = "{python} -m pytest test_team.py -q -p no:cacheprovider"
    data["suites"] = [{"name": "team", "command": cmd, "cwd": str(suite_dir)},
                      {"name": "per-host", "command": cmd, "cwd": str(suite_dir), "hosts": ["cam-02"]}]
    cfg.write_text(tomli_w.dumps(data))


@pytest.fixture
async def drifted(tmp_path):
    """Two simulated hosts, frozen; then cam-01's OS changes (drift)."""
    suite_dir = tmp_path / "suite"
    suite_dir.mkdir()
    (suite_dir / "pytest.ini").write_text("[pytest]\n")
    (suite_dir / "test_team.py").write_text(TEAM)
    cfg = tmp_path / "dryrun.toml"
    async with run_fleet(make_specs(2, dialect="mixed", discovery_delay=0.2), tmp_path / "sim", config=cfg) as fleet:
        fast_config(cfg)
        _with_suites(cfg, suite_dir)
        rc, out, err = await dryrun(tmp_path, "env", "-c", str(cfg), "freeze")
        assert rc == 0, out + err
        (fleet.hosts[0].root / "etc/os-release").write_text('PRETTY_NAME="Ubuntu 24.04 LTS"\n')
        yield cfg


def _drift_block(err: str) -> str:
    """The drift report on stderr (header + one indented line per drift)."""
    m = re.search(r"^environment drift \(.*?(?=^\S|\Z)", err, re.M | re.S)
    assert m, err
    return m.group(0)


async def test_dryrun_suite_halts_on_drift_like_run_and_runs_with_allow_drift(drifted, tmp_path):
    cfg = drifted
    d = DryRunDir(tmp_path / "dry_run")
    rc_run, _, err_run = await dryrun(tmp_path, "run", "-c", str(cfg), "-k", "SMK_6")
    rc, out, err = await dryrun(tmp_path, "suite", "-c", str(cfg), "team")
    assert (rc_run, rc) == (2, 2), (out, err)
    assert _drift_block(err) == _drift_block(err_run)  # the same message as `dryrun run`
    assert _drift_block(err).startswith("environment drift (run halted; --allow-drift to override):")
    assert "ENV_DRIFT_OS" in err and "cam-01" in err
    assert "team::SMK-1" not in out and d.run_numbers() == []  # nothing ran, no empty log left
    fails = [e for e in read_events(d.events_log) if e["kind"] == "environment_validation_fail"]
    assert len(fails) == 2 and "ENV_DRIFT_OS" in fails[-1]["reason_codes"]

    # --json: the same halt document as `dryrun run --json`
    rc, out, err = await dryrun(tmp_path, "suite", "-c", str(cfg), "team", "--json")
    doc = json.loads(out)
    assert rc == 2 and doc["halted"] == "environment drift" and "ENV_DRIFT_OS" in doc["reason_codes"]

    # `--host team` names the suite, not a host: it must not narrow the gate to no hosts
    rc, out, err = await dryrun(tmp_path, "suite", "-c", str(cfg), "team", "--host", "team")
    assert rc == 2 and "ENV_DRIFT_OS" in err, (out, err)

    rc, out, err = await dryrun(tmp_path, "suite", "-c", str(cfg), "team", "--allow-drift", "--json")
    assert rc == 0, out + err
    doc = json.loads(out)
    assert doc["label"] == "02_smoke_run_1" and doc["environment"]["status"] == "overridden"
    assert "environment drift (overridden by --allow-drift):" in err
    log = d.smoke_run_log(1).read_text()
    assert "ENV_DRIFT_OS" in log and "--allow-drift" in log  # the override is on the record
    evs = [e for e in read_events(d.events_log) if e.get("run_id") == doc["run_id"]]
    assert any(e.get("code") == "ENV_DRIFT_OVERRIDDEN" for e in evs)
    assert any(e["kind"] == "environment_validation_override" for e in read_events(d.events_log))


async def test_a_per_host_suite_is_gated_on_its_own_hosts(drifted, tmp_path):
    cfg = drifted
    d = DryRunDir(tmp_path / "dry_run")
    rc, out, err = await dryrun(tmp_path, "suite", "-c", str(cfg), "per-host", "--json")
    assert rc == 0, out + err  # it runs on cam-02 only, which did not drift
    doc = json.loads(out)
    assert doc["environment"]["status"] == "ok" and {r["host"] for r in doc["results"]} == {"cam-02"}
    evs = [e for e in read_events(d.events_log) if e.get("run_id") == doc["run_id"]]
    assert any(e.get("code") == "ENV_VALIDATED" for e in evs)  # the gate's outcome, recorded


async def test_the_consoles_suite_flow_uses_the_same_gate(drifted, tmp_path):
    from runners.smoke.options import RunOptions
    from tui import flows

    c = load_config(drifted)
    d = DryRunDir(c.dry_run_path)
    seen: list = []
    halted = await flows.suite(c, "team", RunOptions(), flows.Hooks(seen.append, lambda _e: None))
    assert halted.halted is not None and halted.run is None and "ENV_DRIFT_OS" in halted.halted.codes
    assert halted.label == "02_smoke_run_1" and d.run_numbers() == [] and seen == []

    ran = await flows.suite(c, "team", RunOptions(), flows.Hooks(seen.append, lambda _e: None, allow_drift=True))
    assert ran.halted is None and ran.run.exit_code == 0, ran.message
    assert ran.label == "02_smoke_run_1" and ran.run.log_path == d.smoke_run_log(1)
    assert any(getattr(e, "code", "") == "ENV_DRIFT_OVERRIDDEN" for e in seen)
    assert "ENV_DRIFT_OS" in d.smoke_run_log(1).read_text()
    # the next run claims the next number, even with a crashed run's empty log in between
    d.reserve_run_log()
    again = await flows.suite(c, "team", RunOptions(), flows.Hooks(seen.append, lambda _e: None, allow_drift=True))
    assert again.label == "02_smoke_run_3" and again.run.log_path == d.smoke_run_log(3)
