from __future__ import annotations

from record import triage
from record.metrics import compute, write_metrics
from record.quarantine import add as quarantine
from runners.budgets import percentile
from tests.record_support import dry, record_run

ALL = ("SMK-1", "SMK-2", "SMK-3", "SMK-4", "SMK-5", "SMK-6", "SMK-7")


def test_metrics_from_the_events_log(tmp_path):
    d = dry(tmp_path)
    durs = {c: 0.1 * (i + 1) for i, c in enumerate(ALL)}
    run1 = {c: "passed" for c in ALL} | {"SMK-3": "failed"}
    record_run(d, "02_smoke_run_1", run1, durations=durs,
               latencies=[("ping", 5.0), ("ping", 30.0), ("get_camera_list", 10.0), ("take_snapshot", 150.0)])
    record_run(d, "04_verify_DRY-01", {"SMK-3": "passed"}, durations={"SMK-3": 2.0})
    record_run(d, "07_smoke_run_final", {c: "passed" for c in ALL}, durations=durs,
               latencies=[("ping", 4.0), ("ping", 6.0)])
    triage.add_issue(d, {"smk": "SMK-3", "severity": "R"})
    triage.add_issue(d, {"smk": "SMK-5", "severity": "A", "cause": "test"})
    quarantine(d.quarantine, "SMK-6", "flaky", "2025-11-24")
    m = compute(d)
    assert m["reference_run"]["label"] == "07_smoke_run_final" and m["pass_rate_pct"] == 100.0
    assert m["reference_run"]["all_smk_pass"] and m["attempts"] == 15
    # SMK-3 failed then passed with no fix recorded in between: one flaky failure in 15 attempts
    assert m["flaky_pct"] == round(100 / 15, 4)
    assert m["flaky_checks"] == [{"check": "SMK-3", "host": "cam-01", "attempts": 3, "passed": 2, "failed": 1,
                                  "flaky_failures": 1}]
    assert m["overall_pass_rate_pct"] == round(100 * 14 / 15, 4)
    all_durs = [durs[c] for c in ALL] * 2 + [2.0]
    for p in (50, 90, 95, 99):
        assert m["durations"][f"p{p}"] == round(percentile(all_durs, p), 4)
    assert m["slowest"][0] == {"check": "SMK-3", "host": "cam-01", "label": "04_verify_DRY-01", "duration": 2.0}
    rpc = {r["method"]: r for r in m["rpc"]}
    assert rpc["ping"]["n"] == 4 and rpc["ping"]["budget_ms"] == 20.0 and not rpc["ping"]["within"]
    assert rpc["take_snapshot"]["within"] and rpc["take_snapshot"]["budget_ms"] == 200.0
    assert "*overall*" in rpc
    assert m["defects"]["R"] == {"total": 1, "open": 1, "resolved": 0} and m["defects"]["G"]["total"] == 0
    assert m["defects_by_cause"] == {"test": 1, "unclassified": 1}
    assert m["quarantined"] == ["SMK-6"]
    assert len(m["runs"]) == 3 and m["runs"][0]["pass_rate_pct"] == round(600 / 7, 4)


def test_reference_run_falls_back_to_the_latest_smoke_run_and_md(tmp_path):
    d = dry(tmp_path)
    record_run(d, "02_smoke_run_1", {"SMK-1": "failed"})
    record_run(d, "02_smoke_run_2", {c: "passed" for c in ALL} | {"SMK-7": "skipped"})
    record_run(d, "flake_SMK-1", [("cam-01", "SMK-1", "passed")] * 3)
    m = write_metrics(d)
    ref = m["reference_run"]
    assert ref["label"] == "02_smoke_run_2" and not ref["all_smk_pass"] and ref["skipped"] == 1
    assert ref["not_passed"] == ["SMK-7@cam-01: skipped"] and m["pass_rate_pct"] == 100.0
    md = d.metrics.read_text()
    for needle in ("| Pass rate (reference run 02_smoke_run_2) | 100.0 % |", "## Top 10 slow checks",
                   "| SMK-7 | SKIPPED |", "## RPC latency vs budget", "| R (Red, Critical) | 0 | 0 | 0 |",
                   "Check duration p50 / p90 / p95 / p99"):
        assert needle in md, needle
    assert d.metrics_json.exists()


def test_no_runs_yet(tmp_path):
    m = compute(dry(tmp_path))
    assert m["reference_run"] is None and m["pass_rate_pct"] is None and m["flaky_pct"] == 0.0
    assert m["durations"]["p50"] is None and m["rpc"] == []
