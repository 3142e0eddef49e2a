"""The log pane under Pilot: follow/pause, search, jump to error, filters, marker, wrap,
save, safety of what reaches the terminal."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from textual.app import App, ComposeResult

from runners.events import LogGap, LogLines
from runners.logs.buffer import GAP, HOST, KIND, MARK, TEXT
from tui.widgets.log_view import LogPane, LogView

T0 = time.time() - 30


@pytest.fixture(autouse=True)
def _fresh_t0():
    """Line times close to now: far older lines would be clamped to arrival order (the
    buffer's reorder window), and a full test run can take minutes."""
    global T0
    T0 = time.time() - 30


def stamp(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) + f",{int(t * 1000) % 1000:03d}"


def lines(n: int, host_t0: float | None = None, level: str = "INFO", start: int = 0,
          step: float = 0.001) -> list[str]:
    base = T0 if host_t0 is None else host_t0
    return [f"{stamp(base + (start + i) * step)} {level} svc: line {start + i}" for i in range(n)]


class PaneApp(App):
    def __init__(self, save_dir: Path | None = None, cap: int = 100_000):
        super().__init__()
        self.save_dir = save_dir
        self.cap = cap

    def compose(self) -> ComposeResult:
        yield LogPane(save_dir=self.save_dir, cap=self.cap)

    @property
    def view(self) -> LogView:
        return self.query_one(LogView)


def screen_text(view: LogView) -> list[str]:
    return [view.render_line(y).text for y in range(view.scrollable_content_region.height)]


async def feed(pilot, view: LogView, host: str, texts: list[str], source: str = "svc") -> None:
    view.ingest(LogLines(host=host, source=source, lines=tuple(texts)))
    view.flush()
    await pilot.pause()


async def test_follow_shows_the_newest_line_and_pause_holds_the_view():
    app = PaneApp()
    async with app.run_test(size=(160, 50)) as pilot:
        view = app.view
        await feed(pilot, view, "cam-01", lines(1000))
        rows = screen_text(view)
        assert any("line 999" in r for r in rows) and not any("line 0 " in r + " " for r in rows)
        assert view.status().startswith("FOLLOW") and "1,000 lines" in view.status()
        await pilot.press("f")
        assert not view.follow
        top_before = screen_text(view)[0]
        await feed(pilot, view, "cam-01", lines(500, start=1000))
        assert screen_text(view)[0] == top_before  # paused: nothing moves under the reader
        assert "PAUSED (+500 new)" in view.status()
        await pilot.press("f")
        assert view.follow and any("line 1499" in r for r in screen_text(view))


async def test_scrolling_up_pauses_and_the_bottom_follows_again():
    app = PaneApp()
    async with app.run_test(size=(120, 30)) as pilot:
        view = app.view
        view.focus()
        await feed(pilot, view, "cam-01", lines(300))
        await pilot.press("pageup")
        assert not view.follow
        await pilot.press("end")
        assert view.follow


async def test_paused_view_stays_put_while_old_lines_are_evicted():
    app = PaneApp(cap=400)
    async with app.run_test(size=(120, 20)) as pilot:
        view = app.view
        await feed(pilot, view, "cam-01", lines(300))
        await pilot.press("f")
        view.scroll_to(y=250, animate=False, immediate=True)
        await pilot.pause()
        top = screen_text(view)[0]
        assert "line 250" in top
        await feed(pilot, view, "cam-01", lines(200, start=300))  # 500 > cap: the oldest go
        assert view.buffer.evicted > 0
        assert screen_text(view)[0] == top


async def test_lines_from_hosts_merge_by_time_with_host_tags():
    app = PaneApp()
    async with app.run_test(size=(160, 20)) as pilot:
        view = app.view
        a = [f"{stamp(T0 + i)} INFO svc: a{i}" for i in (1, 3, 5)]
        b = [f"{stamp(T0 + i)} WARNING svc: b{i}" for i in (2, 4)]
        view.ingest(LogLines(host="cam-01", source="svc", lines=tuple(a)))
        view.ingest(LogLines(host="cam-02", source="svc", lines=tuple(b)))
        view.flush()
        await pilot.pause()
        rows = [r for r in screen_text(view) if r.strip()]
        order = [r.split()[-1] for r in rows]
        assert order == ["a1", "b2", "a3", "b4", "a5"]
        assert "cam-02/svc" in rows[1] and " WRN " in rows[1] and " INF " in rows[0]
        # the timestamp and level are columns: not repeated in the message
        assert rows[0].count(stamp(T0 + 1)[11:19]) == 1 and "INFO" not in rows[0]


async def test_search_next_previous_and_jump_to_error():
    app = PaneApp()
    async with app.run_test(size=(160, 30)) as pilot:
        view = app.view
        view.focus()
        texts = lines(400)
        texts[100] = f"{stamp(T0 + 0.1)} ERROR svc: camera vanished"
        texts[300] = f"{stamp(T0 + 0.3)} ERROR svc: camera vanished again"
        await feed(pilot, view, "cam-01", texts)
        await pilot.press("slash")
        await pilot.press(*"line 25[05]$")
        await pilot.press("enter")
        assert view.cursor is not None and view.cursor[TEXT].endswith("line 250")
        assert not view.follow  # a jump pauses, so the match stays on screen
        assert any("line 250" in r for r in screen_text(view))
        await pilot.press("n")
        assert view.cursor[TEXT].endswith("line 255")
        await pilot.press("N")
        assert view.cursor[TEXT].endswith("line 250")
        await pilot.press("e")
        assert view.cursor[TEXT].endswith("camera vanished again")
        await pilot.press("e")
        assert view.cursor[TEXT].endswith("camera vanished")  # wraps around
        await pilot.press("E")
        assert view.cursor[TEXT].endswith("camera vanished again")


async def test_a_bad_regex_is_reported_not_raised():
    app = PaneApp()
    async with app.run_test(size=(120, 20)) as pilot:
        view = app.view
        await feed(pilot, view, "cam-01", lines(10))
        await pilot.press("i")
        await pilot.press(*"(oops")
        await pilot.press("enter")
        assert not view.buffer.filter.active
        assert any("not a valid regular expression" in str(n.message) for n in app._notifications)


async def test_filters_level_host_include_exclude():
    app = PaneApp()
    async with app.run_test(size=(160, 40)) as pilot:
        view = app.view
        view.focus()
        await feed(pilot, view, "cam-01", lines(5) + [f"{stamp(T0 + 1)} ERROR svc: broke"])
        await feed(pilot, view, "cam-02", lines(5, level="WARNING", start=10))
        assert len(view.buffer.view) == 11
        await pilot.press("l", "l")  # all -> INFO -> WARNING
        assert len(view.buffer.view) == 6 and "level>=WARNING" in view.status()
        await pilot.press("l", "l")  # -> ERROR -> all
        assert len(view.buffer.view) == 11
        await pilot.press("h")
        assert {r[HOST] for r in view.buffer.view} == {"cam-01"}
        await pilot.press("h")
        assert {r[HOST] for r in view.buffer.view} == {"cam-02"}
        await pilot.press("h")
        assert len(view.buffer.view) == 11
        await pilot.press("x")
        await pilot.press(*"line 1[0-3]")
        await pilot.press("enter")
        assert len(view.buffer.view) == 7
        await pilot.press("i")
        await pilot.press(*"line")
        await pilot.press("enter")
        assert len(view.buffer.view) == 6
        await pilot.press("c")
        assert len(view.buffer.view) == 11 and not view.buffer.filter.active


async def test_now_marker_gap_and_wrap():
    app = PaneApp()
    async with app.run_test(size=(100, 30)) as pilot:
        view = app.view
        view.focus()
        await feed(pilot, view, "cam-01", lines(3))
        await pilot.press("m")
        assert view.buffer.view[-1][KIND] == MARK
        view.ingest(LogGap(host="cam-01", source="svc", reason="journal cursor no longer valid", lost_bytes=None))
        view.flush()
        await pilot.pause()
        rows = screen_text(view)
        assert any("── now " in r for r in rows)
        assert any("━━ gap in cam-01/svc: journal cursor no longer valid (unknown size) ━━" in r for r in rows)
        long = f"{stamp(T0 + 5)} INFO svc: " + " ".join(f"word{i}" for i in range(60))
        await feed(pilot, view, "cam-01", [long])
        assert sum("word" in r for r in screen_text(view)) == 1
        await pilot.press("w")
        wrapped = [r for r in screen_text(view) if "word" in r]
        assert len(wrapped) >= 4 and "word59" in wrapped[-1]
        assert all(len(r.rstrip()) <= 100 for r in screen_text(view))


async def test_escape_sequences_and_bad_bytes_never_reach_the_terminal(tmp_path):
    app = PaneApp()
    async with app.run_test(size=(160, 20)) as pilot:
        view = app.view
        evil = f"{stamp(T0)} INFO svc: \x1b[2J\x1b]0;pwned\x07 \x9b31m \u202eevil \r over"
        await feed(pilot, view, "cam-01", [evil, "bad \udcff bytes"])
        rows = "\n".join(screen_text(view))
        for bad in ("\x1b", "\x07", "\x9b", "\u202e", "\r"):
            assert bad not in rows
        assert "␛[2J" in rows  # shown, harmless


async def test_long_lines_truncated_on_screen_saved_whole(tmp_path):
    app = PaneApp(save_dir=tmp_path / "artifacts" / "logs")
    async with app.run_test(size=(160, 20)) as pilot:
        view = app.view
        view.focus()
        long = f"{stamp(T0)} INFO svc: " + "z" * 50_000
        await feed(pilot, view, "cam-01", [long] + lines(3, start=1))
        await feed(pilot, view, "cam-02", lines(2, start=10, level="ERROR"))
        await pilot.press("w")
        shown = [r for r in screen_text(view) if "zzz" in r or "saved whole" in r]
        assert any("[+48,005 chars, saved whole]" in r for r in shown)  # "svc: " + 50,000 - 2,000
        await pilot.press("l", "l", "l")  # ERROR only
        await pilot.press("s")
        await app.workers.wait_for_complete()
        await pilot.press("S")
        await app.workers.wait_for_complete()
        await pilot.pause()
        files = sorted((tmp_path / "artifacts" / "logs").glob("logs-*.log"))
        assert len(files) == 2
        view_file = next(f for f in files if f.name.endswith("-view.log"))
        all_file = next(f for f in files if f.name.endswith("-all.log"))
        vtext = view_file.read_text()
        assert vtext.startswith("# filter: level>=ERROR") and vtext.count("cam-02/svc ERR") == 2
        atext = all_file.read_text()
        assert "z" * 50_000 in atext and atext.count("\n") == 6


async def test_save_without_a_folder_says_so():
    app = PaneApp(save_dir=None)
    async with app.run_test(size=(100, 20)) as pilot:
        app.view.focus()
        await feed(pilot, app.view, "cam-01", lines(2))
        await pilot.press("s")
        assert any("nothing saved" in str(n.message) for n in app._notifications)


async def test_flood_is_batched_into_few_flushes_and_bounded():
    app = PaneApp(cap=5_000)
    async with app.run_test(size=(160, 50)) as pilot:
        view = app.view
        for k in range(40):  # 40 events of 500 lines before a single timer flush
            view.ingest(LogLines(host=f"cam-{k % 3}", source="svc", lines=tuple(lines(500, start=k * 500))))
        assert view.flushes == 0  # ingest never draws
        while view._pending:
            view.flush()
            await pilot.pause()
        assert view.flushes <= 40 and len(view.buffer) <= 5_000 + 250
        assert view.buffer.evicted + view.dropped_pending + len(view.buffer) == 20_000


async def test_trace_lookup_colours_known_request_ids():
    app = PaneApp()
    async with app.run_test(size=(160, 20)) as pilot:
        view = app.view
        view.set_trace_lookup(lambda v: "SMK-3 on cam-01: get_camera_list 4.2 ms (failed)" if v == "17" else None)
        await feed(pilot, view, "cam-01", [f"{stamp(T0)} INFO svc: handled request_id=17",
                                            f"{stamp(T0)} INFO svc: handled request_id=99"])
        recs = view.buffer.view
        assert view.describe_ids(recs[0]) == ["17: SMK-3 on cam-01: get_camera_list 4.2 ms (failed)"]
        assert view.describe_ids(recs[1]) == []
        row = next(view.render_line(y) for y in range(20) if "request_id=17" in view.render_line(y).text)
        linked = [seg for seg in row if seg.text == "17"]
        plain = [seg for seg in row if seg.text.endswith("request_id=")]
        assert linked and plain and linked[0].style != plain[0].style  # the known id stands out


def test_flush_rate_is_validated():
    with pytest.raises(ValueError, match="flush_hz"):
        LogView(flush_hz=0)
    assert GAP != MARK


# ------------------------------------------------------------------------------ the console's Logs screen
async def test_logs_screen_in_the_console_follows_a_local_log(tmp_path, monkeypatch):
    """The console as the CLI builds it: the Logs screen starts the hub, lines show up,
    a gap marker and the trace link work, and save writes under dry_run/artifacts/logs/."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    from tests.ui import scenario
    from tests.ui.conftest import make_console

    cfg_path = scenario.build(tmp_path / "scenario")
    log = tmp_path / "svc.log"
    log.write_text(f"{stamp(time.time() - 1)} INFO camera_service.api: started request_id=7\n")
    text = cfg_path.read_text().replace(
        'dialect = "current"\n',
        f'dialect = "current"\nlogs = [{{ name = "camera-service", kind = "local", path = "{log}" }}]\n', 1)
    cfg_path.write_text(text)
    app = make_console(cfg_path, screen="logs")
    async with app.run_test(size=(160, 50)) as pilot:
        view = app.screen.query_one(LogView)
        deadline = time.monotonic() + 10
        while not view.buffer.view and time.monotonic() < deadline:
            await pilot.pause(0.05)
        assert view.buffer.view and view.buffer.view[0][HOST] == "cam-01"
        with open(log, "a") as f:
            f.write(f"{stamp(time.time())} ERROR camera_service.api: snapshot failed request_id=8\n")
        while len(view.buffer.view) < 2 and time.monotonic() < deadline:
            await pilot.pause(0.05)
        view.flush()
        await pilot.pause()
        rows = "\n".join(screen_text(view))
        assert "cam-01/camera-service ERR" in rows and "snapshot failed" in rows
        await pilot.press("e")
        assert view.cursor is not None and "snapshot failed" in view.cursor[TEXT]
        await pilot.press("s")
        saved: list[Path] = []
        while not saved and time.monotonic() < deadline:  # the save runs on a thread
            await pilot.pause(0.05)
            saved = list((tmp_path / "scenario").rglob("artifacts/logs/logs-*-view.log"))
        assert len(saved) == 1 and "snapshot failed request_id=8" in saved[0].read_text()


async def test_read_only_console_cannot_save(tmp_path):
    app = PaneApp(save_dir=tmp_path / "logs")
    async with app.run_test(size=(120, 20)) as pilot:
        view = app.view
        view.read_only = True
        view.focus()
        await feed(pilot, view, "cam-01", lines(3))
        await pilot.press("s", "S")
        await app.workers.wait_for_complete()
        assert not (tmp_path / "logs").exists()
        assert view.check_action("save", (True,)) is False and view.check_action("toggle_follow", ()) is True


async def test_narrow_pane_labels_lines_compactly_and_unambiguously():
    """80 columns: one source per host -> the host alone; long host names keep their start
    and end; two sources -> a unique tag each, explained in the status line. 160 columns:
    the whole host/source again."""
    app = PaneApp()
    async with app.run_test(size=(80, 20)) as pilot:
        view = app.view
        await feed(pilot, view, "cam-01", lines(3), source="camera-service")
        await feed(pilot, view, "cam-02", lines(3, start=3), source="camera-service")
        rows = [r for r in screen_text(view) if r.strip()]
        assert rows[0][13:].startswith("cam-01 INF svc: line 0"), rows[0]  # host alone, then the level
        assert "camera-service" not in "".join(rows) and "=" not in view.status()

        a, b = "edge-camera-building-7-floor-03", "edge-camera-building-7-floor-04"
        await feed(pilot, view, a, lines(1, start=6), source="camera-service")
        await feed(pilot, view, b, lines(1, start=7), source="camera-service")
        rows = [r for r in screen_text(view) if r.strip()]
        assert rows[-2][13:30] == "edge-ca…floor-03 " and rows[-1][13:30] == "edge-ca…floor-04 ", rows[-2:]
        assert rows[0][13:30] == "cam-01           "  # one column width for every host

        await feed(pilot, view, "cam-01", lines(1, start=8), source="mediamtx")
        rows = [r for r in screen_text(view) if r.strip()]
        assert rows[-1][13:34] == "cam-01/med           ", rows[-1]
        assert rows[0][13:34] == "cam-01/cam           ", rows[0]
        assert view.status().endswith("cam=camera-service med=mediamtx"), view.status()

        await pilot.resize_terminal(160, 20)
        await pilot.pause()
        rows = [r for r in screen_text(view) if r.strip()]
        assert rows[0][13:].startswith("cam-01/camera-service ") and "=" not in view.status()
        assert view.follow
