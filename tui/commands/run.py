"""``dryrun run``: the smoke set SMK-1..7, headless, pytest-like.

    dryrun run -k "SMK_3 or SMK_5" --maxfail=1 --ff --durations=10 [--count=10] [--final]

The environment validator runs first (halts on drift from the freeze unless
``--allow-drift``). A TTY gets a live hosts x SMK table; a pipe, ``NO_COLOR`` or
``TERM=dumb`` gets the run log's plain lines as they happen; ``--json`` prints one JSON
summary at the end. Exit codes like pytest: 0 all passed, 1 failures, 2 interrupted or
usage error (bad -k, unknown host, environment drift), 3 internal error.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from tui.commands._common import EXIT_USAGE, CommandError, add_config_arg, add_json_arg, load, print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run", help="run the smoke set SMK-1..7 headless (pytest-like)",
        description="Run the smoke checks against the configured camera hosts and write the plan's run log "
                    "(dry_run/02_smoke_run_N.log, or 07_smoke_run_final.log with --final), JUnit XML, "
                    "artifacts and events.")
    add_config_arg(p)
    p.add_argument("-k", dest="keyword", default="", metavar="EXPR",
                   help='select checks like pytest -k: "SMK_3 or SMK_5", "not SMK_7", "SMK_4 and cam-01"')
    p.add_argument("--maxfail", type=int, default=0, metavar="N", help="stop after N failures (0 = no limit)")
    p.add_argument("--ff", "--failed-first", dest="failed_first", action="store_true",
                   help="run the last run's failures first")
    p.add_argument("--durations", type=int, default=10, metavar="N", help="show the N slowest checks (default 10)")
    p.add_argument("--count", type=int, default=1, metavar="N", help="repeat each selected check N times")
    p.add_argument("--failfast", choices=("off", "soft", "hard"), default=None,
                   help="off | soft (stop at the first failure, finish running checks, keep partial metrics) | "
                        "hard (stop at once); default: $DRYRUN_FAILFAST_MODE, else the config's run.failfast")
    p.add_argument("--final", action="store_true", help="the consolidated final run: write 07_smoke_run_final.log")
    p.add_argument("--label", default="", metavar="LABEL",
                   help="run label: 02_smoke_run_N, 07_smoke_run_final, 04_verify_DRY-nn or flake_SMK-n "
                        "(names the log file); default: the next 02_smoke_run_N")
    p.add_argument("--log", type=Path, default=None, metavar="PATH", help="write the run log here instead")
    p.add_argument("--host", dest="hosts", action="append", default=[], metavar="NAME",
                   help="run on this host only (repeatable; default: every configured host)")
    p.add_argument("--allow-drift", action="store_true",
                   help="run even if the environment drifted from the freeze (recorded as overridden)")
    p.add_argument("--no-quarantine", dest="respect_quarantine", action="store_false",
                   help="also run checks listed in dry_run/quarantine.txt")
    add_json_arg(p)
    p.set_defaults(func=run)


def _plain_wanted(stream: Any) -> bool:
    if os.environ.get("NO_COLOR") or os.environ.get("TERM", "") == "dumb":
        return True
    try:
        return not stream.isatty()
    except (AttributeError, ValueError):
        return True


def run(args: argparse.Namespace) -> int:
    import asyncio

    from runners.smoke.options import RunOptions
    from runners.smoke.select import KeywordError

    cfg = load(args)
    # --failfast beats DRYRUN_FAILFAST_MODE (exported by dry_run/env.sh) beats run.failfast.
    env_mode = os.environ.get("DRYRUN_FAILFAST_MODE", "").strip()
    if not args.failfast and env_mode and env_mode not in ("off", "soft", "hard"):
        raise CommandError(f"DRYRUN_FAILFAST_MODE={env_mode!r} (from dry_run/env.sh?): expected off, soft or hard")
    failfast = args.failfast or env_mode or cfg.run.failfast
    try:
        options = RunOptions(keyword=args.keyword, maxfail=args.maxfail, failed_first=args.failed_first,
                             durations=args.durations, count=args.count, failfast=failfast,
                             hosts=tuple(dict.fromkeys(args.hosts)), label=args.label,
                             respect_quarantine=args.respect_quarantine).validate()
    except (KeywordError, ValueError) as e:
        raise CommandError(str(e)) from None
    known = {h.name for h in cfg.hosts}
    if not known:
        raise CommandError(f"{args.config}: no [[hosts]] configured (add one, or start `dryrun sim`)")
    for h in options.hosts:
        if h not in known:
            raise CommandError(f"--host {h}: not a configured host (configured: {', '.join(sorted(known))})")
    return asyncio.run(_run(args, cfg, options))


def _log_path(args: argparse.Namespace, cfg: Any, options: Any) -> tuple[Path | None, str]:
    """The run's log and label; ``(None, "")`` for the default next 02_smoke_run_N, which the
    caller claims with ``claim_run_log`` once the run is really starting."""
    from record.layout import DryRunDir

    d = DryRunDir(cfg.dry_run_path)
    label = options.label
    if args.final:
        if label and label != "07_smoke_run_final":
            raise CommandError(f"--final writes 07_smoke_run_final.log; it cannot be combined with --label {label}")
        label = "07_smoke_run_final"
    if not label:
        if args.log is None:
            return None, ""
        label = f"02_smoke_run_{d.next_run_number()}"
    if args.log is not None:
        return args.log, label
    path = d.log_for_label(label)
    if path is None:
        raise CommandError(f"--label {label}: expected 02_smoke_run_N, 07_smoke_run_final, 04_verify_DRY-nn or "
                           "flake_SMK-n (or give --log PATH for another file)")
    return path, label


def claim_run_log(cfg: Any) -> tuple[Path, str]:
    """Reserve the next 02_smoke_run_N.log (atomic across processes: two consoles or CI
    never share a number). Called after the usage checks and the environment gate, so a
    refused or halted run leaves no empty log behind."""
    from record.layout import DryRunDir

    n, path = DryRunDir(cfg.dry_run_path).reserve_run_log()
    return path, f"02_smoke_run_{n}"


async def environment_gate(args: argparse.Namespace, cfg: Any, options: Any) -> tuple[Any, int | None]:
    """The pre-run environment validator, shared by ``dryrun run`` and ``dryrun suite``:
    ``(gate, None)`` to go on (pass ``gate.notices()`` to the recording), or
    ``(gate, EXIT_USAGE)`` when drift halts the run (unless ``--allow-drift``)."""
    from record.errors import RecordError
    from runners.logs.parse import neutralise
    from runners.pipeline import validate_environment

    try:
        gate = await validate_environment(cfg, options, allow_drift=args.allow_drift)
    except RecordError as e:
        raise CommandError(f"environment validator: {e}") from None
    if gate.status in ("drift", "overridden"):
        err = sys.stderr
        print(("environment drift (run halted; --allow-drift to override):" if gate.halt else
               "environment drift (overridden by --allow-drift):"), file=err)
        for m in gate.messages:
            print(f"  {neutralise(m)}", file=err)  # live values come from the hosts
        if gate.halt:
            if args.json:
                print_json({"exit_code": EXIT_USAGE, "halted": "environment drift", "reason_codes": gate.codes,
                            "drifts": gate.messages})
            return gate, EXIT_USAGE
    return gate, None


async def _run(args: argparse.Namespace, cfg: Any, options: Any) -> int:
    import dataclasses

    from runners.logs.parse import neutralise
    from runners.pipeline import run_smoke
    from runners.smoke.engine import SmokeEngine

    log_path, label = _log_path(args, cfg, options)
    err = sys.stderr
    try:
        # Selection errors (nothing matches -k) are usage errors, before any probe.
        probe = SmokeEngine(cfg, options, artifacts_dir=Path("/nonexistent"), registry=None)
    except ValueError as e:
        raise CommandError(str(e)) from None
    if not probe.selected:
        raise CommandError(f"no checks selected by -k {options.keyword!r} on host(s) "
                           f"{', '.join(options.hosts) or 'all'} (pytest would say: collected 0 items)")

    gate, halted = await environment_gate(args, cfg, options)
    if halted is not None:
        return halted
    if log_path is None:
        log_path, label = claim_run_log(cfg)
    options = dataclasses.replace(options, label=label)

    display = make_display(args, options.durations)
    result = await run_displayed(
        lambda ready: run_smoke(cfg, options, log_path=log_path, sinks=[display] if display else [],
                                engine_ready=ready, notices=gate.notices()),
        display, "cancelling the running checks")
    if args.json:
        out = result.summary()
        out["environment"] = {"status": gate.status, "reason_codes": gate.codes}
        print_json(out)
    else:
        display.finish(result)
        print(f"log: {result.log_path}  junit: {result.junit_path}  artifacts: {result.artifacts_dir}")
    for e in result.record_errors:
        print(f"warning: {neutralise(e)}", file=err)
    return result.exit_code



def make_display(args: argparse.Namespace, durations: int) -> Any:
    """The run's display: none with --json, plain lines for pipes, dumb terminals and
    NO_COLOR, else a rich live table."""
    if args.json:
        return None
    return _PlainPrinter(durations) if _plain_wanted(sys.stdout) else _LiveTable(durations)


async def run_displayed(start: Any, display: Any, interrupting: str) -> Any:
    """Await ``start(engine_ready)`` with ``display`` started and stopped around it. The
    first Ctrl-C cancels the engine handed to ``engine_ready`` (the run ends as interrupted
    and is recorded); a second one aborts outright."""
    import asyncio
    import signal

    loop = asyncio.get_running_loop()
    engines: list[Any] = []

    def on_sigint() -> None:
        if engines:
            print(f"\ninterrupting: {interrupting} (Ctrl-C again to abort)", file=sys.stderr)
            engines[0].cancel()
        loop.remove_signal_handler(signal.SIGINT)  # a second Ctrl-C aborts outright

    try:
        loop.add_signal_handler(signal.SIGINT, on_sigint)
    except (NotImplementedError, RuntimeError):  # not the main thread, or no signals here
        pass
    try:
        if display is not None:
            display.start()
        return await start(engines.append)
    finally:
        if display is not None:
            display.stop()
        try:
            loop.remove_signal_handler(signal.SIGINT)
        except (NotImplementedError, RuntimeError):
            pass


class _PlainPrinter:
    """The run log's lines as they happen (what ``tee`` of pytest output would show)."""

    def __init__(self, durations: int):
        from record.runlog import RunLog

        self.log = RunLog(durations=durations)

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def __call__(self, ev: Any) -> None:
        for line in self.log.apply(ev):
            print(line, flush=True)

    def finish(self, result: Any) -> None:
        sys.stdout.write(self.log.end_sections())  # the progress lines were printed as they came
        sys.stdout.flush()


_STYLE = {"passed": ("PASS", "bold green"), "failed": ("FAIL", "bold red"), "error": ("ERROR", "bold magenta"),
          "skipped": ("SKIP", "yellow"), "running": ("RUN", "cyan"), "pending": ("wait", "dim"),
          "deselected": ("-", "dim")}


class _LiveTable:
    """A rich live table: hosts x SMK with status words (colour is never the only signal)."""

    def __init__(self, durations: int):
        from record.runlog import RunLog
        from record.state import RunState

        self.state = RunState()
        self.log = RunLog(durations=durations)
        self.checks: tuple[str, ...] = ()
        self._live: Any = None

    def start(self) -> None:
        from rich.console import Console
        from rich.live import Live

        self.console = Console()
        self._live = Live(self._render(), console=self.console, refresh_per_second=8, transient=False)
        self._live.start()

    def stop(self) -> None:
        if self._live is not None:
            self._live.update(self._render())
            self._live.stop()
            self._live = None

    def __call__(self, ev: Any) -> None:
        from runners.events import CheckFinished, Notice, RunStarted

        if isinstance(ev, RunStarted):
            self.checks = ev.checks  # the selected checks, in run order
        self.state.apply(ev)
        self.log.apply(ev)
        if self._live is None:
            return
        from rich.text import Text

        from runners.logs.parse import neutralise

        # Text objects, never markup: a service's message must show as sent, not as a
        # hyperlink or a style (and an unbalanced "[/x]" in it must not raise).
        if isinstance(ev, CheckFinished) and ev.outcome in ("failed", "error"):
            word = "FAILED" if ev.outcome == "failed" else "ERROR"
            self._live.console.print(Text.assemble((word, "bold red"), f" {ev.host}::{ev.check} - "
                                                   f"{neutralise(ev.summary)}"), highlight=False)
        elif isinstance(ev, Notice) and ev.level in ("warning", "error"):
            first = neutralise((ev.message.splitlines() or [""])[0])
            self._live.console.print(Text.assemble(("NOTICE", "yellow"), f" [{ev.code}] {first}"), highlight=False)
        self._live.update(self._render())

    def _render(self) -> Any:
        import time

        from rich.table import Table
        from rich.text import Text

        from record.runlog import plural

        s = self.state
        t = Table(title=Text(f"dryrun run {s.label}".rstrip()), title_justify="left", expand=False)
        t.add_column("host", no_wrap=True)
        checks = sorted(self.checks or s.checks, key=lambda c: int(c.split("-")[1]))
        for c in checks:
            t.add_column(c, justify="center", no_wrap=True)
        t.add_column("now", overflow="ellipsis", max_width=48)
        for h in s.hosts:
            row: list[Any] = [h]
            now = ""
            for c in checks:
                cell = s.cells.get((h, c))
                status = cell.status if cell else "deselected"
                word, style = _STYLE.get(status, (status.upper(), ""))
                if cell and cell.attempt > 1:
                    word += f"#{cell.attempt}"
                row.append(Text(word, style=style))
                if cell and status == "running" and cell.last_step:
                    now = f"{c}: {cell.last_step}"
            row.append(Text(now))  # a step may quote the service: text, never markup
            t.add_row(*row)
        n = s.counts()
        elapsed = (time.time() - s.started) if s.started else 0.0
        t.caption = (f"{n['passed']} passed, {n['failed']} failed, {plural(n['error'], 'error')}, "
                     f"{n['skipped']} skipped, {n['running']} running - {elapsed:.1f}s")
        return t

    def finish(self, result: Any) -> None:
        sys.stdout.write(self.log.end_sections())
        sys.stdout.flush()
