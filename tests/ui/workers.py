"""Waiting for a chosen set of the app's workers, safely.

Textual's ``app.workers.wait_for_complete(workers)`` falls back to *every* worker when the
list is empty (``workers or self``). Filtering the worker list and passing the result is
therefore a trap: when the chosen workers have already finished (a race that depends on
machine load), the call waits for the log follower, the file watcher and the host probe,
which run for the app's lifetime, and the test hangs until the session is killed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

# A chosen worker that has not ended by then is a bug to report, not a reason to stall CI.
WORKER_WAIT = 90.0


async def wait_for_workers(app, chosen: Callable[[object], bool], *, timeout: float = WORKER_WAIT) -> None:
    """Wait until the app's workers for which ``chosen(worker)`` is true have ended
    (at once when there are none)."""
    workers = [w for w in app.workers if chosen(w)]
    if not workers:
        return
    try:
        await asyncio.wait_for(app.workers.wait_for_complete(workers), timeout)
    except (asyncio.TimeoutError, TimeoutError):
        raise AssertionError(
            f"workers still running after {timeout:g} s: {', '.join(f'{w.name} ({w.group})' for w in workers)}"
        ) from None


def in_group(*groups: str) -> Callable[[object], bool]:
    return lambda w: w.group in groups


def not_in_group(*groups: str) -> Callable[[object], bool]:
    return lambda w: w.group not in groups


def task_workers(w) -> bool:
    return w.group.startswith("task:")
