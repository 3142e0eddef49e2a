"""One check on one host, in full: status, steps with times, and on a failure what was
expected vs what was seen, the RPC exchange and the host's log lines around it.

Everything that came from a host (service text, log lines) is neutralised before it is
drawn: a log line must not be able to move the cursor or recolour the terminal."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from record.state import SMK_TITLES
from runners.events import CheckFinished, CheckStarted, CheckStep
from tui.widgets.status import check_text, fmt_duration

if TYPE_CHECKING:
    from record.state import CellState


def safe(text: Any) -> str:
    from runners.logs.parse import neutralise

    return neutralise(str(text))


def _frame_text(entry: dict[str, Any], width: int = 160) -> str:
    """The part of a frame that matters: params of a request, result/error of a response
    (the jsonrpc/id/method envelope is in the other columns)."""
    frame = entry.get("frame")
    if not isinstance(frame, dict):
        body: Any = entry.get("note") or entry.get("raw") or frame or ""
    elif "error" in frame:
        body = {"error": frame["error"]}
    elif "result" in frame:
        body = frame["result"]
    else:
        body = frame.get("params", "")
    if not isinstance(body, str):
        body = json.dumps(body, separators=(",", ":"), ensure_ascii=True, default=str)
    return body if len(body) <= width else body[: width - 1] + "…"


def rpc_table(entries: tuple[dict[str, Any], ...] | list[dict[str, Any]]) -> Table:
    t = Table(box=None, show_header=True, header_style="bold", padding=(0, 1), expand=True)
    t.add_column("t", justify="right", no_wrap=True)
    t.add_column("", no_wrap=True)  # direction
    t.add_column("method", no_wrap=True)
    t.add_column("id", justify="right", no_wrap=True)
    t.add_column("ms", justify="right", no_wrap=True)
    t.add_column("params / result / error", no_wrap=True, overflow="ellipsis", ratio=1)
    t0 = next((e.get("t") for e in entries if isinstance(e.get("t"), (int, float))), None)
    for e in entries:
        rel = f"+{e['t'] - t0:.3f}" if t0 is not None and isinstance(e.get("t"), (int, float)) else ""
        arrow = {"out": "→", "in": "←"}.get(e.get("dir", ""), "·")
        ms = e.get("latency_ms")
        rid = e.get("id")
        t.add_row(rel, arrow, safe(e.get("method") or e.get("kind") or ""), "" if rid is None else safe(rid),
                  f"{ms:.1f}" if isinstance(ms, (int, float)) else "", safe(_frame_text(e)))
    return t


def log_lines(lines: tuple[str, ...] | list[str]) -> Table:
    """Service-log lines as time, level tag, message (JSON lines of the legacy service too)."""
    import datetime as _dt

    from runners.logs.parse import LEVEL_TAGS, json_display, parse_line, strip_prefix

    t = Table.grid(padding=(0, 1))
    t.add_column(no_wrap=True, style="dim")
    t.add_column(no_wrap=True)
    t.add_column(no_wrap=True, overflow="ellipsis", ratio=1)
    for raw in lines:
        p = parse_line(raw)
        when = _dt.datetime.fromtimestamp(p.ts).strftime("%H:%M:%S") if p.ts else ""
        msg = json_display(raw) or strip_prefix(raw)
        level = LEVEL_TAGS.get(p.level, "   ")
        t.add_row(when, Text(level, style="bold" if level in ("ERR", "CRT", "WRN") else ""), safe(msg))
    return t


class CheckDetail(VerticalScroll):
    DEFAULT_CSS = """
    CheckDetail { border: round $secondary; padding: 0 1; height: 1fr; }
    CheckDetail > Static { width: 100%; }
    """

    def compose(self):
        yield Static(id="detail-body")

    def on_mount(self) -> None:
        self.border_title = "Detail"
        self.can_focus = True

    def show_none(self, hint: str) -> None:
        self.border_title = "Detail"
        self.query_one("#detail-body", Static).update(Text(hint, style="dim"))

    def show_cell(self, host: str, check: str, cell: CellState, steps: list[Any], now: datetime,
                  *, label: str = "") -> None:
        self.border_title = f"{check} on {host}"
        parts: list[Any] = []
        head = Text.assemble(check_text(self.app, cell.status), " ")
        res: CheckFinished | None = cell.result
        if cell.status == "running":
            head.append(f"for {fmt_duration(now.timestamp() - cell.started)}")
        elif res is not None:
            head.append(f"in {fmt_duration(res.duration)}")
        if cell.attempt > 1 or len(cell.history) > 1:
            head.append(f" · attempt {cell.attempt}")
        if label:
            head.append(f" · {label}", style="dim")
        parts.append(head)
        parts.append(Text(SMK_TITLES.get(check, ""), style="italic"))
        if res is not None and res.summary:
            parts.append(Text(safe(res.summary)))
        if res is not None and res.outcome in ("failed", "error"):
            parts.append(self._failure(res))
        if steps:
            parts.append(Text("\nSteps", style="bold underline"))
            parts.append(self._steps(steps))
        if res is not None and res.outcome in ("failed", "error"):
            if res.rpc_excerpt:
                parts.append(Text(f"\nRPC exchange (last {len(res.rpc_excerpt)} frames)", style="bold underline"))
                parts.append(rpc_table(res.rpc_excerpt))
            log = getattr(res, "log_excerpt", ())
            parts.append(Text("\nHost log around the failure", style="bold underline"))
            if log:
                parts.append(log_lines(log))
            else:
                parts.append(Text("(no service-log lines in the check's window)", style="dim"))
        if res is not None and res.metrics:
            parts.append(Text("\nMetrics", style="bold underline"))
            parts.append(Text(", ".join(f"{k}={v:g}" if isinstance(v, (int, float)) else f"{k}={v}"
                                        for k, v in res.metrics.items())))
        if res is not None and res.artifacts:
            parts.append(Text("\nArtifacts (under dry_run/)", style="bold underline"))
            parts.append(Text("\n".join(res.artifacts)))
        self.query_one("#detail-body", Static).update(Group(*parts))

    def _failure(self, res: CheckFinished) -> Table:
        t = Table.grid(padding=(0, 1))
        t.add_column(style="bold", no_wrap=True)
        t.add_column(overflow="fold")
        if res.fault:
            t.add_row("Fault", safe(res.fault))
        t.add_row("Expected", safe(res.expected or "—"))
        t.add_row("Seen", Text(safe(res.seen or "—"), style=self.app_style("failed")))
        return t

    def app_style(self, key: str) -> str:
        from tui.widgets.status import style_for

        return style_for(self.app, key).replace("reverse", "").strip()

    def _steps(self, steps: list[Any]) -> Table:
        t = Table.grid(padding=(0, 1))
        t.add_column(justify="right", no_wrap=True, style="dim")
        t.add_column(overflow="fold")
        t0 = steps[0].ts if steps else 0.0
        for ev in steps:
            rel = f"+{ev.ts - t0:.3f}s"
            if isinstance(ev, CheckStarted):
                t.add_row(rel, f"started (attempt {ev.attempt})")
            elif isinstance(ev, CheckStep):
                t.add_row(rel, safe(ev.message))
            elif isinstance(ev, CheckFinished):
                t.add_row(rel, Text.assemble("finished: ", check_text(self.app, ev.outcome)))
        return t
