"""UI test fixtures: the fixed scenario, a fixed clock, and the app built by the same
factory the CLI uses (``tui.commands.console.make_app``)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from tests.ui import scenario
from tests.ui.workers import not_in_group, wait_for_workers


@pytest.fixture(autouse=True)
def _user_state(tmp_path, monkeypatch):
    """Never read or write the real user's remembered theme."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    monkeypatch.delenv("NO_COLOR", raising=False)


@pytest.fixture
def scenario_cfg(tmp_path) -> Path:
    return scenario.build(tmp_path / "scenario")


def console_args(config: Path, **kw) -> argparse.Namespace:
    from tui.cli import build_parser

    argv = ["console", "--config", str(config), "--no-probe"]
    for flag, value in kw.items():
        if value is True:
            argv.append(f"--{flag.replace('_', '-')}")
        elif value not in (None, False):
            argv += [f"--{flag.replace('_', '-')}", str(value)]
    return build_parser().parse_args(argv)


def make_console(config: Path, *, clock=scenario.clock, watch_files: bool = False, remember_theme: bool = False,
                 **flags):
    """The console as `dryrun console --config X` builds it, with a fixed clock for tests."""
    from tui.commands.console import make_app

    return make_app(console_args(config, **flags), clock=clock, watch_files=watch_files,
                    remember_theme=remember_theme)


async def ready(pilot) -> None:
    """Wait until the first record snapshot is folded in and the screen has settled."""
    app = pilot.app
    await app.record_ready.wait()
    # the file watcher and the host probe run for the app's lifetime: do not wait for those
    await wait_for_workers(app, not_in_group("watch", "probe"))
    await pilot.pause()
