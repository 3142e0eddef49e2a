"""Logs: the camera service and MediaMTX logs of every host, live, merged by time.

A worker runs ``runners.logs.hub.LogHub`` over the App's shared SSH pool
(``app.ssh_pool``: one connection per host, also used by the host probe; created here
if the probe has not made it yet) and posts the hub's events here; the pane
(``tui.widgets.log_view``) queues them and draws a bounded number of times per second.
The follower starts when the screen is first shown and keeps running while other
screens are on display, so the logs are complete when the operator comes back mid-run.
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message

from runners.events import Event, LogGap, LogLines, Notice
from screens.base import ConsoleScreen
from tui.widgets.log_view import LogPane, LogView


class LogsScreen(ConsoleScreen):
    MODE = "logs"
    TITLE = "Logs"
    HELP = ("The hosts' logs, live and merged by time, each line tagged with its host. f follows or pauses, "
            "/ searches (n / N), e jumps to the next error or gap, l and h filter by level and host, i and x "
            "keep or hide lines matching a regex, c clears filters, m inserts a 'now' line, w wraps, "
            "s saves the view and S the whole buffer to dry_run/artifacts/logs/, t shows the RPC request "
            "behind the selected line's request id. A reconnect resumes where it left off; a gap that "
            "could not be avoided is shown as a marked line with its size.")
    MUTATING: ClassVar[frozenset[str]] = frozenset()  # saving (the pane's s / S) is hidden by the pane itself
    BINDINGS: ClassVar[list[Binding]] = [
        Binding("t", "show_ids", "Request ids", id="logs.ids",
                tooltip="the smoke run's RPC requests behind the selected line's ids; keep only their lines"),
        Binding("R", "restart_follow", "Reconnect", id="logs.reconnect", show=False,
                tooltip="restart every log follower now (after fixing a host or the config)"),
    ]

    class HubEvents(Message):
        """Events from the log hub; a burst merges into one message (nothing dropped)."""

        def __init__(self, events: list[Event]) -> None:
            super().__init__()
            self.events = events

        def can_replace(self, message: Message) -> bool:
            if isinstance(message, LogsScreen.HubEvents):
                message.events[:0] = self.events  # ours came first
                return True
            return False

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._trace_index: dict[str, str] = {}
        self.hub: Any = None

    def compose_body(self) -> ComposeResult:
        yield LogPane(save_dir=self.model.dry.artifacts / "logs", id="log-pane")

    @property
    def log_view(self) -> LogView:
        return self.query_one(LogView)

    def on_mount(self) -> None:
        super().on_mount()
        self.log_view.read_only = bool(getattr(self.app, "read_only", False))
        self.log_view.set_trace_lookup(self._trace_lookup)
        self.log_view.focus()
        self.start_follow()

    # ------------------------------------------------------------------ following
    def start_follow(self) -> None:
        cfg = self.model.cfg
        if not any(h.logs for h in cfg.hosts):
            self.notify("no logs configured: add [[hosts.logs]] sources to the config "
                        "(kind = file, journal, command or local)", severity="warning", timeout=8)
            return
        self._follow()

    @work(group="logs", exclusive=True, exit_on_error=False, name="log follower")
    async def _follow(self) -> None:
        import asyncio

        from runners.logs.hub import LogHub

        cfg = self.model.cfg
        # asyncssh / watchfiles take ~0.3 s to import: on a thread, never on the UI loop.
        await asyncio.to_thread(_preimport, any(s.kind == "local" for h in cfg.hosts for s in h.logs))
        own = False
        pool = getattr(self.app, "ssh_pool", None)  # the App's shared pool: one connection per host
        if pool is None and any(h.ssh.host for h in cfg.hosts):
            from runners.ssh import SshPool

            pool = SshPool(max_handshakes=min(10, cfg.checks.max_parallel_hosts),
                           connect_timeout=cfg.checks.connect_timeout)
            if hasattr(self.app, "ssh_pool"):
                self.app.ssh_pool = pool  # the App's slot: the probe reuses it, the App closes it
            else:
                own = True
        try:
            self.hub = LogHub(cfg, pool, sinks=[self._emit])
            await self.hub.run()
        finally:
            if own:
                await pool.close()

    def _emit(self, ev: Event) -> None:
        self.post_message(self.HubEvents([ev]))

    @on(HubEvents)
    def _on_hub_events(self, message: HubEvents) -> None:
        view = self.log_view
        for ev in message.events:
            if isinstance(ev, (LogLines, LogGap)):
                view.ingest(ev)
            elif isinstance(ev, Notice):
                # Sources report a problem once (not per retry) and once when following again.
                self.notify(ev.message, title="Logs", severity="information" if ev.level == "info" else ev.level,
                            timeout=3 if ev.level == "info" else 8)

    def action_restart_follow(self) -> None:
        self.start_follow()  # exclusive worker: the running one is cancelled first

    def refresh_view(self, topic: str) -> None:
        if topic in ("run", "all"):
            self._trace_index = {}  # rebuilt on next lookup
            self.log_view.set_trace_lookup(self._trace_lookup)
        if topic == "config" and self.is_mounted:
            self.start_follow()

    # ------------------------------------------------------------------ trace links
    def _trace_lookup(self, value: str) -> str | None:
        if not self._trace_index:
            self._trace_index = self._build_trace_index()
        return self._trace_index.get(value)

    def _build_trace_index(self) -> dict[str, str]:
        """Request ids of the smoke run's RPC exchanges (failure excerpts) and the run id."""
        from runners.events import CheckFinished

        index: dict[str, str] = {"": ""}
        m = self.model
        run_id = getattr(m.live, "run_id", "")
        if run_id:
            index[str(run_id)] = f"this console's smoke run {m.live.label or ''}".strip()
        for steps in list(m.live_steps.values()):
            for ev in steps:
                if not isinstance(ev, CheckFinished):
                    continue
                for frame in ev.rpc_excerpt:
                    rid = frame.get("id")
                    if rid is None:
                        continue
                    method = frame.get("method") or ""
                    ms = frame.get("latency_ms")
                    took = f" {ms:.1f} ms" if isinstance(ms, (int, float)) else ""
                    index[str(rid)] = f"{ev.check} on {ev.host}: {method or 'response'}{took} ({ev.outcome})"
        return index

    def action_show_ids(self) -> None:
        view = self.log_view
        rec = view.cursor
        if rec is None and view.buffer.view:
            rec = view.buffer.view[-1]
        if rec is None:
            self.notify("no line selected (search or jump to an error first)", timeout=4)
            return
        from runners.logs.parse import extract_ids

        from runners.logs.buffer import TEXT

        ids = extract_ids(rec[TEXT])
        if not ids:
            self.notify("the selected line carries no request or correlation id", timeout=4)
            return
        linked = view.describe_ids(rec)
        text = "\n".join(linked) if linked else f"ids {', '.join(ids)}: not in this console's smoke run trace"
        self.notify(text + "\nshowing only lines with these ids (c clears)", title="Request ids", timeout=10)
        import dataclasses

        view.set_filter(dataclasses.replace(view.buffer.filter, ids=frozenset(ids)))


def _preimport(local: bool) -> None:
    import asyncssh  # noqa: F401

    if local:
        import watchfiles  # noqa: F401
