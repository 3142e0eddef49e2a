"""Logs: the camera service and MediaMTX logs of every host, live, merged by time.

The App follows the logs (``tui.logfollow``: one ``runners.logs.hub.LogHub`` over the
App's shared SSH pool, also used by the host probe) from the first frame on, whether or
not this screen was ever opened; what arrived before this screen mounted is replayed into
the pane, later events go straight to it. The pane (``tui.widgets.log_view``) queues them
and draws a bounded number of times per second. When the App was told not to follow in
the background (``--no-probe``), opening this screen starts the hub.

Fleets: a bar above the pane (``tui.widgets.log_hosts``) says per host whether its logs
are followed, retrying (and why) or lost lines (gaps); H filters the pane by host (names,
globs, or a state: failing, down, gaps, retrying).
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding

from screens.base import ConsoleScreen
from tui.widgets.host_filter import HostScope
from tui.widgets.log_hosts import LogHostsBar
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
        Binding("t", "show_ids", "Request ids", id="logs.ids", show=False,
                tooltip="the smoke run's RPC requests behind the selected line's ids; keep only their lines"),
        Binding("R", "restart_follow", "Reconnect", id="logs.reconnect", show=False,
                tooltip="restart every log follower now (after fixing a host or the config)"),
    ]

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._trace_index: dict[str, str] = {}
        self._listener: Any = None

    def compose_body(self) -> ComposeResult:
        with HostScope(id="logs-scope"):
            yield LogHostsBar(id="log-hosts")
            yield LogPane(save_dir=self.model.dry.artifacts / "logs", id="log-pane")

    @property
    def log_view(self) -> LogView:
        return self.query_one(LogView)

    @property
    def hub(self) -> Any:
        """The App's running log hub (None when not following)."""
        return self.app.log_hub

    def on_mount(self) -> None:
        super().on_mount()
        view = self.log_view
        view.read_only = bool(getattr(self.app, "read_only", False))
        view.set_trace_lookup(self._trace_lookup)
        self._show_sources()
        view.focus()
        # What the App's hub collected before this screen existed, then every later event
        # as it arrives (one step on the UI loop: nothing twice, nothing missed).
        self._listener = view.ingest
        for ev in self.app.attach_logs(self._listener):
            view.ingest(ev)
        self.start_follow()

    def on_unmount(self) -> None:
        if self._listener is not None:
            self.app.detach_logs(self._listener)  # later events wait in the App's backlog again
            self._listener = None

    # ------------------------------------------------------------------ following
    def start_follow(self, *, restart: bool = False) -> None:
        """Make sure the App's log hub runs (``restart``: reconnect every source now)."""
        if not self.app.start_log_follow(restart=restart):
            self.notify("no logs configured: add [[hosts.logs]] sources to the config "
                        "(kind = file, journal, command or local)", severity="warning", timeout=8)

    def action_restart_follow(self) -> None:
        self.start_follow(restart=True)  # the App's exclusive worker: the running hub is cancelled first

    def refresh_view(self, topic: str) -> None:
        # (a config change restarts the hub in the App, whichever screen is shown)
        if topic in ("run", "all"):
            self._trace_index = {}  # rebuilt on next lookup
            self.log_view.set_trace_lookup(self._trace_lookup)
        if topic in ("all", "config"):
            self._show_sources()
        if topic in ("all", "config", "health", "theme"):
            self._show_hosts()

    def on_clock(self) -> None:
        self._show_hosts()

    # ------------------------------------------------------------------ hosts
    def _show_sources(self) -> None:
        """The configured log sources per host: the pane labels lines by them (compact
        labels stay the same when a quiet source sends its first line)."""
        self.log_view.set_sources({h.name: [s.name for s in h.logs] for h in self.model.cfg.hosts})

    def _host_tags(self) -> dict[str, frozenset[str]]:
        """Per host: its smoke/health state words and its log state (gaps, retrying)."""
        from record.state import SMK_IDS
        from tui.fleet import rollups
        from tui.widgets.smoke_grid import cell_view

        m = self.model
        ups = rollups(m.hosts, m.health, lambda h, c: cell_view(m, h, c)[0], SMK_IDS)
        logs = self.query_one(LogHostsBar).states
        return {r.host: r.tags | ({logs[r.host].state} if r.host in logs else set()) for r in ups}

    def _shown_hosts(self) -> list[str] | None:
        from tui.fleet import match_hosts

        text = self.query_one(HostScope).text
        return match_hosts(text, self.model.hosts, self._host_tags()) if text else None

    def _show_hosts(self) -> None:
        scope = self.query_one(HostScope)
        scope.set_hosts(self.model.hosts)
        flt = self.log_view.buffer.filter.hosts
        shown = None if flt is None else [h for h in self.model.hosts if h in flt]
        if flt is None and scope.text:
            scope.set_text("")  # the pane's c (clear filters) dropped the host filter too
        self.query_one(LogHostsBar).show(self.hub, self.model.hosts, shown=shown, filter_text=scope.text,
                                         following=self.app.log_following)

    def on_host_scope_changed(self, event: HostScope.Changed) -> None:
        import dataclasses

        shown = self._shown_hosts()
        view = self.log_view
        view.set_filter(dataclasses.replace(view.buffer.filter,
                                            hosts=frozenset(shown) if shown is not None else None))
        self._show_hosts()

    def on_log_view_status_changed(self, event: LogView.StatusChanged) -> None:
        # the pane's own keys (h cycles hosts, c clears filters) change its host filter too
        self._show_hosts()

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

