"""The Closeout screen after a bad 50-host run: the gates' details group the failing checks
by check with a host count instead of listing every check@host (09_closeout.md keeps them
all: tests/unit/test_record_closeout.py)."""

from __future__ import annotations

import pytest

from tests.record_support import dry, record_run, write_config
from tests.ui.conftest import ready

pytestmark = pytest.mark.timeout(90)

SMK = tuple(f"SMK-{i}" for i in range(1, 8))


def _text(renderable) -> str:
    from rich.console import Console

    c = Console(width=160, record=True, color_system=None)
    c.print(renderable)
    return c.export_text()


async def test_closeout_gates_group_a_fleets_failures(tmp_path):
    from tui.app import DryRunApp

    hosts = tuple(f"cam-{i:02d}" for i in range(1, 51))
    cfg = write_config(tmp_path, hosts=hosts)
    d = dry(tmp_path)
    bad = {("SMK-7", h) for h in hosts[:34]} | {("SMK-5", h) for h in hosts[40:]} | {("SMK-2", "cam-07")}
    record_run(d, "02_smoke_run_1", [(h, c, "failed" if (c, h) in bad else "passed") for c in SMK for h in hosts])

    app = DryRunApp(cfg, read_only=True, remember_theme=False, watch_files=False, probe_hosts=False,
                    start_mode="closeout")
    async with app.run_test(size=(160, 50)) as pilot:
        await ready(pilot)
        gates = _text(app.screen.query_one("#co-gates").content)
    assert "45 not passed" in gates
    assert "SMK-7 failed on 34 hosts (cam-01, cam-02, cam-03, … +31)" in gates
    assert "SMK-5 failed on 10 hosts (cam-41, cam-42, cam-43, … +7)" in gates
    assert "SMK-2 failed on cam-07" in gates
    assert "SMK-7@cam-20" not in gates  # not one line (or item) per failure
    assert len([ln for ln in gates.splitlines() if ln.strip()]) < 15
