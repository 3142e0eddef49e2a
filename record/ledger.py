"""``05_pass_ledger.md``: every verify result (PASS/FAIL), append-only (seed 000, C2).

The truth is ``05_pass_ledger.toml``; the .md is rendered from it. An append runs under the
dry_run/ lock: write the TOML (the acknowledgement point), then render the .md. A .md
edited by hand is never overwritten: the entry still lands in the TOML and the caller gets
a warning naming the edited line (delete the .md, or pass force, to re-render it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from record.errors import HandEditError, RecordError
from record.layout import DryRunDir, check_dry_id
from record.lock import DryRunLock
from record.rendered import RenderedFile
from record.tomlio import dump_toml, load_toml, read_text
from record.triage_model import now_iso

RESULTS = ("PASS", "FAIL")
TOML_HEADER = ("05_pass_ledger.toml: the pass ledger's source of truth (append-only).\n"
               "Written by `dryrun verify`; 05_pass_ledger.md is rendered from it.")


@dataclass
class LedgerEntry:
    n: int
    at: str
    dry_id: str
    smk: list[str]
    attempt: int
    result: str
    log: str  # relative to dry_run/
    run_id: str = ""
    note: str = ""


def load_ledger(d: DryRunDir) -> list[LedgerEntry]:
    data = load_toml(d.pass_ledger_toml)
    if data is None:
        return []
    text = read_text(d.pass_ledger_toml) or ""
    headers = [n for n, ln in enumerate(text.splitlines(), start=1) if ln.strip() == "[[entries]]"]
    out: list[LedgerEntry] = []
    known = {f.name for f in fields(LedgerEntry)}
    for k, item in enumerate(data.get("entries", [])):
        line = headers[k] if k < len(headers) else None
        try:
            if not isinstance(item, dict):
                raise ValueError("each [[entries]] must be a table")
            unknown = set(item) - known
            if unknown:
                raise ValueError(f"unknown key(s) {', '.join(sorted(unknown))}")
            e = LedgerEntry(**item)
            check_dry_id(e.dry_id)
            if e.result not in RESULTS:
                raise ValueError(f"result must be PASS or FAIL, got {e.result!r}")
            if not isinstance(e.attempt, int) or e.attempt < 1:
                raise ValueError(f"attempt must be a positive integer, got {e.attempt!r}")
        except (TypeError, ValueError) as ex:
            raise RecordError(d.pass_ledger_toml, f"entry {k + 1}: {ex}", line=line) from None
        out.append(e)
    return out


def render_ledger(entries: list[LedgerEntry]) -> str:
    out = [
        "# 05 - Pass ledger",
        "",
        "Verify results of the fix loop (C2), appended by `dryrun verify`; rendered from `05_pass_ledger.toml`. "
        "Bounce back once: a first FAIL returns the entry to its developer; a second FAIL escalates it.",
        "",
    ]
    if not entries:
        return "\n".join(out + ["_No verify results yet._", ""])
    out += ["| # | When | DRY | SMK | Attempt | Result | Log | Note |",
            "|---|------|-----|-----|---------|--------|-----|------|"]
    for e in entries:
        note = e.note.replace("|", "\\|").replace("\n", " ") or "-"
        out.append(f"| {e.n} | {e.at} | {e.dry_id} | {', '.join(e.smk)} | {e.attempt} | {e.result} | "
                   f"`{e.log}` | {note} |")
    passed = sum(e.result == "PASS" for e in entries)
    out += ["", f"{len(entries)} results: {passed} PASS, {len(entries) - passed} FAIL.", ""]
    return "\n".join(out)


def preflight(d: DryRunDir) -> None:
    """Raise HandEditError now (before a verify run) if the .md would refuse the render."""
    RenderedFile(d, d.pass_ledger).guard(render_ledger(load_ledger(d)))


def append(d: DryRunDir, dry_id: str, smk: list[str], attempt: int, result: str, log: str, *,
           run_id: str = "", note: str = "", force_render: bool = False) -> tuple[LedgerEntry, str]:
    """Append one result. Returns (entry, warning); the warning is "" unless the .md was
    edited by hand and therefore not re-rendered."""
    if result not in RESULTS:
        raise ValueError(f"ledger result must be PASS or FAIL, got {result!r}")
    with DryRunLock(d):
        entries = load_ledger(d)
        entry = LedgerEntry(n=len(entries) + 1, at=now_iso(), dry_id=check_dry_id(dry_id), smk=list(smk),
                            attempt=attempt, result=result, log=log, run_id=run_id, note=note)
        old_render = render_ledger(entries)
        entries.append(entry)
        dump_toml(d.pass_ledger_toml, {"version": 1, "entries": [asdict(e) for e in entries]}, header=TOML_HEADER)
        rf = RenderedFile(d, d.pass_ledger)
        try:
            rf.guard(old_render, force=force_render)
        except HandEditError as e:
            return entry, f"{e} -- the entry is recorded in {d.pass_ledger_toml.name}; the .md was left as edited"
        rf.write(render_ledger(entries))
    return entry, ""


def rerender(d: DryRunDir, *, force: bool = False) -> None:
    with DryRunLock(d):
        entries = load_ledger(d)
        rf = RenderedFile(d, d.pass_ledger)
        text = render_ledger(entries)
        rf.guard(text, force=force)
        rf.write(text)
