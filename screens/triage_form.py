"""The triage form: every field of the plan's issue template (B2), prefilled from a failure
(SMK, symptom, repro from the RPC trace, suspect area), validated as you type, with the
15-minute triage timebox running. Also edits and decides an existing entry.

Saving goes through the record (``record.triage``): its rules are the rules; a refusal
(a broken register file, a rule) is shown here and the form stays open.

Hosts: the entry's hosts are a field (names or globs, completed from the config's hosts
as you type, checked against them); from a failure that also failed on other hosts of
the same run, one button adds them all (one entry for a fleet-wide failure)."""

from __future__ import annotations

import datetime as _dt
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static, TextArea

from record.severity import CAUSES, DECISIONS, SEVERITIES, TRIAGE_TIMEBOX_MIN
from tui.widgets.status import fmt_countdown

SEVERITY_OPTIONS = [(f"{s.code} {s.colour} ({s.level})", code) for code, s in SEVERITIES.items()]
DECISION_OPTIONS = [("undecided", "")] + [(d, d) for d in DECISIONS]
CAUSE_OPTIONS = [("unclassified", "")] + [(c, c) for c in CAUSES]
TEXT_FIELDS = ("smk", "hosts", "symptom", "suspect", "owner", "eta", "workaround")


def rpc_repro(rpc_excerpt: tuple[dict[str, Any], ...] | list[dict[str, Any]], limit: int = 8) -> str:
    """Repro steps from the failure's RPC exchange: the requests sent and what came back."""
    import json

    from runners.logs.parse import neutralise

    lines = []
    for e in list(rpc_excerpt)[-limit * 2:]:
        frame = e.get("frame")
        if not isinstance(frame, dict):
            continue
        if e.get("dir") == "out":
            params = frame.get("params")
            p = json.dumps(params, separators=(",", ":"), default=str) if params not in (None, {}, []) else ""
            lines.append(f"→ {frame.get('method', '?')} {p}".rstrip())
        elif e.get("dir") == "in":
            if "error" in frame:
                err = frame["error"] or {}
                lines.append(f"← error {err.get('code')} {err.get('message', '')!r}")
            elif "result" in frame:
                r = json.dumps(frame["result"], separators=(",", ":"), default=str)
                lines.append(f"← {r[:100] + '…' if len(r) > 100 else r}")
            elif "method" in frame:
                lines.append(f"← event {frame['method']}")
    return "\n".join(neutralise(ln) for ln in lines[-limit:])  # per line: neutralise() would eat the newlines


class TriageForm(ModalScreen[str | None]):
    """Returns the saved entry's id, or None when cancelled."""

    BINDINGS: ClassVar[list[Binding]] = [
        Binding("ctrl+s", "save", "Save", id="triage_form.save", priority=True),
        Binding("escape", "cancel", "Cancel", id="triage_form.cancel"),
    ]
    DEFAULT_CSS = """
    TriageForm { align: center middle; }
    TriageForm > Vertical {
        width: 100%; max-width: 120; height: 100%; max-height: 40;
        border: round $primary; background: $surface;
    }
    TriageForm #tf-head { height: auto; padding: 0 1; background: $panel; }
    TriageForm #tf-body { height: 1fr; padding: 0 1; }
    TriageForm .pair { height: auto; }
    TriageForm .pair > .field { width: 1fr; }
    TriageForm .field { height: auto; }
    TriageForm.-tall .field { margin-bottom: 1; }
    TriageForm .field > Label { width: 13; text-style: bold; padding-right: 1; }
    TriageForm .field > Input, TriageForm .field > Select { width: 1fr; margin-right: 1; }
    TriageForm .field > Input { background: $boost; }
    TriageForm .tall > TextArea { height: 5; width: 1fr; background: $boost; }
    TriageForm #tf-errors { height: auto; padding: 0 1; }
    TriageForm #tf-buttons { height: auto; padding: 0 1; }
    TriageForm Button { margin-right: 2; }
    TriageForm Input.-invalid { background: $error 30%; }
    TriageForm #hosts-row > Button { width: auto; margin-right: 1; }
    TriageForm #add-failing.-none { display: none; }
    """

    def __init__(self, *, values: dict[str, Any], extra: dict[str, Any] | None = None, dry_id: str = "",
                 next_id: str = "", started: _dt.datetime | None = None, decided: bool = False,
                 hosts: list[str] | None = None, **kw: Any) -> None:
        """``hosts``: the entry's hosts (an edit); a new entry from a failure takes
        ``extra["hosts"]``."""
        super().__init__(**kw)
        self.values = values
        self.extra = extra or {}
        self.hosts = list(hosts if hosts is not None else self.extra.get("hosts", []))
        self.dry_id = dry_id  # "" = a new entry
        self.next_id = next_id
        self.started = started
        self._saving = False

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        v = self.values
        title = f"Edit {self.dry_id}" if self.dry_id else f"New triage entry ({self.next_id or 'DRY-nn'} on save)"

        def field(label: str, widget: Any, *, classes: str = "field") -> Horizontal:
            return Horizontal(Label(label), widget, classes=classes)

        with Vertical():
            yield Static(f"[b]{title}[/b]", id="tf-head")
            with VerticalScroll(id="tf-body"):
                src = self.extra.get("run_label")
                if src:
                    yield Static(f"[dim]from the failure of {', '.join(self._smk_list())} on "
                                 f"{', '.join(self.extra.get('hosts', []))} in {src}"
                                 + (f" · log {self.extra['log_ref']}" if self.extra.get("log_ref") else "") + "[/dim]",
                                 id="tf-source")
                with Horizontal(classes="pair"):
                    yield field("Affected SMK", Input(", ".join(self._smk_list()), placeholder="SMK-3, SMK-4",
                                                      id="smk", compact=True))
                    yield field("Severity", Select(SEVERITY_OPTIONS, value=v.get("severity") or "R",
                                                   allow_blank=False, id="severity", compact=True))
                with Horizontal(classes="field", id="hosts-row"):
                    yield Label("Hosts")
                    yield Input(", ".join(self.hosts), placeholder="cam-03, cam-07 or cam-0* (Tab completes)",
                                id="hosts", compact=True, suggester=self._suggester())
                    yield Button("", id="add-failing", compact=True)
                yield field("Symptom", Input(v.get("symptom", ""), placeholder="what was seen", id="symptom",
                                             compact=True))
                with Horizontal(classes="pair"):
                    yield field("Suspect area", Input(v.get("suspect", ""), placeholder="component / layer",
                                                      id="suspect", compact=True))
                    yield field("Cause", Select(CAUSE_OPTIONS, value=v.get("cause") or "", allow_blank=False,
                                                id="cause", compact=True))
                yield field("Repro steps", TextArea(v.get("repro", ""), id="repro", soft_wrap=True, compact=True),
                            classes="field tall")
                with Horizontal(classes="pair"):
                    yield field("Owner", Input(v.get("owner", ""), placeholder="who fixes it", id="owner",
                                               compact=True))
                    yield field("ETA", Input(v.get("eta", ""), placeholder="today 16:00 / 2026-11-24", id="eta",
                                             compact=True))
                with Horizontal(classes="pair"):
                    yield field("Decision", Select(DECISION_OPTIONS, value=v.get("decision") or "",
                                                   allow_blank=False, id="decision", compact=True))
                    yield field("Workaround", Input(v.get("workaround", ""), placeholder="needed for Workaround",
                                                    id="workaround", compact=True))
            yield Static(id="tf-errors")
            with Horizontal(id="tf-buttons"):
                yield Button("Save (ctrl+s)", variant="primary", id="save", compact=True)
                yield Button("Cancel (esc)", id="cancel", compact=True)

    def _suggester(self) -> Any:
        from tui.widgets.host_filter import HostSuggester

        sug = HostSuggester()
        sug.hosts = tuple(getattr(getattr(self.app, "model", None), "hosts", ()) or ())
        return sug

    def _known_hosts(self) -> tuple[str, ...]:
        return tuple(getattr(getattr(self.app, "model", None), "hosts", ()) or ())

    def failing_elsewhere(self) -> list[str]:
        """Other hosts where the entry's checks failed in the run in view (from a failure only)."""
        model = getattr(self.app, "model", None)
        if model is None or not self.extra.get("run_label"):
            return []
        state = model.live if model.live.run_id else model.history.state
        smk = set(self._smk_list())
        mine = set(self.collect_hosts()[0])
        bad = {h for (h, c), cell in state.cells.items() if c in smk and cell.status in ("failed", "error")}
        return [h for h in model.hosts if h in bad and h not in mine]

    def collect_hosts(self) -> tuple[list[str], list[str]]:
        """(the hosts typed, in config order; the names that are no configured host)."""
        from tui.fleet import parse_hosts

        known = self._known_hosts()
        text = self.query_one("#hosts", Input).value
        if not known:  # no config hosts to check against: keep what was typed
            from tui.fleet import parse_filter

            return parse_filter(text), []
        return parse_hosts(text, known)

    def _show_add_failing(self) -> None:
        other = self.failing_elsewhere()
        button = self.query_one("#add-failing", Button)
        button.set_class(not other, "-none")
        if other:
            button.label = f"+{len(other)} also failing"
            button.tooltip = "add the hosts where these checks failed in the same run: " + ", ".join(other)

    @on(Button.Pressed, "#add-failing")
    def _add_failing(self) -> None:
        from tui.fleet import parse_hosts

        hosts, _unknown = self.collect_hosts()
        chosen, _ = parse_hosts(", ".join([*hosts, *self.failing_elsewhere()]), self._known_hosts())
        self.query_one("#hosts", Input).value = ", ".join(chosen)

    def _smk_list(self) -> list[str]:
        smk = self.values.get("smk") or []
        return [smk] if isinstance(smk, str) else list(smk)

    def on_mount(self) -> None:
        self.started = self.started or self.app.model.now().replace(tzinfo=None)
        self._validate()
        self._tick()
        self.set_interval(1.0, self._tick)
        self.query_one("#symptom" if self.values.get("symptom") == "" else "#owner", Input).focus()

    # ------------------------------------------------------------------ timebox
    def _tick(self) -> None:
        now = self.app.model.now().replace(tzinfo=None)
        left = (self.started + _dt.timedelta(minutes=TRIAGE_TIMEBOX_MIN) - now).total_seconds()
        title = (f"Edit {self.dry_id}" if self.dry_id
                 else f"New triage entry ({self.next_id or 'DRY-nn'} on save)")
        if left >= 0:
            box = f"triage timebox {fmt_countdown(left)} left of {TRIAGE_TIMEBOX_MIN}:00"
        else:
            box = f"[reverse b]⚠ OVER the {TRIAGE_TIMEBOX_MIN}-minute timebox by {fmt_countdown(-left)}[/]: decide or defer"
        self.query_one("#tf-head", Static).update(f"[b]{title}[/b]   {box}")

    # ------------------------------------------------------------------ validation
    def collect(self) -> dict[str, Any]:
        q = self.query_one
        return {
            "smk": q("#smk", Input).value, "severity": q("#severity", Select).value,
            "cause": q("#cause", Select).value, "symptom": q("#symptom", Input).value,
            "suspect": q("#suspect", Input).value, "repro": q("#repro", TextArea).text,
            "owner": q("#owner", Input).value, "eta": q("#eta", Input).value,
            "decision": q("#decision", Select).value, "workaround": q("#workaround", Input).value,
        }

    def problems(self) -> dict[str, str]:
        """field id -> what is wrong (the record's own parsers and rules)."""
        from record.triage_model import parse_smk_list

        v = self.collect()
        out: dict[str, str] = {}
        try:
            parse_smk_list(v["smk"])
        except ValueError as e:
            out["smk"] = str(e)
        if not v["symptom"].strip():
            out["symptom"] = "symptom: say what was seen"
        if v["severity"] == "R":
            if not v["owner"].strip():
                out["owner"] = "a Red needs an owner"
            if not v["eta"].strip():
                out["eta"] = "a Red needs an ETA"
        if v["decision"] == "Workaround" and not v["workaround"].strip():
            out["workaround"] = "a Workaround decision needs its workaround text"
        _hosts, unknown = self.collect_hosts()
        if unknown:
            known = self._known_hosts()
            out["hosts"] = (f"hosts: no configured host {', '.join(unknown)} "
                            f"({len(known)} configured: {', '.join(known[:3])}{', …' if len(known) > 3 else ''})")
        return out

    def _validate(self) -> dict[str, str]:
        probs = self.problems()
        self._show_add_failing()
        for fid in TEXT_FIELDS:
            self.query_one(f"#{fid}", Input).set_class(fid in probs, "-invalid")
        errors = self.query_one("#tf-errors", Static)
        errors.update("\n".join(f"[b $error]✖[/] {p}" for p in probs.values()) if probs
                      else "[b $success]✔[/] ready to save (ctrl+s)")
        self.query_one("#save", Button).disabled = bool(probs) or self._saving
        return probs

    @on(Input.Changed)
    @on(Select.Changed)
    @on(TextArea.Changed)
    def _changed(self) -> None:
        self._validate()

    # ------------------------------------------------------------------ save
    @on(Button.Pressed, "#save")
    def action_save(self) -> None:
        if self._saving or self._validate():
            return
        values = self.collect()
        self._hosts_chosen = self.collect_hosts()[0]
        self._saving = True
        self.query_one("#save", Button).disabled = True
        app: Any = self.app
        app.run_task("save triage entry", self._save_fn(values), reply=self._saved)

    def _save_fn(self, values: dict[str, Any]):
        from record.layout import DryRunDir

        app: Any = self.app
        cfg = app.model.cfg
        dry_id, extra = self.dry_id, dict(self.extra)
        original_decision = self.values.get("decision", "")
        hosts, before = list(getattr(self, "_hosts_chosen", self.hosts)), list(self.hosts)
        if not dry_id:
            extra["hosts"] = hosts

        def save() -> str:
            from record.triage import add_issue, mutate, update_issue
            from tui.flows import events_log_for

            d = DryRunDir(cfg.dry_run_path)
            log = events_log_for(cfg)
            if not dry_id:
                return add_issue(d, values, log=log, extra=extra).id
            deciding = bool(values["decision"]) and values["decision"] != original_decision
            issue = update_issue(d, dry_id, values, deciding=deciding, log=log,
                                 event="triage_decided" if deciding else "triage_updated")
            if hosts != before:
                def set_hosts(i: Any) -> str:
                    i.hosts = list(hosts)
                    return f"edited: hosts: {before!r} -> {hosts!r}"

                issue = mutate(d, dry_id, set_hosts, log=log, event="triage_updated")
            return issue.id

        return save

    def _saved(self, done: Any) -> None:
        self._saving = False
        if done.ok:
            self.app.notify(f"{done.data} saved to the triage register", timeout=4)
            self.dismiss(done.data)
        else:
            self.query_one("#tf-errors", Static).update(f"[b $error]✖ not saved:[/] {done.detail}")
            self.query_one("#save", Button).disabled = False

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
