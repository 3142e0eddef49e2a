"""Run every benchmark in tests/bench/ and write bench-report.md + bench-report.json.

    python -m tests.bench            # everything, full size
    python -m tests.bench --quick    # smaller loads, for a smoke check of the benches
    python -m tests.bench rpc sftp   # only the benches whose names contain these words

Each ``bench_*.py`` exposes ``run(quick: bool = False) -> dict`` returning
``{"name", "figures", "targets", "ok"}`` (and optionally "anchors": figures of the
reference measured in the same run). A bench that raises is reported as failed with
its error; the others still run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import platform
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).parent


def discover(words: list[str]) -> list[str]:
    names = sorted(p.stem for p in HERE.glob("bench_*.py"))
    return [n for n in names if not words or any(w in n for w in words)]


def run_one(name: str, quick: bool) -> dict:
    t0 = time.perf_counter()
    try:
        mod = importlib.import_module(f"tests.bench.{name}")
        result = dict(mod.run(quick=quick))
    except Exception as e:  # one broken bench must not hide the others' figures
        result = {"name": name, "figures": {}, "targets": {}, "ok": False,
                  "error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()}
    result.setdefault("name", name)
    result["module"] = name
    result["seconds"] = round(time.perf_counter() - t0, 2)
    return result


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def render_md(results: list[dict], meta: dict) -> str:
    lines = ["# Benchmark report", "",
             f"Run {meta['when']} on {meta['machine']} (Python {meta['python']}, {meta['cpus']} CPUs)"
             f"{' — quick mode' if meta['quick'] else ''}.", "",
             "| bench | figure | value | target | anchor (same run) |", "|---|---|---|---|---|"]
    for r in results:
        figures, targets, anchors = r.get("figures", {}), r.get("targets", {}), r.get("anchors", {})
        verdict = "PASS" if r.get("ok") else "FAIL"
        if r.get("error"):
            lines.append(f"| {r['name']} ({verdict}) | error | {r['error']} | | |")
            continue
        for i, (k, v) in enumerate(figures.items()):
            head = f"{r['name']} ({verdict})" if i == 0 else ""
            lines.append(f"| {head} | {k} | {_fmt(v)} | {_fmt(targets.get(k, ''))} | {_fmt(anchors.get(k, ''))} |")
    lines += ["", f"{sum(bool(r.get('ok')) for r in results)} passed, "
                  f"{sum(not r.get('ok') for r in results)} failed", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("words", nargs="*", help="run only benches whose module name contains one of these")
    ap.add_argument("--quick", action="store_true", help="smaller loads")
    ap.add_argument("--out", type=Path, default=Path("."), help="folder for bench-report.md/.json")
    args = ap.parse_args(argv)
    names = discover(args.words)
    if not names:
        print("no benchmarks matched", file=sys.stderr)
        return 2
    results = []
    for name in names:
        print(f"== {name}", flush=True)
        r = run_one(name, args.quick)
        results.append(r)
        print(json.dumps({k: r.get(k) for k in ("figures", "targets", "ok", "error")}, default=str), flush=True)
    meta = {"when": dt.datetime.now().isoformat(timespec="seconds"), "machine": platform.platform(),
            "python": platform.python_version(), "cpus": __import__("os").cpu_count(), "quick": args.quick}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench-report.json").write_text(json.dumps({"meta": meta, "results": results}, indent=2, default=str))
    (args.out / "bench-report.md").write_text(render_md(results, meta))
    print(render_md(results, meta))
    return 0 if all(r.get("ok") for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
