"""``09_closeout.md``: the dry-run decision with its evidence (seed 000, D2).

Decision rule (explicit, and printed in 00_plan.md and 09_closeout.md):

    ACCEPT         when every gate is met;
    2nd Iteration  else, if iterations used < sprint.iterations AND days used < sprint.days;
    STOP           otherwise.

"Iterations used" is the iteration being closed (1 for the first closeout); "days used" is
the working day of the timebox today (``record.timebox``). A "2nd Iteration" decision
advances the sprint to the next iteration (``.state/sprint.toml``). Running closeout again
with no run recorded since the last closeout re-evaluates that closeout instead of counting
a new iteration.

The note lists the gates, the figures, residual risks (open defects with owners, quarantined
and flaky checks, broken register rules, escalations, environment-drift overrides, RPC
budgets exceeded) and the hand-offs to CDR steps 4-6/8/9.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from record.events_log import read_events
from record.layout import DryRunDir
from record.lock import DryRunLock
from record.rendered import RenderedFile
from record.sprint import Closeout, load_sprint, save_sprint, start_date
from record.timebox import status as timebox_status
from record.tomlio import dump_json, load_json

if TYPE_CHECKING:
    from runners.config import Config

ACCEPT, ITERATE, STOP = "ACCEPT", "ITERATE", "STOP"


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def decision_label(code: str, next_iteration: int = 2) -> str:
    return f"{ordinal(next_iteration)} Iteration" if code == ITERATE else code


def decision_rule_text(iterations: int, days: int) -> str:
    return (f"ACCEPT when every gate is met; else **2nd Iteration** if iterations used < {iterations} and days used "
            f"< {days}; else **STOP**. (Iterations used = the iteration being closed; days used = the working day "
            "of the timebox on the day of the closeout.)")


def decide(gates_met: bool, iterations_used: int, iterations_max: int, days_used: int,
           days_max: int) -> tuple[str, str]:
    """(ACCEPT | ITERATE | STOP, why)."""
    if gates_met:
        return ACCEPT, "every gate is met"
    if iterations_used < iterations_max and days_used < days_max:
        return ITERATE, (f"gates not met; iteration {iterations_used} of {iterations_max} and day {days_used} of "
                         f"{days_max} leave room for another iteration")
    limits = []
    if iterations_used >= iterations_max:
        limits.append(f"iterations used {iterations_used} = max {iterations_max}")
    if days_used >= days_max:
        limits.append(f"days used {days_used} >= timebox {days_max}")
    return STOP, "gates not met and " + " and ".join(limits)


def _risks(d: DryRunDir, m: dict[str, Any], reg, overrides: Iterable[dict[str, Any]]) -> list[dict[str, str]]:
    """Residual risks; ``overrides``: the log's environment_validation_override events."""
    out: list[dict[str, str]] = []
    for i in reg.sorted():
        if i.resolved:
            continue
        mit = i.workaround or (f"decision: {i.decision}" if i.decision else "undecided")
        out.append({"risk": f"{i.id} {i.severity_label} open ({i.status}): {i.title} [{', '.join(i.smk)}]",
                    "owner": i.owner or "(unassigned)", "mitigation": mit})
        for v in i.violations():
            out.append({"risk": f"register rule broken: {v}", "owner": i.owner or "PM", "mitigation": "fix the entry"})
        if i.escalated:
            out.append({"risk": f"{i.id} escalated after two failed verifies", "owner": "PM",
                        "mitigation": "PM decision needed"})
    for c in m.get("quarantined", []):
        out.append({"risk": f"{c} quarantined (skipped in runs)", "owner": "IV&V",
                    "mitigation": "see 06_flake_evidence.md; release it from quarantine.txt once stable"})
    for f in m.get("flaky_checks", []):
        out.append({"risk": f"{f['check']} flaky on {f['host']} ({f['flaky_failures']} flaky failures in "
                    f"{f['attempts']} attempts)", "owner": "Dev + IV&V", "mitigation": "flake hunt / quarantine"})
    for r in m.get("rpc", []):
        if not r["within"]:
            out.append({"risk": f"RPC {r['method']} p95 {r['p95_ms']} ms over its {r['budget_ms']:g} ms budget",
                        "owner": "Dev", "mitigation": "performance follow-up for CDR"})
    for ev in overrides:
        if ev.get("kind") == "environment_validation_override":
            out.append({"risk": "a run was made on a drifted environment (override): "
                        + ", ".join(ev.get("reason_codes", [])), "owner": "Dev", "mitigation": "re-freeze or restore"})
    return out


def _handoffs(cfg: Config, d: DryRunDir, decision: str) -> list[tuple[str, str, str]]:
    s = cfg.sprint
    return [
        ("Evidence pack (`dryrun pack`): every dry_run/ file with SHA256SUMS.txt, MANIFEST.json, toolchain.json",
         s.owners.ivv or "IV&V", "all"),
        ("Frozen environment (01_env_matrix.md, env.sh, env SHA) as the CDR execution baseline",
         s.owners.dev or "Dev", "4-6"),
        ("Smoke set SMK-1..7 with the final run (07_smoke_run_final.log) and metrics (08_metrics.md)",
         s.owners.ivv or "IV&V", "4-6"),
        ("Open defects, decisions and workarounds (03_triage_register.md); verified fixes (05_pass_ledger.md)",
         s.owners.pm or "PM", "8"),
        (f"Residual risks and this decision ({decision}) for the CDR review", s.owners.pm or "PM", "9"),
    ]


def closeout(cfg: Config, d: DryRunDir, *, now: _dt.datetime | None = None, force: bool = False,
             log=None, record: bool = True) -> dict[str, Any]:
    """Evaluate gates and decide; write 09_closeout.{md,json} and the sprint state (unless
    ``record`` is False: a preview)."""
    from record import metrics as metrics_mod
    from record.triage import load_register

    now = now or _dt.datetime.now()
    with DryRunLock(d):
        fold = metrics_mod.MetricsFold()
        fold.feed(read_events(d.events_log))
        reg = load_register(d)
        m = fold.figures(d, sha256=metrics_mod._sha(d), reg=reg)
        st = load_sprint(d)
        result, code, label, replaced = _evaluate(cfg, d, now, m, reg, st, fold.last_run_id, fold.overrides)
        if record:
            rf = RenderedFile(d, d.closeout)
            rf.guard(force=force)
            st.closeouts.append(Closeout(st.iteration, label, result["at"], result["last_run_id"]))
            if code == ITERATE:
                st.iteration += 1
            result["history"] = [c.__dict__ for c in st.closeouts]
            dump_json(d.closeout_json, result)
            rf.write(render_closeout(result))
            save_sprint(d, st)
    if log and record:
        log.append({"kind": "closeout_decision", "decision": label, "decision_code": code, "why": result["why"],
                    "iteration": result["iteration"], "gates_met": result["gates_met"]})
    return result


def preview(cfg: Config, d: DryRunDir, *, now: _dt.datetime, metrics: dict[str, Any], reg: Any,
            last_run_id: str, overrides: Iterable[dict[str, Any]] = ()) -> dict[str, Any]:
    """The decision a closeout would give ``now`` (nothing written, no lock taken), from
    figures already computed (``record.metrics``: ``metrics``, the last run started and
    the drift overrides of a ``MetricsFold``) and the register: what ``closeout(...,
    record=False)`` returns, for a console that keeps those figures up to date."""
    result, _code, _label, _replaced = _evaluate(cfg, d, now, metrics, reg, load_sprint(d), last_run_id, overrides)
    return result


def _evaluate(cfg: Config, d: DryRunDir, now: _dt.datetime, m: dict[str, Any], reg: Any, st: Any, last_run: str,
              overrides: Iterable[dict[str, Any]]) -> tuple[dict[str, Any], str, str, Any]:
    """(result, decision code, decision label, the closeout it replaces or None); ``st``
    (the sprint state) loses the closeout being re-evaluated."""
    from record import gates as gates_mod

    gate_results = gates_mod.evaluate(cfg.gates, m, reg)
    met = gates_mod.all_met(gate_results)
    replaced = None
    if st.closeouts and st.closeouts[-1].last_run_id == last_run:
        replaced = st.closeouts.pop()  # no run since: re-evaluate that closeout
        st.iteration = replaced.iteration
    s = cfg.sprint
    tb = timebox_status(start_date(s.start_date, st, now.date()), s.days, s.standups, st.iteration,
                        s.iterations, now)
    code, why = decide(met, st.iteration, s.iterations, tb.days_used, s.days)
    label = decision_label(code, st.iteration + 1)
    majors = sum(1 for i in reg.sorted() if not i.resolved and i.severity == "A")
    criticals = sum(1 for i in reg.sorted() if not i.resolved and i.severity == "R")
    result: dict[str, Any] = {
        "decision": label, "decision_code": code, "why": why, "at": now.isoformat(timespec="seconds"),
        "iteration": st.iteration, "iterations": s.iterations, "day": tb.day, "days": s.days,
        "rule": decision_rule_text(s.iterations, s.days).replace("**", ""),
        "gates": [g.to_dict() for g in gate_results], "gates_met": met,
        "metrics": {"pass_rate_pct": m["pass_rate_pct"], "flaky_pct": m["flaky_pct"], "criticals": criticals,
                    "majors": majors, "reference_run": (m["reference_run"] or {}).get("label"),
                    "events_sha256": m["source"]["sha256"]},
        "residual_risks": _risks(d, m, reg, overrides),
        "handoffs": [{"item": a, "owner": b, "cdr_steps": c} for a, b, c in _handoffs(cfg, d, label)],
        "baseline": s.baseline, "last_run_id": last_run,
        "replaced_previous": bool(replaced),
    }
    env = load_json(d.env_frozen) if d.env_frozen.exists() else None
    result["env_sha"] = (env or {}).get("sha256", "")
    return result, code, label, replaced


def render_closeout(r: dict[str, Any]) -> str:
    m = r["metrics"]
    pass_rate = "-" if m["pass_rate_pct"] is None else f"{m['pass_rate_pct']:.1f}%"
    out = [
        "# 09 - Dry-run closeout",
        "",
        f"**Decision: {r['decision']}** (iteration {r['iteration']} of {r['iterations']}, day {r['day']} of "
        f"{r['days']}; baseline `{r['baseline']}`; {r['at']})",
        "",
        f"Why: {r['why']}.",
        "",
        "## Decision rule",
        "",
        r["rule"],
        "",
        "## Gates",
        "",
        "| Gate | Threshold | Value | Met | Detail |",
        "|------|-----------|-------|-----|--------|",
    ]
    for g in r["gates"]:
        detail = (g["detail"] or "-").replace("|", "\\|")
        out.append(f"| {g['name']} | {g['threshold']} | {g['value']} | {'MET' if g['met'] else 'NOT MET'} | {detail} |")
    out += [
        "",
        "## Figures",
        "",
        f"- Pass rate: {pass_rate} (reference run {m['reference_run'] or '-'})",
        f"- Flaky: {m['flaky_pct']:.2f}%",
        f"- Open criticals (Red): {m['criticals']}; open majors (Amber): {m['majors']}",
        f"- Environment SHA: `{r['env_sha'][:16] or 'not frozen'}`; events log sha256 `{m['events_sha256'][:16] or '-'}`",
        "",
        "## Residual risks",
        "",
    ]
    if r["residual_risks"]:
        out += ["| Risk | Owner | Mitigation / workaround |", "|------|-------|-------------------------|"]
        for k in r["residual_risks"]:
            out.append(f"| {k['risk'].replace('|', chr(92) + '|')} | {k['owner']} | "
                       f"{k['mitigation'].replace('|', chr(92) + '|')} |")
    else:
        out.append("None recorded.")
    out += ["", "## Hand-offs to CDR steps 4-6/8/9", "", "| Item | Owner | CDR steps |", "|------|-------|-----------|"]
    for h in r["handoffs"]:
        out.append(f"| {h['item']} | {h['owner']} | {h['cdr_steps']} |")
    out += [
        "",
        "## Closeout prompt",
        "",
        "```",
        f"Dry-run outcome: {r['decision']}. Metrics: pass={pass_rate}, flaky={m['flaky_pct']:.2f}%, "
        f"criticals={m['criticals']}, majors={m['majors']}.",
        "Residual risks + owners captured in dry_run/09_closeout.md. Feeding forward to CDR Steps 4-6/8/9.",
        "```",
        "",
    ]
    if r.get("history"):
        out += ["## Closeouts so far", "", "| Iteration | Decision | At |", "|-----------|----------|----|"]
        for c in r["history"]:
            out.append(f"| {c['iteration']} | {c['decision']} | {c['at']} |")
        out.append("")
    return "\n".join(out)
