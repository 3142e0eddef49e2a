"""The stand-up's host probe: a host that is still starting (degraded until its cameras are
discovered) is probed again within seconds, not at the next full round; healthy hosts wait
for the full round."""

from __future__ import annotations

import asyncio

import pytest

from runners.sim.fleet import make_specs, run_fleet
from runners.ssh import SshPool
from tui.probe import probe_forever

pytestmark = pytest.mark.timeout(60)


async def test_a_starting_host_shows_up_within_the_retry_interval(tmp_path):
    specs = make_specs(2, dialect="legacy", discovery_delay=1.0)
    async with run_fleet(specs, tmp_path / "sim") as fleet:
        cfg = fleet.config()
        seen: list[tuple[float, str, str, str]] = []
        loop = asyncio.get_running_loop()
        t0 = loop.time()

        def emit(states) -> None:
            seen.extend((loop.time() - t0, s.host, s.component, s.status) for s in states)

        async with SshPool(ssh_config=None, connect_timeout=5) as pool:
            task = asyncio.create_task(probe_forever(cfg, emit, pool=pool, interval=60.0, retry=0.5))
            try:
                deadline = loop.time() + 20
                while loop.time() < deadline:
                    cams = {h: st for _t, h, c, st in seen if c == "cameras"}  # latest per host
                    if len(cams) == 2 and set(cams.values()) == {"ok"}:
                        break
                    await asyncio.sleep(0.1)
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
    first = {h: st for _t, h, c, st in reversed(seen) if c == "cameras"}  # the first reading per host
    assert set(first.values()) == {"down"}, seen  # still discovering at the first probe
    latest = {h: (t, st) for t, h, c, st in seen if c == "cameras"}
    assert {st for _t, st in latest.values()} == {"ok"}, seen
    assert max(t for t, _st in latest.values()) < 15, "a full round is 60 s: the retry brought them up"
    rounds = sum(1 for _t, _h, c, _st in seen if c == "ssh")
    assert rounds < 20, f"{rounds} probes: only the hosts not ok are probed again"
