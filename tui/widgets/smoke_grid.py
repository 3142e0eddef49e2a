"""SMK-1..7 x hosts: status word + glyph (+ colour), duration, last run time, flaky rate.

Reads a RunState-like source (history, overlaid with the live run while one is going).
Cells are Rich Text in a DataTable (cell cursor: enter opens the check in Smoke)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.widgets import DataTable

from record.state import SMK_IDS
from tui.widgets.status import check_text, fmt_duration

if TYPE_CHECKING:
    from tui.model import ConsoleModel

SHORT_TITLES = {
    "SMK-1": "start+health", "SMK-2": "auth", "SMK-3": "discovery", "SMK-4": "snapshot",
    "SMK-5": "recording", "SMK-6": "error codes", "SMK-7": "concurrency",
}


def cell_view(model: ConsoleModel, host: str, check: str) -> tuple[str, float | None, float | None]:
    """(status, duration, finished-at ts) of a cell: the live run if it has touched the
    cell, else the last result in the history."""
    live = model.live.cells.get((host, check))
    if live is not None and model.live.run_id and live.status in ("running", "pending"):
        if live.status == "running":
            return "running", model.now().timestamp() - live.started, None
        if model.live.running:
            return "pending", None, None
    if live is not None and live.result is not None:
        return live.result.outcome, live.result.duration, live.result.ts
    last = model.history.last_finish.get((host, check))
    if last is not None:
        return last.outcome, last.duration, last.ts
    return "none", None, None


def flaky_rate(model: ConsoleModel, check: str) -> float | None:
    """Flaky share of a check's attempts, as the record's metrics count it: failing attempts
    of a check that also passed on the same baseline (a fix in between is not a flake)."""
    metrics = model.record.get("metrics") if model.record else None
    if not metrics:
        return None
    n = (metrics.get("per_check") or {}).get(check, {}).get("n", 0)
    if not n:
        return None
    flaky = sum(f.get("flaky_failures", 0) for f in metrics.get("flaky_checks", []) if f.get("check") == check)
    return flaky / n


def flaky_text(model: ConsoleModel, check: str) -> Text:
    rate = flaky_rate(model, check)
    if rate is None:
        return Text("—", style="dim")
    over = rate * 100 > model.cfg.gates.flaky_max_pct
    return Text(f"{rate * 100:.0f}%" + ("!" if over else ""), style="bold" if rate else "")


class SmokeGrid(DataTable):
    DEFAULT_CSS = """
    SmokeGrid { height: auto; max-height: 100%; }
    """

    def __init__(self, **kw: Any) -> None:
        super().__init__(cursor_type="cell", zebra_stripes=False, **kw)
        self._hosts: tuple[str, ...] = ()
        self._wide = False
        self._host_w = 0

    def rebuild(self, model: ConsoleModel, *, wide: bool, width: int = 80) -> None:
        """``width``: room for the table; on a big shared screen the host columns grow into it."""
        hosts = model.hosts
        host_w = 11
        if wide:
            fixed = 5 + 12 + 9 + 5 + 2 * 4
            host_w = max(13, min(24, (width - fixed) // max(1, len(hosts)) - 2))
        if hosts != self._hosts or wide != self._wide or host_w != self._host_w or not self.columns:
            self._host_w = host_w
            self.clear(columns=True)
            self.add_column("Check", key="check", width=5)
            if wide:
                self.add_column("", key="title", width=12)
            for h in hosts:
                self.add_column(h, key=f"h:{h}", width=host_w)
            # 80 columns: Check 5 + 2 hosts x 11 + Last 5 + Flaky 5 (+ padding) fits beside the gates
            self.add_column("Last", key="last", width=9 if wide else 5)
            self.add_column("Flaky", key="flaky", width=5)
            self._wide = wide
            for c in SMK_IDS:
                self.add_row(*([""] * len(self.columns)), key=c)
            self._hosts = hosts
        self.update_cells(model)

    def update_cells(self, model: ConsoleModel) -> None:
        now = model.now()
        for c in SMK_IDS:
            self.update_cell(c, "check", Text(c, style="bold"))
            if "title" in self.columns:
                self.update_cell(c, "title", Text(SHORT_TITLES[c], style="dim"))
            last_ts: float | None = None
            for h in self._hosts:
                status, dur, ts = cell_view(model, h, c)
                extra = _short_duration(dur, self._wide) if dur is not None else ""
                self.update_cell(c, f"h:{h}", check_text(self.app, status, extra=extra))
                if ts is not None:
                    last_ts = max(last_ts or 0.0, ts)
            when = _when(last_ts, now)
            if not self._wide and len(when) > 5:
                when = when[:3]  # "Tue": an older result; the time is in the wide view and on Smoke
            self.update_cell(c, "last", Text(when, style="dim"))
            self.update_cell(c, "flaky", flaky_text(model, c))


def _short_duration(seconds: float, wide: bool) -> str:
    if wide or seconds >= 10:
        return fmt_duration(seconds)
    return f"{seconds:.1f}s"  # 80 columns: two hosts must fit beside the gates


def _when(ts: float | None, now: datetime) -> str:
    """Finish time of the cell's last result: HH:MM today, else the weekday (and time when wide)."""
    if ts is None:
        return "—"
    at = datetime.fromtimestamp(ts, tz=now.tzinfo)
    if at.date() == now.date():
        return f"{at:%H:%M}"
    return f"{at:%a %H:%M}"
