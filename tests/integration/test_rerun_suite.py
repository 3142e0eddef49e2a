"""Verify and flake hunts re-run checks with the team's own pytest suite when that is where
the entry came from (or when told to): `dryrun verify` / `dryrun flake` as real processes,
the sample suite (tests/sample_suite) against a simulated host, the pass ledger and the
flake evidence written from the suite's results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import tomli_w

from record import ledger, triage
from record.events_log import read_events
from record.layout import DryRunDir
from runners.config import Config, Run, Suite, config_to_dict, load_config
from runners.external.command import rerun_suite
from runners.sim.fleet import make_specs, run_fleet
from tests.integration.test_run_cli import FAST_CHECKS, dryrun

pytestmark = pytest.mark.timeout(150)

SAMPLE = Path(__file__).resolve().parents[1] / "sample_suite"


def test_rerun_suite_picks_explicit_then_the_entrys_suite_then_the_config_default():
    once = Suite(name="team", command="{python} -m pytest")
    per_host = Suite(name="per-host", command="{python} -m pytest", hosts=("*",))
    cfg = Config(suites=(once, per_host))
    assert rerun_suite(cfg, None, ("cam-01",)) == (None, ("cam-01",))  # built-in by default
    assert rerun_suite(cfg, None, ("team",)) == (once, ())  # the entry came from the suite run once
    assert rerun_suite(cfg, "per-host", ("cam-01", "team")) == (per_host, ("cam-01",))
    assert rerun_suite(cfg, "builtin", ("team",)) == (None, ())
    with_default = Config(suites=(once, per_host), run=Run(suite="per-host"))
    assert rerun_suite(with_default, None, ("cam-02",)) == (per_host, ("cam-02",))
    with pytest.raises(ValueError, match="unknown suite 'nope'"):
        rerun_suite(cfg, "nope", ())


def test_run_suite_must_name_a_configured_suite(tmp_path):
    from runners.config import ConfigError

    p = tmp_path / "dryrun.toml"
    p.write_text('[run]\nsuite = "team"\n')
    with pytest.raises(ConfigError, match="run.suite.*not a configured suite: 'team'"):
        load_config(p)


async def test_verify_and_flake_hunt_rerun_the_suite_the_entry_came_from(tmp_path, monkeypatch):
    async with run_fleet(make_specs(1, discovery_delay=0.2), tmp_path / "sim", config=tmp_path / "sim.toml"):
        data = config_to_dict(load_config(tmp_path / "sim.toml"))
        data["checks"].update(FAST_CHECKS)
        data["suites"] = [{"name": "team-smoke", "command": "{python} -m pytest . -q -p no:cacheprovider",
                           "cwd": str(SAMPLE), "env": ["SIM_CONFIG"]}]
        cfg = tmp_path / "dryrun.toml"
        cfg.write_text(tomli_w.dumps(data))
        env = {"SIM_CONFIG": str(tmp_path / "sim.toml")}
        d = DryRunDir(load_config(cfg).dry_run_path)

        rc, out, err = await dryrun(tmp_path, "suite", "-c", str(cfg), "-k", "SMK_6", env=env)
        assert rc == 0, out + err
        # The suite runs once: its results carry the suite's name as their host, so does the entry.
        triage.add_issue(d, {"smk": "SMK-6", "symptom": "wrong error code", "severity": "A"},
                         extra={"hosts": ["team-smoke"]})

        rc, out, err = await dryrun(tmp_path, "verify", "DRY-01", "-c", str(cfg), env=env, timeout=90)
        assert rc == 0, out + err
        assert "on suite team-smoke" in out and "DRY-01: PASS" in out
        (entry,) = ledger.load_ledger(d)
        assert (entry.dry_id, entry.smk, entry.result) == ("DRY-01", ["SMK-6"], "PASS")
        started = [e for e in read_events(d.events_log) if e["kind"] == "run_started"]
        assert started[-1]["label"] == "04_verify_DRY-01" and started[-1]["options"]["suite"] == "team-smoke"

        rc, out, err = await dryrun(tmp_path, "flake", "SMK-6", "--host", "team-smoke", "--count", "2",
                                    "-c", str(cfg), "--json", env=env, timeout=90)
        assert rc == 0, out + err
        hunt = json.loads(out)
        assert hunt["verdict"] == "stable-pass" and len(hunt["attempts"]) == 2
        started = [e for e in read_events(d.events_log) if e["kind"] == "run_started"]
        assert started[-1]["label"] == "flake_SMK-6" and started[-1]["options"]["suite"] == "team-smoke"

        # 'builtin' overrides: the console's own SMK-6 on the configured host.
        rc, out, err = await dryrun(tmp_path, "flake", "SMK-6", "--suite", "builtin", "--count", "1",
                                    "-c", str(cfg), env=env, timeout=90)
        assert rc == 0, out + err
        assert "on every host" in out
        started = [e for e in read_events(d.events_log) if e["kind"] == "run_started"]
        assert "suite" not in started[-1]["options"] and started[-1]["hosts"] == ["cam-01"]

        rc, out, err = await dryrun(tmp_path, "verify", "DRY-01", "--force", "--suite", "nope", "-c", str(cfg), env=env)
        assert rc == 2 and "unknown suite 'nope' (configured: team-smoke)" in err

        # The console's flows pick the same way: an entry from the suite is verified by it.
        from tui import flows

        triage.add_issue(d, {"smk": "SMK-4", "symptom": "no EXIF", "severity": "A"}, extra={"hosts": ["team-smoke"]})
        monkeypatch.setenv("SIM_CONFIG", env["SIM_CONFIG"])  # the suite's env passthrough reads the console's env
        res = await flows.verify(load_config(cfg), "DRY-02", flows.Hooks(lambda _e: None, lambda _e: None))
        assert res.outcome.result == "PASS", res.message
        assert [(r.host, r.check) for r in res.run.results] == [("team-smoke", "SMK-4")]
