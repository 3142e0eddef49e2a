from __future__ import annotations

import subprocess
import sys

from runners.config import load_config
from tui.cli import build_parser, main


def test_every_subcommand_has_help(capsys):
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")  # argparse has no public accessor
    assert sub.choices, "no subcommands registered"
    for name, p in sub.choices.items():
        text = p.format_help()
        assert "--config" in text or name in {"demo"}, f"{name} lacks --config"
        assert p.description or p.format_usage(), name


def test_init_writes_valid_config_and_refuses_overwrite(tmp_cwd, capsys):
    assert main(["init"]) == 0
    load_config(tmp_cwd / "dryrun.toml")
    assert main(["init"]) == 2
    assert "exists" in capsys.readouterr().err


def test_console_script_runs():
    r = subprocess.run([sys.executable, "-m", "tui.cli", "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "init" in r.stdout


def test_console_options_without_the_subcommand_open_the_console(monkeypatch):
    # `dryrun --config X` is what `dryrun sim` tells people to type: it must reach `console`.
    import tui.commands.console as console

    seen = {}
    monkeypatch.setattr(console, "run", lambda args: seen.setdefault("config", str(args.config)) and 0)
    assert main(["--config", "lab.toml"]) == 0
    assert seen["config"] == "lab.toml"
