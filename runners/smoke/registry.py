"""The checks the engine knows: id, title, function, hard timeout, what it exercises.

``default_registry()`` imports ``runners.smoke.checks.smk1..7`` lazily; tests may build a
registry of their own trivial check functions to exercise the engine's flow.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from runners.config import Checks

if TYPE_CHECKING:
    from runners.smoke.context import CheckContext
    from runners.smoke.outcome import Passed

CheckFn = Callable[["CheckContext"], Awaitable["Passed"]]


@dataclass(frozen=True)
class CheckSpec:
    id: str  # "SMK-1"
    title: str
    fn: CheckFn
    timeout: Callable[[Checks], float]  # hard limit for one attempt, from the config
    ops: frozenset[str] = field(default_factory=frozenset)  # non-RPC ops it exercises (attribution)
    barrier: bool = False  # runs alone before the others on its host (SMK-1 may restart the service)
    needs_ssh: Callable[[Checks], bool] = field(default=lambda c: False)  # to open SSH early, in the background


def default_registry() -> dict[str, CheckSpec]:
    from runners.smoke.checks import smk1, smk2, smk3, smk4, smk5, smk6, smk7

    specs = [m.SPEC for m in (smk1, smk2, smk3, smk4, smk5, smk6, smk7)]
    return {s.id: s for s in specs}
