"""The benchmark report command (``python -m tests.bench``): it runs, and both report files
are well-formed and agree with each other. One cheap bench in quick mode (its verdict
depends on the machine's load, so only the report's shape is checked, not PASS)."""

from __future__ import annotations

import importlib
import inspect
import json
import subprocess
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH_DIR = ROOT / "tests" / "bench"
COLUMNS = ("head", "fig", "val", "target", "anchor")

pytestmark = pytest.mark.timeout(90)


def table_rows(lines: list[str]) -> list[dict]:
    rows = []
    for ln in lines:
        cells = ln.split("|")
        if ln.startswith("|") and ln.endswith("|") and len(cells) == len(COLUMNS) + 2:
            row = dict(zip(COLUMNS, (c.strip() for c in cells[1:-1])))
            if row["fig"] not in ("figure", "---"):
                rows.append(row)
    return rows


def check_report(out: Path, expect_modules: list[str]) -> dict:
    doc = json.loads((out / "bench-report.json").read_text())
    assert set(doc) == {"meta", "results"}
    meta = doc["meta"]
    assert {"when", "machine", "python", "cpus", "quick"} <= set(meta)
    assert [r["module"] for r in doc["results"]] == expect_modules
    md = (out / "bench-report.md").read_text()
    lines = md.splitlines()
    assert lines[0] == "# Benchmark report"
    assert "| bench | figure | value | target | anchor (same run) |" in lines
    rows = table_rows(lines)
    for r in doc["results"]:
        assert isinstance(r["ok"], bool) and isinstance(r["seconds"], (int, float))
        assert isinstance(r["figures"], dict) and isinstance(r["targets"], dict)
        verdict = "PASS" if r["ok"] else "FAIL"
        assert any(row["head"] == f"{r['name']} ({verdict})" for row in rows), (r["name"], verdict)
        if r.get("error"):
            continue
        assert r["figures"], f"{r['module']} reported no figures"
        for k, v in r["figures"].items():
            assert isinstance(v, (int, float)) and not isinstance(v, bool), (k, v)
            row = next((row for row in rows if row["fig"] == k), None)
            assert row is not None, f"figure {k} missing from bench-report.md"
            if k in r["targets"]:
                assert row["target"], f"{k}: its target is not next to it"
            if k in r.get("anchors", {}):
                assert row["anchor"], f"{k}: its anchor is not next to it"
        assert set(r["targets"]) <= set(r["figures"]), "a target without its figure"
    closing = [ln for ln in lines if ln.endswith(" failed") and " passed, " in ln]
    ok = sum(r["ok"] for r in doc["results"])
    assert closing == [f"{ok} passed, {len(doc['results']) - ok} failed"]
    return doc


def test_quick_report_of_one_cheap_bench(tmp_path):
    p = subprocess.run([sys.executable, "-m", "tests.bench", "--quick", "startup", "--out", str(tmp_path)],
                       cwd=ROOT, capture_output=True, text=True, timeout=80)
    assert p.returncode in (0, 1), p.stdout[-2000:] + p.stderr[-2000:]  # 1: a figure missed its target
    doc = check_report(tmp_path, ["bench_startup"])
    assert doc["meta"]["quick"] is True
    (r,) = doc["results"]
    assert p.returncode == (0 if r["ok"] else 1)
    assert not r.get("error"), r.get("traceback")
    assert {"first_frame_median_s", "peak_rss_mb"} <= set(r["figures"])
    assert {"first_frame_median_s", "peak_rss_mb"} <= set(r["targets"])


def test_no_bench_matched_is_a_usage_error(tmp_path):
    p = subprocess.run([sys.executable, "-m", "tests.bench", "no-such-bench", "--out", str(tmp_path)],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "no benchmarks matched" in p.stderr
    assert not (tmp_path / "bench-report.json").exists()


def test_a_broken_bench_is_reported_and_does_not_hide_the_others(tmp_path, monkeypatch):
    """In-process with two stand-in bench modules: one raises, one reports."""
    from tests.bench import __main__ as runner

    good = types.ModuleType("tests.bench.bench_zz_good")
    good.run = lambda quick=False: {"name": "good", "figures": {"x_ms": 1.5}, "targets": {"x_ms": "<= 2"},
                                    "anchors": {"x_ms": 1.0}, "ok": True}
    bad = types.ModuleType("tests.bench.bench_zz_bad")

    def boom(quick=False):
        raise RuntimeError("bench exploded")

    bad.run = boom
    monkeypatch.setitem(sys.modules, good.__name__, good)
    monkeypatch.setitem(sys.modules, bad.__name__, bad)
    monkeypatch.setattr(runner, "discover", lambda words: ["bench_zz_bad", "bench_zz_good"])
    rc = runner.main(["--out", str(tmp_path)])
    assert rc == 1
    doc = check_report(tmp_path, ["bench_zz_bad", "bench_zz_good"])
    bad_r, good_r = doc["results"]
    assert bad_r["ok"] is False and "RuntimeError: bench exploded" in bad_r["error"]
    assert good_r["ok"] is True and good_r["figures"] == {"x_ms": 1.5}
    md = (tmp_path / "bench-report.md").read_text()
    assert "| good (PASS) | x_ms | 1.5 | <= 2 | 1 |" in md


@pytest.mark.parametrize("path", sorted(BENCH_DIR.glob("bench_*.py")), ids=lambda p: p.stem)
def test_every_bench_module_honours_the_contract(path):
    """``def run(quick: bool = False) -> dict`` and a docstring saying what it measures."""
    mod = importlib.import_module(f"tests.bench.{path.stem}")
    assert (mod.__doc__ or "").strip(), f"{path.name} has no docstring"
    sig = inspect.signature(mod.run)
    assert "quick" in sig.parameters and sig.parameters["quick"].default is False, sig
