"""``dryrun pack [--verify [DIR]]``: the evidence pack (seed 003): MANIFEST.json,
SHA256SUMS.txt (``sha256sum -c`` accepts it), toolchain.json; no absolute paths, no secrets."""

from __future__ import annotations

import argparse
from pathlib import Path

from tui.commands._common import EXIT_FAILED, add_config_arg, add_json_arg, print_json
from tui.commands._record import context, record_command


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "pack", help="build (or --verify) the evidence pack of dry_run/",
        description="Copy every dry_run/ file into an evidence pack (default: dry_run_pack/ beside dry_run/) with "
                    "SHA256SUMS.txt, MANIFEST.json, toolchain.json and verify.sh. Local absolute paths are "
                    "replaced by placeholders; a file holding a configured secret or a JWT refuses the pack. "
                    "--verify checks a pack (exit 1 on any problem).")
    add_config_arg(p)
    p.add_argument("--out", type=Path, default=None, metavar="DIR", help="where to write the pack")
    p.add_argument("--verify", nargs="?", const="", default=None, metavar="DIR",
                   help="verify a pack instead of building one (default: the pack beside dry_run/)")
    add_json_arg(p)
    p.set_defaults(func=run)


@record_command
def run(args: argparse.Namespace) -> int:
    from record.pack import build_pack, verify_pack
    from record.redact import configured_secrets

    cfg, d, log = context(args)
    if args.verify is not None:
        path = Path(args.verify) if args.verify else (args.out or d.pack_dir)
        rep = verify_pack(path, secrets=configured_secrets(cfg))
        log.append({"kind": "pack_verified", "ok": rep.ok, "files": rep.files, "problems": len(rep.problems),
                    "pack": path.name})
        if args.json:
            print_json(rep.to_dict())
        else:
            print(f"{path}: {'OK' if rep.ok else 'PROBLEMS'} ({rep.files} files)")
            for pr in rep.problems:
                print(f"  {pr}")
        return 0 if rep.ok else EXIT_FAILED
    res = build_pack(cfg, d, out=args.out, log=log)
    if args.json:
        print_json({"path": str(res.path), "files": res.files, "bytes": res.bytes, "rewritten": res.rewritten,
                    "decision": res.manifest.get("decision", ""), "env_sha": res.manifest.get("env_sha", "")})
        return 0
    print(f"evidence pack: {res.path} ({res.files} files, {res.bytes} bytes)")
    if res.rewritten:
        print(f"  absolute paths replaced in {len(res.rewritten)} file(s): "
              + ", ".join(r["path"] for r in res.rewritten[:5]) + (" ..." if len(res.rewritten) > 5 else ""))
    print(f"check it: (cd {res.path} && sha256sum -c SHA256SUMS.txt)   or   dryrun pack --verify {res.path}")
    return 0
