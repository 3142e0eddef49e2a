"""Per-host roll-ups for fleets (50+ hosts), as plain data (no Textual): one state per
host from its health and its smoke checks, the summary line every pane shows ("50 hosts:
47 ok · 2 failing · 1 down"), worst-first ordering, and the host filter's matching.

Every pane reads its own source of truth (the stand-up the history overlaid with the live
run, Smoke the run in view, Logs the log hub, Triage the register) and rolls it up here,
so the words, the order and the filter are the same everywhere."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

# worst first: the order of the summary line and of every worst-first list
STATES: tuple[str, ...] = ("down", "failing", "degraded", "running", "unknown", "ok")
STATE_WORDS: dict[str, tuple[str, str]] = {
    "down": ("✖", "DOWN"), "failing": ("✖", "FAIL"), "degraded": ("▲", "DEGR"),
    "running": ("▶", "RUN"), "unknown": ("?", "----"), "ok": ("✔", "OK"),
}
# the theme's status style for each host state (themes/specs.py keys)
STATE_STYLE_KEYS: dict[str, str] = {
    "down": "down", "failing": "failed", "degraded": "degraded", "running": "running", "unknown": "unknown",
    "ok": "ok",
}
# words an operator can type in a host filter to select hosts by state
STATE_ALIASES: dict[str, str] = {
    "down": "down", "failing": "failing", "fail": "failing", "failed": "failing", "degraded": "degraded",
    "running": "running", "run": "running", "unknown": "unknown", "ok": "ok",
}
HEALTH_ORDER = ("down", "degraded", "ok", "unknown")
BAD_OUTCOMES = frozenset({"failed", "error"})


@dataclass
class HostRollup:
    host: str
    health: str = "unknown"  # worst component: ok / degraded / down / unknown
    checks: dict[str, str] = field(default_factory=dict)  # check -> status (passed, failed, running...)

    @property
    def failing(self) -> list[str]:
        return [c for c, s in self.checks.items() if s in BAD_OUTCOMES]

    @property
    def state(self) -> str:
        if self.health == "down":
            return "down"
        if self.failing:
            return "failing"
        if self.health == "degraded":
            return "degraded"
        if any(s == "running" for s in self.checks.values()):
            return "running"
        if self.health == "ok" or any(s in ("passed", "skipped") for s in self.checks.values()):
            return "ok"
        return "unknown"

    @property
    def tags(self) -> frozenset[str]:
        """The state words a filter can select this host by: its state, and also "failing"
        for a down host with failed checks, "down" / "degraded" for its health."""
        out = {self.state}
        if self.failing:
            out.add("failing")
        if self.health in ("down", "degraded"):
            out.add(self.health)
        return frozenset(out)

    @property
    def rank(self) -> tuple[int, int, str]:
        return STATES.index(self.state), -len(self.failing), self.host


def worst_health(statuses: Iterable[str]) -> str:
    seen = set(statuses)
    for s in HEALTH_ORDER[:3]:
        if s in seen:
            return s
    return "unknown"


def host_health(health: Mapping[tuple[str, str], object], host: str) -> str:
    """A host's health from its components (``health``: (host, component) -> HostState):
    down when SSH, RPC or the health endpoint is down (unreachable), degraded when one is
    degraded or its cameras are down (the host answers, its cameras do not)."""
    def status(c: str) -> str:
        return getattr(health.get((host, c)), "status", "unknown")

    reach = [status(c) for c in ("ssh", "rpc", "health")]
    cams = status("cameras")
    if cams == "down":
        cams = "degraded"
    return worst_health([*reach, cams])


def rollups(hosts: Sequence[str], health: Mapping[tuple[str, str], object],
            status: Callable[[str, str], str], checks: Sequence[str]) -> list[HostRollup]:
    """One roll-up per host, in ``hosts`` order; ``status(host, check)`` gives a cell's
    status ("none" when it never ran)."""
    out = []
    for h in hosts:
        r = HostRollup(h, host_health(health, h))
        for c in checks:
            s = status(h, c)
            if s != "none":
                r.checks[c] = s
        out.append(r)
    return out


def worst_first(items: Iterable[HostRollup]) -> list[HostRollup]:
    return sorted(items, key=lambda r: r.rank)


def counts(items: Iterable[HostRollup]) -> dict[str, int]:
    out = dict.fromkeys(STATES, 0)
    for r in items:
        out[r.state] += 1
    return out


def summary(items: Sequence[HostRollup], *, total: int | None = None, names: int = 0, short: bool = False) -> str:
    """"50 hosts: 47 ok · 2 failing · 1 down" (worst first, zero counts left out except ok);
    ``total``: the fleet's size when ``items`` are the hosts a filter let through ("12 of
    50 hosts: ..."); ``names``: name up to that many hosts of each state that is down or
    failing ("2 failing (cam-03, cam-07)"); ``short``: "fail", "degr", "run" (a narrow pane)."""
    c = counts(items)
    n = len(items)
    head = f"{n} of {total} hosts" if total is not None and total != n else f"{n} host{'s' if n != 1 else ''}"
    parts = []
    for s in STATES:
        if s == "ok" or not c[s]:
            continue
        part = f"{c[s]} {_SHORT.get(s, s) if short else _word(s)}"
        if names and s in ("down", "failing"):
            bad = [r.host for r in worst_first(items) if r.state == s]
            part += " (" + compact_hosts(bad, names) + ")"
        parts.append(part)
    return f"{head}: {c['ok']} ok" + "".join(f" · {p}" for p in parts)


_SHORT = {"failing": "fail", "degraded": "degr", "running": "run", "unknown": "n/a"}


def _word(state: str) -> str:
    return {"down": "down", "failing": "failing", "degraded": "degraded", "running": "running",
            "unknown": "no data"}.get(state, state)


# ---------------------------------------------------------------------- the host filter
def parse_filter(text: str) -> list[str]:
    return [t for t in re.split(r"[,\s]+", text.strip()) if t]


def match_hosts(text: str, hosts: Sequence[str],
                states: Mapping[str, str | frozenset[str]] | None = None) -> list[str] | None:
    """Hosts a filter lets through, in ``hosts`` order; None when the filter is empty (all).

    Terms are separated by commas or spaces and OR-ed: a plain term matches as a
    case-insensitive substring (``cam-4`` → cam-4, cam-40..49), a term with ``* ? [`` as a
    glob (``cam-0[1-5]``), a state word (ok, failing, down, degraded, running, unknown)
    the hosts in that state (``states``: host -> its state, or its ``HostRollup.tags``)."""
    terms = parse_filter(text)
    if not terms:
        return None
    out = []
    for h in hosts:
        low = h.lower()
        for t in terms:
            tl = t.lower()
            alias = STATE_ALIASES.get(tl)
            if alias is not None and states is not None:
                tag = states.get(h)
                if tag == alias or (isinstance(tag, frozenset) and alias in tag):
                    break
            if any(ch in t for ch in "*?[") and fnmatch.fnmatchcase(low, tl):
                break
            if tl in low:
                break
        else:
            continue
        out.append(h)
    return out


def parse_hosts(text: str, known: Sequence[str]) -> tuple[list[str], list[str]]:
    """A typed host list ("cam-03, cam-07" or globs "cam-0*"): (hosts in config order,
    terms that matched no configured host)."""
    chosen: set[str] = set()
    unknown = []
    for t in parse_filter(text):
        if any(ch in t for ch in "*?["):
            hit = [h for h in known if fnmatch.fnmatchcase(h.lower(), t.lower())]
        else:
            hit = [h for h in known if h.lower() == t.lower()]
        if not hit:
            unknown.append(t)
        chosen.update(hit)
    return [h for h in known if h in chosen], unknown


def compact_hosts(hosts: Sequence[str], limit: int = 3) -> str:
    """"cam-03" / "cam-03, cam-07" / "cam-03, cam-07 +12"."""
    if len(hosts) <= limit:
        return ", ".join(hosts)
    return ", ".join(hosts[:limit - 1]) + f" +{len(hosts) - limit + 1}"
