"""The dry-run console: the Textual App.

Small on purpose: screens (``screens/``) draw and own their widgets' state; workers
started here (and the run flows in ``tui.runs``) run the runners and post messages
(``tui.messages``); the handlers fold those into the ConsoleModel and tell screens what
changed through the ``model_changed`` signal. Worker failures of
any kind end up in one place (``on_worker_state_changed``): a clear notification, the
app keeps running.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import importlib.util
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from textual import on, work
from textual.app import App
from textual.binding import Binding
from textual.signal import Signal
from textual.worker import Worker, WorkerState

from runners.config import Config
from tui.logfollow import LogFollowMixin
from tui.messages import FilesChanged, HostProbed, RecordLoaded, TaskDone
from tui.model import Clock, ConsoleModel, system_clock
from tui.runs import RunsMixin
from tui.widgets.navbar import NAV

RUN_RELOAD_INTERVAL = 2.0  # seconds between record loads while a run is live (an incremental load: ~30 ms)

# mode -> (module, class); imported on first use so the first frame only pays for stand-up
SCREENS: dict[str, tuple[str, str]] = {
    "standup": ("screens.standup", "StandupScreen"),
    "smoke": ("screens.smoke", "SmokeScreen"),
    "logs": ("screens.logs", "LogsScreen"),
    "triage": ("screens.triage", "TriageScreen"),
    "closeout": ("screens.closeout", "CloseoutScreen"),
    "env": ("screens.env", "EnvScreen"),
}


def _screen_class(mode: str) -> type:
    module, name = SCREENS[mode]
    return getattr(importlib.import_module(module), name)


def _palette_provider() -> type:
    from tui.palette import ConsoleCommands  # textual.command costs ~20 ms: not before the first frame

    return ConsoleCommands


def _available_modes() -> dict[str, tuple[str, str]]:
    out = {}
    for mode, (module, _name) in SCREENS.items():
        if importlib.util.find_spec(module) is not None:
            out[mode] = SCREENS[mode]
    return out


class DryRunApp(RunsMixin, LogFollowMixin, App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "dry-run console"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (36, "-tall")]
    COMMANDS = App.COMMANDS | {_palette_provider}
    BINDINGS: ClassVar[list[Binding]] = [
        *(Binding(key, f"switch_mode('{mode}')", f"Go to {title}", show=False, id=f"nav.{mode}")
          for key, mode, title in NAV),
        Binding("question_mark", "help", "Help", id="app.help", tooltip="what this screen does and its keys"),
        Binding("ctrl+t", "next_theme", "Theme", id="app.theme",
                tooltip="next theme: dark, light, presentation, colour-blind, monochrome"),
        Binding("q", "quit_console", "Quit", id="app.quit"),
    ]

    def __init__(self, cfg: Config, *, read_only: bool = False, theme: str | None = None,
                 clock: Clock | None = None, remember_theme: bool = True, watch_files: bool = True,
                 probe_hosts: bool = True, start_mode: str = "standup", follow_logs: bool | None = None) -> None:
        self.model = ConsoleModel(cfg, now=clock or system_clock, read_only=read_only)
        self._modes_available = _available_modes()
        self.MODES = {mode: (lambda m=mode: _screen_class(m)()) for mode in self._modes_available}
        super().__init__()
        self.read_only = read_only
        self.remember_theme = remember_theme
        self.watch_files = watch_files
        self.probe_hosts = probe_hosts
        # Follow the hosts' logs from the start (not only once the Logs screen is opened).
        # Off by default when host probing is off (--no-probe, tests, snapshots): no
        # background host I/O then; opening the Logs screen still starts it.
        self.follow_logs = probe_hosts if follow_logs is None else follow_logs
        self._init_log_follow()
        self.start_mode = start_mode if start_mode in self._modes_available else "standup"
        self.worker_failures: list[tuple[str, BaseException]] = []
        self.model_changed: Signal[str] = Signal(self, "model-changed")
        self.clock_tick: Signal[None] = Signal(self, "clock")
        self._quit_armed = False
        self._engine: Any = None  # (running SmokeEngine, its loop) to cancel it
        self.ssh_pool: Any = None  # runners.ssh.SshPool on the UI loop (probe, log hub), made lazily
        self.last_flow: Any = None  # tui.flows.FlowResult of the last run this console made
        self.record_ready = asyncio.Event()  # set once the first record snapshot is in
        self._record_loading = self._record_again = False
        self._record_load_started = 0.0
        self._record_timer: Any = None
        self._task_topics: dict[str, str] = {}
        self._task_replies: dict[Worker, Callable[[TaskDone], None] | None] = {}
        from themes.register import register_themes, resolve_theme
        from tui.userstate import load_state

        register_themes(self)
        remembered = load_state().get("theme") if remember_theme else None
        name, why = resolve_theme(theme, remembered, no_color=self.no_color or "NO_COLOR" in os.environ,
                                  available=set(self.available_themes))
        self._theme_note = "" if why in ("requested", "remembered", "default", "NO_COLOR is set") else why
        self._loading_theme = True
        self.theme = name
        self._loading_theme = False

    # ------------------------------------------------------------------ screens
    def screen_classes(self) -> dict[str, type]:
        return {mode: _screen_class(mode) for mode in self._modes_available}

    def on_mount(self) -> None:
        self.switch_mode(self.start_mode)
        self.set_interval(1.0, self._tick)
        self.call_after_refresh(self.reload_record)  # its thread would compete with the first paint
        if self._theme_note:
            self.notify(f"{self._theme_note}; using {self.theme!r}", severity="warning")
        # Background I/O starts after the first frame is out (it imports watchfiles/asyncssh/
        # httpx/websockets, ~0.3 s of CPU that must not delay the first paint).
        self.set_timer(0.4, self._start_background)

    def _start_background(self) -> None:
        # Everything allocated so far (Textual, the widgets, the config) lives as long as the
        # app: freezing it keeps full GC passes from walking it again (measured with
        # bench_log_ingest --gc-freeze: worst collection pause 71 -> 14 ms under a log flood).
        gc.freeze()
        if self.watch_files:
            self._watch_files()
        if self.probe_hosts:
            self.start_probe()
        if self.follow_logs:
            self.start_log_follow()  # quietly nothing when no host has logs configured

    def _tick(self) -> None:
        self.clock_tick.publish(None)

    def clock_variants(self) -> list[str]:
        from tui.sprintclock import clock_variants

        return clock_variants(self.model)

    async def goto_and_run(self, mode: str, action: str) -> None:
        """Palette: run an action that lives on another screen."""
        await self.switch_mode(mode)
        await self.run_action(action, self.screen)

    def publish(self, topic: str) -> None:
        self.model_changed.publish(topic)

    # ------------------------------------------------------------------ actions
    def action_help(self) -> None:
        from screens.help import HelpScreen

        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss()
            return
        self.push_screen(HelpScreen(self.screen))

    def action_next_theme(self) -> None:
        from themes.specs import THEME_ORDER

        i = THEME_ORDER.index(self.theme) if self.theme in THEME_ORDER else -1
        self.theme = THEME_ORDER[(i + 1) % len(THEME_ORDER)]
        self.notify(f"theme: {self.theme}", timeout=2)

    def action_quit_console(self) -> None:
        if self.model.running_label and not self._quit_armed:
            self._quit_armed = True
            self.set_timer(3.0, lambda: setattr(self, "_quit_armed", False))
            self.notify("A run is in progress: press q again within 3 s to interrupt it and quit.",
                        severity="warning", timeout=3)
            return
        self.cancel_smoke()  # the run ends as interrupted and is recorded as such
        self.exit(0)

    async def on_unmount(self) -> None:
        self.cancel_smoke()  # ctrl+q and the like: never leave the run's thread going
        if self.ssh_pool is not None:
            await self.ssh_pool.close()

    def watch_theme(self, name: str) -> None:
        self.publish("theme")
        if self.remember_theme and not getattr(self, "_loading_theme", True):
            self._save_theme(name)

    @work(thread=True, group="userstate", exit_on_error=False, name="remember theme")
    def _save_theme(self, name: str) -> None:
        from tui.userstate import save_state

        save_state({"theme": name})

    # ------------------------------------------------------------------ workers
    def run_task(self, name: str, fn: Callable[[], Any], *, reply: Callable[[TaskDone], None] | None = None,
                 success: str = "", topic: str = "record") -> Worker:
        """Run a blocking record/runner job on a thread, off the UI loop. Expected failures
        (DryRunError: a broken file, a refused rule, bad input) come back as TaskDone(ok=False)
        to ``reply`` (or as a notification); anything else is a worker failure, reported by
        ``on_worker_state_changed`` like every other worker's."""
        from runners.errors import DryRunError

        async def job() -> Any:
            try:
                result = await asyncio.to_thread(fn)
            except (DryRunError, OSError) as e:
                self.post_message(TaskDone(name, False, str(e), reply=reply))
                return None
            self.post_message(TaskDone(name, True, success, data=result, reply=reply))
            return result

        worker = self.run_worker(job, name=name, group=f"task:{name}", exit_on_error=False)
        self._task_topics[name] = topic
        self._task_replies[worker] = reply
        return worker

    def reload_record(self) -> None:
        # One load at a time, in order (events read by one load must fold before the next's);
        # requests during a load coalesce into one more load after it.
        if self._record_loading:
            self._record_again = True
            return
        if self.model.live.running or self.model.running_label:
            # A live run appends to the events log many times a second and each append wakes
            # the file watcher; a full record load (events log, metrics, closeout preview) per
            # wake-up held the GIL so long that keys took seconds with 50 hosts. The live view
            # comes from the run's own events: reload at most every RUN_RELOAD_INTERVAL.
            wait = self._record_load_started + RUN_RELOAD_INTERVAL - time.monotonic()
            if wait > 0:
                if self._record_timer is None:
                    self._record_timer = self.set_timer(wait, self._reload_record_later)
                return
        self._record_loading = True
        self._record_load_started = time.monotonic()
        self._record_loader()

    def _reload_record_later(self) -> None:
        self._record_timer = None
        self.reload_record()

    @work(thread=True, group="record-load", exit_on_error=False, name="record loader")
    def _record_loader(self) -> None:
        m = self.model
        reset, events = m.history.read_new()  # file reads belong off the UI loop too
        # incremental: the loader reads only what was appended since its last load
        self.post_message(RecordLoaded(m.record_loader.load(m.now()), reset, events))

    @on(RecordLoaded)
    def _on_record_loaded(self, message: RecordLoaded) -> None:
        self.model.record = message.view
        self.model.history.fold(message.reset, message.events)
        self.record_ready.set()
        self._record_loading = False
        if self._record_again:
            self._record_again = False
            self.reload_record()
        self.publish("run")
        self.publish("record")
        self.clock_tick.publish(None)

    def start_probe(self) -> None:
        self._probe_worker()

    @work(group="probe", exclusive=True, exit_on_error=False, name="host probe")
    async def _probe_worker(self) -> None:
        from tui.probe import _preimport, probe_forever

        await _preimport()  # asyncssh & co. load on a thread, never on the UI loop
        cfg = self.model.cfg
        await probe_forever(cfg, lambda states: self.post_message(HostProbed(states)), pool=self.shared_ssh_pool())

    def shared_ssh_pool(self) -> Any:
        """The App's one SSH pool (one connection per host), shared by the probe and the
        log hub; made on first use (after asyncssh was imported off the UI loop)."""
        if self.ssh_pool is None:
            from runners.ssh import SshPool

            cfg = self.model.cfg
            self.ssh_pool = SshPool(max_handshakes=min(10, cfg.checks.max_parallel_hosts),
                                    connect_timeout=cfg.checks.connect_timeout)
        return self.ssh_pool

    @work(group="watch", exclusive=True, exit_on_error=False, name="file watcher")
    async def _watch_files(self) -> None:
        from tui.watch import watch_paths

        cfg = self.model.cfg
        await watch_paths(cfg.path, self.model.dry.root, lambda paths: self.post_message(FilesChanged(paths)))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place worker failures are reported: a notification, never a crash."""
        worker = event.worker
        if worker.group == "record-load" and event.state in (WorkerState.ERROR, WorkerState.CANCELLED):
            self._record_loading = False
        if event.state == WorkerState.ERROR and worker.error is not None:
            err = worker.error
            self.worker_failures.append((worker.name, err))
            self.log.error(f"worker {worker.name!r} failed", err)
            self.notify(f"{worker.name} failed: {type(err).__name__}: {err}", title="Background job failed",
                        severity="error", timeout=12)
            if worker.group.startswith("task:"):
                self.post_message(TaskDone(worker.name, False, f"{type(err).__name__}: {err}",
                                           reply=self._task_replies.get(worker), reported=True))
        if event.state in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            self._task_replies.pop(worker, None)

    # ------------------------------------------------------------------ messages
    @on(HostProbed)
    def _on_host_probed(self, message: HostProbed) -> None:
        self.model.apply_health(message.states)
        self.publish("health")

    @on(FilesChanged)
    def _on_files_changed(self, message: FilesChanged) -> None:
        cfg_path = self.model.cfg.path
        if cfg_path is not None and str(cfg_path) in message.paths:
            self._reload_config(cfg_path)
        self.reload_record()

    def _reload_config(self, path: Path) -> None:
        from runners.config import ConfigError, load_config

        try:
            cfg = load_config(path)
        except ConfigError as e:
            self.notify(f"config changed but cannot be used (keeping the previous one): {e}",
                        severity="error", timeout=12)
            return
        if cfg == self.model.cfg:
            return
        self.model.set_config(cfg)
        self.notify(f"config reloaded from {path.name}", timeout=3)
        if self.probe_hosts:
            self.start_probe()  # exclusive: the old probe (old hosts) is cancelled
        if self.follow_logs or self.log_following:
            self.start_log_follow(restart=True)  # the new hosts / sources; stops when none are left
        self.publish("config")

    @on(TaskDone)
    def _on_task_done(self, message: TaskDone) -> None:
        if message.reply is not None:
            message.reply(message)
        elif message.ok and message.detail:
            self.notify(message.detail, timeout=5)
        elif not message.ok and not message.reported:
            self.notify(f"{message.name}: {message.detail}", title="Not done", severity="error", timeout=12)
        self.publish(self._task_topics.get(message.name, "record"))
        self.reload_record()
