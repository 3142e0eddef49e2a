"""The operator's main flow, end to end on a real simulated host (real sockets, real SSH,
the real smoke engine and record), driven by keys:

run smoke -> a failure -> triage form prefilled from it -> saved to the register ->
(the developer fixes the host) -> verify -> PASS in the pass ledger, entry verified.

The failure is made deterministic by disconnecting the sim's only camera, so SMK-3
(discovery) fails; reconnecting it is the "fix"."""

from __future__ import annotations

import dataclasses

import pytest

from tests.ui.conftest import ready
from tests.ui.workers import in_group, task_workers, wait_for_workers

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def fleet(tmp_path):
    from runners.sim.fleet import run_fleet
    from runners.sim.host import SimHostSpec

    spec = SimHostSpec(name="cam-01", dialect="current", cameras=1, discovery_delay=0.1)
    async with run_fleet([spec], tmp_path / "fleet", config=tmp_path / "dryrun.toml") as f:
        yield f


def _fast(cfg):
    """Short check windows: the flow, not the timeouts, is under test."""
    return dataclasses.replace(cfg, checks=dataclasses.replace(
        cfg.checks, discovery_timeout=1.0, recording_seconds=1.0, concurrency_seconds=1.0, health_timeout=5.0))


def _text(renderable) -> str:
    from rich.console import Console

    c = Console(width=160, record=True, color_system=None)
    c.print(renderable)
    return c.export_text()


async def _wait_run(pilot) -> None:
    app = pilot.app
    await wait_for_workers(app, in_group("smoke"))
    await ready(pilot)


async def test_run_fail_triage_verify_ledger(fleet, tmp_path):
    from record.layout import DryRunDir
    from record.ledger import load_ledger
    from record.triage import load_register
    from runners.config import load_config
    from screens.triage_form import TriageForm
    from tui.app import DryRunApp
    from tui.widgets.run_table import RunTable

    cfg = _fast(load_config(tmp_path / "dryrun.toml"))
    service = fleet.host("cam-01").service
    assert await service.wait_ready(10)  # discovery done, or it would plug the camera back in
    service.set_camera_connected("camera0", False)  # discovery will find no camera: SMK-3 fails

    app = DryRunApp(cfg, remember_theme=False, watch_files=False, probe_hosts=False)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await ready(pilot)

        # 1. run the smoke set from the Smoke screen
        await pilot.press("2", "r")
        await _wait_run(pilot)
        cell = app.model.live.cells[("cam-01", "SMK-3")]
        assert cell.status == "failed", cell
        assert cell.result.expected and cell.result.seen
        # the finished run opens on its first failure (SMK-1 too: health is degraded without a
        # camera), with expected vs seen on screen
        table = app.screen.query_one(RunTable)
        first_bad = next(k for k in table._keys if app.model.live.cells[k].status in ("failed", "error"))
        assert table.selected == first_bad
        assert any("Run finished" == (n.title or "") for n in app._notifications)
        await pilot.press("down", "down")  # to SMK-3
        await pilot.pause()
        assert table.selected == ("cam-01", "SMK-3")
        detail = _text(app.screen.query_one("#detail-body").content)
        assert "Expected" in detail and "Seen" in detail and "RPC exchange" in detail

        # 2. triage it: the form comes up prefilled from the failure and its RPC trace
        await pilot.press("t")
        await wait_for_workers(app, task_workers)
        await pilot.pause()
        form = app.screen
        assert isinstance(form, TriageForm)
        values = form.collect()
        assert values["smk"] == "SMK-3"
        assert values["severity"] == "R"
        assert "cam-01" in values["symptom"]
        assert "discovery" in values["suspect"]
        assert "dryrun run -k SMK_3" in values["repro"] and "RPC exchange" in values["repro"]
        assert "get_camera_list" in values["repro"]
        assert set(form.problems()) == {"owner", "eta"}  # a Red without owner and ETA: not saveable
        assert form.query_one("#save").disabled

        # validation as you type: owner and ETA make it saveable
        form.query_one("#owner").focus()
        await pilot.press(*"alice")
        form.query_one("#eta").focus()
        await pilot.press(*"today 16:00")
        await pilot.pause()
        assert form.problems() == {}
        assert not form.query_one("#save").disabled
        await pilot.press("ctrl+s")
        await wait_for_workers(app, task_workers)
        await ready(pilot)
        assert not isinstance(app.screen, TriageForm)

        d = DryRunDir(cfg.dry_run_path)
        issue = load_register(d).get("DRY-01")
        assert issue.smk == ["SMK-3"] and issue.owner == "alice" and issue.eta == "today 16:00"
        assert issue.hosts == ["cam-01"] and issue.run_label == "02_smoke_run_1"
        assert d.triage_register.exists()

        # 3. the developer fixes it; IV&V verifies from the Triage screen
        service.set_camera_connected("camera0", True)
        await pilot.press("4")
        await pilot.pause()
        assert "DRY-01" in [i.id for i in app.model.record.get("triage")["issues"]]
        await pilot.press("v")
        await _wait_run(pilot)

        ledger = load_ledger(d)
        assert [(e.dry_id, e.result, e.attempt) for e in ledger] == [("DRY-01", "PASS", 1)]
        assert d.verify_log("DRY-01").exists()
        assert load_register(d).get("DRY-01").status == "verified"
        assert any("Verify DRY-01: PASS" in n.message for n in app._notifications)

        # 4. the ledger shows on Closeout
        await pilot.press("5")
        await pilot.pause()
        assert app.model.record.get("ledger")[0].result == "PASS"
    assert app.worker_failures == []
