"""The App's run flows: start a smoke / final / verify / flake-hunt / external-suite run on
its own thread and event loop, cancel it, fold its events into the model, offer a drift
override, and open the triage form prefilled from a failure.

A mixin of ``DryRunApp`` (kept apart so app.py stays small); message handlers use
Textual's naming convention (``on_run_events``...), found along the MRO."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from textual import work
from textual.worker import Worker

from tui.messages import RunDone, RunEvents, RunPhase, TaskDone


class RunsMixin:
    """Needs the App's ``model``, ``read_only``, ``publish``, ``notify``, ``run_task``,
    ``reload_record``, ``push_screen``, ``post_message``."""

    _engine: Any = None  # (running SmokeEngine, its loop) to cancel it
    last_flow: Any = None  # tui.flows.FlowResult of the last run this console made

    def _can_start_run(self) -> bool:
        if self.read_only:
            self.notify("read-only console: runs are disabled", severity="warning")
            return False
        if self.model.running_label:
            self.notify(f"{self.model.running_label} is in progress (x on Smoke cancels it)", severity="warning")
            return False
        return True

    def start_smoke(self, options: Any, *, final: bool = False) -> Worker | None:
        from tui import flows

        if not self._can_start_run():
            return None
        label = "final run" if final else "smoke run"
        return self._run_flow(label, lambda hooks: flows.smoke(self.model.cfg, options, hooks, final=final))

    def start_suite(self, name: str | None, options: Any) -> Worker | None:
        """Run a configured external pytest suite ([[suites]]) through the same flow as a
        smoke run: its events fill the Smoke table live, the record gets 02_smoke_run_N."""
        from runners.external.command import find_suite, suite_hosts
        from tui import flows

        if not self._can_start_run():
            return None
        try:
            suite = find_suite(self.model.cfg, name)
            suite_hosts(self.model.cfg, suite, options.hosts)
        except (KeyError, ValueError) as e:
            self.notify(str(e).strip("'\""), title="Suite not started", severity="error", timeout=10)
            return None
        return self._run_flow(f"suite {suite.name}",
                              lambda hooks: flows.suite(self.model.cfg, suite.name, options, hooks))

    def start_verify(self, dry_id: str) -> Worker | None:
        from tui import flows

        if not self._can_start_run():
            return None
        return self._run_flow(f"verify {dry_id}", lambda hooks: flows.verify(self.model.cfg, dry_id, hooks))

    def start_flake_hunt(self, host: str, check: str, count: int = 10) -> Worker | None:
        from tui import flows

        if not self._can_start_run():
            return None
        return self._run_flow(f"flake hunt {check}",
                              lambda hooks: flows.flake_hunt(self.model.cfg, host, check, count, hooks))

    def _run_flow(self, label: str, flow: Callable[[Any], Awaitable[Any]], *, allow_drift: bool = False) -> Worker:
        self.model.running_label = label
        self.model.run_phase = "starting"
        self.publish("run")
        return self._flow_worker(label, flow, allow_drift)

    @work(group="smoke", exit_on_error=False, name="smoke run", thread=True)
    def _flow_worker(self, label: str, flow: Callable[[Any], Awaitable[Any]], allow_drift: bool) -> Any:
        """The run gets its own thread and event loop: the engine times RPC round trips, and
        on the UI's loop every repaint would be counted as service latency."""
        from tui.flows import Hooks

        def sink(ev: Any) -> None:
            self.post_message(RunEvents([ev]))  # thread-safe; bursts merge in the queue

        def ready(engine: Any) -> None:
            self._engine = (engine, asyncio.get_running_loop())

        def phase(text: str) -> None:
            self.post_message(RunPhase(text))

        try:
            result = asyncio.run(flow(Hooks(sink, ready, phase, allow_drift)))
        finally:
            self._engine = None
            self.post_message(RunPhase(""))
        self.post_message(RunDone(result.label, result, retry=(label, flow)))
        return result

    def on_run_phase(self, message: RunPhase) -> None:
        if message.text:
            self.model.run_phase = message.text
        else:
            self.model.running_label = self.model.run_phase = ""
        self.publish("run")

    def cancel_smoke(self) -> bool:
        """Ask the engine to stop: running checks end, the run is recorded as interrupted."""
        held = self._engine
        if held is None:
            return False
        engine, loop = held
        try:
            loop.call_soon_threadsafe(engine.cancel)  # the engine lives on the run's own loop
        except RuntimeError:  # that loop just closed: the run is over anyway
            return False
        return True

    def _offer_drift_override(self, flow: Any, retry: Any) -> None:
        from screens.confirm import ConfirmScreen

        gate = flow.halted
        body = ("The live environment differs from the freeze (01_env_matrix):\n"
                + "\n".join(f"  • {m}" for m in gate.messages[:12])
                + "\n\nRun anyway? The override is recorded in the events log and the closeout's residual risks.")

        def answer(yes: bool | None) -> None:
            if yes and retry is not None and self._can_start_run():
                label, fn = retry
                self._run_flow(label, fn, allow_drift=True)

        self.push_screen(ConfirmScreen(f"{flow.label}: halted by environment drift", body, yes="Run anyway",
                                       no="Don't run"), answer)

    # ------------------------------------------------------------------ triage
    def open_triage_form(self, result: Any, *, run_label: str = "") -> None:
        """From a failure: prefill the form from the record's view of it (SMK, symptom, suspect
        area, log lines) plus the repro steps of its RPC exchange, then open it."""
        from record.layout import DryRunDir

        cfg = self.model.cfg

        def prefill() -> tuple[dict, dict, str]:
            from record.failures import pick_failure
            from record.triage import load_register

            d = DryRunDir(cfg.dry_run_path)
            failure = pick_failure(d, f"{result.check}@{result.host}", run_label)
            values, extra = failure.prefill()
            return values, extra, load_register(d).next_id()

        def opened(done: TaskDone) -> None:
            from screens.triage_form import TriageForm, rpc_repro

            if not done.ok:
                self.notify(f"cannot prefill from {result.check} on {result.host}: {done.detail}",
                            severity="error", timeout=10)
                return
            values, extra, next_id = done.data
            trace = rpc_repro(result.rpc_excerpt)
            if trace:
                values["repro"] = f"{values.get('repro', '')}\nRPC exchange:\n{trace}".strip()
            self.push_screen(TriageForm(values=values, extra=extra, next_id=next_id), self._triage_saved)

        self.run_task("prefill triage", prefill, reply=opened)

    def _triage_saved(self, dry_id: str | None) -> None:
        if dry_id:
            self.reload_record()

    def on_run_events(self, message: RunEvents) -> None:
        for ev in message.events:
            self.model.apply_run_event(ev)
        self.publish("run")

    def on_run_done(self, message: RunDone) -> None:
        self.reload_record()
        flow = message.result
        if flow.halted is not None:
            self._offer_drift_override(flow, message.retry)
            return
        run = flow.run
        fin = run.finished
        bad = fin.failed or fin.errors or fin.interrupted or run.internal_error
        self.notify(flow.message, title="Run finished", severity="warning" if bad else "information", timeout=10)
        for err in run.record_errors[:3]:
            self.notify(err, title="Record problem", severity="error", timeout=15)
        if run.internal_error:
            self.notify(run.internal_error, title="Engine error", severity="error", timeout=15)
        self.last_flow = flow
        self.publish("run")
