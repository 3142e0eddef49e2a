"""The console's run flows, wired to the record exactly as the CLI's are: a plain smoke
run (02_smoke_run_N), the final run (07_smoke_run_final), a verify run of a DRY entry
(04_verify_DRY-nn -> pass ledger) and a flake hunt (flake_SMK-n -> 06_flake_evidence).

Every run first goes through the environment validator (drift from the freeze halts it
unless the operator overrides, which is recorded), like ``dryrun run``.

No Textual here: each flow takes the event sink, the engine hand-off and a phase
callback, and returns what the App reports. Record file work runs in threads."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runners.config import Config
from runners.events import Event

Sink = Callable[[Event], None]
EngineReady = Callable[[Any], None]


@dataclass
class Hooks:
    sink: Sink
    ready: EngineReady
    phase: Callable[[str], None] = lambda _text: None
    allow_drift: bool = False


@dataclass
class FlowResult:
    kind: str  # smoke | final | verify | flake | suite
    label: str
    run: Any = None  # runners.pipeline.RunResult; None when the run did not start
    outcome: Any = None  # VerifyOutcome | Hunt
    message: str = ""
    halted: Any = None  # runners.pipeline.EnvGate that halted the run (environment drift)


def events_log_for(cfg: Config):
    from record.events_log import EventsLog
    from record.layout import DryRunDir
    from record.redact import configured_secrets

    d = DryRunDir(cfg.dry_run_path)
    return EventsLog(d.events_log, secrets=configured_secrets(cfg))


def _summary(run: Any) -> str:
    from record.runlog import plural

    f = run.finished
    extra = " (interrupted)" if f.interrupted else (f" (stopped early: {f.stopped_early})" if f.stopped_early else "")
    return (f"{run.label}: {f.passed} passed, {f.failed} failed, {plural(f.errors, 'error')}, "
            f"{f.skipped} skipped in {f.duration:.1f} s{extra}")


async def _run(cfg: Config, options: Any, log_path: Path | None, hooks: Hooks, kind: str, *,
               suite: Any = None) -> FlowResult:
    """Validate the environment, then run (the built-in engine, or the external ``suite``)
    and record. ``log_path`` None: the next 02_smoke_run_N, claimed only once the gate lets
    the run through (atomic across processes; a halted run leaves no empty log)."""
    from runners.pipeline import run_checks, validate_environment

    options = options.validate()
    hooks.phase("validating the environment against the freeze")
    gate_options = options
    if suite is not None:  # the hosts the suite runs on, as `dryrun suite` checks them
        from runners.external.command import gate_hosts

        gate_options = dataclasses.replace(options, hosts=gate_hosts(cfg, suite, options.hosts))
    gate = await validate_environment(cfg, gate_options, allow_drift=hooks.allow_drift)
    if gate.halt:
        return FlowResult(kind, options.label, halted=gate,
                          message=f"{options.label} halted: environment drift ({', '.join(gate.codes)})")
    if log_path is None:
        from record.layout import DryRunDir

        n, log_path = await asyncio.to_thread(DryRunDir(cfg.dry_run_path).reserve_run_log)
        options = dataclasses.replace(options, label=f"02_smoke_run_{n}")
    hooks.phase("running" if suite is None else f"running suite {suite.name}")
    # A suite's run gives the same events as the engine's (RunStarted ... RunFinished): the same record.
    run = await run_checks(cfg, options, suite=suite, log_path=log_path, sinks=[hooks.sink],
                           engine_ready=hooks.ready, notices=gate.notices())
    message = _summary(run) if suite is None else f"suite {suite.name}: {_summary(run)}"
    return FlowResult(kind, options.label, run, message=message)


async def smoke(cfg: Config, options: Any, hooks: Hooks, *, final: bool = False) -> FlowResult:
    from record.layout import DryRunDir

    d = DryRunDir(cfg.dry_run_path)
    if final:
        label, log_path = "07_smoke_run_final", d.final_run_log
    else:  # the label is a preview (for a halt message); _run claims the number
        n = await asyncio.to_thread(d.next_run_number)
        label, log_path = f"02_smoke_run_{n}", None
    return await _run(cfg, dataclasses.replace(options, label=label), log_path, hooks, "final" if final else "smoke")


async def suite(cfg: Config, name: str | None, options: Any, hooks: Hooks) -> FlowResult:
    """A configured external pytest suite ([[suites]]) as a plain smoke run (02_smoke_run_N),
    like ``dryrun suite NAME``."""
    from record.layout import DryRunDir
    from runners.external.command import find_suite

    found = find_suite(cfg, name)  # KeyError/ValueError naming the configured suites
    d = DryRunDir(cfg.dry_run_path)
    n = await asyncio.to_thread(d.next_run_number)  # a preview: _run claims the number after the gate
    label, log_path = f"02_smoke_run_{n}", None
    # pytest's own -x/--maxfail stand for fail-fast there: the console's soft/hard modes do not apply
    options = dataclasses.replace(options, label=label, failfast="off")
    return await _run(cfg, options, log_path, hooks, "suite", suite=found)


async def verify(cfg: Config, dry_id: str, hooks: Hooks) -> FlowResult:
    """The plan's C2: re-run only the entry's affected checks (on its hosts), --maxfail=1,
    then PASS/FAIL into the register, the pass ledger and the fix evidence."""
    from record.layout import DryRunDir
    from record.verify import conclude, prepare
    from runners.smoke.options import RunOptions

    from runners.external.command import rerun_suite

    d = DryRunDir(cfg.dry_run_path)
    plan = await asyncio.to_thread(prepare, d, dry_id)
    suite, hosts = rerun_suite(cfg, None, tuple(plan.hosts))
    options = RunOptions(keyword=plan.keyword, hosts=hosts, label=plan.label, maxfail=1,
                         failfast=cfg.run.failfast if suite is None else "off")
    res = await _run(cfg, options, plan.log_path, hooks, "verify", suite=suite)
    if res.run is None:
        return res
    if res.run.finished.interrupted:
        res.message = f"verify {dry_id} interrupted: no result recorded"
        return res
    outcome = await asyncio.to_thread(conclude, d, plan, res.run.results, run_id=res.run.run_id,
                                      log=events_log_for(cfg))
    res.outcome = outcome
    res.message = f"Verify {dry_id}: {outcome.result} (attempt {outcome.attempt}): {outcome.reason}"
    if outcome.escalated:
        res.message += "; escalated to the PM"
    elif outcome.bounced:
        res.message += "; bounced back to the developer"
    return res


async def flake_hunt(cfg: Config, host: str, check: str, count: int, hooks: Hooks) -> FlowResult:
    """The plan's C3: repeat one check N times; a flaky verdict quarantines it."""
    from record.flakes import analyse, record_hunt
    from record.layout import DryRunDir
    from runners.smoke.options import RunOptions

    from runners.external.command import rerun_suite

    d = DryRunDir(cfg.dry_run_path)
    label = f"flake_{check}"
    log_path = d.flake_log(check)
    suite, hosts = rerun_suite(cfg, None, (host,) if host else ())
    options = RunOptions(keyword=check.replace("-", "_"), hosts=hosts, count=count,
                         label=label, respect_quarantine=False)
    res = await _run(cfg, options, log_path, hooks, "flake", suite=suite)
    if res.run is None:
        return res
    if res.run.finished.interrupted:
        res.message = f"flake hunt {check} interrupted: nothing recorded"
        return res
    hunt = analyse(check, count, res.run.results, run_id=res.run.run_id, label=label,
                   log=str(log_path.relative_to(d.root)))
    hunt = await asyncio.to_thread(record_hunt, d, hunt, log=events_log_for(cfg))
    res.outcome = hunt
    res.message = f"Flake hunt {check}: {hunt.verdict} ({len(hunt.failures)}/{len(hunt.ran)} failed)"
    if hunt.quarantined:
        res.message += "; quarantined"
    return res
