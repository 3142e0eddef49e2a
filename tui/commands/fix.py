"""``dryrun fix DRY-nn``: record fix evidence, fixes/DRY-nn/{patch.diff, before_after.log} (seed 000, C1)."""

from __future__ import annotations

import argparse
from pathlib import Path

from tui.commands._common import CommandError, add_config_arg, add_json_arg, print_json
from tui.commands._record import context, record_command, rel


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fix", help="record fix evidence for a DRY entry (patch.diff, before_after.log)",
        description="Write dry_run/fixes/DRY-nn/patch.diff (from a patch file or a git range) and "
                    "before_after.log (the failing run's log lines, then the developer's evidence; verify "
                    "results are appended later). The entry becomes fix_ready.")
    add_config_arg(p)
    p.add_argument("dry_id", metavar="DRY-nn")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--patch", type=Path, metavar="FILE", help="a unified diff")
    src.add_argument("--git", metavar="RANGE", help="a git range, e.g. v1.2.0-cdr..fix/DRY-03 (git diff RANGE)")
    p.add_argument("--repo", type=Path, default=Path("."), metavar="DIR", help="repository for --git (default .)")
    p.add_argument("--after", type=Path, default=None, metavar="FILE",
                   help="the developer's 'after' evidence (a local test log)")
    add_json_arg(p)
    p.set_defaults(func=run)


@record_command
def run(args: argparse.Namespace) -> int:
    from record.fixes import patch_from_file, patch_from_git, record_fix
    from record.prompts import say

    cfg, d, log = context(args)
    if args.patch is not None:
        patch, source = patch_from_file(args.patch), f"file {args.patch.name}"
    else:
        patch, source = patch_from_git(args.git, args.repo), f"git {args.git}"
    after, after_source = "", ""
    if args.after is not None:
        try:
            after = args.after.read_text("utf-8", errors="replace")
        except OSError as e:
            raise CommandError(f"--after {args.after}: {e.strerror or e}") from None
        after_source = args.after.name
    res = record_fix(d, args.dry_id, patch, source, after=after, after_source=after_source, log=log)
    prompt = say("fix", cfg, d, res.issue.id)
    if args.json:
        print_json({"dry_id": res.issue.id, "lines": res.lines, "status": res.issue.status,
                    "patch": rel(d, res.patch_path), "before_after": rel(d, res.before_after_path),
                    "prompt": prompt})
        return 0
    print(f"{res.issue.id}: fix evidence in {rel(d, res.patch_path.parent)}/ ({res.lines} changed lines); "
          f"status {res.issue.status}")
    print(prompt)
    return 0
