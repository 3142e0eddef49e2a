"""Triage summary: R/A/G counts (open/total), open Reds with owner/ETA, overdue entries."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from tui.widgets.panels import Panel, error_text
from tui.widgets.status import rag_text

if TYPE_CHECKING:
    from tui.model import ConsoleModel

RAG = (("R", "red"), ("A", "amber"), ("G", "green"))


class TriagePanel(Panel):
    TITLE = "Triage"

    def render_model(self, model: ConsoleModel) -> Any:
        rec = model.record
        if rec is None:
            return Text("loading…", style="dim")
        if "triage" in rec.errors:
            return error_text(rec.errors["triage"])
        issues = rec.get("triage")["issues"]
        now = model.now().replace(tzinfo=None)
        wide = self.size.width >= 60
        counts = Text("open ")
        for code, colour in RAG:
            open_n = sum(1 for i in issues if i.severity == code and not i.resolved)
            total = sum(1 for i in issues if i.severity == code)
            counts.append_text(rag_text(self.app, colour, long=wide))
            counts.append(f" {open_n}" + (f" of {total}" if wide else "") + "  ")
        parts: list[Any] = [counts]
        reds = [i for i in issues if i.severity == "R" and not i.resolved]
        if reds:
            t = Table(box=None, padding=(0, 1), show_header=True, header_style="bold", expand=True)
            t.add_column("Open Red", no_wrap=True, min_width=6)
            t.add_column("SMK", no_wrap=True, min_width=5)
            t.add_column("Owner", no_wrap=True, overflow="ellipsis", min_width=6)
            t.add_column("ETA", no_wrap=True, overflow="ellipsis", ratio=1)
            if wide:
                t.add_column("Status", no_wrap=True)
                t.add_column("Symptom", no_wrap=True, overflow="ellipsis", ratio=1)
            for i in reds:
                row = [Text(i.id, style="bold"), ", ".join(i.smk), i.owner or Text("✖ none", style="bold"),
                       i.eta or Text("✖ none", style="bold")]
                if wide:
                    row += [i.status, i.title]
                t.add_row(*row)
            parts.append(t)
        elif issues:
            parts.append(Text("No open Reds.", style="bold"))
        ambers = [i for i in issues if i.severity == "A" and not i.resolved]
        if ambers and wide:
            t = Table(box=None, padding=(0, 1), show_header=True, header_style="bold", expand=True)
            t.add_column("Open Amber", no_wrap=True, min_width=6)
            t.add_column("SMK", no_wrap=True, min_width=5)
            t.add_column("Owner", no_wrap=True, overflow="ellipsis", min_width=6)
            t.add_column("Workaround", no_wrap=True, overflow="ellipsis", ratio=1)
            for i in ambers:
                t.add_row(Text(i.id, style="bold"), ", ".join(i.smk), i.owner or "—",
                          i.workaround or Text("✖ none documented", style="bold"))
            parts.append(t)
        if not issues:
            parts.append(Text("No triage entries yet (t on a Smoke failure adds one).", style="dim"))
        overdue = [i for i in issues if not i.resolved and not i.decision and i.timebox(now)["over"]]
        if overdue:
            parts.append(Text("⚠ Overdue (undecided after 15 min): " + ", ".join(i.id for i in overdue),
                              style="bold"))
        return Group(*parts)
