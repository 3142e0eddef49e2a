"""The footer at 80x24 (operators in SSH sessions): on every screen the keys that work
everywhere (help, theme, quit, the palette) and the screen's main actions are on the
bottom line, none cut off by the right edge."""

from __future__ import annotations

import pytest

from textual.widgets import Footer

from tests.ui.conftest import make_console, ready
from tui.widgets.navbar import NAV

pytestmark = pytest.mark.timeout(60)

EVERYWHERE = ("? Help", "^t Theme", "q Quit", "^p palette")
MAIN = {
    "standup": ("r Refresh",),
    "smoke": ("r Run all", "s Select…", "f Failed first"),
    "logs": ("f Follow", "e Errors", "l Level", "h Host", "/ Search"),
    "triage": ("n New", "e Edit", "d Decide", "v Verify", "a Resolved"),
    "closeout": ("F Final run", "m Metrics", "c Close out", "p Pack"),
    "env": ("f Freeze", "d Check drift"),
}


def _bottom_line(app) -> str:
    """The last row of the screen as the terminal shows it."""
    return app.screen._compositor.render_strips()[-1].text


def _footer_problems(app, expected: tuple[str, ...]) -> list[str]:
    line = _bottom_line(app)
    problems = [f"{app.current_mode}: {words!r} not in the footer {line!r}" for words in expected if words not in line]
    if app.screen.query_one(Footer).max_scroll_x:
        problems.append(f"{app.current_mode}: the footer overflows, keys are cut off: {line!r}")
    return problems


def _assert_footer_fits(app, expected: tuple[str, ...]) -> None:
    problems = _footer_problems(app, expected)
    assert not problems, "\n".join(problems)


async def test_footer_shows_global_and_main_keys_at_80x24_on_every_screen(scenario_cfg):
    app = make_console(scenario_cfg)
    async with app.run_test(size=(80, 24), notifications=False) as pilot:
        await ready(pilot)
        assert set(MAIN) == set(app.screen_classes()), "a screen without expected footer keys here"
        problems = []
        for key, mode, _title in NAV:
            await pilot.press(key)
            await pilot.pause()
            assert app.current_mode == mode
            await pilot.pause()
            problems += _footer_problems(app, EVERYWHERE + MAIN[mode])
        assert not problems, "\n".join(problems)


async def test_smoke_footer_keeps_its_context_keys_at_80x24(scenario_cfg):
    """Triage (a failure selected) and Cancel (a run going) come and go; with them the
    footer still fits, the global keys included."""
    from tui.widgets.run_table import RunTable

    app = make_console(scenario_cfg)
    async with app.run_test(size=(80, 24), notifications=False) as pilot:
        await ready(pilot)
        await pilot.press("2")
        await pilot.pause()
        screen = app.screen
        table = screen.query_one(RunTable)
        failed = [k for k in table._keys if (c := screen._view()[0].cells.get(k)) is not None
                  and c.result is not None and c.result.outcome in ("failed", "error")]
        assert failed, "the scenario has a failed check"
        table.select(*failed[0])
        screen.refresh_bindings()
        await pilot.pause()
        await pilot.pause()
        _assert_footer_fits(app, EVERYWHERE + ("t Triage",) + MAIN["smoke"])
        app.model.running_label = "02_smoke_run_9"  # as while a run is going: cancel shown, run keys greyed
        table.select(*next(k for k in table._keys if k not in failed))
        screen.refresh_bindings()
        await pilot.pause()
        await pilot.pause()
        _assert_footer_fits(app, EVERYWHERE + ("x Cancel",) + MAIN["smoke"])
