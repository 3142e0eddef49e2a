"""``03_triage_register.md``: rendered from the TOML register, and parsed back for hand edits.

The render is a summary table plus one section per issue with ``- Field: value`` bullets
(the plan's issue template). The parser reads a (possibly hand-edited) file back into
raw field values with their line numbers; ``record.triage`` compares them with what was
last rendered and merges or refuses. Values are one line: newlines are written ``<br>``,
``|`` in table cells ``\\|``; an empty value is ``-``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from record.errors import HandEditError
from record.severity import SEVERITIES, TRIAGE_TIMEBOX_MIN
from record.triage_model import Issue

EMPTY = "-"
HEADER = "# 03 - Triage register"
TABLE_HEAD = "| ID | SMK | Sev | Cause | Decision | Owner/ETA | Status | Symptom |"
TABLE_RULE = "|----|-----|-----|-------|----------|-----------|--------|---------|"
TABLE_COLS = ("id", "smk", "severity", "cause", "decision", "owner_eta", "status", "symptom")

# bullet label -> field key ("owner_eta" splits into owner + eta)
BULLETS: dict[str, str] = {
    "Affected SMK": "smk",
    "Severity": "severity",
    "Cause class": "cause",
    "Symptom": "symptom",
    "Suspect area": "suspect",
    "Repro steps": "repro",
    "Owner/ETA": "owner_eta",
    "Decision": "decision",
    "Workaround": "workaround",
    "Status": "status",
    "Hosts": "hosts",
    "Triage timebox": "timebox",
    "Found in": "found_in",
    "Artifacts": "artifacts",
    "Fix evidence": "fix",
    "Verify": "verify",
    "Rules": "rules",
}
EDITABLE_KEYS = frozenset({"smk", "severity", "cause", "symptom", "suspect", "repro", "owner_eta", "decision",
                           "workaround"})
LABEL_OF = {v: k for k, v in BULLETS.items()}

_SECTION = re.compile(r"^## (DRY-\d{2,})\s*$")
_BULLET = re.compile(r"^- ([^:]+):(?: (.*))?$")


def esc(value: str, *, cell: bool = False) -> str:
    v = value.strip()
    if not v:
        return EMPTY
    v = v.replace("\r\n", "\n").replace("\n", "<br>")
    if cell:
        v = v.replace("|", "\\|")
    return v


def unesc(raw: str, *, cell: bool = False) -> str:
    v = raw.strip()
    if v == EMPTY:
        return ""
    if cell:
        v = v.replace("\\|", "|")
    return v.replace("<br>", "\n")


def owner_eta(issue: Issue) -> str:
    if not issue.owner and not issue.eta:
        return EMPTY
    return f"{issue.owner or EMPTY} / {issue.eta or EMPTY}"


def split_owner_eta(raw: str) -> tuple[str, str]:
    v = raw.strip()
    if v in ("", EMPTY):
        return "", ""
    owner, sep, eta = v.partition(" / ")
    if not sep:
        owner, sep, eta = v.partition("/")
    owner, eta = owner.strip(), eta.strip()
    return ("" if owner == EMPTY else owner), ("" if eta == EMPTY else eta)


def render_register(issues: list[Issue]) -> str:
    sev = " ".join(f"{s.code} = {s.colour} ({s.level}): {s.meaning}." for s in SEVERITIES.values())
    out = [
        HEADER,
        "",
        "Rendered from `03_triage_register.toml` by `dryrun triage`. You may edit the fields below by hand: "
        "edits are merged into the TOML when unambiguous, or refused naming the line.",
        "",
        f"**Severity (R/A/G):** {sev}",
        "",
        f"**Triage timebox:** {TRIAGE_TIMEBOX_MIN} min per issue. **Rules:** a Red needs an owner and an ETA; "
        "a Workaround decision needs its workaround text.",
        "",
    ]
    if not issues:
        out += ["_No issues yet._", ""]
        return "\n".join(out)
    out += [TABLE_HEAD, TABLE_RULE]
    for i in issues:
        cells = [i.id, ", ".join(i.smk), i.severity, i.cause, i.decision, owner_eta(i), i.status, i.symptom]
        out.append("| " + " | ".join(esc(c, cell=True) if c != EMPTY else EMPTY for c in cells) + " |")
    out.append("")
    for i in issues:
        tb = i.timebox()
        found = EMPTY
        if i.log_ref:
            log, _, lines = i.log_ref.partition(":")
            found = f"`{log}`" + (f" lines {lines}" if lines else "") + (f" (run {i.run_id})" if i.run_id else "")
        elif i.run_label:
            found = f"run {i.run_label}" + (f" ({i.run_id})" if i.run_id else "")
        fix = EMPTY
        if i.fix_lines >= 0:
            fix = f"`fixes/{i.id}/` (patch.diff, {i.fix_lines} changed lines)"
        bullets = {
            "smk": ", ".join(i.smk),
            "severity": i.severity_label,
            "cause": i.cause,
            "symptom": i.symptom,
            "suspect": i.suspect,
            "repro": i.repro,
            "owner_eta": owner_eta(i),
            "decision": i.decision,
            "workaround": i.workaround,
            "status": i.status + (" (escalated)" if i.escalated and i.status != "escalated" else ""),
            "hosts": ", ".join(i.hosts),
            "timebox": f"{tb['minutes']} min, {tb['start']} - {tb['end'][11:]}" if tb["start"] else f"{tb['minutes']} min",
            "found_in": found,
            "artifacts": ", ".join(f"`{a}`" for a in i.artifacts),
            "fix": fix,
            "verify": ", ".join(f"attempt {n} {r}" for n, r in enumerate(i.verify_results, start=1)),
            "rules": "BROKEN: " + "; ".join(v.split(": ", 1)[1] for v in i.violations()) if i.violations() else "OK",
        }
        out += [f"## {i.id}", ""]
        for key, value in bullets.items():
            text = value if key in ("found_in", "artifacts", "fix", "rules", "owner_eta") else esc(value)
            out.append(f"- {LABEL_OF[key]}: {text or EMPTY}")
        out.append("")
    return "\n".join(out)


@dataclass
class ParsedRegister:
    table: dict[str, dict[str, tuple[str, int]]] = field(default_factory=dict)     # id -> key -> (raw, line)
    sections: dict[str, dict[str, tuple[str, int]]] = field(default_factory=dict)  # id -> key -> (raw, line)
    other: list[tuple[int, str]] = field(default_factory=list)                    # (line, text), non-blank
    first_line: dict[str, int] = field(default_factory=dict)                       # id -> first line seen


def parse_register(text: str, path: str) -> ParsedRegister:
    """Raw values of every table cell and bullet, keyed by DRY id. HandEditError (file:line)
    when the structure is broken (unknown bullet, bad row, duplicate...)."""
    p = ParsedRegister()
    current: str | None = None
    for n, line in enumerate(text.splitlines(), start=1):
        s = line.rstrip()
        if m := _SECTION.match(s):
            current = m.group(1)
            if current in p.sections:
                raise HandEditError(path, f"section {current} appears twice", line=n)
            p.sections[current] = {}
            p.first_line.setdefault(current, n)
            continue
        if s.startswith("## ") or s.startswith("# "):
            current = None
            p.other.append((n, s))
            continue
        if s.startswith("| DRY-") or (s.startswith("|") and re.match(r"^\|\s*DRY-", s)):
            cells = _split_row(s)
            if len(cells) != len(TABLE_COLS):
                raise HandEditError(path, f"table row has {len(cells)} cells, expected {len(TABLE_COLS)} "
                                    f"({', '.join(TABLE_COLS)})", line=n)
            rid = cells[0].strip()
            if not re.fullmatch(r"DRY-\d{2,}", rid):
                raise HandEditError(path, f"expected a DRY-<nn> id in the first cell, got {rid!r}", line=n)
            if rid in p.table:
                raise HandEditError(path, f"{rid} has two table rows", line=n)
            p.table[rid] = {k: (c, n) for k, c in zip(TABLE_COLS[1:], cells[1:])}
            p.first_line.setdefault(rid, n)
            continue
        if current is not None and s.startswith("- "):
            m = _BULLET.match(s)
            label = m.group(1).strip() if m else ""
            if not m or label not in BULLETS:
                known = ", ".join(BULLETS)
                raise HandEditError(path, f"{current}: unknown field line {s!r} (fields are: {known})", line=n)
            key = BULLETS[label]
            if key in p.sections[current]:
                raise HandEditError(path, f"{current}: field {label!r} appears twice", line=n)
            p.sections[current][key] = ((m.group(2) or "").strip(), n)
            continue
        if s.strip():
            p.other.append((n, s))
    return p


def _split_row(line: str) -> list[str]:
    body = line.strip()
    if body.startswith("|"):
        body = body[1:]
    if body.endswith("|") and not body.endswith("\\|"):
        body = body[:-1]
    cells, cur, i = [], [], 0
    while i < len(body):
        if body[i] == "\\" and i + 1 < len(body) and body[i + 1] == "|":
            cur.append("\\|")
            i += 2
            continue
        if body[i] == "|":
            cells.append("".join(cur).strip())
            cur = []
        else:
            cur.append(body[i])
        i += 1
    cells.append("".join(cur).strip())
    return cells
