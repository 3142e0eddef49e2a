from __future__ import annotations

import datetime as dt

import pytest

from record import triage
from record.closeout import closeout
from record.envfreeze import freeze
from record.errors import RecordError
from record.fixes import record_fix
from record.prompts import PROMPTS, say
from record.verify import conclude, prepare
from tests.record_support import dry, record_run, write_config
from tests.unit.test_record_envfreeze import ENV


def test_every_prompt_filled_with_live_values(tmp_path):
    cfg = write_config(tmp_path, extra={"sprint": {"comms": "#cdr"}})
    d = dry(tmp_path)
    assert set(PROMPTS) == {"kickoff", "env-freeze", "env-frozen", "start-smoke", "triage-call", "fix", "verify",
                            "closeout"}
    k = say("kickoff", cfg, d)
    assert k.startswith("Goal: 3-day MVP dry-run to de-risk CDR.") and "Baseline = v1.2.3-cdr." in k
    assert "Owners: Dev=Dana, IV&V=Ivy. Comms: #cdr." in k and "Decision points end of Day-1/Day-2." in k
    assert "commit `dry_run/env.sh` + `01_env_matrix.md`" in say("env-freeze", cfg, d)
    with pytest.raises(RecordError, match="not frozen yet"):
        say("env-frozen", cfg, d)
    res = freeze(d, ENV, cfg)
    assert say("env-frozen", cfg, d) == (f"Env frozen. SHA={res.sha256[:12]}; OS=Ubuntu 22.04.4 LTS; Python=3.10.12; "
                                         "MediaMTX=v1.9.3; Cameras=cam-01: camera0, camera1.")
    assert say("start-smoke", cfg, d) == ("Starting Smoke Run 1 on v1.2.3-cdr now. Log -> "
                                          "dry_run/02_smoke_run_1.log. Will post R/A/G triage within 2h.")
    record_run(d, "02_smoke_run_1", {"SMK-3": "failed"})
    assert "Smoke Run 2" in say("start-smoke", cfg, d)
    triage.add_issue(d, {"smk": "SMK-3"})
    assert "Open now: DRY-01 R SMK-3 (undecided, no owner yet)." in say("triage-call", cfg, d)
    with pytest.raises(RecordError, match="no fix evidence yet"):
        say("fix", cfg, d, "DRY-01")
    with pytest.raises(RecordError, match="needs a triage id"):
        say("fix", cfg, d)
    record_fix(d, "DRY-01", "--- a\n+++ b\n@@\n-x\n+y\n", "file p.diff")
    assert say("fix", cfg, d, "DRY-01") == ("DRY-01 fix pushed (diff 2 lines). Evidence: dry_run/fixes/DRY-01/. "
                                            "Ready for IV&V verify.")
    with pytest.raises(RecordError, match="has not been verified yet"):
        say("verify", cfg, d, "DRY-01")
    plan = prepare(d, "DRY-01")
    conclude(d, plan, [{"check": "SMK-3", "host": "cam-01", "outcome": "passed"}])
    assert say("verify", cfg, d, "dry-01") == ("Verify DRY-01: PASS. Log: dry_run/04_verify_DRY-01.log. "
                                               "Re-running affected smoke subset now.")
    with pytest.raises(RecordError, match="no closeout yet"):
        say("closeout", cfg, d)
    closeout(cfg, d, now=dt.datetime(2025, 11, 24, 17, 0))
    c = say("closeout", cfg, d)
    assert c.startswith("Dry-run outcome: 2nd Iteration. Metrics: pass=0.0%, flaky=0.00%, criticals=0, majors=0.")
    assert "Feeding forward to CDR Steps 4-6/8/9." in c
    with pytest.raises(RecordError, match="unknown prompt"):
        say("hello", cfg, d)
