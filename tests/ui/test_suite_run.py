"""External pytest suites ([[suites]]) started from the Smoke screen (e): the sample suite
(tests/sample_suite) probing a simulated host streams live into the smoke table and the
record, like a built-in run; a chooser when several are configured; a clear notice when
none is; hidden in --read-only."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from tests.ui.conftest import make_console, ready
from tests.ui.workers import in_group, wait_for_workers

pytestmark = pytest.mark.timeout(120)

SAMPLE = Path(__file__).resolve().parents[1] / "sample_suite"


def _suite(name: str = "team-smoke", **kw):
    from runners.config import Suite

    return Suite(name=name, command="{python} -m pytest . -q -p no:cacheprovider", cwd=str(SAMPLE),
                 env=("SIM_CONFIG",), **kw)


def _status(table, host: str, check: str) -> str:
    from tui.widgets.run_table import row_key

    cell = table.get_cell(row_key(host, check), "status")
    return getattr(cell, "plain", str(cell))


async def test_sample_suite_runs_from_the_smoke_screen_with_live_results(tmp_path, monkeypatch):
    from record.events_log import read_events
    from record.layout import DryRunDir
    from runners.config import load_config
    from runners.sim.fleet import run_fleet
    from runners.sim.host import SimHostSpec
    from tui.app import DryRunApp
    from tui.widgets.run_table import RunTable

    spec = SimHostSpec(name="cam-01", dialect="current", cameras=1, discovery_delay=0.1)
    async with run_fleet([spec], tmp_path / "fleet", config=tmp_path / "dryrun.toml"):
        monkeypatch.setenv("SIM_CONFIG", str(tmp_path / "dryrun.toml"))
        cfg = dataclasses.replace(load_config(tmp_path / "dryrun.toml"), suites=(_suite(),))
        app = DryRunApp(cfg, remember_theme=False, watch_files=False, probe_hosts=False)
        async with app.run_test(size=(160, 40), notifications=True) as pilot:
            await ready(pilot)
            await pilot.press("2", "e")  # one suite configured: no chooser, it starts
            await pilot.pause()
            assert app.model.running_label == "suite team-smoke"
            table = app.screen.query_one(RunTable)

            # Live: SMK-1's result is in the table while the suite is still running (SMK-5
            # records for a second after it).
            deadline = time.monotonic() + 60
            while "PASS" not in _status_if_shown(table, "team-smoke", "SMK-1"):
                assert time.monotonic() < deadline, "no live SMK-1 result in the smoke table"
                assert app.model.running_label, "the suite ended before SMK-1 showed in the table"
                await pilot.pause(0.05)
            assert app.model.live.running and app.model.running_label == "suite team-smoke"
            assert app.model.live.label == "02_smoke_run_1"

            await wait_for_workers(app, in_group("smoke"))
            await ready(pilot)
            cells = app.model.live.cells
            assert sorted(cells) == [("team-smoke", f"SMK-{i}") for i in range(1, 8)]
            assert all(c.status == "passed" for c in cells.values()), {k: c.status for k, c in cells.items()}
            for i in range(1, 8):
                assert "PASS" in _status(table, "team-smoke", f"SMK-{i}")
            done = [n for n in app._notifications if (n.title or "") == "Run finished"]
            assert done and "suite team-smoke: 02_smoke_run_1: 7 passed, 0 failed" in done[-1].message
            # recorded like any smoke run
            d = DryRunDir(cfg.dry_run_path)
            assert d.smoke_run_log(1).read_text().splitlines()[-1].startswith("7 passed, 0 failed in ")
            started = next(e for e in read_events(d.events_log) if e["kind"] == "run_started")
            assert started["label"] == "02_smoke_run_1" and started["options"]["suite"] == "team-smoke"
        assert app.worker_failures == []


def _status_if_shown(table, host: str, check: str) -> str:
    from tui.widgets.run_table import row_key

    if row_key(host, check) not in table.rows:
        return ""
    return _status(table, host, check)


async def test_no_suite_configured_says_how_to_add_one(scenario_cfg):
    app = make_console(scenario_cfg)
    async with app.run_test(size=(120, 30), notifications=True) as pilot:
        await ready(pilot)
        await pilot.press("2", "e")
        await pilot.pause()
        assert not app.model.running_label
        assert any("[[suites]]" in n.message and (n.title or "") == "No suite" for n in app._notifications)


async def test_several_suites_offer_a_chooser(scenario_cfg):
    from screens.suite_picker import SuitePicker

    app = make_console(scenario_cfg)
    app.model.cfg = dataclasses.replace(app.model.cfg, suites=(_suite("alpha"), _suite("beta", hosts=("*",))))
    started: list[tuple] = []
    app.start_suite = lambda name, options: started.append((name, options))  # the choice, not the run
    async with app.run_test(size=(120, 30)) as pilot:
        await ready(pilot)
        await pilot.press("2", "e")
        await pilot.pause()
        assert isinstance(app.screen, SuitePicker)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, SuitePicker) and started == []
        await pilot.press("e")
        await pilot.pause()
        await pilot.press("down", "enter")
        await pilot.pause()
        assert not isinstance(app.screen, SuitePicker)
        assert [name for name, _o in started] == ["beta"]


async def test_read_only_hides_the_suite_action(scenario_cfg):
    from tui.palette import ConsoleCommands

    app = make_console(scenario_cfg, read_only=True)
    async with app.run_test(size=(120, 30)) as pilot:
        await ready(pilot)
        await pilot.press("2")
        await pilot.pause()
        assert app.screen.check_action("run_suite", ()) is False
        titles = [t for t, _h, _cb in ConsoleCommands(app.screen)._entries()]
        assert "Smoke: Suite…" not in titles
    app = make_console(scenario_cfg)
    async with app.run_test(size=(120, 30)) as pilot:
        await ready(pilot)
        await pilot.press("2")
        await pilot.pause()
        titles = [t for t, _h, _cb in ConsoleCommands(app.screen)._entries()]
        assert "Smoke: Suite…" in titles
