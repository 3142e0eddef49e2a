"""Snapshots of every screen at 80x24 (SSH) and 160x50 (a shared screen), in the dark and
the presentation themes, plus the light, colour-blind and monochrome themes on the
stand-up and the triage form at 80x24. Built by the CLI's app factory on the fixed
scenario (fixed clock, fixed data, fixed host health); the cursor does not blink.

Update after an intended change: pytest tests/ui/test_snapshots.py --snapshot-update
(then look at snapshot_report.html / the SVGs before committing them)."""

from __future__ import annotations

import pytest

from tests.ui import scenario
from tests.ui.conftest import make_console, ready
from tests.ui.workers import task_workers, wait_for_workers

pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]  # ~30 s for the whole file

SCREENS = {"standup": "1", "smoke": "2", "triage": "4", "closeout": "5", "env": "6"}
SIZES = {"80x24": (80, 24), "160x50": (160, 50)}


async def _settle(pilot, key: str = "") -> None:
    app = pilot.app
    await ready(pilot)
    app.model.apply_health(scenario.health())
    app.publish("health")
    if key:
        await pilot.press(key)
    await pilot.pause()
    from textual.widgets import Input, TextArea

    for w in app.screen.query(Input):
        w.cursor_blink = False
    for w in app.screen.query(TextArea):
        w.cursor_blink = False
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("theme", ["dark", "presentation"])
@pytest.mark.parametrize("screen", SCREENS)
def test_screen(snap_compare, scenario_cfg, screen, theme, size):
    app = make_console(scenario_cfg, theme=theme)
    assert snap_compare(app, terminal_size=SIZES[size], run_before=lambda p: _settle(p, SCREENS[screen]))


@pytest.mark.parametrize("theme", ["light", "colour-blind", "monochrome"])
def test_standup_other_themes(snap_compare, scenario_cfg, theme):
    app = make_console(scenario_cfg, theme=theme)
    assert snap_compare(app, terminal_size=(80, 24), run_before=lambda p: _settle(p))


@pytest.mark.parametrize("size", SIZES)
def test_triage_form_prefilled(snap_compare, scenario_cfg, size):
    """The form opened from the SMK-5 failure on the Smoke screen (t)."""

    async def run_before(pilot):
        await _settle(pilot, "2")
        await pilot.press("t")
        await wait_for_workers(pilot.app, task_workers)
        await pilot.pause()
        await _settle(pilot)

    app = make_console(scenario_cfg, theme="dark")
    assert snap_compare(app, terminal_size=SIZES[size], run_before=run_before)


def test_help_on_smoke(snap_compare, scenario_cfg):
    app = make_console(scenario_cfg, theme="dark")
    assert snap_compare(app, terminal_size=(80, 24), run_before=lambda p: _settle(p, "2"), press=["question_mark"])
