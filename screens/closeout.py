"""Closeout: the gates, the metrics, the pass ledger and the decision the closeout would
give now; write 08_metrics.md, record the decision in 09_closeout.md, build the evidence
pack, run the final consolidated smoke run (07_smoke_run_final)."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, VerticalScroll
from textual.widgets import Static

from screens.base import ConsoleScreen
from tui.widgets.gates_panel import GATE_NAMES, decision_text
from tui.widgets.status import style_for


def _f(x: Any, unit: str = "", nd: int = 1) -> str:
    return "—" if x is None else f"{x:.{nd}f}{unit}"


class CloseoutScreen(ConsoleScreen):
    MODE = "closeout"
    TITLE = "Closeout"
    HELP = ("The exit decision with its evidence: gates against thresholds, the decision the closeout would give "
            "now (ACCEPT, 2nd Iteration or STOP, by the rule in 00_plan.md), metrics, the pass ledger and "
            "residual risks. F runs the final consolidated smoke run (07_smoke_run_final.log), m writes "
            "08_metrics.md, c records the decision in 09_closeout.md, p builds the evidence pack.")
    MUTATING: ClassVar[frozenset[str]] = frozenset({"final_run", "write_metrics", "close_out", "build_pack"})
    BINDINGS: ClassVar[list[Binding]] = [
        Binding("F", "final_run", "Final run", id="closeout.final", tooltip="07_smoke_run_final: all checks, --ff"),
        Binding("m", "write_metrics", "Metrics", id="closeout.metrics", tooltip="write 08_metrics.md"),
        Binding("c", "close_out", "Close out", id="closeout.closeout", tooltip="record the decision: 09_closeout.md"),
        Binding("p", "build_pack", "Pack", id="closeout.pack", tooltip="build the evidence pack (dryrun pack)"),
    ]

    def compose_body(self) -> ComposeResult:
        yield Static(id="decision")
        with VerticalScroll(id="closeout-scroll"):
            with Grid(id="closeout-grid"):
                yield Static(id="co-gates", classes="co-box")
                yield Static(id="co-metrics", classes="co-box")
                yield Static(id="co-ledger", classes="co-box")
                yield Static(id="co-risks", classes="co-box")

    def on_mount(self) -> None:
        super().on_mount()
        for id_, title in (("co-gates", "Gates"), ("co-metrics", "Metrics"), ("co-ledger", "Pass ledger"),
                           ("co-risks", "Residual risks · files")):
            self.query_one(f"#{id_}").border_title = title

    def refresh_view(self, topic: str) -> None:
        if topic not in ("all", "record", "theme", "config", "run"):
            return
        rec = self.model.record
        if rec is None:
            self.query_one("#decision", Static).update("loading the record…")
            return
        self.query_one("#decision", Static).update(self._decision(rec))
        self.query_one("#co-gates", Static).update(self._gates(rec))
        self.query_one("#co-metrics", Static).update(self._metrics(rec))
        self.query_one("#co-ledger", Static).update(self._ledger(rec))
        self.query_one("#co-risks", Static).update(self._risks(rec))
        self.refresh_bindings()

    # ------------------------------------------------------------------ sections
    def _decision(self, rec: Any) -> Any:
        if "closeout" in rec.errors:
            return Text(f"✖ cannot evaluate the closeout: {rec.errors['closeout']}", style="bold")
        p = rec.get("closeout")
        t = Text.assemble(("Decision if closed now: ", "bold"), decision_text(self.app, p), "  ",
                          (p.get("why", ""), "italic"))
        recorded = p.get("recorded")
        if recorded:
            t.append(f"\nLast recorded: {recorded.get('decision')} at {recorded.get('at', '')[:16]} "
                     f"(iteration {recorded.get('iteration')})", style="dim")
        else:
            t.append("\nNo closeout recorded yet (c records one).", style="dim")
        return t

    def _gates(self, rec: Any) -> Any:
        from record.gates import detail_lines

        if "closeout" in rec.errors:
            return Text("—", style="dim")
        t = Table(box=None, padding=(0, 1), show_header=True, header_style="bold", expand=True)
        t.add_column("Gate", no_wrap=True, min_width=11)
        t.add_column("", no_wrap=True, min_width=6)
        t.add_column("Value", overflow="fold", ratio=3)
        t.add_column("Threshold", overflow="fold", ratio=2)
        for g in rec.get("closeout")["gates"]:
            word = Text("✔ MET" if g["met"] else "✖ MISS", style=style_for(self.app, "met" if g["met"] else "missed"))
            t.add_row(GATE_NAMES.get(g["name"], g["name"]), word, g["value"], g["threshold"])
            lines = detail_lines(g)  # a long list grouped by check (09_closeout.md keeps every item)
            if lines:
                t.add_row("", "", Text("\n".join(lines), style="dim", overflow="fold"), "")
        return t

    def _metrics(self, rec: Any) -> Any:
        if "metrics" in rec.errors:
            return Text(f"✖ {rec.errors['metrics']}", style="bold")
        m = rec.get("metrics")
        ref = m.get("reference_run")
        t = Table.grid(padding=(0, 1))
        t.add_column(style="bold", no_wrap=True)
        t.add_column(overflow="fold")
        t.add_row("Pass rate", f"{_f(m['pass_rate_pct'], ' %')} ({ref['label'] if ref else 'no smoke run yet'})")
        t.add_row("All attempts", f"{_f(m['overall_pass_rate_pct'], ' %')} of {m['attempts']}")
        t.add_row("Flaky", f"{_f(m['flaky_pct'], ' %', 2)}; {len(m['flaky_checks'])} flaky check/host pair(s)")
        d = m["durations"]
        t.add_row("Durations", f"p50 {_f(d['p50'], ' s', 2)} · p95 {_f(d['p95'], ' s', 2)} · max {_f(d['max'], ' s', 2)}")
        t.add_row("RPC p95", f"{_f(m['rpc_overall_p95_ms'], ' ms')} (budget {m['rpc_overall_budget_ms']:g} ms)")
        over = [r for r in m["rpc"] if not r["within"] and r["method"] != "*overall*"]
        if over:
            t.add_row("Over budget", ", ".join(f"{r['method']} p95 {_f(r['p95_ms'], ' ms')} > {r['budget_ms']:g}"
                                               for r in over))
        t.add_row("Quarantined", ", ".join(m["quarantined"]) or "none")
        slow = Table(box=None, padding=(0, 1), show_header=True, header_style="bold", expand=True)
        slow.add_column("Slowest", no_wrap=True)
        slow.add_column("Host", no_wrap=True)
        slow.add_column("Run", overflow="ellipsis", no_wrap=True)
        slow.add_column("s", justify="right", no_wrap=True)
        for s in m["slowest"][:5]:
            slow.add_row(s["check"], s["host"], s["label"], _f(s["duration"], "", 2))
        return Group(t, slow) if m["slowest"] else t

    def _ledger(self, rec: Any) -> Any:
        if "ledger" in rec.errors:
            return Text(f"✖ {rec.errors['ledger']}", style="bold")
        entries = rec.get("ledger") or []
        if not entries:
            return Text("No verify results yet (v on a Triage entry verifies its fix).", style="dim")
        t = Table(box=None, padding=(0, 1), show_header=True, header_style="bold", expand=True)
        for col in ("#", "When", "Entry", "SMK", "Try", "Result", "Log"):
            t.add_column(col, no_wrap=col != "Log", overflow="ellipsis")
        for e in entries[-12:]:
            res = Text(("✔ " if e.result == "PASS" else "✖ ") + e.result,
                       style=style_for(self.app, "passed" if e.result == "PASS" else "failed"))
            t.add_row(str(e.n), e.at[5:16].replace("T", " "), e.dry_id, ", ".join(e.smk), str(e.attempt), res, e.log)
        return t

    def _risks(self, rec: Any) -> Any:
        parts: list[Any] = []
        p = rec.get("closeout")
        if p is not None:
            risks = p.get("residual_risks", [])
            if risks:
                t = Table(box=None, padding=(0, 1), show_header=True, header_style="bold", expand=True)
                t.add_column("Risk", overflow="fold")
                t.add_column("Owner", no_wrap=True)
                for r in risks[:10]:
                    t.add_row(r["risk"], r["owner"])
                if len(risks) > 10:
                    t.add_row(Text(f"… +{len(risks) - 10} more (all of them in 09_closeout.md once recorded)",
                                   style="dim"), "")
                parts.append(t)
            else:
                parts.append(Text("No residual risks.", style="bold"))
        files = rec.get("files") or {}
        if files:
            names = (("00_plan.md", "plan"), ("01_env_matrix.md", "env_matrix"), ("env.sh", "env_sh"),
                     ("03_triage_register.md", "triage"), ("05_pass_ledger.md", "ledger"),
                     ("06_flake_evidence.md", "flakes"), ("07_smoke_run_final.log", "final"),
                     ("08_metrics.md", "metrics"), ("09_closeout.md", "closeout"))
            line = Text("\nFiles: ")
            runs = files.get("runs") or []
            line.append(f"02_smoke_run_1..{runs[-1]} ✔  " if runs else "02_smoke_run_* ✖  ")
            for name, key in names:
                line.append(f"{name} {'✔' if files.get(key) else '✖'}  ",
                            style="" if files.get(key) else "dim")
            parts.append(line)
        return Group(*parts) if parts else Text("—")

    # ------------------------------------------------------------------ actions
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        allowed = super().check_action(action, parameters)
        if allowed and action == "final_run" and self.model.running_label:
            return None
        return allowed

    def action_final_run(self) -> None:
        from runners.smoke.options import RunOptions

        opts = RunOptions(failed_first=True, failfast=self.model.cfg.run.failfast)
        if self.app.start_smoke(opts, final=True) is not None:
            self.notify("final run started: 07_smoke_run_final.log (watch it on Smoke)", timeout=5)

    def action_write_metrics(self) -> None:
        from record.layout import DryRunDir
        from record.metrics import write_metrics

        d = DryRunDir(self.model.cfg.dry_run_path)
        self.app.run_task("write metrics", lambda: write_metrics(d), success=f"wrote {d.metrics.name}")

    def action_close_out(self) -> None:
        from screens.confirm import ConfirmScreen

        rec = self.model.record
        p = rec.get("closeout") if rec else None
        decision = p.get("decision", "?") if p else "?"
        body = (f"Record the decision \"{decision}\" now? This writes 09_closeout.md (gates, metrics, residual risks, "
                "hand-offs to CDR steps 4-6/8/9)" + (" and advances the sprint to the next iteration"
                                                     if p and p.get("decision_code") == "ITERATE" else "") + ".")
        self.app.push_screen(ConfirmScreen("Close out the dry-run", body, yes="Record it", no="Not now"),
                             self._close_out)

    def _close_out(self, yes: bool | None) -> None:
        if not yes:
            return
        from record.closeout import closeout
        from record.layout import DryRunDir
        from tui.flows import events_log_for

        cfg = self.model.cfg
        d = DryRunDir(cfg.dry_run_path)
        now = self.model.now().replace(tzinfo=None)

        def done(msg: Any) -> None:
            if msg.ok:
                self.notify(f"Dry-run decision: {msg.data['decision']} (09_closeout.md written)", timeout=8)
            else:
                self.notify(msg.detail, title="Closeout not recorded", severity="error", timeout=12)

        self.app.run_task("close out", lambda: closeout(cfg, d, now=now, log=events_log_for(cfg)), reply=done)

    def action_build_pack(self) -> None:
        from record.layout import DryRunDir
        from record.pack import build_pack
        from tui.flows import events_log_for

        cfg = self.model.cfg
        d = DryRunDir(cfg.dry_run_path)

        def done(msg: Any) -> None:
            if msg.ok:
                r = msg.data
                self.notify(f"evidence pack: {r.files} files, {r.bytes / 1e6:.1f} MB in {r.path}", timeout=10)
            else:
                self.notify(msg.detail, title="Pack not built", severity="error", timeout=12)

        self.app.run_task("evidence pack", lambda: build_pack(cfg, d, log=events_log_for(cfg)), reply=done)
