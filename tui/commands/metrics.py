"""``dryrun metrics``: 08_metrics.md from events.log.jsonl (seed 000, D1)."""

from __future__ import annotations

import argparse

from tui.commands._common import add_config_arg, add_json_arg, print_json
from tui.commands._record import context, record_command, rel


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "metrics", help="compute the metrics (08_metrics.md) from the events log",
        description="Pass rate (reference run: the final run, else the latest smoke run), flaky %, top slow checks, "
                    "duration p50/p90/p95/p99, RPC latency per method vs the service's budgets, defects by "
                    "severity: written to 08_metrics.md and 08_metrics.json.")
    add_config_arg(p)
    p.add_argument("--force", action="store_true", help="overwrite 08_metrics.md even if it was edited by hand")
    add_json_arg(p)
    p.set_defaults(func=run)


@record_command
def run(args: argparse.Namespace) -> int:
    from record.metrics import write_metrics

    cfg, d, log = context(args)
    m = write_metrics(d, force=args.force)
    log.append({"kind": "metrics_computed", "pass_rate_pct": m["pass_rate_pct"], "flaky_pct": m["flaky_pct"],
                "events_sha256": m["source"]["sha256"]})
    if args.json:
        print_json(m)
        return 0
    pr = "-" if m["pass_rate_pct"] is None else f"{m['pass_rate_pct']:.1f} %"
    ref = (m.get("reference_run") or {}).get("label", "-")
    du = m["durations"]
    print(f"pass rate {pr} ({ref}); flaky {m['flaky_pct']:.2f} %; "
          f"durations p50/p95/p99 {du['p50']}/{du['p95']}/{du['p99']} s; RPC p95 {m['rpc_overall_p95_ms']} ms")
    print(f"wrote {rel(d, d.metrics)}")
    return 0
