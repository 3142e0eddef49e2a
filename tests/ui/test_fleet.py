"""A 50-host fleet at 80x24 (an operator in an SSH session): every pane shows per-host
status, counts it in a summary line, and reaches the last host by scrolling or by the
host filter (H).

One simulated fleet for the module (50 hosts on real sockets: RPC, health, SSH), made
deterministic: cam-50 is stopped (down), cam-07 and cam-33 have their only camera
unplugged (SMK-3 discovery fails, their health is degraded). One headless SMK-3 run and
one real probe of every host are done once; each test opens its own console on a copy of
that record."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import shutil
import time
from pathlib import Path

import pytest
import pytest_asyncio

from tests.ui.workers import in_group, not_in_group, wait_for_workers


pytestmark = [pytest.mark.timeout(180), pytest.mark.asyncio(loop_scope="module")]

N = 50
DOWN = "cam-50"
FAILING = ("cam-07", "cam-33")
SIZE = (80, 24)
# SMK-3's budget. The 50 simulated hosts and the console share one process (on CI's two
# cores): a host whose camera is long connected can still take over 1 s to answer its first
# list while all 50 authenticate at once. 3 s keeps the failing hosts' wait short.
DISCOVERY = 3.0


def _name(i: int) -> str:
    return f"cam-{i:02d}"


@dataclasses.dataclass
class Fleet:
    sim: object
    cfg: object
    record: Path  # the dry_run folder of the module's SMK-3 run
    health: list


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def fleet(tmp_path_factory):
    from runners.config import load_config
    from runners.sim.fleet import run_fleet
    from runners.sim.host import SimHostSpec
    from runners.smoke.options import RunOptions
    from runners.ssh import SshPool
    from tui import flows
    from tui.probe import probe_once

    root = tmp_path_factory.mktemp("fleet50")
    specs = [SimHostSpec(name=_name(i), dialect="current" if i % 2 else "legacy", cameras=1, discovery_delay=0.1)
             for i in range(1, N + 1)]
    async with run_fleet(specs, root / "fleet", config=root / "dryrun.toml") as sim:
        for name in FAILING:
            svc = sim.host(name).service
            assert await svc.wait_ready(10)
            svc.set_camera_connected(svc.cameras()[0]["device"], False)
        await sim.host(DOWN).stop()
        cfg = load_config(root / "dryrun.toml")
        cfg = dataclasses.replace(cfg, checks=dataclasses.replace(
            cfg.checks, discovery_timeout=DISCOVERY, recording_seconds=1.0, concurrency_seconds=1.0, health_timeout=3.0,
            connect_timeout=3.0))
        res = await flows.smoke(cfg, RunOptions(keyword="SMK_3", failfast="off"),
                                flows.Hooks(sink=lambda _ev: None, ready=lambda _eng: None))
        assert res.run is not None and res.run.finished.failed + res.run.finished.errors == 3, res.message
        health: list = []
        pool = SshPool(max_handshakes=10, connect_timeout=3.0)
        try:
            await probe_once(cfg, pool, health.extend, timeout=3.0)
        finally:
            await pool.close()
        yield Fleet(sim, cfg, cfg.dry_run_path, health)


def _console(fleet: Fleet, tmp_path: Path, **kw):
    """A console on a copy of the module's record (each test writes its own)."""
    from tui.app import DryRunApp

    dry = tmp_path / "dry_run"
    shutil.copytree(fleet.record, dry)
    cfg = dataclasses.replace(fleet.cfg, run=dataclasses.replace(fleet.cfg.run, dry_run_dir=str(dry)))
    kw.setdefault("probe_hosts", False)
    return DryRunApp(cfg, remember_theme=False, watch_files=False, **kw)


async def ready(pilot) -> None:
    """The record is in and the screen settled (the host probe, the file watcher and the
    log follower run for the app's lifetime: not waited for)."""
    app = pilot.app
    await app.record_ready.wait()
    await wait_for_workers(app, not_in_group("watch", "probe", "logs"))
    await pilot.pause()


async def _start(pilot, fleet: Fleet) -> None:
    app = pilot.app
    await ready(pilot)
    app.model.apply_health(fleet.health)  # the module's real probe of every host
    app.publish("health")
    await pilot.pause()


def _text(app) -> str:
    """The screen as an operator reads it (what tmux capture-pane gives)."""
    from rich.console import Console

    w, h = app.size
    c = Console(width=w, height=h, file=io.StringIO(), force_terminal=True, color_system=None, record=True,
                legacy_windows=False, safe_box=False)
    c.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return c.export_text()


async def _until(pilot, cond, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.1)


# ---------------------------------------------------------------------- stand-up
async def test_standup_rolls_the_fleet_up_worst_first_and_reaches_the_last_host(fleet, tmp_path):
    from tui.widgets.smoke_grid import SmokeGrid

    app = _console(fleet, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await _start(pilot, fleet)
        screen = _text(app)
        grid = app.screen.query_one(SmokeGrid)
        assert grid.fleet  # 50 hosts do not fit as columns: a row per host
        assert "50 hosts: 47 ok · 1 down · 2 fail" in screen
        # worst first: the down host, then the failing ones, each named on its row
        assert grid.host_rows[:3] == (DOWN, *FAILING)
        rows = [ln for ln in screen.splitlines() if "cam-" in ln and "│" in ln]
        assert "DOWN" in rows[0] and DOWN in rows[0]
        assert f"{FAILING[0]} ▲DEGR" in screen and "✖ F" in screen  # SMK-3 failed, as a word
        # the health panel counts and sorts the same way
        assert "Hosts 50: 47 ok · 1 down · 2 degr" in screen, screen

        # the last row is reachable by scrolling with the cursor
        grid.focus()
        for _ in range(N - 1):
            await pilot.press("down")
        await pilot.pause()
        last = grid.host_rows[-1]
        assert grid.target()[0] == last
        assert last in _text(app)

        # ... and by the host filter
        await pilot.press("H", *"cam-4", "enter")
        await pilot.pause()
        screen = _text(app)
        assert grid.host_rows == tuple(_name(i) for i in range(40, 50))
        assert "10 of 50 hosts: 10 ok" in screen and "filter 'cam-4'" in screen
        await pilot.press("H", "escape")
        await pilot.pause()
        assert len(grid.host_rows) == N

        # enter on a failing host's SMK-3 cell opens that check on Smoke
        await pilot.press("H", *FAILING[1], "enter")
        await pilot.pause()
        assert grid.host_rows == (FAILING[1],)
        grid.move_cursor(row=0, column=grid.get_column_index("c:SMK-3"))
        await pilot.press("enter")
        await pilot.pause()
        assert app.current_mode == "smoke"
        from tui.widgets.run_table import RunTable

        assert app.screen.query_one(RunTable).selected == (FAILING[1], "SMK-3")
        # ... and enter on a host's name opens Smoke on that host's checks only
        await pilot.press("1", "H", "escape", "H", *DOWN, "enter")
        await pilot.pause()
        grid.move_cursor(row=0, column=0)
        await pilot.press("enter")
        await pilot.pause()
        table = app.screen.query_one(RunTable)
        assert app.current_mode == "smoke" and {h for h, _c in table._keys} == {DOWN}
        assert f"filter '{DOWN}'" in _text(app)
    assert app.worker_failures == []


# ---------------------------------------------------------------------- smoke
async def test_smoke_live_run_counts_hosts_and_filters_failing_ones(fleet, tmp_path):
    from tui.widgets.run_table import RunTable

    app = _console(fleet, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await _start(pilot, fleet)
        await pilot.press("2", "s")  # a selection: SMK-3 on every host, as an operator types it
        await pilot.pause()
        await pilot.press(*"SMK_3", "enter")
        await _until(pilot, lambda: app.model.live.run_id != "", "the run to start")
        await wait_for_workers(app, in_group("smoke"))
        await ready(pilot)
        await pilot.pause(0.3)
        table = app.screen.query_one(RunTable)
        screen = _text(app)
        assert "47✔PASS 2✖FAIL 1‼ERR" in screen
        assert "50 hosts: 47 ok · 1 down (cam-50) · 2 failing (cam-07, cam-33)" in screen, screen
        assert table.selected[0] in (DOWN, *FAILING)  # a finished run opens on a failure
        assert table.row_count == N

        # only the failing hosts (the down one failed its checks too), failures first
        await pilot.press("H", *"failing", "enter")
        await pilot.pause()
        assert {h for h, _c in table._keys} == {DOWN, *FAILING}
        assert "3 of 50 hosts: 0 ok · 1 down (cam-50) · 2 failing" in _text(app)
        assert app.focused is table  # enter went back to the table

        # the last host is one filter away (escape clears the filter); each row names its host
        await pilot.press("H", "escape", "H", *"cam-49", "enter")
        await pilot.pause()
        assert [h for h, _c in table._keys] == ["cam-49"]
        assert "SMK-3  cam-49" in _text(app)

        # o orders by host, then failures first
        await pilot.press("H", "escape")
        await pilot.pause()
        assert table.row_count == N
        await pilot.press("o", "o")
        await pilot.pause()
        assert table.order == "failures"
        assert {h for h, _c in table._keys[:3]} == {DOWN, *FAILING}
    assert app.worker_failures == []


# ---------------------------------------------------------------------- logs
async def test_logs_name_each_host_and_show_per_host_follow_state(fleet, tmp_path):
    from runners.logs.buffer import HOST, TEXT
    from tui.widgets.log_hosts import LogHostsBar
    from tui.widgets.log_view import LogView

    app = _console(fleet, tmp_path, follow_logs=True)
    async with app.run_test(size=SIZE) as pilot:
        await _start(pilot, fleet)
        await pilot.press("3")
        await pilot.pause()
        bar = app.screen.query_one(LogHostsBar)
        view = app.screen.query_one(LogView)

        def states() -> dict:
            return {h: s.state for h, s in bar.states.items()}

        await _until(pilot, lambda: sum(s == "following" for s in states().values()) == N - 1
                     and states().get(DOWN) == "retrying", "49 hosts followed and the stopped one retrying")
        await pilot.pause(1.2)  # the bar redraws once a second
        line = _text(app).splitlines()[1]
        assert line.startswith(" 50 hosts: ✔ 49 following · ✖ 1 retrying (cam-50)"), line

        marker = "MARK42"
        fleet.sim.host("cam-42").log.write("ERROR", marker)
        await _until(pilot, lambda: any(marker in r[TEXT] for r in view.buffer.records), "the marker line")

        # H: only cam-42's lines; every line on screen says it came from cam-42
        await pilot.press("H", *"cam-42", "enter")
        await pilot.pause()
        assert view.buffer.filter.hosts == frozenset({"cam-42"})
        assert {r[HOST] for r in view.buffer.view} == {"cam-42"}
        await pilot.press("end")
        view.flush()
        await pilot.pause(1.2)
        screen = _text(app)
        assert "1 of 50 hosts (filter 'cam-42'): ✔ 1 following" in screen
        log_rows = [ln for ln in screen.splitlines() if ln[:2].isdigit()]  # "13:02:11.123 cam-42/..."
        assert log_rows and all(" cam-42/" in ln for ln in log_rows), log_rows
        assert marker in screen, screen

        # the pane's own c (clear filters) clears the host filter line too
        await pilot.press("c")
        await pilot.pause()
        assert view.buffer.filter.hosts is None
        assert app.screen.query_one("#logs-scope-filter").value == ""
    assert app.worker_failures == []


async def test_logs_at_80_columns_label_lines_compactly_and_summarise_the_host_filter(fleet, tmp_path):
    """At 80 columns the host/source label is compact (``cam-42/cam``, the status line
    saying what the tags stand for) and a filter on several hosts reads ``host=cam-10 +9``
    instead of running off the status line; at 200 columns the labels are whole again."""
    import re

    from runners.logs.buffer import HOST, SOURCE
    from tui.widgets.log_view import LogView

    app = _console(fleet, tmp_path, follow_logs=True)
    async with app.run_test(size=SIZE) as pilot:
        await _start(pilot, fleet)
        await pilot.press("3")
        view = app.screen.query_one(LogView)
        fleet.sim.host("cam-42").log.write("INFO", "label-check")
        await _until(pilot, lambda: len({r[HOST] for r in view.buffer.records}) >= 10, "lines from many hosts")
        view.flush()
        await pilot.pause(0.2)
        lines = _text(app).splitlines()
        status = _status_line(lines)
        assert status.startswith(" FOLLOW") and "cam=camera-service med=mediamtx" in status, status
        log_rows = [ln for ln in lines if ln[:2].isdigit()]
        assert log_rows
        for ln in log_rows:  # time, a 10-cell label, the level: the message starts at column 28
            assert re.match(r"\d\d:\d\d:\d\d\.\d{3} cam-\d\d/(cam|med) [A-Z ]{3} \S", ln), ln
        assert not any("camera-service" in ln for ln in log_rows)

        await pilot.press("H", *"cam-1", "enter")  # cam-10 .. cam-19
        await pilot.pause()
        assert view.buffer.filter.hosts == frozenset(f"cam-{i}" for i in range(10, 20))
        await pilot.pause(0.2)
        status = _status_line(_text(app).splitlines())
        assert "filter: host=cam-10 +9" in status and "cam-11" not in status, status
        assert {r[HOST] for r in view.buffer.view} <= {f"cam-{i}" for i in range(10, 20)}

        await pilot.resize_terminal(200, 50)
        await pilot.pause(0.2)
        view.flush()
        await pilot.pause(0.2)
        lines = _text(app).splitlines()
        assert "cam=camera-service" not in _status_line(lines), lines  # whole labels: no legend needed
        log_rows = [ln for ln in lines if ln[:2].isdigit()]
        assert log_rows
        for ln in log_rows:
            assert re.match(r"\d\d:\d\d:\d\d\.\d{3} cam-1\d/(camera-service|mediamtx) ", ln), ln
        assert view.follow
        assert {r[SOURCE] for r in view.buffer.records} <= {"camera-service", "mediamtx"}
    assert app.worker_failures == []


def _status_line(lines: list[str]) -> str:
    """The Logs pane's status line on screen."""
    return next(ln for ln in lines if ln.startswith((" FOLLOW", " PAUSED")))


# ---------------------------------------------------------------------- triage
async def test_triage_form_picks_hosts_and_the_register_names_them(fleet, tmp_path):
    from record.layout import DryRunDir
    from record.triage import load_register
    from screens.triage_form import TriageForm
    from tui.widgets.run_table import RunTable

    app = _console(fleet, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await _start(pilot, fleet)
        await pilot.press("2")
        await pilot.pause()
        app.screen.query_one(RunTable).select(FAILING[0], "SMK-3")
        await pilot.pause()
        await pilot.press("t")
        await _until(pilot, lambda: isinstance(app.screen, TriageForm), "the triage form")
        await pilot.pause()
        form = app.screen
        assert form.collect_hosts() == ([FAILING[0]], [])
        add = form.query_one("#add-failing")
        assert add.display and str(add.label) == "+2 also failing"  # the same check failed on 2 more
        assert "Hosts        cam-07" in _text(app)

        # a host that is not in the config is refused, by name
        hosts = form.query_one("#hosts")
        hosts.value = "cam-07, cam-99"
        await pilot.pause()
        assert "hosts" in form.problems() and "cam-99" in form.problems()["hosts"]
        assert form.query_one("#save").disabled

        hosts.value = FAILING[0]
        add.press()
        await pilot.pause()
        assert form.collect_hosts() == ([FAILING[0], FAILING[1], DOWN], [])
        form.query_one("#owner").value = "alice"
        form.query_one("#eta").value = "today 16:00"
        await pilot.pause()
        assert form.problems() == {}
        await pilot.press("ctrl+s")
        await _until(pilot, lambda: not isinstance(app.screen, TriageForm), "the form to save")
        await ready(pilot)
        issue = load_register(DryRunDir(app.model.cfg.dry_run_path)).get("DRY-01")
        assert issue.hosts == [FAILING[0], FAILING[1], DOWN]

        await pilot.press("4")
        await pilot.pause()
        screen = _text(app)
        assert "3 of 50 hosts with open entries" in screen
        assert "cam-07+2" in screen  # the register's Hosts column

        # edit: the hosts field edits the entry's hosts
        await pilot.press("e")
        await _until(pilot, lambda: isinstance(app.screen, TriageForm), "the edit form")
        app.screen.query_one("#hosts").value = "cam-07"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await _until(pilot, lambda: not isinstance(app.screen, TriageForm), "the edit to save")
        await ready(pilot)
        d = DryRunDir(app.model.cfg.dry_run_path)
        assert load_register(d).get("DRY-01").hosts == ["cam-07"]
        from record.events_log import read_events

        edits = [e for e in read_events(d.events_log) if e["kind"] == "triage_updated" and e.get("dry_id") == "DRY-01"]
        assert any("hosts" in c and "cam-07" in c for e in edits for c in e["changes"]), edits  # on the audit trail
    assert app.worker_failures == []
