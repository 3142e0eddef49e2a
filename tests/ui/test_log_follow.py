"""The App follows the hosts' logs from the start: lines that arrived before anybody opened
the Logs screen are there when it opens (once each), over the App's one SSH pool; the
backlog that holds them meanwhile is bounded."""

from __future__ import annotations

import time

import pytest

from runners.events import LogGap, LogLines
from tests.ui.conftest import ready

pytestmark = pytest.mark.timeout(90)


async def _until(pilot, cond, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.05)


def _backlog_text(app) -> str:
    return "\n".join(line for ev in app.log_backlog._events for line in getattr(ev[0], "lines", ()))


async def test_lines_before_the_logs_screen_opened_are_shown_when_it_opens(tmp_path):
    from runners.config import load_config
    from runners.logs.buffer import TEXT
    from runners.sim.fleet import run_fleet
    from runners.sim.host import SimHostSpec
    from tui.app import DryRunApp
    from tui.widgets.log_view import LogView

    spec = SimHostSpec(name="cam-01", dialect="current", cameras=1, discovery_delay=0.1)
    async with run_fleet([spec], tmp_path / "fleet", config=tmp_path / "dryrun.toml") as fleet:
        sim = fleet.host("cam-01")
        cfg = load_config(tmp_path / "dryrun.toml")
        assert any(s.kind == "file" for s in cfg.hosts[0].logs)  # over SSH, through the shared pool
        app = DryRunApp(cfg, remember_theme=False, watch_files=False, probe_hosts=False, follow_logs=True)
        async with app.run_test(size=(160, 40)) as pilot:
            await ready(pilot)
            assert app.current_mode == "standup"
            sim.log.write("INFO", "before-open marker one")
            sim.log.write("ERROR", "before-open marker two")
            await _until(pilot, lambda: "before-open marker two" in _backlog_text(app),
                         "the App's hub to collect the lines with no Logs screen open")
            assert app.log_hub is not None and app.log_hub.pool is app.ssh_pool  # one connection per host

            await pilot.press("3")  # first time the Logs screen is shown
            await pilot.pause()
            assert app.current_mode == "logs"
            view = app.screen.query_one(LogView)
            assert len(app.log_backlog) == 0  # handed over to the pane

            def texts() -> list[str]:
                return [r[TEXT] for r in view.buffer.records]

            await _until(pilot, lambda: any("before-open marker two" in t for t in texts()), "the replay")
            # live lines after the screen opened still arrive, straight to the pane
            sim.log.write("INFO", "after-open marker three")
            await _until(pilot, lambda: any("after-open marker three" in t for t in texts()), "a live line")
            view.flush()
            await pilot.pause()
            for marker in ("before-open marker one", "before-open marker two", "after-open marker three"):
                assert sum(marker in t for t in texts()) == 1, (marker, texts())  # no duplicates
            rows = "\n".join(view.render_line(y).text for y in range(view.scrollable_content_region.height))
            assert "before-open marker one" in rows and "after-open marker three" in rows

            # leaving the screen keeps the pane fed (it stays mounted); R reconnects the same hub slot
            await pilot.press("1")
            sim.log.write("INFO", "while-away marker four")
            await _until(pilot, lambda: any("while-away marker four" in t for t in texts()), "a line while away")
            assert len(app.log_backlog) == 0
            await pilot.press("3", "R")
            await pilot.pause()
            assert app.log_following
        assert app.worker_failures == []


def test_backlog_is_bounded_by_lines_and_keeps_order():
    from tui.logfollow import LogBacklog

    b = LogBacklog(cap=10)
    for i in range(8):
        b.append(LogLines(host="h", source="s", lines=(f"a{i}", f"b{i}")))
    b.append(LogGap(host="h", source="s", reason="reconnect", lost_bytes=None))
    assert b.lines <= 10 and b.evicted == 8  # whole events dropped from the front
    evs = b.take()
    assert [e.lines[0] for e in evs if isinstance(e, LogLines)] == ["a4", "a5", "a6", "a7"]
    assert isinstance(evs[-1], LogGap)
    assert len(b) == 0 and b.lines == 0
    big = LogLines(host="h", source="s", lines=tuple(str(i) for i in range(50)))
    b.append(big)  # one event over the cap is kept whole (the pane trims it)
    assert b.take() == [big]
    with pytest.raises(ValueError, match="at least 1 line"):
        LogBacklog(cap=0)


def _stamp(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) + f",{int(t * 1000) % 1000:03d}"


async def test_config_reload_restarts_the_follower_and_no_logs_stops_it(tmp_path):
    """Local logs (no SSH): the App follows from the start; a config naming another file
    follows that one; a config with no logs stops following."""
    from runners.config import load_config
    from tests.ui import scenario
    from tui.app import DryRunApp

    cfg_path = scenario.build(tmp_path / "scenario")
    base = cfg_path.read_text()
    first, second = tmp_path / "first.log", tmp_path / "second.log"
    first.write_text(f"{_stamp(time.time() - 1)} INFO svc: from-first-file\n")
    second.write_text(f"{_stamp(time.time() - 1)} INFO svc: from-second-file\n")

    def with_log(path) -> str:
        return base.replace('dialect = "current"\n',
                            f'dialect = "current"\nlogs = [{{ name = "svc", kind = "local", path = "{path}" }}]\n', 1)

    cfg_path.write_text(with_log(first))
    app = DryRunApp(load_config(cfg_path), remember_theme=False, watch_files=False, probe_hosts=False,
                    follow_logs=True)
    async with app.run_test(size=(120, 30)) as pilot:
        await ready(pilot)
        await _until(pilot, lambda: "from-first-file" in _backlog_text(app), "the first file's line")
        old = app._log_worker
        cfg_path.write_text(with_log(second))
        app._reload_config(cfg_path)
        assert app._log_worker is not old and app.log_following
        await _until(pilot, lambda: "from-second-file" in _backlog_text(app), "the second file's line")
        cfg_path.write_text(base)
        app._reload_config(cfg_path)
        await pilot.pause()
        assert not app.log_following and app._log_worker is None
    assert app.worker_failures == []


async def test_reload_shows_every_line_once_and_what_arrived_meanwhile(tmp_path):
    """R (reconnect) and a config reload restart the log follower. The new one resumes
    where the old one stopped (file: byte offset + anchor, journal: cursor): the lines in
    the pane are not read and shown again, and lines written during the reload are shown,
    once. Over real sockets: a simulator host, its SSH server, the App's SSH pool."""
    from collections import Counter

    from runners.config import load_config
    from runners.logs.buffer import HOST, KIND, LINE, SOURCE, TEXT
    from runners.sim.fleet import run_fleet
    from runners.sim.host import SimHostSpec
    from tui.app import DryRunApp
    from tui.messages import FilesChanged
    from tui.widgets.log_view import LogView

    spec = SimHostSpec(name="cam-01", dialect="current", cameras=1, discovery_delay=0.1)
    cfg_path = tmp_path / "dryrun.toml"
    async with run_fleet([spec], tmp_path / "fleet", config=cfg_path) as fleet:
        sim = fleet.host("cam-01")
        cfg = load_config(cfg_path)
        assert {s.kind for s in cfg.hosts[0].logs} == {"file", "journal"}
        app = DryRunApp(cfg, remember_theme=False, watch_files=False, probe_hosts=False, follow_logs=True,
                        start_mode="logs")
        async with app.run_test(size=(160, 40)) as pilot:
            await app.record_ready.wait()  # (not ready(): it would wait for the log follower to end)
            await pilot.pause()
            view = app.screen.query_one(LogView)

            def lines() -> list[tuple[str, str, str]]:
                return [(r[HOST], r[SOURCE], r[TEXT]) for r in view.buffer.records if r[KIND] == LINE]

            def shown(marker: str) -> int:
                return sum(marker in t for _h, _s, t in lines())

            def write(marker: str) -> None:
                sim.log.write("INFO", f"{marker} (file)")
                sim.mediamtx_log.line("INF", f"{marker} (journal)")

            async def until_shown(marker: str) -> None:
                await _until(pilot, lambda: shown(marker) >= 2, f"{marker!r} from both sources")

            write("marker-before")
            await until_shown("marker-before")
            held = len(lines())
            assert held > 10  # the backlog both sources showed at start (what a restart read again)

            # 1. R: every follower restarts now; a line written meanwhile still arrives
            hub = app.log_hub
            await pilot.press("R")
            write("marker-during-R")
            await _until(pilot, lambda: app.log_hub is not None and app.log_hub is not hub, "a new hub")
            write("marker-after-R")
            await until_shown("marker-during-R")
            await until_shown("marker-after-R")

            # 2. a config reload (another RPC timeout: same hosts, same logs)
            hub = app.log_hub
            text = cfg_path.read_text()
            assert "rpc_timeout = 5.0\n" in text
            cfg_path.write_text(text.replace("rpc_timeout = 5.0\n", "rpc_timeout = 6.0\n", 1))
            app.post_message(FilesChanged({str(cfg_path)}))
            write("marker-during-reload")
            await _until(pilot, lambda: app.log_hub is not None and app.log_hub is not hub, "a new hub")
            write("marker-after-reload")
            await until_shown("marker-during-reload")
            await until_shown("marker-after-reload")
            await pilot.pause(0.5)  # anything read again would have arrived by now
            view.flush()

            dupes = {k: n for k, n in Counter(lines()).items() if n > 1}
            assert not dupes, f"{len(dupes)} lines shown more than once, e.g. {list(dupes)[:3]}"
            for marker in ("marker-before", "marker-during-R", "marker-after-R", "marker-during-reload",
                           "marker-after-reload"):
                assert shown(marker) == 2, (marker, shown(marker))  # once per source
            assert not [r for r in view.buffer.records if r[KIND] != LINE], "no gap: nothing was lost"
        assert app.worker_failures == []


async def test_logs_opens_following_the_newest_lines_on_a_busy_fleet(tmp_path):
    """A busy fleet, Logs never opened: the first time the operator switches to it, the pane
    replays the backlog and shows its newest lines, following (not paused with "+N new").
    Neither the first layout nor a resize is taken for the operator scrolling up (both clamp
    the scroll position to the new bottom); scrolling up still pauses."""
    from runners.config import load_config
    from runners.logs.buffer import TEXT
    from runners.sim.fleet import run_fleet
    from runners.sim.host import SimHostSpec
    from tui.app import DryRunApp
    from tui.widgets.log_view import LogView

    specs = [SimHostSpec(name=f"cam-{i:02d}", dialect="current", cameras=1, discovery_delay=0.1) for i in (1, 2, 3)]
    async with run_fleet(specs, tmp_path / "fleet", config=tmp_path / "dryrun.toml") as fleet:
        for spec in specs:  # far more lines than the pane has rows
            for i in range(250):
                fleet.host(spec.name).log.write("INFO", f"busy {spec.name} line {i}")
        fleet.host("cam-03").log.write("INFO", "newest-before-open")
        cfg = load_config(tmp_path / "dryrun.toml")
        app = DryRunApp(cfg, remember_theme=False, watch_files=False, probe_hosts=False, follow_logs=True)
        async with app.run_test(size=(80, 24)) as pilot:
            await app.record_ready.wait()
            await _until(pilot, lambda: "newest-before-open" in _backlog_text(app), "the backlog")
            await pilot.press("3")  # first time the Logs screen is shown: the backlog is replayed
            view = app.screen.query_one(LogView)

            def rows() -> str:
                return "\n".join(view.render_line(y).text for y in range(view.scrollable_content_region.height))

            await _until(pilot, lambda: any("newest-before-open" in r[TEXT] for r in view.buffer.records), "replay")
            for _ in range(5):  # a few frames and layouts
                await pilot.pause(0.05)
            assert view.follow, view.status()
            assert view.status().startswith("FOLLOW") and view.new_while_paused == 0, view.status()
            assert view.scroll_y == view.max_scroll_y > 0
            assert view.buffer.view[-1][TEXT] in rows() or "newest-before-open" in rows()

            fleet.host("cam-01").log.write("INFO", "live-after-open")
            await _until(pilot, lambda: "live-after-open" in rows(), "a live line at the bottom")
            await pilot.resize_terminal(200, 50)  # taller: the bottom moves up, still following
            for _ in range(3):
                await pilot.pause(0.05)
            assert view.follow and view.scroll_y == view.max_scroll_y, view.status()
            assert "live-after-open" in rows()

            await pilot.press("pageup")  # the operator scrolling up still pauses
            assert not view.follow and view.status().startswith("PAUSED")
        assert app.worker_failures == []
