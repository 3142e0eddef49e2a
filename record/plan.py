"""``00_plan.md``: the plan rendered from ``dryrun.toml`` (seed 000, A1).

Goal, non-goals, scope SMK-1..7, baseline, hosts, gates, timebox with dates and
stand-ups, decision points, severities, the closeout rule, owners, and which phase writes
which file. The first ``dryrun plan`` fixes the sprint's start date (unless the config
sets one) in ``.state/sprint.toml``.
"""

from __future__ import annotations

import datetime as _dt
from typing import TYPE_CHECKING

from record.closeout import decision_rule_text
from record.layout import DryRunDir
from record.lock import DryRunLock
from record.rendered import RenderedFile
from record.severity import SEVERITIES, TRIAGE_TIMEBOX_MIN
from record.sprint import load_sprint, save_sprint, start_date
from record.state import SMK_IDS, SMK_TITLES
from record.timebox import working_days

if TYPE_CHECKING:
    from runners.config import Config


def _owner(name: str) -> str:
    return name or "(unassigned)"


def gates_text(cfg: Config) -> str:
    g = cfg.gates
    parts = []
    if g.all_smk_pass:
        parts.append(f"All {SMK_IDS[0]}..{SMK_IDS[-1].split('-')[1]} pass")
    parts.append(f"flaky <= {g.flaky_max_pct:g}%")
    parts.append(f"critical defects <= {g.criticals_max}" if g.criticals_max else "critical defects = 0")
    majors = f"major defects <= {g.majors_max}"
    if g.majors_need_workaround:
        majors += " with workarounds documented"
    parts.append(majors)
    return "; ".join(parts) + "."


def render_plan(cfg: Config, start: _dt.date, generated: _dt.date) -> str:
    s = cfg.sprint
    dates = working_days(start, s.days)
    compress = " (can compress to 2)" if s.days > 2 else ""
    lines = [
        f"# 00 - Dry-run plan: {s.name}",
        "",
        f"Rendered by `dryrun plan` from `{cfg.path.name if cfg.path else 'dryrun.toml'}` on {generated.isoformat()}. "
        "Purpose: a short, test-focused dry-run to de-risk the CDR. Outputs feed the CDR but are not part of it.",
        "",
        "## Goal",
        "",
        f"{s.days}-day MVP dry-run to de-risk CDR. Scope = SMK-1..7 only. No features; fix-only.",
        "",
        "**Non-goals:** no new features, no new camera models, no refactors. Only test harness fixes, configuration "
        "fixes, logging/observability tweaks, and defect fixes that unblock MVP tests.",
        "",
        "## Scope (MVP test surface)",
        "",
        "| ID | Check |",
        "|----|-------|",
        *[f"| {i} | {SMK_TITLES[i]} |" for i in SMK_IDS],
        "",
        "## Baseline",
        "",
        f"- Baseline tag: `{s.baseline}` (a reproducible baseline, to avoid moving targets)",
        "- Environment: frozen by `dryrun env freeze` into `01_env_matrix.md` + `env.sh`; "
        "checked against the live hosts before every run",
        "- Hosts under test:",
        *([f"  - `{h.name}` ({h.dialect} service), RPC `{h.rpc_url}`" for h in cfg.hosts] or ["  - (none configured)"]),
        "",
        "## Gates",
        "",
        "```",
        f"Exit when: {gates_text(cfg)}",
        f"Timebox: {s.days} working days{compress}; {s.iterations} iterations max.",
        "Change control: Fix-only unless PM grants a 1-line scope waiver in writing.",
        "```",
        "",
        "## Timebox, stand-ups and decision points",
        "",
        f"Start {dates[0].isoformat()}. Stand-ups: {' + '.join(s.standups) or '(none)'}. "
        f"Decision points: iteration end of {', '.join(f'Day-{i}' for i in range(1, s.days)) or 'Day-1'}.",
        "",
        "| Day | Date | Stand-ups | Decision point |",
        "|-----|------|-----------|----------------|",
    ]
    for i, d in enumerate(dates, start=1):
        dp = "end of day: iteration decision" if i < s.days else "closeout (`dryrun closeout`)"
        lines.append(f"| Day-{i} | {d:%a} {d.isoformat()} | {', '.join(s.standups) or '-'} | {dp} |")
    lines += [
        "",
        "## Triage (R/A/G + timebox)",
        "",
        f"Each issue gets a DRY-<nn> id and a {TRIAGE_TIMEBOX_MIN}-minute triage timebox. Reds get owners and ETAs.",
        "",
        *[f"- **{sv.code} {sv.colour} ({sv.level})**: {sv.meaning}" for sv in SEVERITIES.values()],
        "",
        "## Closeout decision rule",
        "",
        decision_rule_text(s.iterations, s.days),
        "",
        "## Owners and comms",
        "",
        "| Role | Owner |",
        "|------|-------|",
        f"| Project Manager (chair, closeout) | {_owner(s.owners.pm)} |",
        f"| Developer (env freeze, fixes) | {_owner(s.owners.dev)} |",
        f"| IV&V (smoke, verify, flake hunt, metrics) | {_owner(s.owners.ivv)} |",
        "",
        f"Comms channel: {s.comms}. Artifacts under `dry_run/`.",
        "",
        "## Phases and outputs",
        "",
        "| Phase | Step | Command | Output |",
        "|-------|------|---------|--------|",
        "| A | A1 Kickoff | `dryrun plan`, `dryrun say kickoff` | `00_plan.md` |",
        "| A | A2 Environment freeze | `dryrun env freeze` | `01_env_matrix.md`, `env.sh` |",
        "| B | B1 Smoke run | `dryrun run` | `02_smoke_run_<n>.log`, `artifacts/` |",
        "| B | B2 Triage | `dryrun triage add/decide` | `03_triage_register.md` |",
        "| C | C1 Fix | `dryrun fix DRY-<nn>` | `fixes/DRY-<nn>/{before_after.log, patch.diff}` |",
        "| C | C2 Verify | `dryrun verify DRY-<nn>` | `04_verify_DRY-<nn>.log`, `05_pass_ledger.md` |",
        "| C | C3 Flake hunt | `dryrun flake SMK-<n> --count 10` | `06_flake_evidence.md`, `quarantine.txt` |",
        "| D | D1 Final run + metrics | `dryrun run --final`, `dryrun metrics` | `07_smoke_run_final.log`, `08_metrics.md` |",
        "| D | D2 Closeout | `dryrun closeout`, `dryrun pack` | `09_closeout.md`, evidence pack |",
        "",
    ]
    return "\n".join(lines)


def write_plan(cfg: Config, d: DryRunDir, *, today: _dt.date | None = None, force: bool = False) -> str:
    """Render and write ``00_plan.md``; fixes the start date on first use. Returns the text."""
    today = today or _dt.date.today()
    with DryRunLock(d):
        st = load_sprint(d)
        start = start_date(cfg.sprint.start_date, st, today)
        text = render_plan(cfg, start, today)
        rf = RenderedFile(d, d.plan)
        rf.guard(text, force=force)
        rf.write(text)
        if not st.start_date or st.start_date != start.isoformat():
            st.start_date = start.isoformat()
        st.plan_written_at = st.plan_written_at or _dt.datetime.now().isoformat(timespec="seconds")
        save_sprint(d, st)
    return text
