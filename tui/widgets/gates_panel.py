"""Exit gates: live value against threshold, MET/MISS in words, and the decision the
closeout would give now (ACCEPT | 2nd Iteration | STOP) with the rule's reason.

When a gate's line would not fit the panel (the stand-up at 80 columns) the words give way
to their marks alone (✔ / ✖: shapes, not colours, still tell them apart), so each gate's
value stays whole."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from tui.widgets.panels import Panel, error_text
from tui.widgets.status import style_for

if TYPE_CHECKING:
    from tui.model import ConsoleModel

GATE_NAMES = {"all_smk_pass": "SMK pass", "flaky": "flaky", "criticals": "criticals", "majors": "majors",
              "majors_workarounds": "workarounds"}
DECISION_STYLE = {"ACCEPT": "met", "ITERATE": "amber", "STOP": "missed"}


def gate_value(g: dict[str, Any]) -> str:
    """Value against threshold, compact: "1 not passed", "0.00% ≤5%", "2 (=0)", "1/1 doc."."""
    name, v, th = g["name"], g["value"], g["threshold"]
    if name == "all_smk_pass":
        return v.split(": ", 1)[1] if ": " in v else v
    th = th.replace("<= ", "≤").replace("= ", "=").replace(" %", "%")
    if name == "flaky":
        return f"{v.replace(' %', '%')} {th}"
    if name in ("criticals", "majors"):
        return f"{v} ({th})"
    if name == "majors_workarounds":
        return v.replace(" documented", " doc.")
    return v


def decision_text(app: Any, preview: dict[str, Any]) -> Text:
    code = preview.get("decision_code", "")
    return Text(f" {preview.get('decision', '?')} ", style=style_for(app, DECISION_STYLE.get(code, "unknown")))


class GatesPanel(Panel):
    TITLE = "Gates"

    def render_model(self, model: ConsoleModel) -> Any:
        rec = model.record
        if rec is None:
            return Text("loading…", style="dim")
        if "closeout" in rec.errors:
            return error_text(rec.errors["closeout"])
        preview = rec.get("closeout")
        lines = [(g["met"], GATE_NAMES.get(g["name"], g["name"]), gate_value(g)) for g in preview["gates"]]
        widest = max((len(name) + 1 + len(value) for _met, name, value in lines), default=0)
        words = len("✖ MISS ") + widest <= self.size.width
        t = Table.grid(padding=(0, 1))
        t.add_column(no_wrap=True, min_width=6 if words else 1)
        t.add_column(no_wrap=True, overflow="ellipsis")
        for met, name, value in lines:
            mark = ("✔" if met else "✖") + ((" MET" if met else " MISS") if words else "")
            t.add_row(Text(mark, style=style_for(self.app, "met" if met else "missed")),
                      Text.assemble((name, "bold"), " ", value))
        now = Text.assemble(("Now ", "bold"), decision_text(self.app, preview))
        parts: list[Any] = [t, now]
        why = preview.get("why", "")
        room = max(20, (self.size.width - 4) * 3)  # at most ~3 lines; the whole rule is on Closeout
        parts.append(Text(why if len(why) <= room else why[: room - 1] + "…", style="dim", overflow="fold"))
        return Group(*parts)
