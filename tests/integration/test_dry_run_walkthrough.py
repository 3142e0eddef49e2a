"""The must-show: a scripted headless dry-run through the `dryrun` CLI against a simulated
camera host, with one chaos-induced failure, walking the whole plan:

    plan -> env freeze -> smoke run 1 (SMK-4 fails: injected fault) -> triage (DRY-01,
    prefilled from the failure) -> decide -> fix evidence -> verify (PASS, ledger) ->
    flake hunt (--count 10) -> final run -> metrics -> closeout (ACCEPT) -> evidence pack
    (+ sha256sum -c, pack --verify) -> the plan's prompts

and checking every file of the plan's dry_run/ skeleton. The simulator runs on its own
event loop in a thread; the CLI commands run in this thread exactly as an operator runs them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import shutil
import subprocess
import threading
import tomllib
from pathlib import Path

import pytest
import tomli_w

from record.events_log import read_events
from record.pack import ABS_PATH_RE
from runners.sim.chaos import Chaos, marker
from runners.sim.fleet import make_specs, run_fleet
from tui.cli import main


class OneShotChaos(Chaos):
    """Exactly ``count`` injected faults: the first ``op``s get ``fault`` (logged like any chaos)."""

    def __init__(self, op: str, fault: str, log, count: int = 1):
        super().__init__("none", 0, log)
        self.op, self.fault, self.left = op, fault, count

    def pick(self, op, *, request_id=None, **context):
        if op != self.op or not self.left:
            return None
        self.left -= 1
        self.injected.append({"op": op, "fault": self.fault, "id": request_id})
        if self.log is not None:
            self.log(marker(self.fault, op, request_id))
        return self.fault


class FleetThread:
    """A simulated fleet served from its own event loop in a background thread."""

    def __init__(self, state_dir: Path, config: Path):
        self.state_dir, self.config = state_dir, config
        self.ready = threading.Event()
        self.error: BaseException | None = None

    def __enter__(self) -> FleetThread:
        self.thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)
        self.thread.start()
        assert self.ready.wait(60), "the simulated fleet did not start"
        if self.error:
            raise self.error
        return self

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.stop = asyncio.Event()
        try:
            async with run_fleet(make_specs(1, discovery_delay=0.05), self.state_dir, config=self.config) as fleet:
                self.fleet = fleet
                self.ready.set()
                await self.stop.wait()
        except BaseException as e:  # reported to the test thread
            self.error = e
            self.ready.set()

    def call(self, fn):
        fut: concurrent.futures.Future = concurrent.futures.Future()

        def run():
            try:
                fut.set_result(fn(self.fleet))
            except BaseException as e:
                fut.set_exception(e)

        self.loop.call_soon_threadsafe(run)
        return fut.result(10)

    def __exit__(self, *exc) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(30)


def inject(sim: FleetThread, count: int) -> None:
    def do(fleet):
        svc = fleet.host("cam-01").service
        svc.chaos = OneShotChaos("rpc:take_snapshot", "error", svc.chaos.log if svc.chaos else None, count)

    sim.call(do)


def cli(capsys, *argv) -> tuple[int, str]:
    rc = main(list(argv))
    cap = capsys.readouterr()
    return rc, cap.out + cap.err


def cli_json(capsys, *argv) -> tuple[int, dict]:
    rc = main([*argv, "--json"])
    return rc, json.loads(capsys.readouterr().out)


@pytest.mark.slow
def test_scripted_dry_run_against_the_simulator(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    cfg_path = tmp_path / "dryrun.toml"
    with FleetThread(tmp_path / ".dryrun-sim", cfg_path) as sim:
        data = tomllib.loads(cfg_path.read_text())
        data["sprint"] = {"baseline": "v2.1.0-cdr", "owners": {"pm": "Pat", "dev": "Dana", "ivv": "Ivy"}}
        cfg_path.write_text(tomli_w.dumps(data))
        secret = (cfg_path.parent / data["hosts"][0]["auth"]["secret_file"]).read_text().strip()
        d = tmp_path / "dry_run"

        # A1 kickoff
        rc, out = cli(capsys, "plan")
        assert rc == 0 and "wrote dry_run/00_plan.md" in out
        rc, out = cli(capsys, "say", "kickoff")
        assert "Baseline = v2.1.0-cdr" in out and "Owners: Dev=Dana, IV&V=Ivy" in out

        # A2 environment freeze, checked before every run from here on
        rc, frz = cli_json(capsys, "env", "freeze")
        assert rc == 0 and len(frz["sha256"]) == 64 and frz["summary"]["cameras"] == "cam-01: camera0, camera1"
        rc, chk = cli_json(capsys, "env", "check")
        assert rc == 0 and chk["ok"] and chk["frozen_sha"] == frz["sha256"]

        # B1 smoke run 1 with one chaos-induced failure
        inject(sim, 1)
        rc, run1 = cli_json(capsys, "run")
        assert rc == 1 and run1["label"] == "02_smoke_run_1" and run1["environment"]["status"] == "ok"
        failed = [r for r in run1["results"] if r["outcome"] != "passed"]
        assert [(r["check"], r["fault"]) for r in failed] == [("SMK-4", "chaos:error")], failed
        assert sim.call(lambda f: len(f.host("cam-01").service.chaos.injected)) == 1

        # B2 triage: prefilled from the failure, then decided
        rc, issue = cli_json(capsys, "triage", "add", "--from", "SMK-4@cam-01")
        assert rc == 0 and issue["id"] == "DRY-01" and issue["severity"] == "R" and issue["hosts"] == ["cam-01"]
        assert issue["log_ref"].startswith("02_smoke_run_1.log:") and "injected fault error" in issue["suspect"]
        assert "artifacts/02_smoke_run_1/cam-01/rpc_trace.json" in issue["artifacts"]
        rc, out = cli(capsys, "triage", "decide", "DRY-01", "Fix now", "--owner", "Dana", "--eta", "Day-1 16:00",
                      "--cause", "environment")
        assert rc == 0

        # C1 fix evidence
        patch = "diff --git a/cfg/mediamtx.yml b/cfg/mediamtx.yml\n--- a/cfg/mediamtx.yml\n+++ b/cfg/mediamtx.yml\n" \
                "@@ -1 +1 @@\n-apiTimeout: 1s\n+apiTimeout: 10s\n"
        (tmp_path / "DRY-01.diff").write_text(patch)
        rc, fx = cli_json(capsys, "fix", "DRY-01", "--patch", "DRY-01.diff")
        assert rc == 0 and fx["lines"] == 2 and fx["status"] == "fix_ready"

        # C2 verify: only SMK-4, PASS into the ledger
        rc, ver = cli_json(capsys, "verify", "DRY-01")
        assert rc == 0 and ver["result"] == "PASS" and ver["attempt"] == 1 and ver["ledger_n"] == 1
        assert ver["prompt"] == "Verify DRY-01: PASS. Log: dry_run/04_verify_DRY-01.log. " \
                                "Re-running affected smoke subset now."

        # C3 flake hunt
        rc, hunt = cli_json(capsys, "flake", "SMK-4", "--count", "10")
        assert rc == 0 and hunt["verdict"] == "stable-pass" and len(hunt["attempts"]) == 10
        assert not hunt["quarantined"]

        # D1 final run + metrics
        rc, final = cli_json(capsys, "run", "--final")
        assert rc == 0 and final["label"] == "07_smoke_run_final" and final["passed"] == 7
        rc, m = cli_json(capsys, "metrics")
        assert m["pass_rate_pct"] == 100.0 and m["flaky_pct"] == 0.0 and m["reference_run"]["all_smk_pass"]
        assert m["defects"]["R"] == {"total": 1, "open": 0, "resolved": 1}
        assert {r["method"] for r in m["rpc"]} >= {"take_snapshot", "get_camera_list", "*overall*"}

        # D2 closeout + evidence pack
        rc, co = cli_json(capsys, "closeout")
        assert rc == 0 and co["decision"] == "ACCEPT" and co["gates_met"], co["gates"]
        rc, pk = cli_json(capsys, "pack")
        assert rc == 0 and pk["decision"] == "ACCEPT" and pk["env_sha"] == frz["sha256"]
        rc, pv = cli_json(capsys, "pack", "--verify")
        assert rc == 0 and pv["ok"], pv["problems"]
        rc, said = cli(capsys, "say", "verify", "DRY-01")
        assert said.strip() == ver["prompt"]
        rc, said = cli(capsys, "say", "closeout")
        assert said.startswith("Dry-run outcome: ACCEPT. Metrics: pass=100.0%, flaky=0.00%, criticals=0, majors=0.")

    # ---- every file of the skeleton, present and correct
    for name in ("00_plan.md", "01_env_matrix.md", "env.sh", "02_smoke_run_1.log", "03_triage_register.md",
                 "04_verify_DRY-01.log", "05_pass_ledger.md", "06_flake_evidence.md", "07_smoke_run_final.log",
                 "08_metrics.md", "09_closeout.md", "fixes/DRY-01/before_after.log", "fixes/DRY-01/patch.diff",
                 "events.log.jsonl", "artifacts/02_smoke_run_1/cam-01/rpc_trace.json",
                 "artifacts/07_smoke_run_final/cam-01/snapshot.jpg",
                 "artifacts/07_smoke_run_final/cam-01/recording.mp4"):
        assert (d / name).is_file(), name
    assert not (d / "quarantine.txt").exists()  # nothing was flaky
    plan = (d / "00_plan.md").read_text()
    assert "Baseline tag: `v2.1.0-cdr`" in plan and "| IV&V (smoke, verify, flake hunt, metrics) | Ivy |" in plan
    assert frz["sha256"] in (d / "01_env_matrix.md").read_text()
    assert f"DRYRUN_ENV_SHA={frz['sha256']}" in (d / "env.sh").read_text()
    run1_log = (d / "02_smoke_run_1.log").read_text()
    assert "cam-01::SMK-4 FAILED" in run1_log and "CHAOS fault=error op=rpc:take_snapshot" in run1_log
    reg = (d / "03_triage_register.md").read_text()
    assert "| DRY-01 | SMK-4 | R | environment | Fix now | Dana / Day-1 16:00 | verified |" in reg
    assert "- Verify: attempt 1 PASS" in reg and "- Rules: OK" in reg
    assert (d / "fixes/DRY-01/patch.diff").read_text() == patch
    ba = (d / "fixes/DRY-01/before_after.log").read_text()
    assert "==== BEFORE: failing run 02_smoke_run_1" in ba and "cam-01::SMK-4" in ba and "fault:    chaos:error" in ba
    assert "==== AFTER: IV&V verify attempt 1: PASS" in ba
    verify_log = (d / "04_verify_DRY-01.log").read_text()
    assert "cam-01::SMK-4 PASSED" in verify_log and "SMK-5" not in verify_log.split("collected")[1].split("\n\n")[1]
    assert "| DRY-01 | SMK-4 | 1 | PASS | `04_verify_DRY-01.log` |" in (d / "05_pass_ledger.md").read_text()
    flake = (d / "06_flake_evidence.md").read_text()
    assert "## SMK-4: STABLE-PASS" in flake and "Attempts: 10 run" in flake and "failure rate 0.0 %" in flake
    assert "7 passed, 0 failed" in (d / "07_smoke_run_final.log").read_text()
    assert "| Pass rate (reference run 07_smoke_run_final) | 100.0 % |" in (d / "08_metrics.md").read_text()
    close = (d / "09_closeout.md").read_text()
    assert "**Decision: ACCEPT**" in close and "| criticals | = 0 | 0 | MET |" in close

    # the events log: the whole walk, correlated, redacted
    events = list(read_events(d / "events.log.jsonl"))
    kinds = [e["kind"] for e in events]
    order = ["plan_written", "env_frozen", "environment_validated", "run_started", "triage_added",
             "triage_decided", "fix_recorded", "verify_result", "flake_scan_complete", "metrics_computed",
             "closeout_decision", "pack_built"]
    pos = [kinds.index(k) for k in order]
    assert pos == sorted(pos), list(zip(order, pos))
    labels = [e["label"] for e in events if e["kind"] == "run_started"]
    assert labels == ["02_smoke_run_1", "04_verify_DRY-01", "flake_SMK-4", "07_smoke_run_final"]
    for e in events:
        assert {"timestamp", "event", "context", "kind", "ts", "run_id"} <= set(e)
    run_ids = {e["run_id"] for e in events if e["kind"] == "check_finished"}
    assert len(run_ids) == 4  # one correlation id per run

    # the evidence pack: sha256sum accepts it; no absolute paths, no secrets
    pack = tmp_path / "dry_run_pack"
    if shutil.which("sha256sum"):
        r = subprocess.run(["sha256sum", "-c", "--quiet", "SHA256SUMS.txt"], cwd=pack, capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
    for f in pack.rglob("*"):
        if f.is_file():
            blob = f.read_bytes()
            assert secret.encode() not in blob, f
            if f.suffix in (".md", ".log", ".json", ".jsonl", ".toml", ".sh", ".txt", ".xml", ".diff"):
                assert not ABS_PATH_RE.search(blob.decode()), f
                assert str(tmp_path) not in blob.decode(), f


@pytest.mark.slow
def test_bounce_escalate_flake_and_quarantine_against_the_simulator(tmp_path, monkeypatch, capsys):
    """The unhappy paths through the CLI: a fix that fails verify twice (bounced, then
    escalated), a flake hunt that finds a flake and quarantines it, the next run skipping
    it, and a closeout that does not accept."""
    monkeypatch.chdir(tmp_path)
    with FleetThread(tmp_path / ".dryrun-sim", tmp_path / "dryrun.toml") as sim:
        d = tmp_path / "dry_run"
        assert cli(capsys, "plan")[0] == 0 and cli(capsys, "env", "freeze")[0] == 0
        inject(sim, 3)  # run 1 and the next two snapshots fail
        assert cli(capsys, "run", "-k", "SMK_4")[0] == 1
        assert cli(capsys, "triage", "add", "--from", "SMK-4", "--owner", "Dana", "--eta", "16:00")[0] == 0
        rc, v1 = cli_json(capsys, "verify", "DRY-01")
        assert rc == 1 and v1["result"] == "FAIL" and v1["bounced"] and not v1["escalated"]
        assert v1["prompt"].startswith("Verify DRY-01: FAIL.") and "Bounced back to Dev." in v1["prompt"]
        rc, v2 = cli_json(capsys, "verify", "DRY-01")
        assert rc == 1 and v2["escalated"] and v2["attempt"] == 2
        rc, out = cli(capsys, "verify", "DRY-01")
        assert rc == 1 and "escalated after 2 failed verifies" in out
        assert (d / "04_verify_DRY-01.attempt1.log").is_file() and (d / "04_verify_DRY-01.log").is_file()
        ledger = (d / "05_pass_ledger.md").read_text()
        assert "| 1 | FAIL |" in ledger and "| 2 | FAIL |" in ledger and "escalated" in ledger

        inject(sim, 2)  # two of the hunt's attempts fail, the rest pass: a flake
        rc, hunt = cli_json(capsys, "flake", "SMK-4", "--count", "5")
        assert rc == 1 and hunt["verdict"] == "flaky" and hunt["quarantined"]
        assert [a["outcome"] for a in hunt["attempts"]] == ["failed", "failed", "passed", "passed", "passed"]
        assert hunt["clusters"][0]["count"] == 2
        q = (d / "quarantine.txt").read_text()
        assert "SMK-4 | " in q and "flaky: 2/5 attempts failed" in q

        rc, run2 = cli_json(capsys, "run")
        skipped = {r["check"] for r in run2["results"] if r["outcome"] == "skipped"}
        assert rc == 0 and skipped == {"SMK-4"}
        rc, co = cli_json(capsys, "closeout")
        assert rc == 1 and co["decision_code"] in ("ITERATE", "STOP") and not co["gates_met"]
        gates = {g["name"]: g for g in co["gates"]}
        assert not gates["all_smk_pass"]["met"] and not gates["flaky"]["met"] and not gates["criticals"]["met"]
        close = (d / "09_closeout.md").read_text()
        assert "SMK-4 quarantined" in close and "DRY-01 escalated after two failed verifies" in close
