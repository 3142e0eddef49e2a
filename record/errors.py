"""Errors of the record: each names the file (and the line when there is one) and what
was expected, so a hand-broken file is reported, never silently overwritten."""

from __future__ import annotations

from pathlib import Path

from runners.errors import DryRunError


class RecordError(DryRunError):
    """A dry_run/ file that cannot be used, or an operation the record refuses."""

    fault = "record"

    def __init__(self, path: Path | str | None, message: str, *, line: int | None = None, hint: str = ""):
        self.path = str(path) if path is not None else ""
        self.line = line
        where = self.path
        if where and line:
            where = f"{where}:{line}"
        super().__init__(f"{where}: {message}" if where else message, hint=hint)
        self.message = message


class RuleError(RecordError):
    """A register rule is broken (a Red without owner/ETA, a Workaround without its text...)."""


class HandEditError(RecordError):
    """A rendered file was edited by hand and the edit cannot be merged."""
