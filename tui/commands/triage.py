"""``dryrun triage add|list|show|decide|edit|sync``: the DRY-nn register (seed 000, B2).

The register's truth is dry_run/03_triage_register.toml; 03_triage_register.md is rendered
from it, and hand edits of the .md are merged (or refused naming the line) by every
triage command."""

from __future__ import annotations

import argparse

from tui.commands._common import EXIT_FAILED, add_config_arg, add_json_arg, print_json
from tui.commands._record import add_sub_config_arg, context, record_command, rel, warn


def _fields(p: argparse.ArgumentParser, *, smk_required: bool = False) -> None:
    p.add_argument("--smk", default=None, metavar="IDS", help="affected SMK id(s): SMK-3 or 'SMK-3,SMK-5'")
    p.add_argument("--severity", "--sev", dest="severity", default=None, metavar="R|A|G",
                   help="R = Red (Critical: blocks SMK, fix now), A = Amber (Major: fix if < 0.5 day), "
                        "G = Green (Minor: post-CDR)")
    p.add_argument("--cause", default=None, metavar="CLASS", help="cause class: product | test | environment")
    p.add_argument("--symptom", default=None, help="what was seen")
    p.add_argument("--suspect", default=None, metavar="AREA", help="suspect area")
    p.add_argument("--repro", default=None, metavar="STEPS", help="repro steps")
    p.add_argument("--owner", default=None, help="owner (a Red needs one)")
    p.add_argument("--eta", default=None, help="ETA (a Red needs one)")
    p.add_argument("--decision", default=None, metavar="DECISION", help="Fix now | Defer | Workaround")
    p.add_argument("--workaround", default=None, metavar="TEXT", help="the workaround (required by Workaround)")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "triage", help="the DRY-nn triage register: add, list, show, decide, edit",
        description="Keep the triage register (03_triage_register.md, rendered from 03_triage_register.toml): "
                    "DRY-nn entries with affected SMK, symptom, suspect area, repro, owner/ETA, decision "
                    "(Fix now | Defer | Workaround), R/A/G severity, cause class and links to the failing run.")
    add_config_arg(p)
    tsub = p.add_subparsers(dest="triage_command", metavar="ACTION", required=True)

    a = tsub.add_parser("add", help="add an entry (prefilled from a failure with --from)",
                        description="Add a DRY-nn entry. --from SMK-n[@host] prefills it from that failure of "
                                    "the latest smoke run (or --run LABEL): symptom, suspect area, repro, host, "
                                    "links to the log lines and artifacts; severity defaults to R.")
    add_sub_config_arg(a)
    a.add_argument("--from", dest="from_failure", nargs="?", const="", default=None, metavar="SMK-n[@HOST]",
                   help="prefill from this failure (bare --from: the run's only failure)")
    a.add_argument("--run", default="", metavar="LABEL|RUN_ID", help="the run to take the failure from")
    a.add_argument("--host", dest="hosts", action="append", default=None, metavar="NAME", help="affected host")
    _fields(a)
    add_json_arg(a)
    a.set_defaults(func=add)

    ls = tsub.add_parser("list", help="list entries", description="List the register's entries.")
    add_sub_config_arg(ls)
    ls.add_argument("--open", action="store_true", help="only unresolved entries")
    add_json_arg(ls)
    ls.set_defaults(func=list_)

    sh = tsub.add_parser("show", help="show one entry", description="Show one entry with its history.")
    add_sub_config_arg(sh)
    sh.add_argument("dry_id", metavar="DRY-nn")
    add_json_arg(sh)
    sh.set_defaults(func=show)

    de = tsub.add_parser("decide", help="record the triage decision of an entry",
                         description="Record the decision (Fix now | Defer | Workaround). A Red needs an owner "
                                     "and an ETA; a Workaround needs its text.")
    add_sub_config_arg(de)
    de.add_argument("dry_id", metavar="DRY-nn")
    de.add_argument("decision_arg", metavar="DECISION", help='"Fix now" | Defer | Workaround')
    de.add_argument("--owner", default=None)
    de.add_argument("--eta", default=None)
    de.add_argument("--workaround", default=None, metavar="TEXT")
    de.add_argument("--severity", "--sev", dest="severity", default=None, metavar="R|A|G")
    de.add_argument("--cause", default=None, metavar="CLASS")
    add_json_arg(de)
    de.set_defaults(func=decide)

    ed = tsub.add_parser("edit", help="change fields of an entry", description="Change fields of an entry.")
    add_sub_config_arg(ed)
    ed.add_argument("dry_id", metavar="DRY-nn")
    _fields(ed)
    add_json_arg(ed)
    ed.set_defaults(func=edit)

    sy = tsub.add_parser("sync", help="merge hand edits of 03_triage_register.md now",
                         description="Merge hand edits of the .md into the TOML (or say why not, with the line).")
    add_sub_config_arg(sy)
    add_json_arg(sy)
    sy.set_defaults(func=sync)


_EDITABLE = ("smk", "severity", "cause", "symptom", "suspect", "repro", "owner", "eta", "decision", "workaround")


def _values(args: argparse.Namespace) -> dict:
    return {k: getattr(args, k) for k in _EDITABLE if getattr(args, k, None) is not None}


def _row(i) -> dict:
    d = i.to_dict()
    d["violations"] = i.violations()
    d["timebox"] = i.timebox()
    d["title"] = i.title
    return d


def _line(i) -> str:
    owner = f"{i.owner or '-'} / {i.eta or '-'}"
    flag = "  [" + "; ".join(v.split(': ', 1)[1] for v in i.violations()) + "]" if i.violations() else ""
    over = "  [triage timebox over]" if i.timebox()["over"] else ""
    return (f"{i.id}  {i.severity}  {','.join(i.smk):<12} {i.status:<10} {i.decision or 'undecided':<10} "
            f"{owner:<24} {i.title}{flag}{over}")


def _merged_note(reg_changes: list[str]) -> None:
    for c in reg_changes:
        print(f"merged hand edit: {c}")


@record_command
def add(args: argparse.Namespace) -> int:
    from record.failures import pick_failure
    from record.triage import add_issue

    cfg, d, log = context(args)
    values, extra = {}, {}
    if args.from_failure is not None:
        f = pick_failure(d, args.from_failure, args.run)
        values, extra = f.prefill()
    values.update(_values(args))
    if args.hosts:
        extra["hosts"] = list(dict.fromkeys(args.hosts))
    issue = add_issue(d, values, log=log, extra=extra)
    if args.json:
        print_json(_row(issue))
        return 0
    print(f"added {issue.id} ({issue.severity_label}, {', '.join(issue.smk)}) to {rel(d, d.triage_register)}")
    if issue.log_ref:
        print(f"  found in: {issue.log_ref}")
    for v in issue.violations():
        warn(v)
    print(f"  triage timebox: {issue.timebox()['minutes']} min, until {issue.timebox()['end'][11:]}")
    return 0


@record_command
def list_(args: argparse.Namespace) -> int:
    from record.triage import open_register

    cfg, d, log = context(args)
    with open_register(d, log=log) as reg:
        issues = [i for i in reg.sorted() if not (args.open and i.resolved)]
        merged = list(reg.merged)
    if args.json:
        print_json({"issues": [_row(i) for i in issues], "merged_hand_edits": merged})
        return 0
    _merged_note(merged)
    if not issues:
        print("no entries" + (" open" if args.open else "") + f" in {rel(d, d.triage_register)}")
        return 0
    print("ID      Sev SMK          Status     Decision   Owner / ETA              Symptom")
    for i in issues:
        print(_line(i))
    return 0


@record_command
def show(args: argparse.Namespace) -> int:
    from record.triage import open_register

    cfg, d, log = context(args)
    with open_register(d, log=log) as reg:
        i = reg.get(args.dry_id)
        merged = list(reg.merged)
    if args.json:
        print_json(_row(i))
        return 0
    _merged_note(merged)
    print(f"{i.id}: {i.title}")
    for label, v in (("Affected SMK", ", ".join(i.smk)), ("Hosts", ", ".join(i.hosts)),
                     ("Severity", i.severity_label), ("Cause class", i.cause), ("Symptom", i.symptom),
                     ("Suspect area", i.suspect), ("Repro steps", i.repro), ("Owner/ETA", f"{i.owner} / {i.eta}"),
                     ("Decision", i.decision), ("Workaround", i.workaround), ("Status", i.status),
                     ("Found in", i.log_ref or i.run_label), ("Artifacts", ", ".join(i.artifacts)),
                     ("Fix evidence", f"{i.fix_lines} changed lines" if i.fix_lines >= 0 else ""),
                     ("Verify", ", ".join(i.verify_results)), ("Rules", "; ".join(i.violations()) or "OK")):
        print(f"  {label + ':':<14} {v or '-'}")
    print("  History:")
    for h in i.history:
        print(f"    {h['at']}  {h['change']}")
    return 0


@record_command
def decide(args: argparse.Namespace) -> int:
    from record.triage import decide as do_decide

    cfg, d, log = context(args)
    i = do_decide(d, args.dry_id, args.decision_arg, owner=args.owner, eta=args.eta, workaround=args.workaround,
                  severity=args.severity, cause=args.cause, log=log)
    if args.json:
        print_json(_row(i))
    else:
        print(f"{i.id}: {i.decision} ({i.severity_label}; owner {i.owner or '-'}, ETA {i.eta or '-'})")
    return 0


@record_command
def edit(args: argparse.Namespace) -> int:
    from record.triage import update_issue

    cfg, d, log = context(args)
    values = _values(args)
    if not values:
        from tui.commands._common import CommandError

        raise CommandError("nothing to change: give at least one of --" + ", --".join(_EDITABLE))
    i = update_issue(d, args.dry_id, values, log=log)
    if args.json:
        print_json(_row(i))
    else:
        print(f"updated {i.id}: " + ", ".join(f"{k}={getattr(i, k)!r}" for k in values))
        for v in i.violations():
            warn(v)
    return 0


@record_command
def sync(args: argparse.Namespace) -> int:
    from record.triage import sync as do_sync

    cfg, d, log = context(args)
    changes = do_sync(d, log=log)
    if args.json:
        print_json({"merged": changes})
    elif changes:
        _merged_note(changes)
    else:
        print(f"{rel(d, d.triage_register)}: no hand edits to merge")
    return 0 if changes is not None else EXIT_FAILED
