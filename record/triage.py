"""The DRY-nn triage register: TOML source of truth, rendered .md, hand-edit merge.

``03_triage_register.toml`` (written with tomli-w) is the truth; ``03_triage_register.md``
is rendered from it after every change. Every operation runs under the dry_run/ lock as
load -> merge hand edits -> change -> write TOML (the acknowledgement point) -> render .md,
so two consoles never lose an entry and a kill leaves both files parseable.

Hand edits of the .md are found by comparing it with what was last rendered
(``record.rendered``). They are merged field by field (a three-way merge: last render,
the edited file, the TOML now) when unambiguous; a field changed both in the .md and in
the TOML since the render, a read-only field, a removed or added entry, or text outside
the fields is refused with a HandEditError naming the file and line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from record.errors import HandEditError, RecordError, RuleError
from record.events_log import EventsLog
from record.layout import DryRunDir, check_dry_id
from record.lock import DryRunLock
from record.rendered import RenderedFile
from record.tomlio import dump_toml, line_of, load_toml, read_text
from record.triage_md import (
    EDITABLE_KEYS,
    LABEL_OF,
    ParsedRegister,
    parse_register,
    render_register,
    split_owner_eta,
    unesc,
)
from record.triage_model import Issue, normalise, now_iso

TOML_HEADER = ("03_triage_register.toml: the triage register's source of truth (the plan's B2).\n"
               "Written by `dryrun triage`; 03_triage_register.md is rendered from it.")


@dataclass
class Register:
    d: DryRunDir
    issues: dict[str, Issue] = field(default_factory=dict)
    merged: list[str] = field(default_factory=list)  # hand edits merged while loading

    def get(self, dry_id: str) -> Issue:
        dry_id = normalise_id(dry_id)
        try:
            return self.issues[dry_id]
        except KeyError:
            known = ", ".join(sorted(self.issues)) or "none yet"
            raise RecordError(self.d.triage_toml, f"no triage entry {dry_id} (entries: {known})") from None

    def sorted(self) -> list[Issue]:
        return [self.issues[k] for k in sorted(self.issues, key=_id_num)]

    def next_id(self) -> str:
        n = max((_id_num(k) for k in self.issues), default=0) + 1
        return f"DRY-{n:02d}"

    def render(self) -> str:
        return render_register(self.sorted())


def normalise_id(text: str) -> str:
    t = text.strip().upper().replace("_", "-")
    if re.fullmatch(r"\d+", t):
        t = f"DRY-{int(t):02d}"
    elif m := re.fullmatch(r"DRY-?(\d+)", t):
        t = f"DRY-{int(m.group(1)):02d}"
    return check_dry_id(t)


def _id_num(dry_id: str) -> int:
    return int(dry_id.split("-")[1])


# --------------------------------------------------------------------------- load / save

def _load_toml(d: DryRunDir) -> dict[str, Issue]:
    data = load_toml(d.triage_toml)
    if data is None:
        return {}
    text = read_text(d.triage_toml) or ""
    raw = data.get("issues", [])
    extra = sorted(set(data) - {"version", "issues"})
    if extra:
        raise RecordError(d.triage_toml, f"unknown top-level key(s): {', '.join(extra)} (expected version, [[issues]])",
                          line=line_of(text, extra[0]))
    if not isinstance(raw, list):
        raise RecordError(d.triage_toml, "'issues' must be an array of tables ([[issues]])", line=line_of(text, "issues"))
    out: dict[str, Issue] = {}
    for k, item in enumerate(raw):
        # line of the k-th [[issues]] header, for messages
        headers = [n for n, ln in enumerate(text.splitlines(), start=1) if ln.strip() == "[[issues]]"]
        line = headers[k] if k < len(headers) else None
        if not isinstance(item, dict):
            raise RecordError(d.triage_toml, "each [[issues]] entry must be a table", line=line)
        try:
            issue = Issue.from_dict(item)
        except (ValueError, TypeError) as e:
            ident = item.get("id", f"entry {k + 1}")
            raise RecordError(d.triage_toml, f"{ident}: {e}", line=line) from None
        if issue.id in out:
            raise RecordError(d.triage_toml, f"{issue.id} appears twice", line=line)
        out[issue.id] = issue
    return out


def _save(reg: Register) -> None:
    dump_toml(reg.d.triage_toml, {"version": 1, "issues": [i.to_dict() for i in reg.sorted()]}, header=TOML_HEADER)


def _render(reg: Register) -> None:
    RenderedFile(reg.d, reg.d.triage_register).write(reg.render())


def load_register(d: DryRunDir) -> Register:
    """Read-only view (hand edits of the .md are not merged: use ``open_register``)."""
    return Register(d, _load_toml(d))


def pending_hand_edit(d: DryRunDir, reg: Register | None = None) -> bool:
    """Whether 03_triage_register.md was edited by hand since the record rendered it
    (``reg``: the register as loaded already, else it is loaded)."""
    reg = reg if reg is not None else load_register(d)
    return RenderedFile(d, d.triage_register).edited(reg.render()) is not None


@contextmanager
def open_register(d: DryRunDir, *, log: EventsLog | None = None, write: bool = True) -> Iterator[Register]:
    """Lock, load, merge hand edits; on a clean exit save the TOML then re-render the .md."""
    with DryRunLock(d):
        reg = Register(d, _load_toml(d))
        merged = reg.merged = merge_hand_edits(reg)
        before = {k: v.to_dict() for k, v in reg.issues.items()}
        yield reg
        changed = merged or before != {k: v.to_dict() for k, v in reg.issues.items()}
        if write and changed:
            _save(reg)
        if write:
            _render(reg)  # also heals a .md left behind by a kill between TOML and .md
        if merged and log:
            log.append({"kind": "triage_hand_edit_merged", "changes": merged})


# --------------------------------------------------------------------------- hand edits

def _choose_base(rf: RenderedFile, current: ParsedRegister, path: str) -> ParsedRegister:
    side = rf.sidecar()
    if side is None:
        raise HandEditError(path, "was changed, but there is no record of what `dryrun` last rendered "
                            f"({rf.sidecar_path.name} is missing), so the edit cannot be merged safely", line=1,
                            hint="move the file away to re-render it from 03_triage_register.toml, "
                                 "or edit the TOML instead")
    best: tuple[int, ParsedRegister] | None = None
    for text in (side.text, side.prev_text):
        if not text:
            continue
        try:
            parsed = parse_register(text, str(rf.sidecar_path))
        except HandEditError:
            continue
        diff = sum(parsed.sections.get(i, {}).get(k, ("", 0))[0] != v[0]
                   for i, sec in current.sections.items() for k, v in sec.items())
        if best is None or diff < best[0]:
            best = (diff, parsed)
    if best is None:
        raise RecordError(rf.sidecar_path, "the last render cannot be parsed; delete it and re-render")
    return best[1]


def merge_hand_edits(reg: Register) -> list[str]:
    """Merge edits of the .md into ``reg`` (in memory). Returns what changed, [] if none."""
    d = reg.d
    rf = RenderedFile(d, d.triage_register)
    hit = rf.edited(reg.render())
    if hit is None:
        return []
    cur_text, _side = hit
    path = str(d.triage_register)
    cur = parse_register(cur_text, path)
    base = _choose_base(rf, cur, path)

    # Text outside the fields would be lost by the next render: refuse it.
    base_other = [t for _, t in base.other]
    for k, (n, t) in enumerate(cur.other):
        if k >= len(base_other) or base_other[k] != t:
            raise HandEditError(path, f"text outside the register's fields would be lost by the next render: {t!r}",
                                line=n, hint="put notes in a field (e.g. Repro steps or Suspect area), or in "
                                "another file")
    if len(cur.other) < len(base_other):
        n = cur.other[-1][0] if cur.other else 1
        raise HandEditError(path, f"a line of the register's text was removed: {base_other[len(cur.other)]!r}", line=n)

    # Entries: no adding or removing by hand.
    for rid in sorted(set(cur.table) | set(cur.sections), key=_id_num):
        if rid not in base.sections and rid not in base.table:
            raise HandEditError(path, f"{rid} was added by hand; add entries with `dryrun triage add`",
                                line=cur.first_line.get(rid))
        if rid not in reg.issues:
            raise HandEditError(path, f"{rid} is not in 03_triage_register.toml any more", line=cur.first_line.get(rid))
    for rid in set(base.sections) | set(base.table):
        if rid not in cur.sections or rid not in cur.table:
            where = "table row" if rid not in cur.table else "section"
            raise HandEditError(path, f"the {where} of {rid} was removed; entries cannot be removed by editing "
                                "the .md", line=cur.first_line.get(rid, 1))
        if set(base.sections[rid]) != set(cur.sections[rid]):
            missing = sorted(set(base.sections[rid]) - set(cur.sections[rid]))
            label = LABEL_OF.get(missing[0], missing[0]) if missing else "?"
            raise HandEditError(path, f"{rid}: the field line {label!r} was removed", line=cur.first_line.get(rid))

    # Field edits from both places (table cell, section bullet), with their lines.
    edits: dict[tuple[str, str], tuple[Any, Any, int]] = {}  # (id, field) -> (new, base, line)
    for source, cell in (("table", True), ("sections", False)):
        b_src, c_src = getattr(base, source), getattr(cur, source)
        for rid, fields_ in c_src.items():
            for key, (raw, n) in fields_.items():
                if raw == b_src[rid][key][0]:
                    continue
                if key not in EDITABLE_KEYS:
                    label = LABEL_OF.get(key, key)
                    raise HandEditError(path, f"{rid}: {label!r} is set by dryrun and cannot be edited here "
                                        f"(was {b_src[rid][key][0]!r}, now {raw!r})", line=n)
                for fname, new_raw, base_raw in _split(key, unesc(raw, cell=cell),
                                                       unesc(b_src[rid][key][0], cell=cell)):
                    if new_raw == base_raw:
                        continue
                    try:
                        new_val = normalise(fname, new_raw)
                    except ValueError as e:
                        raise HandEditError(path, f"{rid}: {e}", line=n) from None
                    try:
                        base_val = normalise(fname, base_raw)
                    except ValueError:
                        base_val = [] if fname == "smk" else ""
                    k = (rid, fname)
                    if k in edits and edits[k][0] != new_val:
                        raise HandEditError(path, f"{rid}: {fname} edited twice with different values "
                                            f"({edits[k][0]!r} at line {edits[k][2]}, {new_val!r} here)", line=n)
                    edits[k] = (new_val, base_val, n)

    changes: dict[str, list[str]] = {}
    for (rid, fname), (new_val, base_val, n) in sorted(edits.items()):
        issue = reg.issues[rid]
        now = getattr(issue, fname)
        if now == new_val:
            continue
        if now != base_val:
            raise HandEditError(path, f"{rid}: {fname} was changed in the .md (to {new_val!r}) and in the register "
                                f"since it was rendered (to {now!r}); refusing to guess", line=n,
                                hint="undo one of the two edits, then retry")
        setattr(issue, fname, new_val)
        changes.setdefault(rid, []).append(f"{fname}: {now!r} -> {new_val!r} (line {n})")
    for rid, what in changes.items():
        issue = reg.issues[rid]
        if issue.decision == "Workaround" and not issue.workaround.strip():
            line = edits[(rid, "decision")][2] if (rid, "decision") in edits else \
                cur.sections[rid].get("workaround", ("", None))[1]
            raise HandEditError(path, f"{rid}: a Workaround decision needs its workaround text (fill the "
                                "Workaround field)", line=line)
        issue.note("hand edit of 03_triage_register.md merged: " + "; ".join(what))
    return [f"{rid} {c}" for rid, what in changes.items() for c in what]


def _split(key: str, new_raw: str, base_raw: str) -> list[tuple[str, str, str]]:
    if key == "owner_eta":
        no, ne = split_owner_eta(new_raw)
        bo, be = split_owner_eta(base_raw)
        return [("owner", no, bo), ("eta", ne, be)]
    return [(key, new_raw, base_raw)]


# --------------------------------------------------------------------------- operations

def check_rules(issue: Issue, *, deciding: bool) -> None:
    """Writes refuse a Workaround without text always, and a decided Red without owner/ETA."""
    if issue.decision == "Workaround" and not issue.workaround.strip():
        raise RuleError(None, f"{issue.id}: a Workaround decision needs its workaround text (--workaround TEXT)")
    if (deciding or issue.decision) and issue.severity == "R" and not (issue.owner.strip() and issue.eta.strip()):
        raise RuleError(None, f"{issue.id}: a Red needs an owner and an ETA before it gets a decision "
                        "(--owner NAME --eta WHEN)")


def add_issue(d: DryRunDir, values: dict[str, Any], *, log: EventsLog | None = None,
              extra: dict[str, Any] | None = None) -> Issue:
    """A new DRY-nn entry from editable ``values`` (smk required) and record-set ``extra``
    (hosts, run_id, run_label, log_ref, artifacts, fault)."""
    with open_register(d, log=log) as reg:
        issue = Issue(id=reg.next_id(), smk=[])
        for k, v in values.items():
            if v is not None:
                try:
                    issue.set_field(k, v)
                except ValueError as e:
                    raise RecordError(None, str(e)) from None
        if not issue.smk:
            raise RecordError(None, "affected SMK: at least one SMK id is required (--smk SMK-3)")
        for k, v in (extra or {}).items():
            setattr(issue, k, v)
        check_rules(issue, deciding=bool(issue.decision))
        issue.created = issue.created or now_iso()
        issue.note("created" + (f" from failure in {issue.run_label}" if issue.run_label else ""), at=issue.created)
        reg.issues[issue.id] = issue
    if log:
        log.append({"kind": "triage_added", "dry_id": issue.id, "smk": issue.smk, "severity": issue.severity,
                    "hosts": issue.hosts, "from_run": issue.run_id}, dry_id=issue.id)
    return issue


def update_issue(d: DryRunDir, dry_id: str, values: dict[str, Any], *, deciding: bool = False,
                 log: EventsLog | None = None, event: str = "triage_updated") -> Issue:
    with open_register(d, log=log) as reg:
        issue = reg.get(dry_id)
        changed = []
        for k, v in values.items():
            if v is None:
                continue
            old = getattr(issue, k)
            try:
                if issue.set_field(k, v):
                    changed.append(f"{k}: {old!r} -> {getattr(issue, k)!r}")
            except ValueError as e:
                raise RecordError(None, f"{issue.id}: {e}") from None
        check_rules(issue, deciding=deciding)
        if changed:
            issue.note(("decided: " if deciding else "edited: ") + "; ".join(changed))
    if log and changed:
        log.append({"kind": event, "dry_id": issue.id, "changes": changed, "decision": issue.decision,
                    "severity": issue.severity}, dry_id=issue.id)
    return issue


def decide(d: DryRunDir, dry_id: str, decision: str, *, owner: str | None = None, eta: str | None = None,
           workaround: str | None = None, severity: str | None = None, cause: str | None = None,
           log: EventsLog | None = None) -> Issue:
    values = {"severity": severity, "cause": cause, "owner": owner, "eta": eta, "workaround": workaround,
              "decision": decision}
    return update_issue(d, dry_id, values, deciding=True, log=log, event="triage_decided")


def mutate(d: DryRunDir, dry_id: str, fn: Callable[[Issue], str], *, log: EventsLog | None = None,
           event: str = "") -> Issue:
    """Record-driven change of one entry (fix evidence, verify results, its hosts): ``fn``
    changes the issue and returns the history note. ``event``: also write the change to the
    events log under that kind (an operator's edit is on the audit trail like any other)."""
    with open_register(d, log=log) as reg:
        issue = reg.get(dry_id)
        note = fn(issue)
        if note:
            issue.note(note)
    if log and event and note:
        log.append({"kind": event, "dry_id": issue.id, "changes": [note], "decision": issue.decision,
                    "severity": issue.severity}, dry_id=issue.id)
    return issue


def sync(d: DryRunDir, *, log: EventsLog | None = None) -> list[str]:
    """Merge pending hand edits and re-render; returns the merged changes."""
    with open_register(d, log=log) as reg:
        return list(reg.merged)
