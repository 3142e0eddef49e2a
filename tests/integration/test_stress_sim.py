"""``dryrun stress`` against the simulator: N rounds of the smoke set, the report files,
the verdict, and the SMK-7 client sweep (checks.concurrency_clients)."""

from __future__ import annotations

import asyncio
import json
import sys

import pytest

from runners.config import Checks, Config, Run
from runners.sim.fleet import make_specs, run_fleet
from runners.stress import StressOptions, run_stress

pytestmark = pytest.mark.timeout(120)

FAST = dict(recording_seconds=1.5, concurrency_seconds=1.5, health_timeout=10.0)


async def test_stress_rounds_report_and_verdict(tmp_path):
    async with run_fleet(make_specs(2, dialect="mixed", discovery_delay=0.2), tmp_path / "sim") as fleet:
        cfg = Config(checks=Checks(**FAST), run=Run(dry_run_dir=str(tmp_path / "dry_run")), hosts=fleet.config().hosts)
        rep = await run_stress(cfg, StressOptions(count=3))
    assert rep["verdict"] == "PASS", rep["reasons"]
    assert rep["attempts"]["ran"] == 42 and rep["pass_rate"] == 1.0 and rep["rounds_completed"] == 3
    assert set(rep["per_check"]) == {f"SMK-{i}" for i in range(1, 8)} and rep["hosts"] == ["cam-01", "cam-02"]
    st = rep["per_check"]["SMK-5"]["duration_s"]
    assert st["n"] == 6 and st["p5"] <= st["p50"] <= st["p95"] and st["envelope"] == [st["p5"], st["p95"]]
    stress = tmp_path / "dry_run" / "artifacts" / "stress"
    saved = json.loads((stress / "stress_report.json").read_text())
    assert saved["verdict"] == "PASS" and saved["schema_version"] == "DRYRUN-STRESS-1"
    md = (stress / "stress_report.md").read_text()
    assert md.startswith("# Stress run - PASS") and "| SMK-7 | 6 | 100.0 %" in md
    assert (stress / "stress.log").read_text().splitlines()[-1].startswith("42 passed, 0 failed in ")
    # kept apart from the dry-run's own record: its events log has no stress run
    assert not (tmp_path / "dry_run" / "events.log.jsonl").exists()
    assert sum(1 for ln in (stress / "events.log.jsonl").read_text().splitlines()
               if json.loads(ln).get("kind") == "check_finished") == 42


async def test_smk7_client_sweep_via_the_cli(tmp_path):
    async with run_fleet(make_specs(1, discovery_delay=0.2), tmp_path / "sim", config=tmp_path / "dryrun.toml"):
        import tomllib

        import tomli_w

        data = tomllib.loads((tmp_path / "dryrun.toml").read_text())
        data["checks"].update(concurrency_seconds=1.5, recording_seconds=1.5)
        (tmp_path / "dryrun.toml").write_text(tomli_w.dumps(data))
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tui.cli", "stress", "--count", "2", "--clients", "2,3", "--json",
            cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 90)
    assert proc.returncode == 0, err.decode()
    rep = json.loads(out)
    assert [(s["clients"], s["runs"], s["verdict"]) for s in rep["sweep"]] == [(2, 2, "PASS"), (3, 2, "PASS")]
    assert rep["logs"] == ["stress_smk7_c2.log", "stress_smk7_c3.log"]
    assert all(s["lister_p95_ms"]["max"] is not None for s in rep["sweep"])
    assert "SMK-7 concurrency sweep" in (tmp_path / "dry_run" / "artifacts" / "stress" / "stress_report.md").read_text()


def test_stress_cli_usage_errors(tmp_cwd):
    import subprocess

    (tmp_cwd / "dryrun.toml").write_text('[[hosts]]\nname = "cam-01"\nrpc_url = "ws://127.0.0.1:9/ws"\n')
    for args, words in ((["--count", "0"], "--count"), (["--clients", "2,x"], "client counts"),
                        (["--host", "cam-09"], "not a configured host"), (["--min-pass-rate", "95"], "fraction")):
        p = subprocess.run([sys.executable, "-m", "tui.cli", "stress", *args], cwd=tmp_cwd, capture_output=True,
                           text=True, timeout=60)
        assert p.returncode == 2 and words in p.stderr, (args, p.stderr)
