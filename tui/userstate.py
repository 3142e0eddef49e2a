"""The console's small per-user state (remembered theme...), in
``$XDG_STATE_HOME/dryrun/console.json`` (default ``~/.local/state``).

Best effort by design: an unreadable or corrupt file is ignored (the console starts
with defaults) and a failed save is reported once by the caller, never fatal."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from record.atomic import atomic_write_text


def state_path() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "dryrun" / "console.json"


def load_state(path: Path | None = None) -> dict[str, Any]:
    p = path or state_path()
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save_state(updates: dict[str, Any], path: Path | None = None) -> None:
    """Merge ``updates`` into the file (atomic write). Raises OSError on failure."""
    p = path or state_path()
    data = load_state(p)
    data.update(updates)
    atomic_write_text(p, json.dumps(data, indent=2, sort_keys=True) + "\n")
