"""The plan's ``dry_run/`` skeleton: one place that names every file.

The names are the contract with the plan (seed 000, "File/Folder Skeleton"); nothing
else in the code spells them."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

_DRY_ID = re.compile(r"^DRY-\d{2,}$")
_RUN_LOG = re.compile(r"^02_smoke_run_(\d+)\.log$")


def check_dry_id(dry_id: str) -> str:
    """``DRY-03`` style ids only (they become file names)."""
    if not _DRY_ID.match(dry_id):
        raise ValueError(f"not a triage id: {dry_id!r} (expected DRY-<nn>, e.g. DRY-03)")
    return dry_id


@dataclass(frozen=True)
class DryRunDir:
    root: Path

    # Phase A
    @property
    def plan(self) -> Path: return self.root / "00_plan.md"
    @property
    def env_matrix(self) -> Path: return self.root / "01_env_matrix.md"
    @property
    def env_sh(self) -> Path: return self.root / "env.sh"
    # Phase B
    def smoke_run_log(self, n: int) -> Path: return self.root / f"02_smoke_run_{n}.log"
    @property
    def triage_register(self) -> Path: return self.root / "03_triage_register.md"
    # Phase C
    def verify_log(self, dry_id: str) -> Path: return self.root / f"04_verify_{check_dry_id(dry_id)}.log"
    @property
    def pass_ledger(self) -> Path: return self.root / "05_pass_ledger.md"
    @property
    def flake_evidence(self) -> Path: return self.root / "06_flake_evidence.md"
    @property
    def quarantine(self) -> Path: return self.root / "quarantine.txt"
    def fix_dir(self, dry_id: str) -> Path: return self.root / "fixes" / check_dry_id(dry_id)
    # Phase D
    @property
    def final_run_log(self) -> Path: return self.root / "07_smoke_run_final.log"
    @property
    def metrics(self) -> Path: return self.root / "08_metrics.md"
    @property
    def closeout(self) -> Path: return self.root / "09_closeout.md"
    @property
    def artifacts(self) -> Path: return self.root / "artifacts"

    # Machine-readable sources of truth and engine state (beside the plan's files).
    @property
    def events_log(self) -> Path: return self.root / "events.log.jsonl"
    @property
    def state_dir(self) -> Path: return self.root / ".state"
    @property
    def lastfailed(self) -> Path: return self.state_dir / "lastfailed.json"
    @property
    def lock(self) -> Path: return self.state_dir / "lock"

    # Record sources of truth beside their rendered .md (RECORD helper; additive).
    @property
    def env_frozen(self) -> Path: return self.root / "01_env_matrix.json"
    @property
    def triage_toml(self) -> Path: return self.root / "03_triage_register.toml"
    @property
    def pass_ledger_toml(self) -> Path: return self.root / "05_pass_ledger.toml"
    @property
    def flake_json(self) -> Path: return self.root / "06_flake_evidence.json"
    @property
    def metrics_json(self) -> Path: return self.root / "08_metrics.json"
    @property
    def closeout_json(self) -> Path: return self.root / "09_closeout.json"
    @property
    def fixes(self) -> Path: return self.root / "fixes"
    def fix_patch(self, dry_id: str) -> Path: return self.fix_dir(dry_id) / "patch.diff"
    def fix_before_after(self, dry_id: str) -> Path: return self.fix_dir(dry_id) / "before_after.log"
    def verify_attempt_log(self, dry_id: str, attempt: int) -> Path:
        """An earlier verify attempt's log, kept when the entry is verified again."""
        return self.root / f"04_verify_{check_dry_id(dry_id)}.attempt{attempt}.log"
    def flake_log(self, check: str) -> Path: return self.artifacts / f"flake_{check}" / f"flake_{check}.log"
    # Record internals (never part of the evidence pack).
    @property
    def sprint_state(self) -> Path: return self.state_dir / "sprint.toml"
    @property
    def env_validation_failure(self) -> Path: return self.state_dir / "env_validation_failure.json"
    def rendered_base(self, path: Path) -> Path:
        """What the record last rendered to ``path`` (to tell hand edits from its own writes)."""
        return self.state_dir / "rendered" / f"{path.name}.json"
    @property
    def pack_dir(self) -> Path: return self.root.parent / f"{self.root.name}_pack"

    def log_for_label(self, label: str) -> Path | None:
        """The log file of a run label (``02_smoke_run_3``, ``07_smoke_run_final``,
        ``04_verify_DRY-03``, ``flake_SMK-3``); None for a label that names no file here."""
        if m := re.match(r"^02_smoke_run_(\d+)$", label):
            return self.smoke_run_log(int(m.group(1)))
        if label == "07_smoke_run_final":
            return self.final_run_log
        if m := re.match(r"^04_verify_(DRY-\d{2,})$", label):
            return self.verify_log(m.group(1))
        if m := re.match(r"^flake_(SMK-\d+)$", label):
            return self.flake_log(m.group(1))
        return None

    def run_numbers(self) -> list[int]:
        if not self.root.is_dir():
            return []
        return sorted(int(m.group(1)) for p in self.root.iterdir() if (m := _RUN_LOG.match(p.name)))

    def next_run_number(self) -> int:
        """The number the next run would get: a preview only (two processes may both see
        it); a run claims its number with ``reserve_run_log``."""
        nums = self.run_numbers()
        return (nums[-1] + 1) if nums else 1

    def reserve_run_log(self) -> tuple[int, Path]:
        """Claim the next ``02_smoke_run_N.log`` for a run, atomically across processes
        (two consoles, a console and ``dryrun run`` in CI): the log is created empty with
        O_CREAT|O_EXCL, and a number another process created first moves on to N+1. The
        kernel decides the race, so no lock is needed and a crash cannot leave one held;
        a crashed run's empty log keeps its number and the next run takes the one after."""
        self.root.mkdir(parents=True, exist_ok=True)
        n = self.next_run_number()
        while True:
            path = self.smoke_run_log(n)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                n += 1
                continue
            os.close(fd)
            return n, path
