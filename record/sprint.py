"""The sprint's own state: when it started, which iteration it is in, the closeouts so far.

Kept in ``.state/sprint.toml`` (written atomically under the dry_run/ lock). The start
date is the config's ``sprint.start_date`` when set, else the day ``dryrun plan`` first
ran; the iteration starts at 1 and advances when a closeout decides "2nd Iteration".
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import asdict, dataclass, field
from typing import Any

from record.errors import RecordError
from record.layout import DryRunDir
from record.lock import DryRunLock
from record.tomlio import dump_toml, load_toml


@dataclass
class Closeout:
    iteration: int
    decision: str
    at: str
    last_run_id: str = ""


@dataclass
class SprintState:
    start_date: str = ""
    plan_written_at: str = ""
    iteration: int = 1
    closeouts: list[Closeout] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_sprint(d: DryRunDir) -> SprintState:
    data = load_toml(d.sprint_state)
    if data is None:
        return SprintState()
    try:
        st = SprintState(
            start_date=str(data.get("start_date", "")),
            plan_written_at=str(data.get("plan_written_at", "")),
            iteration=int(data.get("iteration", 1)),
            closeouts=[Closeout(**c) for c in data.get("closeouts", [])],
        )
        if st.start_date:
            _dt.date.fromisoformat(st.start_date)
        if st.iteration < 1:
            raise ValueError(f"iteration must be >= 1, got {st.iteration}")
    except (TypeError, ValueError) as e:
        raise RecordError(d.sprint_state, f"unusable sprint state: {e}") from None
    return st


def save_sprint(d: DryRunDir, st: SprintState) -> None:
    with DryRunLock(d):
        dump_toml(d.sprint_state, st.to_dict(), header="Sprint state of the dry-run (written by dryrun; do not edit)")


def start_date(cfg_start: str, st: SprintState, today: _dt.date | None = None) -> _dt.date:
    if cfg_start:
        return _dt.date.fromisoformat(cfg_start)
    if st.start_date:
        return _dt.date.fromisoformat(st.start_date)
    return today or _dt.date.today()


def timebox_status(cfg, d: DryRunDir, now: _dt.datetime | None = None):
    """The timebox as of ``now`` for this config and dry_run/ (see ``record.timebox``)."""
    from record.timebox import status

    now = now or _dt.datetime.now()
    st = load_sprint(d)
    s = cfg.sprint
    return status(start_date(s.start_date, st, now.date()), s.days, s.standups, st.iteration, s.iterations, now)
