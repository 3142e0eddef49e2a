"""``quarantine.txt``: checks the smoke engine skips, each with its reason and date.

The file is its own source of truth (short, meant to be read and edited by hand)::

    # check | date | reason
    SMK-3 | 2025-11-24 | flaky: 2/10 attempts failed (rpc timeout on get_camera_list)

Blank lines and ``#`` comments are ignored; the reason is everything after the second
``|``. A line that does not parse is an error naming the file and line.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass
from pathlib import Path

from record.atomic import atomic_write_text
from record.errors import RecordError
from record.layout import DryRunDir
from record.lock import DryRunLock
from record.tomlio import read_text

CHECK_RE = re.compile(r"^SMK-\d+$")
HEADER = ("# quarantine.txt: checks the smoke engine skips (the plan's C3 flake hunt).\n"
          "# One per line: check | date (YYYY-MM-DD) | reason. Remove a line to release the check.\n")


@dataclass(frozen=True)
class QuarantineEntry:
    check: str
    date: str
    reason: str
    line: int = 0


def parse_quarantine(text: str, path: Path | str = "quarantine.txt") -> list[QuarantineEntry]:
    out: list[QuarantineEntry] = []
    seen: dict[str, int] = {}
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = [p.strip() for p in line.split("|", 2)]
        if len(parts) != 3:
            raise RecordError(path, f"expected 'check | date | reason', got {raw!r}", line=n)
        check, date, reason = parts
        check = check.replace("_", "-").upper()
        if not CHECK_RE.match(check):
            raise RecordError(path, f"expected a check id like SMK-3, got {parts[0]!r}", line=n)
        try:
            _dt.date.fromisoformat(date)
        except ValueError:
            raise RecordError(path, f"expected a date YYYY-MM-DD, got {date!r}", line=n) from None
        if not reason:
            raise RecordError(path, f"{check}: a quarantined check needs a reason", line=n)
        if check in seen:
            raise RecordError(path, f"{check} is quarantined twice (also line {seen[check]})", line=n)
        seen[check] = n
        out.append(QuarantineEntry(check, date, reason, n))
    return out


def load_entries(path: Path) -> list[QuarantineEntry]:
    text = read_text(Path(path))
    return [] if text is None else parse_quarantine(text, path)


def load_quarantine(path: Path | str) -> dict[str, str]:
    """``{check: reason}`` for the engine (missing file = nothing quarantined)."""
    return {e.check: e.reason for e in load_entries(Path(path))}


def _rewrite(path: Path, drop: str, append: str = "") -> bool:
    """Rewrite ``path`` keeping every line (comments included) except ``drop``'s entry."""
    text = read_text(path)
    if text is None:
        text = HEADER
    entries = parse_quarantine(text, path)  # never rewrite a file we cannot parse
    drop_lines = {e.line for e in entries if e.check == drop}
    lines = [ln for n, ln in enumerate(text.splitlines(), start=1) if n not in drop_lines]
    if append:
        lines.append(append)
    atomic_write_text(path, "\n".join(lines) + "\n")
    return bool(drop_lines)


def add(path: Path | str, check: str, reason: str, date: str | None = None) -> QuarantineEntry:
    """Quarantine ``check`` (replacing an earlier entry for it). Atomic, under the dry_run/ lock;
    hand-written comments and other entries are kept as they are."""
    path = Path(path)
    check = check.replace("_", "-").upper()
    if not CHECK_RE.match(check):
        raise ValueError(f"quarantine: expected a check id like SMK-3, got {check!r}")
    reason = " ".join(reason.split())  # one line, whatever the caller passed
    if not reason:
        raise ValueError("quarantine: a reason is required")
    date = date or _dt.date.today().isoformat()
    _dt.date.fromisoformat(date)
    with DryRunLock(DryRunDir(path.parent)):
        _rewrite(path, check, f"{check} | {date} | {reason}")
    return QuarantineEntry(check, date, reason)


def remove(path: Path | str, check: str) -> bool:
    path = Path(path)
    check = check.replace("_", "-").upper()
    with DryRunLock(DryRunDir(path.parent)):
        if not path.exists():
            return False
        return _rewrite(path, check)
