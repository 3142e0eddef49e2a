"""One consistent snapshot of the record for the screens, loaded off the UI loop.

Each part is loaded on its own: a broken file (RecordError) shows as that pane's error,
naming the file and line, while the other panes keep working."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any

from record.layout import DryRunDir
from runners.config import Config


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


def load_record_view(cfg: Config, d: DryRunDir, now: _dt.datetime) -> RecordView:
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
        from record.triage import load_register, pending_hand_edit

        reg = load_register(d)
        return {"issues": reg.sorted(), "next_id": reg.next_id(), "hand_edit": pending_hand_edit(d)}

    def ledger():
        from record.ledger import load_ledger

        return load_ledger(d)

    def metrics():
        from record.metrics import compute

        return compute(d)

    def env():
        from record.envfreeze import load_frozen

        return load_frozen(d)

    def files():
        # which of the plan's files exist (closeout screen's checklist)
        names = {"plan": d.plan, "env_matrix": d.env_matrix, "env_sh": d.env_sh, "triage": d.triage_register,
                 "ledger": d.pass_ledger, "flakes": d.flake_evidence, "final": d.final_run_log,
                 "metrics": d.metrics, "closeout": d.closeout, "quarantine": d.quarantine}
        return {k: p.exists() for k, p in names.items()} | {"runs": d.run_numbers()}

    tb = part("timebox", timebox)
    part("triage", triage)
    part("ledger", ledger)
    part("metrics", metrics)
    part("env", env)
    part("files", files)
    part("closeout", lambda: _closeout_preview(cfg, d, now))
    return RecordView(loaded_at=now, timebox=tb, parts=parts, errors=errors)


def _closeout_preview(cfg: Config, d: DryRunDir, now: _dt.datetime) -> dict[str, Any]:
    """The gates and the decision the closeout would give now (nothing written), plus the
    last closeout actually recorded, if any."""
    from record.closeout import closeout
    from record.tomlio import load_json

    preview = closeout(cfg, d, now=_naive(now), record=False)
    preview["recorded"] = load_json(d.closeout_json) if d.closeout_json.exists() else None
    return preview
