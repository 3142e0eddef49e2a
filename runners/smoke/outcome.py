"""What a check returns or raises: a pass with evidence, or a failure with expected vs seen.

A check function returns :class:`Passed` (summary + metrics of what it exercised) or raises
:class:`CheckFailed` (the service answered, but not as expected) / :class:`CheckError`
(the service could not be exercised). Errors from the runners (``runners.errors``)
escaping a check are mapped by the engine: transport, timeout and SSH problems are
``error``; RPC error responses and protocol breaches are ``failed``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Passed:
    summary: str
    metrics: dict[str, float] = field(default_factory=dict)
    artifacts: list[str] = field(default_factory=list)  # absolute paths; the engine relativises them


class CheckFailed(Exception):
    """The service was exercised and answered wrongly."""

    outcome = "failed"

    def __init__(self, expected: str, seen: str, *, fault: str = "assertion", summary: str = "",
                 metrics: dict[str, float] | None = None):
        self.expected = expected
        self.seen = seen
        self.fault = fault
        self.summary = summary or f"expected {expected}; seen {seen}"
        self.metrics = dict(metrics or {})
        super().__init__(self.summary)


class CheckError(CheckFailed):
    """The check could not exercise the service (unreachable, no SSH, bad credentials...)."""

    outcome = "error"


class CheckSkipped(Exception):
    """Not run: a prerequisite is missing on purpose (not a failure, not a pass)."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)
