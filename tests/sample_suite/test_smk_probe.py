"""SMK-1..7 as a team might write them: one or two plain pytest tests per check, named with
the plan's ids (``test_SMK_3_...``) so ``-k "SMK_3"`` selects them."""

from __future__ import annotations

import asyncio
import os
import time

import pytest


async def connected_camera(client, within: float = 10.0) -> str:
    deadline = time.monotonic() + within
    while True:
        res = await client.call("get_camera_list")
        ids = [c["device"] for c in res["cameras"] if c["status"].upper() == "CONNECTED"]
        if ids:
            return ids[0]
        assert time.monotonic() < deadline, f"expected a CONNECTED camera within {within:g} s, seen {res['cameras']!r}"
        await asyncio.sleep(0.3)


async def test_SMK_1_health_ok(host):
    from runners.health import HealthProbe

    async with HealthProbe(host.health_url, dialect=host.dialect) as probe:
        report, waited = await probe.wait_healthy(within=10.0)
    assert report.status == "healthy", report.summary()


async def test_SMK_2_valid_token_accepted(client):
    assert client.authenticated


async def test_SMK_2_forged_token_rejected(host):
    from runners.errors import AuthRejected
    from runners.rpc import RpcClient
    from runners.tokens import forge_token

    async with RpcClient(host.rpc_url, dialect=host.dialect, host=host.name) as c:
        with pytest.raises(AuthRejected):
            await c.authenticate(forge_token())


async def test_SMK_3_camera_discovered_within_10s(client, record_property):
    t0 = time.monotonic()
    cam = await connected_camera(client, within=10.0)
    record_property("metric_discovery_s", round(time.monotonic() - t0, 3))
    assert cam


async def test_SMK_4_snapshot_success(client, record_property):
    cam = await connected_camera(client)
    res = await client.call("take_snapshot", {"device": cam})
    assert str(res["status"]).upper() == "SUCCESS"
    assert res["file_size"] > 0
    record_property("metric_snapshot_bytes", res["file_size"])


async def test_SMK_5_recording_start_stop(client):
    cam = await connected_camera(client)
    start = await client.call("start_recording", {"device": cam})
    assert start["filename"]
    await asyncio.sleep(float(os.environ.get("SAMPLE_RECORD_SECONDS", "1.0")))
    stop = await client.call("stop_recording", {"device": cam})
    assert str(stop["status"]).upper() == "STOPPED"


async def test_SMK_6_unknown_method_is_method_not_found(client, host):
    from runners.errors import RpcError
    from runners.protocol import expected_code

    with pytest.raises(RpcError) as ei:
        await client.call("no_such_method_dryrun")
    assert ei.value.code == expected_code(host.dialect, "method_not_found")


async def test_SMK_7_two_listers_stay_responsive(host, token, client):
    from runners.rpc import RpcClient

    async def lister() -> int:
        async with RpcClient(host.rpc_url, dialect=host.dialect, host=host.name) as c:
            await c.authenticate(token)
            for _ in range(3):
                await c.call("get_camera_list")
                await asyncio.sleep(0.6)  # under the legacy 120/min per-connection limit
        return 3

    assert await asyncio.gather(lister(), lister()) == [3, 3]
