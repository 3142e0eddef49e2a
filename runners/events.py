"""Typed events: the one stream of truth that runners yield and front-ends consume.

Runners (smoke engine, log tails, host probes) emit these; ``record/`` turns them into
state and ``dry_run/`` files; the TUI and the headless CLI render them. Nothing here
does I/O. Every event is a frozen dataclass with a ``kind`` string so it serialises to
one JSON line (``to_json``) for ``events.log.jsonl``.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

Outcome = Literal["passed", "failed", "error", "skipped"]
# passed  - the check exercised the service and saw what it expected
# failed  - the service answered, but not as expected (expected vs seen recorded)
# error   - the check could not exercise the service (unreachable, timeout, SSH refused...)
# skipped - not run (quarantined, deselected after --maxfail, missing prerequisite)

HostComponent = Literal["ssh", "rpc", "health", "cameras"]
HostStatus = Literal["unknown", "ok", "degraded", "down"]


def _now() -> float:
    return time.time()


@dataclass(frozen=True)
class Event:
    ts: float = field(default_factory=_now, kw_only=True)  # wall clock, seconds since epoch
    run_id: str = field(default="", kw_only=True)  # correlation id of the run ("" = none)

    kind: ClassVar[str] = "event"

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["kind"] = self.kind
        return d


def _kind(name: str):
    """Class decorator: set the event's ``kind`` tag (used in events.log.jsonl)."""

    def deco(cls):
        cls.kind = name
        return cls

    return deco


@_kind("run_started")
@dataclass(frozen=True)
class RunStarted(Event):
    hosts: tuple[str, ...]
    checks: tuple[str, ...]  # SMK ids selected, in run order
    label: str = ""  # e.g. "02_smoke_run_1", "07_smoke_run_final", "04_verify_DRY-03"
    options: dict[str, Any] = field(default_factory=dict)  # -k, maxfail, ff, count, failfast...


@_kind("check_started")
@dataclass(frozen=True)
class CheckStarted(Event):
    host: str
    check: str  # "SMK-1".."SMK-7"
    attempt: int = 1
    title: str = ""


@_kind("check_step")
@dataclass(frozen=True)
class CheckStep(Event):
    host: str
    check: str
    message: str
    attempt: int = 1
    data: dict[str, Any] = field(default_factory=dict)


@_kind("check_finished")
@dataclass(frozen=True)
class CheckFinished(Event):
    host: str
    check: str
    outcome: Outcome
    duration: float  # seconds
    attempt: int = 1
    summary: str = ""  # one line: what passed, or what went wrong
    expected: str = ""  # on failed/error: what the check expected...
    seen: str = ""  # ...and what it saw
    fault: str = ""  # classification: "timeout", "rpc_error:-32601", "unreachable", "chaos:<name>"...
    artifacts: tuple[str, ...] = ()  # paths relative to dry_run/
    rpc_excerpt: tuple[dict[str, Any], ...] = ()  # last frames of the trace around the failure
    metrics: dict[str, float] = field(default_factory=dict)  # time_to_healthy, discovery_s, p95_ms...
    log_excerpt: tuple[str, ...] = ()  # service-log lines of the check's window (chaos markers), on failure


@_kind("run_finished")
@dataclass(frozen=True)
class RunFinished(Event):
    passed: int
    failed: int
    errors: int
    skipped: int
    duration: float
    interrupted: bool = False
    stopped_early: str = ""  # "" or why: "maxfail", "failfast:soft", "failfast:hard"


@_kind("rpc_latency")
@dataclass(frozen=True)
class RpcLatency(Event):
    host: str
    method: str
    ms: float
    ok: bool = True


@_kind("host_state")
@dataclass(frozen=True)
class HostState(Event):
    host: str
    component: HostComponent
    status: HostStatus
    detail: str = ""


@_kind("log_lines")
@dataclass(frozen=True)
class LogLines(Event):
    host: str
    source: str
    lines: tuple[str, ...]
    # Written before the follow began (the backlog a source shows first): a pane places
    # these by their own times however old, not near their arrival like live lines.
    history: bool = False


@_kind("log_gap")
@dataclass(frozen=True)
class LogGap(Event):
    host: str
    source: str
    reason: str
    lost_bytes: int | None = None  # None = unknown size


@_kind("notice")
@dataclass(frozen=True)
class Notice(Event):
    """Something an operator should read: env drift, insecure host keys, a warning."""

    level: Literal["info", "warning", "error"]
    message: str
    host: str = ""
    code: str = ""  # machine-readable reason code, e.g. "ENV_DRIFT_KERNEL"


EVENT_TYPES: dict[str, type[Event]] = {
    cls.kind: cls  # type: ignore[attr-defined]
    for cls in (RunStarted, CheckStarted, CheckStep, CheckFinished, RunFinished,
                RpcLatency, HostState, LogLines, LogGap, Notice)
}


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}  # dataclasses.fields() per call was most of the cost of reading a log


def event_from_dict(d: dict[str, Any]) -> Event:
    """Inverse of ``Event.to_dict`` (lists become tuples where the field is a tuple)."""
    cls = EVENT_TYPES[d["kind"]]
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    kwargs = {}
    for name in names:
        if name in d:
            v = d[name]
            kwargs[name] = tuple(v) if isinstance(v, list) else v
    return cls(**kwargs)
