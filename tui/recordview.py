"""One consistent snapshot of the record for the screens, loaded off the UI loop.

Each part is loaded on its own: a broken file (RecordError) shows as that pane's error,
naming the file and line, while the other panes keep working.

A :class:`RecordViewLoader` lives as long as the console follows one dry_run/: it keeps
what it derived last time (``record.digest.RecordDigest``: the events log read
incrementally, the metrics rebuilt only when their inputs changed; small files parsed again
only when their bytes changed), so a reload after N new events costs O(N), not the whole
record, and gives exactly what a cold load (``load_record_view``) of the same files gives.
"""

from __future__ import annotations

import datetime as _dt
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from record.layout import DryRunDir
from runners.config import Config

if TYPE_CHECKING:
    from record.digest import RecordDigest


@dataclass(frozen=True)
class RecordView:
    loaded_at: _dt.datetime
    timebox: Any = None  # record.timebox.TimeboxStatus
    parts: dict[str, Any] = field(default_factory=dict)  # part name -> loaded value
    errors: dict[str, str] = field(default_factory=dict)  # part name -> why it could not be loaded

    def get(self, part: str) -> Any:
        return self.parts.get(part)


def _naive(now: _dt.datetime) -> _dt.datetime:
    return now.replace(tzinfo=None)


class RecordViewLoader:
    """Loads :class:`RecordView` snapshots of one dry_run/, incrementally (module doc).
    ``cfg`` may be replaced between loads (a reloaded config); one load at a time."""

    def __init__(self, cfg: Config, d: DryRunDir):
        from record.digest import FileMemo, RecordDigest  # not before the first frame (~80 ms of imports)
        from record.ledger import load_ledger
        from record.triage import pending_hand_edit

        self.cfg = cfg
        self.d = d
        self.digest = RecordDigest(d)
        self._lock = threading.Lock()
        self._ledger = FileMemo(lambda: (d.pass_ledger_toml,), lambda: load_ledger(d))
        reg = self.digest.register
        self._hand_edit = FileMemo(lambda: (d.triage_toml, d.triage_register, d.rendered_base(d.triage_register)),
                                   lambda: pending_hand_edit(d, reg.get()))

    def load(self, now: _dt.datetime) -> RecordView:
        with self._lock:
            return self._load(now)

    def _load(self, now: _dt.datetime) -> RecordView:
        cfg, d, digest = self.cfg, self.d, self.digest
        parts: dict[str, Any] = {}
        errors: dict[str, str] = {}

        def part(name: str, fn) -> Any:
            try:
                parts[name] = fn()
            except Exception as e:  # shown in that pane; the rest of the console keeps working
                errors[name] = f"{type(e).__name__}: {e}" if not hasattr(e, "fault") else str(e)
            return parts.get(name)

        def timebox():
            from record.sprint import timebox_status

            return timebox_status(cfg, d, _naive(now))

        def triage():
            reg = digest.register.get()
            return {"issues": reg.sorted(), "next_id": reg.next_id(), "hand_edit": self._hand_edit.get()}

        def env():
            from record.envfreeze import load_frozen

            return load_frozen(d)

        def files():
            # which of the plan's files exist (closeout screen's checklist)
            names = {"plan": d.plan, "env_matrix": d.env_matrix, "env_sh": d.env_sh, "triage": d.triage_register,
                     "ledger": d.pass_ledger, "flakes": d.flake_evidence, "final": d.final_run_log,
                     "metrics": d.metrics, "closeout": d.closeout, "quarantine": d.quarantine}
            return {k: p.exists() for k, p in names.items()} | {"runs": d.run_numbers()}

        digest.refresh()
        tb = part("timebox", timebox)
        part("triage", triage)
        part("ledger", self._ledger.get)
        part("metrics", digest.metrics)
        part("env", env)
        part("files", files)
        part("closeout", lambda: _closeout_preview(cfg, d, digest, now))
        return RecordView(loaded_at=now, timebox=tb, parts=parts, errors=errors)


def load_record_view(cfg: Config, d: DryRunDir, now: _dt.datetime) -> RecordView:
    """A cold load: everything read from scratch (one-off callers; the console keeps a
    :class:`RecordViewLoader`)."""
    return RecordViewLoader(cfg, d).load(now)


def _closeout_preview(cfg: Config, d: DryRunDir, digest: RecordDigest, now: _dt.datetime) -> dict[str, Any]:
    """The gates and the decision the closeout would give now (nothing written), plus the
    last closeout actually recorded, if any."""
    from record.tomlio import load_json

    preview = digest.closeout_preview(cfg, _naive(now))
    preview["recorded"] = load_json(d.closeout_json) if d.closeout_json.exists() else None
    return preview
