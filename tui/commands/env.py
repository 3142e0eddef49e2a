"""``dryrun env freeze|check|show``: the environment freeze (seed 000 A2) and the pre-run
environment validator (seed 002 step 5)."""

from __future__ import annotations

import argparse

from tui.commands._common import EXIT_FAILED, CommandError, add_config_arg, add_json_arg, print_json
from tui.commands._record import add_sub_config_arg, context, record_command, rel


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "env", help="freeze the environment matrix, or check the live hosts against it",
        description="Collect OS, kernel, Python, MediaMTX, camera service version and camera ids from every host "
                    "(SSH + RPC) and the lab machine; `freeze` writes 01_env_matrix.md, env.sh and the frozen SHA; "
                    "`check` compares the live environment with the freeze and reports drift with reason codes.")
    add_config_arg(p)
    esub = p.add_subparsers(dest="env_command", metavar="ACTION", required=True)

    f = esub.add_parser("freeze", help="collect and freeze the environment (01_env_matrix.md, env.sh)",
                        description="Collect the live environment and freeze it with its SHA-256.")
    add_sub_config_arg(f)
    f.add_argument("--allow-partial", action="store_true",
                   help="freeze even if some host parts were unreachable (they are frozen as unknown)")
    f.add_argument("--refreeze", action="store_true",
                   help="replace an existing freeze with a different SHA (starts a new baseline)")
    add_json_arg(f)
    f.set_defaults(func=freeze)

    c = esub.add_parser("check", help="compare the live environment with the freeze (exit 1 on drift)",
                        description="The validator run before every run: reason-coded drift "
                                    "(ENV_DRIFT_KERNEL, ENV_DRIFT_PYTHON, ENV_UNREACHABLE...). Exit 0 when the "
                                    "environment matches, 1 on drift (0 with --allow-drift, recorded as override).")
    add_sub_config_arg(c)
    c.add_argument("--allow-drift", action="store_true", help="report drift but do not fail (recorded as override)")
    add_json_arg(c)
    c.set_defaults(func=check)

    s = esub.add_parser("show", help="print the frozen environment", description="Print the frozen matrix and SHA.")
    add_sub_config_arg(s)
    add_json_arg(s)
    s.set_defaults(func=show)


def _collect(cfg):
    import asyncio

    from runners.envprobe import collect_env

    if not cfg.hosts:
        raise CommandError(f"{cfg.path}: no [[hosts]] configured (add one, or start `dryrun sim`)")
    return asyncio.run(collect_env(cfg))


@record_command
def freeze(args: argparse.Namespace) -> int:
    from record.envfreeze import freeze as do_freeze
    from record.envfreeze import summary_values

    cfg, d, log = context(args)
    env = _collect(cfg)
    res = do_freeze(d, env, cfg, allow_partial=args.allow_partial, refreeze=args.refreeze)
    log.append({"kind": "env_frozen", "sha256": res.sha256, "unchanged": res.unchanged,
                "partial": bool(res.errors), "hosts": sorted(env.get("hosts", {}))})
    v = summary_values({"sha256": res.sha256, "matrix": res.matrix})
    if args.json:
        print_json({"sha256": res.sha256, "frozen_at": res.frozen_at, "unchanged": res.unchanged,
                    "errors": res.errors, "summary": v,
                    "files": [rel(d, d.env_matrix), rel(d, d.env_sh), rel(d, d.env_frozen)]})
        return 0
    state = "unchanged (same SHA)" if res.unchanged else "frozen"
    print(f"environment {state}: SHA {res.sha256}")
    for e in res.errors:
        print(f"  not collected: {e}")
    print(f"wrote {rel(d, d.env_matrix)}, {rel(d, d.env_sh)}")
    print(f"Env frozen. SHA={v['sha'][:12]}; OS={v['os']}; Python={v['python']}; MediaMTX={v['mediamtx']}; "
          f"Cameras={v['cameras']}.")
    return 0


@record_command
def check(args: argparse.Namespace) -> int:
    from record.envfreeze import validate_env

    cfg, d, log = context(args)
    env = _collect(cfg)
    res = validate_env(d, env, allow_drift=args.allow_drift, log=log)
    if args.json:
        print_json(res.to_dict())
    elif not res.drifts:
        print(f"environment matches the freeze (SHA {res.frozen_sha})")
    else:
        head = "drift overridden (--allow-drift)" if res.overridden else "DRIFT: runs halt until fixed or overridden"
        print(f"{head}: {', '.join(res.reason_codes)}")
        for x in res.drifts:
            print(f"  {x.message}")
        if not res.overridden:
            print(f"details: {rel(d, d.env_validation_failure)}")
    return 0 if res.ok else EXIT_FAILED


@record_command
def show(args: argparse.Namespace) -> int:
    from record.envfreeze import load_frozen
    from record.tomlio import read_text

    cfg, d, _ = context(args)
    data = load_frozen(d)
    if data is None:
        raise CommandError("the environment is not frozen yet (run `dryrun env freeze`)", EXIT_FAILED)
    if args.json:
        print_json(data)
    else:
        print(read_text(d.env_matrix) or "")
    return 0
