"""External suites, the pure parts: failure text -> expected/seen, the -k translation, the
command line and environment, and the plugin's JSON lines -> the console's events."""

from __future__ import annotations

from pathlib import Path

import pytest

from runners.config import parse_config
from runners.events import CheckFinished, CheckStarted, CheckStep, Notice
from runners.external.assertions import finding, split_comparison
from runners.external.command import build_targets, find_suite, pytest_args, suite_hosts, translate_keyword
from runners.external.pytest_plugin import smk_from_text
from runners.external.translate import Translator
from runners.smoke.options import RunOptions


@pytest.mark.parametrize(
    "message, outcome, expected, seen, fault",
    [
        ("assert 0 >= 1", "failed", ">= 1", "0", "assertion"),
        ("AssertionError: assert 'a b' == 'c'\n  \n  - c\n  + a b", "failed", "'c'", "'a b'", "assertion"),
        ("AssertionError: need a camera\nassert 0 >= 1\n +  where 0 = len([])", "failed", "need a camera",
         "0 (where 0 = len([])) (assert 0 >= 1)", "assertion"),
        ("AssertionError: expected code -32601, got -32603\nassert -32603 == -32601", "failed", "code -32601",
         "-32603", "assertion"),
        ("assert False", "failed", "a true value", "False", "assertion"),
        ("ConnectionRefusedError: [Errno 111] Connection refused", "error", "t to complete",
         "ConnectionRefusedError: [Errno 111] Connection refused", "unreachable"),
        ("Failed: Timeout >5.0s", "error", "t to complete", "Failed: Timeout >5.0s", "timeout"),
        ("runners.errors.RpcError: x: error -32601 'Method not found'", "failed", "t to complete",
         "RpcError: x: error -32601 'Method not found'", "rpc_error:-32601"),
        ("KeyError: 'cameras'", "failed", "t to complete", "KeyError: 'cameras'", "exception:KeyError"),
    ],
)
def test_finding(message, outcome, expected, seen, fault):
    f = finding(message, test="t")
    assert (f.outcome, f.expected, f.seen, f.fault) == (outcome, expected, seen, fault)


def test_finding_properties_and_phase():
    f = finding("RuntimeError: boom", phase="setup", test="t", props={"seen": "no camera"})
    assert f.outcome == "error" and f.expected == "t's fixtures to set up" and f.seen == "no camera"
    assert finding("assert 1 == 2", props={"expected": "two"}).expected == "two"


def test_split_comparison_ignores_operators_in_strings_and_brackets():
    assert split_comparison("'a == b' == f(x, y > 1)") == ("'a == b'", "==", "f(x, y > 1)")
    assert split_comparison("x not in [1, 2]") == ("x", "not in", "[1, 2]")
    assert split_comparison("ok") is None


@pytest.mark.parametrize("text, sid", [("test_SMK_3_discovery", "SMK-3"), ("test_smk3", "SMK-3"),
                                       ("TestSmk-7", "SMK-7"), ("test_smk_10", ""), ("test_smk_0", ""),
                                       ("test_other", "")])
def test_smk_ids_from_names(text, sid):
    assert smk_from_text(text) == sid


def test_keyword_translation():
    assert translate_keyword("SMK-3 or smk5") == "SMK_3 or SMK_5"
    assert translate_keyword("(SMK_1 or SMK-2) and not slow") == "(SMK_1 or SMK_2) and not slow"
    assert translate_keyword("SMK_3 or dependent") == "SMK_3 or (SMK_4 or SMK_5 or SMK_7)"
    assert translate_keyword("SMK_7 or dependent") == "SMK_7 or __dryrun_no_dependents__"
    assert translate_keyword("") == ""


def test_pass_through_arguments():
    o = RunOptions(keyword="SMK-3", maxfail=1, failed_first=True, durations=10, count=10)
    assert pytest_args(o) == ["-p", "runners.external.pytest_plugin", "-k", "SMK_3", "--maxfail=1", "--ff",
                              "--durations=10", "--count=10"]
    assert "--count=1" not in pytest_args(RunOptions())
    assert "--maxfail=1" in pytest_args(RunOptions(failfast="soft"))


def _cfg(tmp_path: Path, **suite):
    return parse_config({"hosts": [{"name": "cam-01", "rpc_url": "ws://h1:8002/ws"},
                                   {"name": "cam-02", "rpc_url": "ws://h2:8002/ws", "dialect": "legacy"}],
                         "suites": [{"name": "team", **suite}]}, tmp_path / "dryrun.toml")


def test_targets_command_env_and_hosts(tmp_path):
    cfg = _cfg(tmp_path, command="{python} -m pytest 'tests/my smoke' --url={rpc_url}", hosts=["*"],
               env=["TEAM_TOKEN", "ABSENT"], cwd="suite")
    environ = {"PATH": "/bin", "TEAM_TOKEN": "t0k", "SECRET_NOT_NAMED": "x", "HOME": "/root"}
    ts = build_targets(cfg, cfg.suites[0], RunOptions(keyword="SMK_1"), run_id="r1", label="02_smoke_run_1",
                       artifacts_dir=tmp_path / "art", quarantine={"SMK-2": "flaky"}, environ=environ,
                       python="/py")
    assert [t.host for t in ts] == ["cam-01", "cam-02"]
    t = ts[1]
    assert t.argv[:4] == ("/py", "-m", "pytest", "tests/my smoke") and t.argv[4] == "--url=ws://h2:8002/ws"
    assert t.argv[5:] == ("-p", "runners.external.pytest_plugin", "-k", "SMK_1", "--durations=10")
    assert t.cwd == tmp_path / "suite"
    assert t.env["TEAM_TOKEN"] == "t0k" and "SECRET_NOT_NAMED" not in t.env and t.env["PATH"] == "/bin"
    assert t.env["DRYRUN_HOST"] == "cam-02" and t.env["DRYRUN_DIALECT"] == "legacy"
    assert t.env["DRYRUN_ARTIFACTS_DIR"] == str(tmp_path / "art" / "cam-02")
    assert t.env["DRYRUN_QUARANTINE"] == '{"SMK-2": "flaky"}' and t.env["DRYRUN_CONFIG"].endswith("dryrun.toml")
    assert t.missing_env == ("ABSENT",)


def test_suite_selection_errors(tmp_path):
    cfg = _cfg(tmp_path, hosts=["cam-01"])
    with pytest.raises(ValueError, match="does not run on it"):
        suite_hosts(cfg, cfg.suites[0], ("cam-02",))
    once = _cfg(tmp_path)
    assert suite_hosts(once, once.suites[0], ("team",)) == [None]
    with pytest.raises(ValueError, match="not run per host"):
        suite_hosts(once, once.suites[0], ("cam-01",))
    with pytest.raises(ValueError, match="unknown suite 'x'"):
        find_suite(once, "x")
    with pytest.raises(ValueError, match="no \\[\\[suites\\]\\]"):
        find_suite(parse_config({}), None)


def _item(nodeid, smk, it=1):
    return {"type": "item", "nodeid": nodeid, "name": nodeid.split("::")[-1], "smk": smk, "iteration": it}


def _run(tr, nodeid, outcome, smk, it=1, crash="", when="call", dur=0.5, props=None):
    evs = tr.feed({"type": "test_start", "nodeid": nodeid, "smk": smk, "iteration": it, "ts": 100.0})
    rep = {"type": "report", "nodeid": nodeid, "when": when, "outcome": "failed" if outcome in ("failed", "error")
           else ("skipped" if outcome == "skipped" else "passed"), "duration": dur, "smk": smk, "iteration": it}
    if crash:
        rep["crash"] = {"message": crash}
        rep["longrepr"] = f"def test():\n>   {crash}\nE   {crash}"
    if props:
        rep["user_properties"] = [[k, v] for k, v in props.items()]
    evs += tr.feed(rep)
    evs += tr.feed({"type": "test_finish", "nodeid": nodeid, "smk": smk, "iteration": it, "outcome": outcome,
                    "duration": dur, "ts": 101.0})
    return evs


def test_translator_groups_tests_into_check_attempts():
    tr = Translator("team", run_id="r")
    for rec in (_item("t.py::test_SMK_3_a", "SMK-3"), _item("t.py::test_SMK_3_b", "SMK-3"),
                _item("t.py::test_SMK_6", "SMK-6"), _item("t.py::test_other", "")):
        tr.feed(rec)
    notes = tr.feed({"type": "collected", "selected": 4, "deselected": 1, "count": 1})
    assert [n.code for n in notes] == ["EXT_UNMAPPED_TESTS"] and tr.check_order == ["SMK-3", "SMK-6"]
    evs = _run(tr, "t.py::test_SMK_3_a", "passed", "SMK-3", props={"metric_discovery_s": 1.25})
    assert [type(e) for e in evs] == [CheckStarted, CheckStep]  # the attempt is still running: b not done
    evs = _run(tr, "t.py::test_SMK_3_b", "failed", "SMK-3", crash="assert 0 >= 1")
    assert [type(e) for e in evs] == [CheckStep, CheckFinished]
    fin = evs[-1]
    assert (fin.host, fin.check, fin.attempt, fin.outcome) == ("team", "SMK-3", 1, "failed")
    assert (fin.expected, fin.seen, fin.fault) == (">= 1", "0", "assertion")
    assert fin.duration == pytest.approx(1.0) and fin.metrics == {"discovery_s": 1.25}
    assert fin.summary.startswith("t.py::test_SMK_3_b: assert 0 >= 1")
    assert fin.log_excerpt[0].startswith("--- pytest traceback")
    evs = _run(tr, "t.py::test_other", "failed", "", crash="assert 1 == 2")
    assert [(type(e), e.code) for e in evs] == [(Notice, "EXT_UNMAPPED_FAILED")]
    evs = _run(tr, "t.py::test_SMK_6", "skipped", "SMK-6", crash="Skipped: quarantined: flaky", when="setup")
    assert evs[-1].outcome == "skipped" and evs[-1].summary == "quarantined: flaky" and evs[-1].fault == "quarantined"
    assert tr.close() == []


def test_translator_iterations_and_a_stopped_run():
    tr = Translator("cam-01")
    for it in (1, 2):
        tr.feed(_item(f"t.py::test_SMK_1[{it}-2]", "SMK-1", it))
        tr.feed(_item(f"t.py::test_SMK_2[{it}-2]", "SMK-2", it))
    tr.feed({"type": "collected", "count": 2})
    assert tr.count == 2
    fin = _run(tr, "t.py::test_SMK_1[1-2]", "passed", "SMK-1", 1)[-1]
    assert (fin.check, fin.attempt, fin.outcome) == ("SMK-1", 1, "passed")
    # SMK-2 attempt 1 starts; the process is interrupted mid-test
    tr.feed({"type": "test_start", "nodeid": "t.py::test_SMK_2[1-2]", "smk": "SMK-2", "iteration": 1})
    left = tr.close(stopped="interrupted")
    assert len(left) == 1 and left[0].outcome == "skipped" and left[0].fault == "cancelled"
    assert "test_SMK_2[1-2]" in left[0].summary
    tr2 = Translator("cam-01")
    tr2.feed(_item("t.py::test_SMK_5", "SMK-5"))
    tr2.feed({"type": "test_start", "nodeid": "t.py::test_SMK_5", "smk": "SMK-5", "iteration": 1})
    (crash,) = tr2.close(stopped="crashed")
    assert crash.outcome == "error" and crash.fault == "crashed" and crash.expected == "t.py::test_SMK_5 to finish"


def test_translator_maxfail_partial_attempt():
    tr = Translator("team")
    tr.feed(_item("t.py::test_SMK_4_a", "SMK-4"))
    tr.feed(_item("t.py::test_SMK_4_b", "SMK-4"))
    _run(tr, "t.py::test_SMK_4_a", "passed", "SMK-4")
    tr.feed({"type": "session_finish", "exitstatus": 1, "shouldfail": "stopping after 1 failures"})
    (fin,) = tr.close()
    assert fin.outcome == "passed" and "(1 of 2 tests ran)" in fin.summary and tr.stopped_early


def test_translator_survives_junk():
    tr = Translator("team")
    assert tr.feed({"type": "nonsense"}) == []
    (note,) = tr.feed({"type": "test_finish", "nodeid": "x", "duration": "NaN", "outcome": None})
    assert note.code == "EXT_UNMAPPED_FAILED"  # no outcome reads as an error, of a test with no SMK id
    evs = tr.feed({"type": "test_finish", "nodeid": "t.py::test_SMK_2", "smk": "SMK-2", "iteration": -3,
                   "duration": -1, "outcome": "passed"})
    assert [type(e) for e in evs] == [CheckStarted, CheckStep, CheckFinished] and evs[-1].attempt == 1
    assert evs[-1].duration == 0.0
