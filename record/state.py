"""Live run state folded from events: the SMK x host grid, steps, host health.

A pure reducer (``RunState.apply``): the TUI and the headless CLI both feed it the same
events, so both show the same truth. No I/O here."""

from __future__ import annotations

from dataclasses import dataclass, field

from runners.events import (
    CheckFinished,
    CheckStarted,
    CheckStep,
    Event,
    HostState,
    RunFinished,
    RunStarted,
)

SMK_IDS: tuple[str, ...] = tuple(f"SMK-{i}" for i in range(1, 8))

SMK_TITLES: dict[str, str] = {
    "SMK-1": "Service starts from clean config; health check OK",
    "SMK-2": "Auth: obtain/validate token; reject invalid/expired",
    "SMK-3": "Discovery: at least one camera discovered in <= 10 s",
    "SMK-4": "Snapshot: take_snapshot returns file; EXIF/timestamp present",
    "SMK-5": "Recording: start -> file growing; stop closes; playable",
    "SMK-6": "Error handling: invalid RPC method gives documented code",
    "SMK-7": "Concurrency (light): two clients list, one records; responsive",
}


@dataclass
class CellState:
    """One SMK check on one host: what it is doing now and how it last ended."""

    status: str = "pending"  # pending | running | passed | failed | error | skipped
    attempt: int = 0
    started: float = 0.0
    duration: float = 0.0
    last_step: str = ""
    result: CheckFinished | None = None
    history: list[str] = field(default_factory=list)  # outcomes of every attempt seen, oldest first


@dataclass
class RunState:
    run_id: str = ""
    label: str = ""
    hosts: tuple[str, ...] = ()
    checks: tuple[str, ...] = SMK_IDS
    started: float = 0.0
    finished: RunFinished | None = None
    cells: dict[tuple[str, str], CellState] = field(default_factory=dict)  # (host, check)
    host_health: dict[tuple[str, str], HostState] = field(default_factory=dict)  # (host, component)

    def cell(self, host: str, check: str) -> CellState:
        return self.cells.setdefault((host, check), CellState())

    @property
    def running(self) -> bool:
        return bool(self.run_id) and self.finished is None

    def apply(self, ev: Event) -> None:
        if isinstance(ev, RunStarted):
            self.run_id, self.label, self.started, self.finished = ev.run_id, ev.label, ev.ts, None
            self.hosts = tuple(dict.fromkeys((*self.hosts, *ev.hosts)))
            for h in ev.hosts:
                for c in ev.checks:
                    cell = self.cell(h, c)
                    cell.status, cell.last_step = "pending", ""
        elif isinstance(ev, CheckStarted):
            cell = self.cell(ev.host, ev.check)
            cell.status, cell.attempt, cell.started, cell.last_step = "running", ev.attempt, ev.ts, ""
        elif isinstance(ev, CheckStep):
            self.cell(ev.host, ev.check).last_step = ev.message
        elif isinstance(ev, CheckFinished):
            cell = self.cell(ev.host, ev.check)
            cell.status, cell.duration, cell.result = ev.outcome, ev.duration, ev
            cell.history.append(ev.outcome)
        elif isinstance(ev, RunFinished):
            self.finished = ev
            for cell in self.cells.values():
                if cell.status == "running":  # interrupted mid-check
                    cell.status = "error"
        elif isinstance(ev, HostState):
            self.host_health[(ev.host, ev.component)] = ev

    def counts(self) -> dict[str, int]:
        out = {"passed": 0, "failed": 0, "error": 0, "skipped": 0, "running": 0, "pending": 0}
        for cell in self.cells.values():
            out[cell.status] = out.get(cell.status, 0) + 1
        return out

    def flaky_rate(self, host: str, check: str) -> float | None:
        """Share of attempts that disagree with the majority outcome, or None if < 2 attempts."""
        hist = [o for o in self.cell(host, check).history if o in ("passed", "failed", "error")]
        if len(hist) < 2:
            return None
        passed = sum(o == "passed" for o in hist)
        return min(passed, len(hist) - passed) / len(hist)
