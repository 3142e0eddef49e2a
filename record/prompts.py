"""The plan's copy/paste prompts ("Working Prompts"), filled with live values.

``dryrun say kickoff`` ... ``dryrun say verify DRY-03``. Each prompt keeps the plan's
wording; placeholders come from the config, the frozen environment, the register, the
ledger and the closeout. A prompt whose facts do not exist yet (a verify result before
any verify) is refused with what to run first, never filled with a guess.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from record.errors import RecordError
from record.layout import DryRunDir
from record.tomlio import load_json

if TYPE_CHECKING:
    from runners.config import Config


@dataclass(frozen=True)
class Prompt:
    name: str
    who: str
    needs_id: bool
    render: Callable[[Config, DryRunDir, str], str]


def _dir(d: DryRunDir) -> str:
    return f"{d.root.name}/"


def _kickoff(cfg: Config, d: DryRunDir, _: str) -> str:
    s, g = cfg.sprint, cfg.gates
    dps = "/".join(f"Day-{i}" for i in range(1, s.days)) or "Day-1"
    return (f"Goal: {s.days}-day MVP dry-run to de-risk CDR. Scope = SMK-1..7 only. No features; fix-only.\n"
            f"Baseline = {s.baseline}. Artifacts under {_dir(d)}.\n"
            f"Gates: All SMK pass; flaky ≤{g.flaky_max_pct:g}%; no criticals; ≤{g.majors_max} majors with workarounds.\n"
            f"Stand-ups at {'/'.join(s.standups)}. Decision points end of {dps}.\n"
            f"Owners: Dev={s.owners.dev or '<name>'}, IV&V={s.owners.ivv or '<name>'}. Comms: {s.comms}.")


def _env_freeze(cfg: Config, d: DryRunDir, _: str) -> str:
    return (f"Please confirm environment on {cfg.sprint.baseline} and commit `{_dir(d)}env.sh` + `01_env_matrix.md` "
            "today. Include OS, kernel, Python, MediaMTX, camera IDs.")


def _env_frozen(cfg: Config, d: DryRunDir, _: str) -> str:
    from record.envfreeze import load_frozen, summary_values

    data = load_frozen(d)
    if data is None:
        raise RecordError(d.env_frozen, "the environment is not frozen yet", hint="run `dryrun env freeze` first")
    v = summary_values(data)
    return (f"Env frozen. SHA={v['sha'][:12]}; OS={v['os']}; Python={v['python']}; MediaMTX={v['mediamtx']}; "
            f"Cameras={v['cameras']}.")


def _start_smoke(cfg: Config, d: DryRunDir, arg: str) -> str:
    n = int(arg) if arg.strip().isdigit() else d.next_run_number()
    return (f"Starting Smoke Run {n} on {cfg.sprint.baseline} now. Log -> {_dir(d)}{d.smoke_run_log(n).name}. "
            "Will post R/A/G triage within 2h.")


def _triage_call(cfg: Config, d: DryRunDir, _: str) -> str:
    from record.triage import load_register

    text = ("Post issues using template (DRY-<nn>, SMK id, Symptom, Suspect, Repro, Owner/ETA, Decision). "
            "Reds must have owners before EOD. Timebox 15 min/issue.")
    open_ = [i for i in load_register(d).sorted() if not i.resolved]
    if open_:
        items = []
        for i in open_:
            extra = "" if (i.owner or i.severity != "R") else ", no owner yet"
            items.append(f"{i.id} {i.severity} {'/'.join(i.smk)} ({i.decision or 'undecided'}{extra})")
        text += "\nOpen now: " + "; ".join(items) + "."
    return text


def _issue(d: DryRunDir, arg: str):
    from record.triage import load_register, normalise_id

    if not arg:
        raise RecordError(None, "this prompt needs a triage id, e.g. `dryrun say verify DRY-03`")
    return load_register(d).get(normalise_id(arg))


def _fix(cfg: Config, d: DryRunDir, arg: str) -> str:
    i = _issue(d, arg)
    if i.fix_lines < 0:
        raise RecordError(d.triage_toml, f"{i.id} has no fix evidence yet",
                          hint=f"run `dryrun fix {i.id} --patch FILE` (or --git RANGE) first")
    return (f"{i.id} fix pushed (diff {i.fix_lines} lines). Evidence: {_dir(d)}fixes/{i.id}/. "
            "Ready for IV&V verify.")


def _verify(cfg: Config, d: DryRunDir, arg: str) -> str:
    i = _issue(d, arg)
    if not i.verify_results:
        raise RecordError(d.triage_toml, f"{i.id} has not been verified yet", hint=f"run `dryrun verify {i.id}` first")
    result = i.verify_results[-1]
    tail = " Re-running affected smoke subset now." if result == "PASS" else (
        " Escalated to PM (second failed verify)." if i.escalated else " Bounced back to Dev.")
    return f"Verify {i.id}: {result}. Log: {_dir(d)}{d.verify_log(i.id).name}.{tail}"


def _closeout(cfg: Config, d: DryRunDir, _: str) -> str:
    r = load_json(d.closeout_json)
    if r is None:
        raise RecordError(d.closeout_json, "no closeout yet", hint="run `dryrun closeout` first")
    m = r["metrics"]
    pass_rate = "-" if m.get("pass_rate_pct") is None else f"{m['pass_rate_pct']:.1f}%"
    return (f"Dry-run outcome: {r['decision']}. Metrics: pass={pass_rate}, flaky={m['flaky_pct']:.2f}%, "
            f"criticals={m['criticals']}, majors={m['majors']}.\n"
            f"Residual risks + owners captured in {_dir(d)}09_closeout.md. Feeding forward to CDR Steps 4-6/8/9.")


PROMPTS: dict[str, Prompt] = {p.name: p for p in (
    Prompt("kickoff", "PM -> team (A1 kickoff)", False, _kickoff),
    Prompt("env-freeze", "PM -> Dev (A2 env freeze)", False, _env_freeze),
    Prompt("env-frozen", "Dev -> PM (A2 reply)", False, _env_frozen),
    Prompt("start-smoke", "IV&V -> all (B1 start smoke)", False, _start_smoke),
    Prompt("triage-call", "PM -> all (B2 triage call)", False, _triage_call),
    Prompt("fix", "Dev -> all (C1 fix notification)", True, _fix),
    Prompt("verify", "IV&V -> all (C2 verify result)", True, _verify),
    Prompt("closeout", "PM -> all (D2 closeout)", False, _closeout),
)}


def say(name: str, cfg: Config, d: DryRunDir, arg: str = "") -> str:
    key = name.strip().lower().replace("_", "-")
    if key not in PROMPTS:
        raise RecordError(None, f"unknown prompt {name!r} (prompts: {', '.join(PROMPTS)})")
    return PROMPTS[key].render(cfg, d, arg or "")
