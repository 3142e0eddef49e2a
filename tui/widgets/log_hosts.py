"""Per-host state of the log follow, above the Logs pane: how many hosts are followed,
which are retrying (and why), which lost lines (gaps), which sent nothing yet, and the
host filter in effect. One line at 80x24; on a tall screen the problem hosts get a line
each with the reason.

Reads the App's log hub (``runners.logs.hub.LogHub``: its sources' ``lines_read``,
``gaps``, ``last_error``); nothing here reads or writes the hosts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.console import Group
from rich.text import Text
from textual.widgets import Static

from tui.fleet import compact_hosts
from tui.widgets.status import style_for

# state -> (glyph, word, status style key), worst first
LOG_STATES: dict[str, tuple[str, str, str]] = {
    "retrying": ("✖", "RETRY", "down"),
    "gaps": ("▲", "GAP", "degraded"),
    "waiting": ("·", "WAIT", "unknown"),
    "following": ("✔", "FOLLOW", "ok"),
    "off": ("–", "OFF", "unknown"),
}


@dataclass
class HostLogState:
    host: str
    lines: int = 0
    gaps: int = 0
    errors: list[str] = field(default_factory=list)  # "camera-service: connection refused"
    sources: int = 0

    @property
    def state(self) -> str:
        if not self.sources:
            return "off"
        if self.errors:
            return "retrying"
        if self.gaps:
            return "gaps"
        return "following" if self.lines else "waiting"


def host_log_states(hub: Any, hosts: Sequence[str]) -> dict[str, HostLogState]:
    """Per host, from the hub's sources (no hub: every host "off")."""
    out = {h: HostLogState(h) for h in hosts}
    for src in getattr(hub, "sources", ()) or ():
        st = out.setdefault(src.host, HostLogState(src.host))
        st.sources += 1
        st.lines += int(getattr(src, "lines_read", 0) or 0)
        st.gaps += int(getattr(src, "gaps", 0) or 0)
        err = getattr(src, "last_error", "")
        if err:
            st.errors.append(f"{src.name}: {err}")
    return out


class LogHostsBar(Static):
    DEFAULT_CSS = """
    LogHostsBar { height: auto; max-height: 1; padding: 0 1; background: $boost;
                  text-wrap: nowrap; text-overflow: ellipsis; }
    Screen.-tall LogHostsBar { max-height: 5; }
    """

    def __init__(self, **kw: Any) -> None:
        super().__init__("", **kw)
        self.states: dict[str, HostLogState] = {}
        self._last: Any = None

    def show(self, hub: Any, hosts: Sequence[str], *, shown: Sequence[str] | None = None, filter_text: str = "",
             following: bool = True) -> None:
        """``shown``: the hosts the pane's host filter lets through (None: all)."""
        self.states = host_log_states(hub, hosts)
        body = self._body(hosts, shown, filter_text, following and hub is not None)
        key = (tuple((s.host, s.state, s.gaps, tuple(s.errors)) for s in self.states.values()),
               tuple(shown) if shown is not None else None, filter_text, self.app.theme)
        if key != self._last:  # once a second: only redraw when something changed
            self._last = key
            self.update(body)

    def _body(self, hosts: Sequence[str], shown: Sequence[str] | None, filter_text: str, following: bool) -> Any:
        states = list(self.states.values())
        n = len(states)
        if shown is not None:
            keep = set(shown)
            states = [s for s in states if s.host in keep]  # the counts are of the hosts on view
        head = Text(no_wrap=True, overflow="ellipsis")
        if shown is not None:
            head.append(f"{len(shown)} of {n} hosts", style="bold")
            head.append(f" (filter {filter_text!r})" if filter_text else " (h: next host, c: all)")
        else:
            head.append(f"{n} host{'s' if n != 1 else ''}", style="bold")
        if not following:
            head.append(": logs not followed (R reconnects)", style="italic")
            return head
        head.append(":")
        order = list(LOG_STATES)
        by: dict[str, list[HostLogState]] = {k: [s for s in states if s.state == k] for k in order}
        first = True
        for key in ("following", "retrying", "gaps", "waiting", "off"):
            group = by[key]
            if not group:
                continue
            glyph, word, style = LOG_STATES[key]
            head.append(" " if first else " · ")
            first = False
            head.append(f"{glyph} {len(group)} {_WORDS[key]}", style=style_for(self.app, style))
            if key in ("retrying", "gaps"):
                names = [f"{s.host}×{s.gaps}" if key == "gaps" else s.host for s in group]
                head.append(f" ({compact_hosts(names, 3)})")
        head.append(" · H hosts" if shown is None else " · esc in the filter clears", style="dim")
        problems = [s for s in states if s.state in ("retrying", "gaps")]
        lines: list[Any] = [head]
        for s in sorted(problems, key=lambda s: (order.index(s.state), s.host))[:4]:
            glyph, word, style = LOG_STATES[s.state]
            line = Text(no_wrap=True, overflow="ellipsis")
            line.append(f"{glyph} {word:<5}", style=style_for(self.app, style))
            line.append(f" {s.host}", style="bold")
            if s.errors:
                line.append(f"  {'; '.join(s.errors)}")
            if s.gaps:
                line.append(f"  {s.gaps} gap{'s' if s.gaps != 1 else ''} (lines lost; marked in the pane)")
            lines.append(line)
        return Group(*lines) if len(lines) > 1 else head


_WORDS = {"following": "following", "retrying": "retrying", "gaps": "with gaps", "waiting": "no lines yet",
          "off": "no logs configured"}
