"""Seeded fault injection for the simulated camera service.

A profile is the probability that one operation gets a fault. Each kind of operation has
its own fault menu (an RPC call can be delayed, fail or lose its socket; a snapshot can
lose its EXIF; a recording can end empty or truncated; discovery can be slow).

Reproducibility: every operation name (``rpc:take_snapshot``, ``snapshot``, ``discovery``…)
draws from its own ``random.Random`` seeded from ``(seed, op)``, and every ``pick`` draws
the same number of values whatever it decides. So the n-th ``take_snapshot`` of a run gets
the same fate for the same seed even when other clients' calls interleave differently.

Every injected fault is appended to :attr:`Chaos.injected` and reported through ``log`` as
one greppable line ``CHAOS fault=<fault> op=<op> id=<request id>`` (see :func:`parse_marker`),
so a smoke check can attribute a failure by reading the host's service log.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections import Counter
from typing import Any, Callable, Iterable
from urllib.parse import quote, unquote

PROFILES: dict[str, float] = {"none": 0.0, "light": 0.05, "medium": 0.15, "heavy": 0.30, "hellfire": 0.50}

# Fault menu per kind of operation (the part of ``op`` before ":").
FAULTS: dict[str, tuple[str, ...]] = {
    "rpc": ("delay", "error", "drop"),
    "snapshot": ("no_exif",),
    "recording": ("zero", "truncate"),
    "discovery": ("slow_discovery",),
}
ALL_FAULTS: frozenset[str] = frozenset(f for menu in FAULTS.values() for f in menu)

# Never faulted: ``authenticate`` and ``ping`` are the handshake and liveness probe every
# check (and every client reconnect) goes through first. Faulting them would make any
# profile above "light" fail nearly every check at setup, so the profile would no longer
# measure how the console copes with faults in the operations under test. The exemption
# is static, so it cannot disturb determinism. (Notifications, having no response, are
# never offered to chaos by the service either.)
EXEMPT_OPS: frozenset[str] = frozenset({"rpc:authenticate", "rpc:ping"})

DEFAULT_DELAY = 8.0  # s: past a typical 5 s client call timeout
SLOW_DISCOVERY_FACTOR = 5.0

# Values never contain spaces, quotes or backslashes (ids are percent-encoded), so the
# marker reads the same in a plain log line and inside a JSON log line's "message".
MARKER_RE = re.compile(r'CHAOS fault=(?P<fault>[^\s"\\]+) op=(?P<op>[^\s"\\]+)(?: id=(?P<id>[^\s"\\]+))?')


def _fmt_id(request_id: Any) -> str:
    if request_id is None:
        return "-"
    if isinstance(request_id, str):
        return quote(request_id, safe="") if request_id else '%22%22'
    return json.dumps(request_id)


def marker(fault: str, op: str, request_id: Any = None) -> str:
    """The log line text for one injected fault."""
    return f"CHAOS fault={fault} op={op} id={_fmt_id(request_id)}"


def parse_marker(line: str) -> dict[str, str] | None:
    """``{"fault", "op", "id"}`` from a service-log line carrying a CHAOS marker, else None.
    ``id`` is the request id as text (``"-"`` when the operation had none, ``'""'`` for "")."""
    m = MARKER_RE.search(line)
    if not m:
        return None
    rid = m.group("id") or "-"
    return {"fault": m.group("fault"), "op": m.group("op"), "id": unquote(rid)}


class Chaos:
    """Decides per operation whether to inject a fault; logs every injected fault."""

    def __init__(self, profile: str = "none", seed: int = 0, log: Callable[[str], None] | None = None, *,
                 delay: float = DEFAULT_DELAY, faults: Iterable[str] | None = None, rate: float | None = None):
        if profile not in PROFILES:
            raise ValueError(f"chaos profile must be one of {', '.join(PROFILES)}, got {profile!r}")
        if rate is not None and not (isinstance(rate, (int, float)) and 0.0 <= rate <= 1.0):
            raise ValueError(f"chaos rate must be a number 0..1, got {rate!r}")
        if not (isinstance(delay, (int, float)) and delay >= 0):
            raise ValueError(f"chaos delay must be a number of seconds >= 0, got {delay!r}")
        enabled = set(ALL_FAULTS if faults is None else faults)
        unknown = enabled - ALL_FAULTS
        if unknown:
            raise ValueError(f"unknown chaos fault(s) {sorted(unknown)}; known: {sorted(ALL_FAULTS)}")
        self.profile = profile
        self.seed = seed
        self.rate = float(PROFILES[profile] if rate is None else rate)
        self.delay = float(delay)
        self.slow_discovery_factor = SLOW_DISCOVERY_FACTOR
        self.enabled = frozenset(enabled)
        self.log = log
        self.injected: list[dict] = []
        self.decisions = 0  # operations offered (exempt ones excluded)
        self._streams: dict[str, random.Random] = {}

    def _stream(self, op: str) -> random.Random:
        r = self._streams.get(op)
        if r is None:
            # str seeds are hashed with SHA-512 by random: stable across processes and
            # independent of PYTHONHASHSEED.
            r = self._streams[op] = random.Random(f"{self.seed}/{op}")
        return r

    def pick(self, op: str, *, request_id: Any = None, **context: Any) -> str | None:
        """The fault to inject into this operation, or None.

        ``op``: ``"rpc:<method>"``, ``"snapshot"``, ``"recording"``, ``"discovery"``.
        ``request_id`` and ``context`` (device, session…) go into the record and the log line.
        """
        if op in EXEMPT_OPS:
            return None
        menu = [f for f in FAULTS.get(op.split(":", 1)[0], ()) if f in self.enabled]
        if not menu:
            return None
        self.decisions += 1
        r = self._stream(op)
        # Always two draws, so the stream's position depends only on how many times this op
        # was offered, never on what was decided before.
        roll, which = r.random(), r.random()
        if roll >= self.rate:
            return None
        fault = menu[min(int(which * len(menu)), len(menu) - 1)]
        record = {"ts": time.time(), "op": op, "fault": fault, "id": request_id, **context}
        self.injected.append(record)
        if self.log is not None:
            self.log(marker(fault, op, request_id))
        return fault

    def counts(self) -> dict[str, int]:
        """Injected faults by name."""
        return dict(Counter(rec["fault"] for rec in self.injected))

    def sequence(self) -> list[tuple[str, str]]:
        """(op, fault) of every injected fault, in order: what determinism tests compare."""
        return [(rec["op"], rec["fault"]) for rec in self.injected]

    def __repr__(self) -> str:
        return f"Chaos(profile={self.profile!r}, seed={self.seed!r}, rate={self.rate}, injected={len(self.injected)})"
