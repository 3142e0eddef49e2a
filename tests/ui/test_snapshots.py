"""Snapshots of every screen at 80x24 (SSH) and 160x50 (a shared screen), in the dark and
the presentation themes (Logs following two local log files of fixed lines), plus the
light, colour-blind and monochrome themes on the stand-up and the triage form at 80x24.
Built by the CLI's app factory on the fixed scenario (fixed clock, fixed data, fixed host
health); the cursor does not blink.

Update after an intended change: pytest tests/ui/test_snapshots.py --snapshot-update
(then look at snapshot_report.html / the SVGs before committing them)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

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


def _stamp(hh: int, mm: int, ss: float) -> str:
    return f"2026-11-24 {hh:02d}:{mm:02d}:{int(ss):02d},{int(ss * 1000) % 1000:03d}"


def _log_files(root: Path) -> dict[str, Path]:
    """The two hosts' camera-service logs around the scenario's clock (10:30): plain lines on
    cam-01, JSON lines on cam-02, with a warning, an error and request ids."""
    cam01 = [f"{_stamp(10, 29, 0.120)} INFO camera_service: service ready, 2 cameras",
             f"{_stamp(10, 29, 1.500)} INFO rpc: get_camera_list request_id=41 2.1 ms",
             f"{_stamp(10, 29, 3.250)} WARNING mediamtx: camera0 frame drop (3 frames)",
             f"{_stamp(10, 29, 5.000)} INFO rpc: take_snapshot request_id=42 80.4 ms",
             f"{_stamp(10, 29, 9.875)} INFO recorder: camera1 recording started"]
    cam02 = [{"ts": f"2026-11-24T10:29:{s:06.3f}", "level": lvl, "logger": "camera_service", "msg": msg}
             for s, lvl, msg in ((0.500, "INFO", "legacy service up on /dev/video0, /dev/video1"),
                                 (2.000, "INFO", "start_recording request_id=7 /dev/video0"),
                                 (6.125, "ERROR", "recording /dev/video0: encoder stalled, file not closed"),
                                 (8.000, "INFO", "stop_recording request_id=8 /dev/video0"))]
    paths = {"cam-01": root / "cam-01-service.log", "cam-02": root / "cam-02-service.log"}
    paths["cam-01"].write_text("".join(line + "\n" for line in cam01))
    paths["cam-02"].write_text("".join(json.dumps(rec) + "\n" for rec in cam02))
    return paths


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("theme", ["dark", "presentation"])
def test_logs_screen(snap_compare, scenario_cfg, theme, size):
    """The Logs screen following each host's (local) service log: the two backlogs,
    written before the console started, merged by their own times."""
    text = scenario_cfg.read_text()
    for host, path in _log_files(scenario_cfg.parent).items():
        anchor = f'name = "{host}"\n'
        text = text.replace(anchor, f'{anchor}logs = [{{ name = "service", kind = "local", path = "{path}" }}]\n', 1)
    scenario_cfg.write_text(text)

    async def run_before(pilot):
        await _settle(pilot, "3")
        view = pilot.app.screen.log_view
        for _ in range(200):  # the local tails read both files' backlogs within a moment
            if len(view.buffer.view) >= 9:
                break
            await asyncio.sleep(0.05)
        await pilot.pause(0.3)  # the pane's next batched draw
        assert len(view.buffer.view) == 9

    app = make_console(scenario_cfg, theme=theme)
    assert snap_compare(app, terminal_size=SIZES[size], run_before=run_before)
