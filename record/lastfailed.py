"""The ``--ff`` cache (``dry_run/.state/lastfailed.json``), shaped like pytest's
``.pytest_cache/v/cache/lastfailed``: ``{"host::SMK-3": true, ...}``.

Updated after every run with pytest's rule: checks that failed or errored are added,
checks that passed are removed, checks that did not run are left as they were (so a
``-k`` verify run does not forget the other failures).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from record.atomic import atomic_write_text
from runners.events import CheckFinished


def load_lastfailed(path: Path | str) -> set[tuple[str, str]]:
    """The (host, check) pairs that failed last time; a missing or unreadable cache is empty
    (the cache only orders checks, it must never stop a run)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    if not isinstance(data, dict):
        return set()
    out: set[tuple[str, str]] = set()
    for key, flag in data.items():
        if flag and isinstance(key, str) and "::" in key:
            host, _, check = key.rpartition("::")
            out.add((host, check))
    return out


def update_lastfailed(path: Path | str, results: Iterable[CheckFinished]) -> set[tuple[str, str]]:
    current = load_lastfailed(path)
    verdict: dict[tuple[str, str], str] = {}
    for r in results:  # the last attempt of a check decides... unless any attempt failed
        key = (r.host, r.check)
        if r.outcome in ("failed", "error"):
            verdict[key] = "failed"
        elif r.outcome == "passed" and verdict.get(key) != "failed":
            verdict[key] = "passed"
    for key, v in verdict.items():
        if v == "failed":
            current.add(key)
        else:
            current.discard(key)
    atomic_write_text(path, json.dumps({f"{h}::{c}": True for h, c in sorted(current)}, indent=2) + "\n")
    return current
