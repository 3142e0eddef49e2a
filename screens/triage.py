"""Triage: the DRY-nn register as a table to sort, edit, decide and verify.

R/A/G always carries its letter and word; a Red without owner/ETA and an entry past its
15-minute triage timebox are flagged in words. Verify runs the entry's affected checks
(04_verify_DRY-nn.log) and writes PASS/FAIL to the register and the pass ledger.

Fleets: every entry names its hosts ("cam-03 +4"), the summary counts the hosts with an
open entry, and H keeps only the entries of some hosts (names, globs)."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from screens.base import ConsoleScreen
from tui.fleet import compact_hosts, match_hosts
from tui.widgets.host_filter import HostScope
from tui.widgets.status import rag_text

SORTS: tuple[tuple[str, str], ...] = (
    ("id", "ID"), ("severity", "severity (R first)"), ("status", "status"), ("owner", "owner"),
    ("eta", "ETA"),
)
SEV_ORDER = {"R": 0, "A": 1, "G": 2}
STATUS_ORDER = {"open": 0, "bounced": 1, "escalated": 2, "fix_ready": 3, "verified": 4, "closed": 5}


def _sort_key(issue: Any, key: str) -> Any:
    num = int(issue.id.split("-")[1])
    if key == "severity":
        return (SEV_ORDER.get(issue.severity, 9), num)
    if key == "status":
        return (STATUS_ORDER.get(issue.status, 9), num)
    if key == "owner":
        return (issue.owner.lower() or "~", num)
    if key == "eta":
        return (issue.eta or "~", num)
    return num


class TriageScreen(ConsoleScreen):
    MODE = "triage"
    TITLE = "Triage"
    HELP = ("The triage register (03_triage_register.md): every DRY-nn entry with R/A/G, owner/ETA, decision, "
            "status and verify results. n adds an entry, enter/e edits, d decides, v verifies the fix (re-runs "
            "the entry's checks and writes the pass ledger), o changes the sort, a shows resolved entries too. "
            "New entries from a failure: t on the Smoke screen.")
    MUTATING: ClassVar[frozenset[str]] = frozenset({"new_entry", "edit_entry", "decide", "verify"})
    BINDINGS: ClassVar[list[Binding]] = [
        Binding("n", "new_entry", "New", id="triage.new"),
        Binding("e", "edit_entry", "Edit", id="triage.edit"),
        Binding("d", "decide", "Decide", id="triage.decide", tooltip="set the decision: Fix now, Defer, Workaround"),
        Binding("v", "verify", "Verify", id="triage.verify", tooltip="re-run the entry's checks -> pass ledger"),
        Binding("a", "toggle_resolved", "Resolved", id="triage.resolved",
                tooltip="show the resolved (verified, closed) entries too, or hide them again"),
        Binding("o", "cycle_sort", "Sort", id="triage.sort", show=False,
                tooltip="by id, severity (R first), status, owner, ETA"),
    ]

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.sort = "severity"
        self.show_resolved = True
        self._issues: list[Any] = []

    def compose_body(self) -> ComposeResult:
        yield Static(id="triage-summary")
        with HostScope(id="triage-scope"):
            yield DataTable(id="register", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="entry-box"):
                yield Static(id="entry")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#entry-box").border_title = "Entry"

    # ------------------------------------------------------------------ view
    def refresh_view(self, topic: str) -> None:
        if topic not in ("all", "record", "theme", "config", "clock"):
            return
        rec = self.model.record
        table = self.query_one("#register", DataTable)
        summary = self.query_one("#triage-summary", Static)
        if rec is None:
            summary.update("loading the register…")
            return
        if "triage" in rec.errors:
            summary.update(Text(f"✖ cannot read the register: {rec.errors['triage']}", style="bold"))
            table.clear()
            return
        data = rec.get("triage")
        scope = self.query_one(HostScope)
        scope.set_hosts(self.model.hosts)
        keep = match_hosts(scope.text, self.model.hosts)
        issues = [i for i in data["issues"] if (self.show_resolved or not i.resolved)
                  and (keep is None or set(i.hosts) & set(keep))]
        issues.sort(key=lambda i: _sort_key(i, self.sort))
        self._issues = issues
        summary.update(self._summary(data["issues"], data.get("hand_edit", False), shown=len(issues)))
        selected = self._selected_id()
        wide = self.app.size.width >= 120
        table.clear(columns=True)
        table.add_column("ID", key="id", width=6)
        table.add_column("R/A/G" if wide else "RAG", key="sev", width=9 if wide else 3)
        # 80 columns: the Hosts column only for fleets (it costs the symptom 6 columns)
        hosts_col = wide or len(self.model.hosts) > 2
        table.add_column("SMK", key="smk", width=11 if wide else 5)
        table.add_column("Symptom", key="symptom", width=40 if wide else (12 if hosts_col else 18))
        if hosts_col:
            table.add_column("Hosts", key="hosts", width=18 if wide else 8)
        table.add_column("Owner / ETA", key="owner", width=22 if wide else (12 if hosts_col else 14))
        table.add_column("Decision", key="decision", width=10 if wide else (8 if hosts_col else 10))
        table.add_column("Status", key="status", width=10 if wide else 9)
        if wide:
            table.add_column("Verify", key="verify", width=10)
        now = self.model.now().replace(tzinfo=None)
        for i in issues:
            owner = f"{i.owner or '—'} / {i.eta or '—'}"
            if i.severity == "R" and not (i.owner and i.eta):
                owner = Text("✖ needs owner+ETA", style="bold")
            decision: Any = i.decision or "—"
            if not i.decision and i.timebox(now)["over"]:
                decision = Text("⚠ OVERDUE", style="bold reverse")
            row = [Text(i.id, style="bold"), rag_text(self.app, _colour(i.severity), long=wide),
                   ", ".join(i.smk), Text(i.title, no_wrap=True, overflow="ellipsis")]
            if hosts_col:
                row.append(Text(_hosts_cell(i.hosts, wide), no_wrap=True, overflow="ellipsis"))
            row += [owner, decision, i.status]
            if wide:
                row.append(" ".join(i.verify_results) or "—")
            table.add_row(*row, key=i.id)
        if selected and any(i.id == selected for i in issues):
            table.move_cursor(row=[i.id for i in issues].index(selected), animate=False)
        self._show_entry()
        self.refresh_bindings()

    def _summary(self, issues: list[Any], hand_edit: bool, *, shown: int | None = None) -> Text:
        counts = {c: sum(1 for i in issues if i.severity == c and not i.resolved) for c in "RAG"}
        t = Text.assemble(("Register ", "bold"), f"{len(issues)} entries · open: ")
        for c, colour in (("R", "red"), ("A", "amber"), ("G", "green")):
            t.append_text(rag_text(self.app, colour))
            t.append(f"{counts[c]}  ")
        hosts = {h for i in issues if not i.resolved for h in i.hosts}
        if hosts and len(self.model.hosts) > 2:
            t.append(f"· {len(hosts)} of {len(self.model.hosts)} hosts with open entries ")
        text = self.query_one(HostScope).text
        if text:
            t.append(f"· filter {text!r}: {shown} shown ", style="bold")
        t.append(f"· sorted by {dict(SORTS)[self.sort]}" + ("" if self.show_resolved else " · open only"), style="dim")
        if hand_edit:
            t.append("  ✎ hand edits in the .md will be merged on the next save", style="italic")
        return t

    def _selected_id(self) -> str | None:
        table = self.query_one("#register", DataTable)
        if not table.row_count:
            return None
        return self._issues[table.cursor_row].id if table.cursor_row < len(self._issues) else None

    def _selected(self) -> Any:
        sid = self._selected_id()
        return next((i for i in self._issues if i.id == sid), None)

    def _show_entry(self) -> None:
        from runners.logs.parse import neutralise

        box = self.query_one("#entry", Static)
        i = self._selected()
        if i is None:
            box.update(Text("No entry selected. n adds one; t on a Smoke failure adds one prefilled.", style="dim"))
            return
        self.query_one("#entry-box").border_title = f"{i.id} · {i.severity_label}"
        t = Table.grid(padding=(0, 1))
        t.add_column(style="bold", no_wrap=True)
        t.add_column(overflow="fold")
        tb = i.timebox(self.model.now().replace(tzinfo=None))
        for label, value in (
            ("Affected SMK", ", ".join(i.smk)), ("Severity", i.severity_label), ("Cause", i.cause or "unclassified"),
            ("Symptom", i.symptom), ("Suspect area", i.suspect), ("Repro steps", i.repro),
            ("Owner/ETA", f"{i.owner or '—'} / {i.eta or '—'}"), ("Decision", i.decision or "undecided"),
            ("Workaround", i.workaround), ("Status", i.status), ("Hosts", ", ".join(i.hosts)),
            ("From run", i.run_label), ("Log", i.log_ref), ("Fault", i.fault),
            ("Fix", f"{i.fix_lines} changed lines" if i.fix_lines >= 0 else "no fix evidence yet"),
            ("Verify", " ".join(i.verify_results) or "not verified yet"),
            ("Timebox", f"{tb['start']} → {tb['end']}" + (" OVERDUE" if tb["over"] else
                                                           (" decided" if tb["decided"] else ""))),
        ):
            if value:
                t.add_row(label, neutralise(str(value)))
        hist = Text("\n".join(f"{h.get('at', '')}  {h.get('change', '')}" for h in i.history[-6:]), style="dim")
        box.update(Group(t, Text("History", style="bold underline"), hist))

    @on(DataTable.RowHighlighted)
    def _highlighted(self) -> None:
        self._show_entry()
        self.refresh_bindings()

    @on(DataTable.RowSelected)
    def _selected_row(self) -> None:
        if not self.app.read_only:
            self.action_edit_entry()

    @on(DataTable.HeaderSelected)
    def _header(self, event: DataTable.HeaderSelected) -> None:
        key = {"id": "id", "sev": "severity", "status": "status", "owner": "owner"}.get(str(event.column_key.value))
        if key:
            self.sort = key
            self.refresh_view("record")

    # ------------------------------------------------------------------ actions
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        allowed = super().check_action(action, parameters)
        if not allowed:
            return allowed
        if action in ("edit_entry", "decide", "verify"):
            i = self._selected()
            if i is None:
                return None
            if action == "verify" and (self.model.running_label or i.status in ("verified", "closed")):
                return None
        return True

    def on_host_scope_changed(self, event: HostScope.Changed) -> None:
        self.refresh_view("record")

    def action_cycle_sort(self) -> None:
        keys = [k for k, _ in SORTS]
        self.sort = keys[(keys.index(self.sort) + 1) % len(keys)]
        self.refresh_view("record")

    def action_toggle_resolved(self) -> None:
        self.show_resolved = not self.show_resolved
        self.refresh_view("record")

    def action_new_entry(self) -> None:
        from screens.triage_form import TriageForm

        data = (self.model.record.get("triage") if self.model.record else None) or {}
        self.app.push_screen(TriageForm(values={"smk": [], "severity": "R"}, next_id=data.get("next_id", ""),
                                        hosts=[]), self._saved)

    def action_edit_entry(self, focus: str = "") -> None:
        import datetime as _dt

        from record.triage_model import EDITABLE
        from screens.triage_form import TriageForm

        i = self._selected()
        if i is None:
            return
        values = {k: getattr(i, k) for k in EDITABLE}
        try:
            started = _dt.datetime.fromisoformat(i.created)
        except ValueError:
            started = None
        form = TriageForm(values=values, dry_id=i.id, started=started, hosts=list(i.hosts))
        self.app.push_screen(form, self._saved)
        if focus:
            self.app.call_after_refresh(lambda: form.query_one(f"#{focus}").focus())

    def action_decide(self) -> None:
        self.action_edit_entry(focus="decision")

    def action_verify(self) -> None:
        i = self._selected()
        if i is not None:
            self.app.start_verify(i.id)
            self.notify(f"verifying {i.id}: re-running {', '.join(i.smk)} (watch it on Smoke)", timeout=5)

    def _saved(self, dry_id: str | None) -> None:
        if dry_id:
            self.app.reload_record()


def _hosts_cell(hosts: list[str], wide: bool) -> str:
    if not hosts:
        return "—"
    if wide:
        return compact_hosts(hosts, 2)
    return hosts[0] + (f"+{len(hosts) - 1}" if len(hosts) > 1 else "")


def _colour(code: str) -> str:
    return {"R": "red", "A": "amber", "G": "green"}.get(code, code)
