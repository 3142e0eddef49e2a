"""The console's contract with its operators: keys, help, palette, read-only, themes,
worker failures, status words. Driven with Textual's Pilot on the fixed scenario."""

from __future__ import annotations

import asyncio
import json

import pytest
from textual.binding import Binding

from tests.ui.conftest import make_console, ready
from tests.ui.workers import in_group, task_workers, wait_for_workers
from tui.app import SCREENS, DryRunApp

pytestmark = pytest.mark.timeout(60)


def _all_binding_owners():
    from screens.confirm import ConfirmScreen
    from screens.help import HelpScreen
    from screens.run_options import RunOptionsScreen
    from screens.triage_form import TriageForm
    from tui.app import _screen_class

    return [DryRunApp, HelpScreen, ConfirmScreen, RunOptionsScreen, TriageForm,
            *(_screen_class(m) for m in SCREENS if _importable(m))]


def _importable(mode: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(SCREENS[mode][0]) is not None


def test_every_binding_has_an_id_and_a_description():
    seen: dict[str, str] = {}
    for owner in _all_binding_owners():
        for b in owner.BINDINGS:
            assert isinstance(b, Binding), f"{owner.__name__}: {b!r} is not a Binding"
            assert b.id, f"{owner.__name__}: binding {b.key!r} -> {b.action!r} has no id"
            assert b.description, f"{owner.__name__}: binding {b.id} has no description"
            assert seen.setdefault(b.id, owner.__name__) == owner.__name__, f"binding id {b.id} used twice"


def test_mutating_actions_name_real_actions():
    """A typo in MUTATING would silently leave an action enabled in read-only mode."""
    from tui.app import _screen_class

    for mode in ("standup", "smoke", "triage", "closeout", "env"):  # logs: its pane widget owns its keys
        cls = _screen_class(mode)
        actions = {b.action.split("(")[0] for b in cls.BINDINGS}
        assert cls.MUTATING <= actions, f"{cls.__name__}.MUTATING names unknown actions {cls.MUTATING - actions}"
        for a in cls.MUTATING:
            assert hasattr(cls, f"action_{a}"), f"{cls.__name__} has no action_{a}"


async def test_digits_switch_screens_and_nav_bar_follows(scenario_cfg):
    app = make_console(scenario_cfg)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        for key, mode in (("2", "smoke"), ("4", "triage"), ("5", "closeout"), ("6", "env"), ("1", "standup")):
            await pilot.press(key)
            await pilot.pause()
            assert app.current_mode == mode
            assert app.screen.query_one("NavBar").current == mode


async def test_help_lists_the_keys_of_the_screen_it_was_opened_on(scenario_cfg):
    from screens.help import HelpScreen

    app = make_console(scenario_cfg)
    async with app.run_test(size=(100, 40)) as pilot:
        await ready(pilot)
        await pilot.press("2", "question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = _plain(app.screen.query_one("#help-body").content)
        for words in ("Run all", "Select…", "Failed first", "Help", "Theme", "command palette"):
            assert words in text, f"{words!r} missing from help"
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)


async def _settle(worker) -> None:
    """Wait for a worker to end, whatever way it ends."""
    from textual.worker import WorkerFailed

    try:
        await worker.wait()
    except WorkerFailed:
        pass


def _plain(renderable) -> str:
    from rich.console import Console

    console = Console(width=200, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def _palette_titles(app) -> list[str]:
    from tui.palette import ConsoleCommands

    return [title for title, _help, _cb in ConsoleCommands(app.screen)._entries()]


async def test_palette_offers_every_action_of_every_screen_and_every_theme(scenario_cfg):
    app = make_console(scenario_cfg)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        titles = _palette_titles(app)
        for expected in ("Smoke: Run all", "Smoke: Select…", "Smoke: Cancel", "Triage: Verify",
                         "Triage: Decide", "Closeout: Close out", "Closeout: Pack", "Env: Freeze",
                         "Go to Closeout", "Theme: Presentation (high contrast)", "Console: Help"):
            assert expected in titles, f"{expected!r} not in the palette: {titles}"


async def test_palette_runs_a_command_typed_into_it(scenario_cfg):
    app = make_console(scenario_cfg)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Go to Env")
        await pilot.pause(0.3)  # the palette searches in a worker of its own, debounced
        await pilot.press("enter")
        await pilot.pause()
        assert app.current_mode == "env"


async def test_read_only_hides_every_action_that_changes_hosts_or_the_record(scenario_cfg):
    app = make_console(scenario_cfg, read_only=True)
    async with app.run_test(size=(160, 40)) as pilot:
        await ready(pilot)
        titles = _palette_titles(app)
        for hidden in ("Smoke: Run all", "Triage: Verify", "Triage: New", "Closeout: Close out", "Env: Freeze",
                       "Closeout: Metrics", "Smoke: Triage"):
            assert hidden not in titles
        assert "Env: Check drift" in titles  # reading the live environment changes nothing
        for mode in ("smoke", "triage", "closeout", "env"):
            await app.switch_mode(mode)
            await pilot.pause()
            screen = app.screen
            for action in screen.MUTATING:
                assert screen.check_action(action, ()) is False, f"{mode}: {action} is offered read-only"
            footer_keys = {ab.binding.action.split("(")[0] for ab in screen.active_bindings.values()
                           if ab.enabled and ab.binding.show}
            assert not (footer_keys & screen.MUTATING)
        await app.switch_mode("smoke")
        await pilot.press("r")  # refused: no run starts
        await pilot.pause()
        assert not app.model.running_label
        assert not [w for w in app.workers if w.group == "smoke"]


async def test_theme_switches_live_and_is_remembered(scenario_cfg):
    from tui.userstate import load_state

    app = make_console(scenario_cfg, remember_theme=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        assert app.theme == "dark"
        await pilot.press("ctrl+t")
        await wait_for_workers(app, in_group("userstate"))
        assert app.theme == "light"
        assert app.screen.has_class("-light-mode") or app.has_class("-light-mode")
    assert load_state()["theme"] == "light"
    again = make_console(scenario_cfg, remember_theme=True)
    async with again.run_test(size=(100, 30)) as pilot:
        assert again.theme == "light"


async def test_unknown_theme_falls_back_and_no_color_means_monochrome(scenario_cfg, monkeypatch):
    app = make_console(scenario_cfg, theme="sparkly")
    assert app.theme == "dark" and "sparkly" in app._theme_note
    monkeypatch.setenv("NO_COLOR", "1")
    mono = make_console(scenario_cfg)
    assert mono.theme == "monochrome"


async def test_every_theme_renders_status_as_words(scenario_cfg):
    from themes.specs import THEME_ORDER
    from tui.widgets.smoke_grid import SmokeGrid

    app = make_console(scenario_cfg)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        for name in THEME_ORDER:
            app.theme = name
            await pilot.pause()
            grid = app.screen.query_one(SmokeGrid)
            cell = grid.get_cell("SMK-5", "h:cam-02")
            ok = grid.get_cell("SMK-5", "h:cam-01")
            assert "FAIL" in cell.plain and "✖" in cell.plain, name
            assert "PASS" in ok.plain and "✔" in ok.plain, name
            assert cell.style != ok.style or name == "monochrome", name


async def test_a_failing_worker_is_reported_and_the_console_keeps_running(scenario_cfg):
    app = make_console(scenario_cfg)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await ready(pilot)

        def boom() -> None:
            raise RuntimeError("disk on fire")

        worker = app.run_task("boom job", boom)
        await _settle(worker)
        await pilot.pause()
        assert [(name, str(err)) for name, err in app.worker_failures] == [("boom job", "disk on fire")]
        notes = [n.message for n in app._notifications]
        assert any("boom job failed: RuntimeError: disk on fire" in m for m in notes), notes
        await pilot.press("2")  # still alive and responsive
        await pilot.pause()
        assert app.current_mode == "smoke"


async def test_an_expected_failure_goes_back_to_whoever_asked(scenario_cfg):
    from record.errors import RecordError

    app = make_console(scenario_cfg)
    got = []
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)

        def refused() -> None:
            raise RecordError("dry_run/03_triage_register.toml", "DRY-09: no such entry")

        app.run_task("edit", refused, reply=got.append)
        await wait_for_workers(app, task_workers)
        await pilot.pause()
    assert len(got) == 1 and not got[0].ok and "DRY-09: no such entry" in got[0].detail
    assert app.worker_failures == []


async def test_stand_up_shows_gates_decision_triage_and_timebox(scenario_cfg):
    app = make_console(scenario_cfg)
    async with app.run_test(size=(160, 50)) as pilot:
        await ready(pilot)
        app.model.apply_health(__import__("tests.ui.scenario", fromlist=["health"]).health())
        app.publish("health")
        await pilot.pause()
        text = " ".join(_plain(w.content) for w in app.screen.query("Panel"))
        for words in ("MISS SMK pass", "MET  flaky", "criticals 2", "2nd Iteration", "DRY-01", "DRY-04",
                      "✖ none", "day 2 of 3", "1 of 2", "16:00 in 5:30:00", "cam-02 (legacy)", "DEGR"):
            assert words in text, f"{words!r} not on the stand-up"


@pytest.mark.parametrize(("size", "expected"), [((80, 24), "✖ SMK pass 1 not passed"),
                                               ((160, 50), "✖ MISS SMK pass 1 not passed")])
async def test_gates_keep_their_values_whole_in_a_narrow_panel(scenario_cfg, size, expected):
    """At 80 columns MET / MISS give way to their marks, so no gate's value is cut."""
    from tui.widgets.gates_panel import GatesPanel

    app = make_console(scenario_cfg)
    async with app.run_test(size=size) as pilot:
        await ready(pilot)
        panel = app.screen.query_one(GatesPanel)
        text = _plain(panel.content)
        assert expected in text and "workarounds 1/1 doc." in text, text


async def test_files_changed_elsewhere_show_up_and_a_broken_config_is_refused(scenario_cfg):
    """A second console (here: the record API on another thread) adds a triage entry and an
    editor breaks the config: the panes follow the files, the bad config is not taken."""
    from record.layout import DryRunDir
    from record.triage import add_issue
    from runners.config import load_config

    app = make_console(scenario_cfg, watch_files=True)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await ready(pilot)
        await asyncio.sleep(0.6)  # the watcher starts after the first frame (not a synchronisation)
        seen = asyncio.Event()

        def changed(topic: str) -> None:
            rec = app.model.record
            if rec and "DRY-05" in [i.id for i in rec.get("triage")["issues"]]:
                seen.set()

        app.model_changed.subscribe(app.screen, changed)
        d = DryRunDir(load_config(scenario_cfg).dry_run_path)
        await asyncio.to_thread(add_issue, d, {"smk": ["SMK-3"], "severity": "G", "symptom": "slow discovery"})
        await asyncio.wait_for(seen.wait(), 10)

        text = scenario_cfg.read_text()
        scenario_cfg.write_text(text + "\n[gates]\nflaky_max_pct = 2.5\n")
        reloaded = asyncio.Event()
        app.model_changed.subscribe(app.screen, lambda t: reloaded.set() if t == "config" else None)
        await asyncio.wait_for(reloaded.wait(), 10)
        assert app.model.cfg.gates.flaky_max_pct == 2.5

        scenario_cfg.write_text(text + "\n[gates]\nflaky_max_pct = 'lots'\n")
        for _ in range(100):  # the refusal is a notification: wait for it to be posted
            await pilot.pause(0.1)
            if any("cannot be used" in n.message for n in app._notifications):
                break
        assert any("gates.flaky_max_pct" in n.message for n in app._notifications)
        assert app.model.cfg.gates.flaky_max_pct == 2.5


def test_user_state_file_survives_garbage(tmp_path, monkeypatch):
    from tui.userstate import load_state, save_state, state_path

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    state_path().parent.mkdir(parents=True)
    state_path().write_text("{not json")
    assert load_state() == {}
    save_state({"theme": "presentation"})
    assert json.loads(state_path().read_text()) == {"theme": "presentation"}


async def test_run_selection_form_checks_the_k_expression_as_you_type(scenario_cfg):
    from screens.run_options import RunOptionsScreen

    app = make_console(scenario_cfg)
    async with app.run_test(size=(100, 40)) as pilot:
        await ready(pilot)
        await pilot.press("2", "s")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, RunOptionsScreen)
        await pilot.press(*"SMK_3 or (")
        await pilot.pause()
        assert form.query_one("#run").disabled
        assert "-k" in _plain(form.query_one("#errors").content) or "expected" in _plain(form.query_one("#errors").content)
        await pilot.press("backspace", "backspace", "backspace", "backspace", *" or snapshot")
        await pilot.pause()
        assert not form.query_one("#run").disabled
        assert "selects 4 check runs: SMK-3, SMK-4" in _plain(form.query_one("#k-preview").content)
        opts, errors = form._build()
        assert errors == [] and " ".join(opts.keyword.split()) == "SMK_3 or snapshot" and opts.hosts == ()
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, RunOptionsScreen)
        assert not app.model.running_label  # cancelled: nothing started


async def test_run_selection_ticks_are_shapes_not_only_colours(scenario_cfg):
    """Selected and unselected hosts (and checkboxes) differ in the characters drawn, so the
    monochrome and colour-blind themes can tell them apart."""
    from tui.widgets.marked import MarkedCheckbox, MarkedSelectionList

    app = make_console(scenario_cfg)
    async with app.run_test(size=(100, 40)) as pilot:
        await ready(pilot)
        await pilot.press("2", "s")
        await pilot.pause()
        form = app.screen
        hosts = form.query_one("#hosts", MarkedSelectionList)
        names = [str(hosts.get_option_at_index(i).prompt) for i in range(hosts.option_count)]
        hosts.deselect(names[0])
        await pilot.pause()
        lines = [hosts.render_line(i).text for i in range(len(names))]
        assert lines[0].startswith("▐ ▌") and all(ln.startswith("▐✔▌") for ln in lines[1:]), lines
        ff = form.query_one("#ff", MarkedCheckbox)
        before = ff.render().plain
        ff.value = not ff.value
        await pilot.pause()
        after = ff.render().plain
        assert {before[:3], after[:3]} == {"▐✔▌", "▐ ▌"}, (before, after)
