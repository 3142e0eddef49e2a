"""The record subcommands through the CLI (no simulator needed): --help, --config, --json,
one-line errors naming file and line."""

from __future__ import annotations

import json

import pytest

from tests.record_support import dry, record_run, write_config
from tui.cli import build_parser, main

RECORD_COMMANDS = ("plan", "env", "triage", "fix", "verify", "flake", "metrics", "closeout", "pack", "say")


def run_json(capsys, *argv):
    rc = main([*argv, "--json"])
    out = capsys.readouterr().out
    return rc, json.loads(out)


def test_every_record_command_has_help_config_and_json():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name in RECORD_COMMANDS:
        p = sub.choices[name]
        text = p.format_help()
        assert "--config" in text, name
        nested = [a for a in p._actions if a.__class__.__name__ == "_SubParsersAction"]
        targets = list(nested[0].choices.values()) if nested else [p]
        for t in targets:
            assert "--json" in t.format_help(), (name, t.prog)


def test_plan_triage_and_say_via_cli(tmp_cwd, capsys):
    write_config(tmp_cwd)
    d = dry(tmp_cwd)
    rc, out = run_json(capsys, "plan")
    assert rc == 0 and out["path"] == "dry_run/00_plan.md" and out["timebox"]["days"] == 3
    record_run(d, "02_smoke_run_1", {"SMK-1": "passed", "SMK-3": "failed"}, summary="no camera in 10 s")
    rc, issue = run_json(capsys, "triage", "add", "--from", "SMK-3")
    assert rc == 0 and issue["id"] == "DRY-01" and issue["violations"] == ["DRY-01: a Red needs an owner and an ETA"]
    assert issue["log_ref"].startswith("02_smoke_run_1.log:")
    assert main(["triage", "decide", "DRY-01", "Fix now"]) == 1
    assert "a Red needs an owner and an ETA" in capsys.readouterr().err
    rc, issue = run_json(capsys, "triage", "decide", "DRY-01", "fix now", "--owner", "Dana", "--eta", "16:00")
    assert rc == 0 and issue["decision"] == "Fix now" and issue["violations"] == []
    rc, issue = run_json(capsys, "triage", "edit", "DRY-01", "--suspect", "udev", "--cause", "product")
    assert issue["suspect"] == "udev" and issue["cause"] == "product"
    rc, lst = run_json(capsys, "triage", "list", "--open")
    assert [i["id"] for i in lst["issues"]] == ["DRY-01"]
    # a hand edit is merged by the next command and reported
    md = d.triage_register.read_text().replace("- Repro steps: dryrun run", "- Repro steps: by hand; dryrun run")
    d.triage_register.write_text(md)
    assert main(["triage", "list"]) == 0
    assert "merged hand edit: DRY-01 repro" in capsys.readouterr().out
    assert main(["triage", "show", "DRY-01"]) == 0
    assert "Repro steps:   by hand; dryrun run" in capsys.readouterr().out
    assert main(["say", "triage-call"]) == 0
    assert "Open now: DRY-01 R SMK-3 (Fix now)." in capsys.readouterr().out
    rc, said = run_json(capsys, "say", "kickoff")
    assert said["who"].startswith("PM") and "Baseline = v1.2.3-cdr" in said["text"]


def test_errors_are_one_line_naming_file_and_line(tmp_cwd, capsys):
    write_config(tmp_cwd)
    d = dry(tmp_cwd)
    assert main(["triage", "add", "--smk", "SMK-2"]) == 0
    capsys.readouterr()
    d.triage_toml.write_text(d.triage_toml.read_text().replace('status = "open"', "status = open"))
    assert main(["triage", "list"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("dryrun triage: ") and "03_triage_register.toml:" in err and "invalid TOML" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert main(["say", "verify"]) == 1
    assert "needs a triage id" in capsys.readouterr().err
    assert main(["triage", "show", "DRY-07", "--config", str(tmp_cwd / "nope.toml")]) == 2
    assert "file not found" in capsys.readouterr().err


def test_fix_metrics_closeout_pack_via_cli(tmp_cwd, capsys):
    write_config(tmp_cwd)
    d = dry(tmp_cwd)
    record_run(d, "02_smoke_run_1", {"SMK-4": "failed"})
    assert main(["triage", "add", "--from", "SMK-4", "--owner", "Dana", "--eta", "16:00"]) == 0
    (tmp_cwd / "fix.diff").write_text("--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n")
    capsys.readouterr()
    rc, fx = run_json(capsys, "fix", "DRY-01", "--patch", "fix.diff")
    assert rc == 0 and fx["lines"] == 2 and fx["prompt"].startswith("DRY-01 fix pushed (diff 2 lines)")
    assert main(["fix", "DRY-01", "--patch", "missing.diff"]) == 1
    capsys.readouterr()
    rc, m = run_json(capsys, "metrics")
    assert rc == 0 and m["pass_rate_pct"] == 0.0 and d.metrics.exists()
    rc, co = run_json(capsys, "closeout", "--preview")
    assert rc == 1 and co["decision_code"] in ("ITERATE", "STOP") and not d.closeout.exists()
    rc, co = run_json(capsys, "closeout")
    assert d.closeout.exists() and co["prompt"].startswith("Dry-run outcome: ")
    rc, pk = run_json(capsys, "pack")
    assert rc == 0 and pk["files"] >= 8
    rc, ver = run_json(capsys, "pack", "--verify")
    assert rc == 0 and ver["ok"]
    (d.pack_dir / "08_metrics.md").write_text("tampered\n")
    assert main(["pack", "--verify"]) == 1
    assert "08_metrics.md: SHA-256 mismatch" in capsys.readouterr().out


def test_env_without_hosts_reachable_reports_not_crashes(tmp_cwd, capsys):
    write_config(tmp_cwd)  # the host points at a closed loopback port and has no SSH target
    rc = main(["env", "freeze"])
    err = capsys.readouterr().err
    assert rc == 1 and "cannot freeze an environment with unreachable parts: cam-01 rpc:" in err
    assert main(["env", "show"]) == 1


@pytest.mark.parametrize("argv", [["verify", "DRY-01"], ["flake", "SMK-9x"]])
def test_verify_and_flake_refuse_bad_input_before_running(tmp_cwd, capsys, argv):
    write_config(tmp_cwd)
    dry(tmp_cwd)
    assert main(argv) in (1, 2)
    err = capsys.readouterr().err
    assert "no triage entry DRY-01" in err or "expected a check id like SMK-3" in err
