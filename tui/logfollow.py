"""The App's log follower: one ``runners.logs.hub.LogHub`` for the console's lifetime.

The hosts' logs are collected from the first frame on (``DryRunApp._start_background``),
not only once somebody opens the Logs screen, so a run nobody watched still has its
logs. While no Logs screen is attached, the hub's events wait in a :class:`LogBacklog`
(bounded by lines, like the pane's own buffer); the screen takes them all when it mounts
(``attach_logs``) and from then on gets every event directly, as it arrives. Take and
attach happen in one step on the UI loop, where the hub's sinks run too, so no event is
shown twice or missed.

A restart (the Logs screen's R, a config reload) replaces the hub: the new one waits
until the old one has stopped, then resumes every log that is still configured the same
way from the old one's positions (``LogHub(resume=...)``), so the lines already shown are
not read and shown again, and those written meanwhile are.

A mixin of ``DryRunApp`` (like ``tui.runs``); the hub shares the App's ``ssh_pool`` with
the host probe (one connection per host).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from textual import work
from textual.worker import Worker, WorkerState

from runners.events import Event, LogGap, LogLines, Notice

Listener = Callable[[Event], None]
BACKLOG_LINES = 100_000  # the Logs pane's own cap: more would be evicted on arrival anyway
STOP_WAIT = 10.0  # s a new hub waits for the one it replaces to stop before resuming from it


class LogBacklog:
    """Recent ``LogLines`` / ``LogGap`` events, oldest first, at most ``cap`` lines (a gap
    counts as one). Whole events are dropped from the front; ``evicted`` counts their lines."""

    def __init__(self, cap: int = BACKLOG_LINES) -> None:
        if cap < 1:
            raise ValueError(f"log backlog cap must be at least 1 line, got {cap}")
        self.cap = cap
        self.lines = 0
        self.evicted = 0
        self._events: deque[tuple[Event, int]] = deque()

    def __len__(self) -> int:
        return len(self._events)

    def append(self, ev: Event) -> None:
        n = len(ev.lines) if isinstance(ev, LogLines) else 1
        self._events.append((ev, n))
        self.lines += n
        while self.lines > self.cap and len(self._events) > 1:
            _old, k = self._events.popleft()
            self.lines -= k
            self.evicted += k

    def take(self) -> list[Event]:
        """Every held event, oldest first; the backlog is empty afterwards."""
        out = [ev for ev, _n in self._events]
        self._events.clear()
        self.lines = 0
        return out

    def clear(self) -> None:
        self._events.clear()
        self.lines = 0


class LogFollowMixin:
    """Needs the App's ``model``, ``notify``, ``screen``, ``current_mode`` and ``shared_ssh_pool``."""

    log_backlog: LogBacklog
    _log_listener: Listener | None = None
    _log_worker: Worker | None = None
    log_hub: Any = None
    _last_log_hub: Any = None  # the newest hub made, running or not: where the next one resumes

    def _init_log_follow(self, cap: int = BACKLOG_LINES) -> None:
        self.log_backlog = LogBacklog(cap)
        self._log_listener = None
        self._log_worker = None
        self.log_hub = None
        self._last_log_hub = None

    # ------------------------------------------------------------------ control
    def logs_configured(self) -> bool:
        return any(h.logs for h in self.model.cfg.hosts)

    @property
    def log_following(self) -> bool:
        w = self._log_worker
        return w is not None and w.state in (WorkerState.PENDING, WorkerState.RUNNING)

    def start_log_follow(self, *, restart: bool = False) -> bool:
        """Start the hub (``restart``: replace a running one, e.g. after a config change or
        the Logs screen's R). False, and nothing runs, when no host has logs configured."""
        if not self.logs_configured():
            self.stop_log_follow()
            return False
        if restart or not self.log_following:
            self._log_worker = self._log_follower()  # exclusive: a running hub is cancelled first
        return True

    def stop_log_follow(self) -> None:
        if self._log_worker is not None:
            self._log_worker.cancel()
            self._log_worker = None
        self.log_hub = None

    # ------------------------------------------------------------------ the Logs screen
    def attach_logs(self, listener: Listener) -> list[Event]:
        """The Logs screen mounted: return what arrived so far (replay it) and send every
        later event to ``listener``. One listener at a time (the last attached)."""
        held = self.log_backlog.take()
        self._log_listener = listener
        return held

    def detach_logs(self, listener: Listener) -> None:
        if self._log_listener == listener:  # bound methods: equal, not identical
            self._log_listener = None

    # ------------------------------------------------------------------ the hub
    @work(group="logs", exclusive=True, exit_on_error=False, name="log follower")
    async def _log_follower(self) -> None:
        import asyncio
        import contextlib

        from runners.logs.hub import LogHub

        cfg = self.model.cfg
        # asyncssh / watchfiles take ~0.3 s to import: on a thread, never on the UI loop.
        await asyncio.to_thread(_preimport, any(s.kind == "local" for h in cfg.hosts for s in h.logs))
        pool = self.shared_ssh_pool() if any(h.ssh.host for h in cfg.hosts) else None
        previous = self._last_log_hub
        if previous is not None:
            # The hub this one replaces (cancelled with its worker) hands its last lines to
            # the sinks while it stops; its positions are final after that.
            with contextlib.suppress(asyncio.TimeoutError):  # a hung SSH close must not stop the logs
                await asyncio.wait_for(previous.wait_stopped(), STOP_WAIT)
        hub = self.log_hub = self._last_log_hub = LogHub(
            cfg, pool, sinks=[self._on_log_event], resume=previous.sources if previous is not None else ())
        try:
            await hub.run()
        finally:
            if self.log_hub is hub:
                self.log_hub = None

    def _on_log_event(self, ev: Event) -> None:
        # Called by the hub on the UI loop: cheap (the pane only queues), no drawing here.
        if isinstance(ev, (LogLines, LogGap)):
            listener = self._log_listener
            if listener is not None:
                listener(ev)
            else:
                self.log_backlog.append(ev)
        elif isinstance(ev, Notice):
            # Sources report a problem once (not per retry) and once when following again;
            # the "following again" kind only matters to someone reading the logs.
            if ev.level == "info" and self.current_mode != "logs":
                return
            self.notify(ev.message, title="Logs", severity="information" if ev.level == "info" else ev.level,
                        timeout=3 if ev.level == "info" else 8)


def _preimport(local: bool) -> None:
    import asyncssh  # noqa: F401

    if local:
        import watchfiles  # noqa: F401
