"""Per-RPC-method latency budgets: what the camera service promises (facts sheet).

API reference: status methods (ping, get_camera_list, get_camera_status) < 50 ms; control
methods (take_snapshot, start_recording, stop_recording) < 100 ms. Requirements: p95
< 100 ms overall, ping < 20 ms, take_snapshot < 200 ms (the requirement is the looser of
the two promises for snapshots, so it is the budget). The service measures inside itself;
we measure the round trip, so a loopback or LAN hop is inside our figure.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

PING_MS = 20.0
STATUS_MS = 50.0
CONTROL_MS = 100.0
SNAPSHOT_MS = 200.0
OVERALL_P95_MS = 100.0

BUDGETS_MS: dict[str, float] = {
    "ping": PING_MS,
    "get_camera_list": STATUS_MS,
    "get_camera_status": STATUS_MS,
    "start_recording": CONTROL_MS,
    "stop_recording": CONTROL_MS,
    "take_snapshot": SNAPSHOT_MS,
}


def budget_ms(method: str) -> float:
    """The method's own budget, else the overall p95 promise."""
    return BUDGETS_MS.get(method, OVERALL_P95_MS)


def percentile(values: Iterable[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100); nan for no values."""
    return percentile_sorted(sorted(values), p)


def percentile_sorted(xs: Sequence[float], p: float) -> float:
    """``percentile`` of values already sorted ascending (no copy: for figures kept sorted)."""
    if not xs:
        return math.nan
    k = max(1, math.ceil(p / 100.0 * len(xs)))
    return xs[min(k, len(xs)) - 1]


@dataclass(frozen=True)
class MethodLatency:
    method: str
    n: int
    errors: int
    p50_ms: float
    p95_ms: float
    max_ms: float
    budget_ms: float

    @property
    def within(self) -> bool:
        return self.p95_ms <= self.budget_ms


def summarise(samples: Iterable[tuple[str, float, bool]]) -> list[MethodLatency]:
    """(method, ms, ok) samples -> one row per method (sorted by name) + an ``*overall*`` row."""
    by: dict[str, list[float]] = {}
    errs: dict[str, int] = {}
    everything: list[float] = []
    for method, ms, ok in samples:
        by.setdefault(method, []).append(ms)
        everything.append(ms)
        if not ok:
            errs[method] = errs.get(method, 0) + 1
    for v in by.values():
        v.sort()
    everything.sort()
    return summarise_sorted(by, errs, everything)


def summarise_sorted(by: Mapping[str, Sequence[float]], errs: Mapping[str, int],
                     everything: Sequence[float]) -> list[MethodLatency]:
    """``summarise`` from latencies already sorted ascending: per method (``by``), the error
    count per method and every latency of every method (``everything``)."""
    rows = [
        MethodLatency(m, len(v), errs.get(m, 0), percentile_sorted(v, 50), percentile_sorted(v, 95), v[-1],
                      budget_ms(m))
        for m, v in sorted(by.items()) if v
    ]
    if everything:
        rows.append(MethodLatency("*overall*", len(everything), sum(errs.values()), percentile_sorted(everything, 50),
                                  percentile_sorted(everything, 95), everything[-1], OVERALL_P95_MS))
    return rows
