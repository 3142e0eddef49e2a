"""The stress run's analysis: pass rate, the p5..p95 variance envelope, verdicts, report."""

from __future__ import annotations

import math

import pytest

from runners.stress import StressOptions, analyse, duration_stats, render_md, sweep_row


def _r(check, attempt, outcome="passed", duration=1.0, host="cam-01", ts=None, **metrics):
    return {"host": host, "check": check, "attempt": attempt, "outcome": outcome, "duration": duration,
            "ts": ts if ts is not None else 1000.0 + attempt * 10 + duration, "fault": "" if outcome == "passed"
            else "timeout", "summary": "", "metrics": metrics}


def test_duration_stats_envelope_and_sigma():
    xs = [1.0] * 18 + [1.2, 9.0]
    st = duration_stats(xs, max_spread=3.0, min_spread_s=0.25)
    assert st["n"] == 20 and st["p5"] == 1.0 and st["p50"] == 1.0 and st["p95"] == 1.2
    assert st["envelope"] == [1.0, 1.2] and st["within_envelope"]
    # one 9 s outlier inflates mean +- 3 sigma (the lower edge goes negative): why p5..p95 is the envelope
    assert st["mean_3sigma"][0] < 0 < st["mean_3sigma"][1] > 6
    assert duration_stats([], max_spread=3.0) == {"n": 0}


def test_spread_needs_both_ratio_and_absolute_gap():
    jitter = duration_stats([0.01] * 10 + [0.2] * 10, max_spread=3.0, min_spread_s=0.25)
    assert jitter["spread_p95_p50"] == 20.0 and jitter["within_envelope"]  # 190 ms on a 10 ms check: noise
    wide = duration_stats([1.0] * 10 + [5.0] * 10, max_spread=3.0, min_spread_s=0.25)
    assert not wide["within_envelope"] and wide["spread_p95_p50"] == 5.0


def test_pass_verdict_and_figures():
    rows = [_r(c, a, duration=1.0 + a / 100) for a in range(1, 21) for c in ("SMK-1", "SMK-3")]
    rows[0] = _r("SMK-1", 1, "failed", 1.0)
    rep = analyse(rows, count=20, min_pass_rate=0.95)
    assert rep["verdict"] == "PASS" and rep["pass_rate"] == pytest.approx(39 / 40)
    assert rep["attempts"] == {"ran": 40, "passed": 39, "failed": 1, "error": 0, "skipped": 0}
    assert rep["per_check"]["SMK-1"]["pass_rate"] == 0.95 and rep["per_check"]["SMK-3"]["runs"] == 20
    assert rep["rounds_completed"] == 20 and rep["round_wall_s"]["n"] == 20
    assert rep["variance_verdict"] == "PASS" and rep["downgrade_flag"] is None
    assert rep["top_failures"] == [{"what": "SMK-1 failed: timeout", "n": 1}]


def test_fail_below_threshold_and_skips_do_not_count():
    rows = [_r("SMK-2", a, "passed" if a % 2 else "error") for a in range(1, 11)] + \
           [_r("SMK-4", a, "skipped") for a in range(1, 11)]
    rep = analyse(rows, count=10, min_pass_rate=0.95)
    assert rep["pass_rate"] == 0.5 and rep["attempts"]["skipped"] == 10 and rep["verdict"] == "FAIL"
    assert "below the threshold 95.0%" in rep["reasons"][0]
    assert analyse(rows, count=10, min_pass_rate=0.5)["verdict"] == "PASS"


def test_variance_downgrade_flags_without_failing():
    rows = [_r("SMK-5", a, duration=1.0 if a <= 10 else 5.0) for a in range(1, 21)]
    rep = analyse(rows, count=20)
    assert rep["verdict"] == "PASS" and rep["variance_verdict"] == "DOWNGRADE"
    assert rep["downgrade_flag"] == "DOWNGRADE_VARIANCE" and rep["variance_violations"][0]["check"] == "SMK-5"


def test_empty_and_interrupted_runs_fail():
    assert analyse([], count=5)["verdict"] == "FAIL"
    rep = analyse([_r("SMK-1", 1)], count=5, interrupted=True)
    assert rep["verdict"] == "FAIL" and "interrupted after 1 of 5 rounds" in rep["reasons"][0]


def test_sweep_row_reads_lister_latency():
    rows = [_r("SMK-7", a, p95_ms=float(a)) for a in range(1, 11)]
    row = sweep_row(4, rows, count=10, max_spread=3.0, min_pass_rate=0.95)
    assert row["clients"] == 4 and row["runs"] == 10 and row["verdict"] == "PASS"
    assert row["lister_p95_ms"] == {"p50": 5.0, "max": 10.0}


def test_report_markdown_names_the_figures():
    rows = [_r(c, a) for a in range(1, 4) for c in ("SMK-1", "SMK-7")]
    rep = analyse(rows, count=3)
    rep.update(hosts=["cam-01"], run_ids=["abc"], logs=["stress.log"], started_iso="now",
               sweep=[sweep_row(2, rows, count=3, max_spread=3, min_pass_rate=0.95)])
    md = render_md(rep)
    assert md.startswith("# Stress run - PASS")
    for words in ("Pass rate: **100.00 %**", "p5..p95", "| SMK-7 | 3 | 100.0 %", "SMK-7 concurrency sweep",
                  "| 2 | 3 | 100.0 % | PASS"):
        assert words in md


@pytest.mark.parametrize("kw, words", [
    ({"count": 0}, "--count"), ({"min_pass_rate": 1.5}, "--min-pass-rate"), ({"max_spread": 0.5}, "--max-spread"),
    ({"clients": (0,)}, "--clients"), ({"clients": (2,), "keyword": "SMK_1"}, "cannot be combined"),
    ({"min_spread_s": -1}, "--min-spread")])
def test_options_validation(kw, words):
    with pytest.raises(ValueError, match=words):
        StressOptions(**kw).validate()


def test_nan_free_json_figures():
    rep = analyse([_r("SMK-1", 1, duration=0.0)], count=1)
    st = rep["per_check"]["SMK-1"]["duration_s"]
    assert st["cv"] is None and st["within_envelope"] and not any(
        isinstance(v, float) and math.isnan(v) for v in st.values() if not isinstance(v, list))


def test_progress_counts_rounds_per_run_of_a_sweep(capsys):
    """A --clients sweep is one run per client count: each prints its own rounds."""
    from runners.events import CheckFinished, RunStarted
    from tui.commands.stress import _Progress

    show = _Progress(count=1, quiet=False)
    for label in ("stress_smk7_c2", "stress_smk7_c8"):
        show(RunStarted(hosts=("cam-01",), checks=("SMK-7",), label=label))
        show(CheckFinished(host="cam-01", check="SMK-7", outcome="passed", duration=3.0, attempt=1))
    out = capsys.readouterr().out
    assert out.count("round 1/1 cam-01: 1/1 passed") == 2, out
