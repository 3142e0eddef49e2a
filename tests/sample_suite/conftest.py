"""A sample external smoke suite: what a team's own ``tests/smoke`` looks like, probing a
camera host through the console's own client code (``runners.rpc``, ``runners.health``,
``runners.tokens``).

It needs ``SIM_CONFIG``: a dryrun.toml naming the host(s) to probe (``dryrun sim`` writes
one). With ``DRYRUN_HOST`` set (the console sets it when the suite runs per host) it
probes that host, else the config's first. Without ``SIM_CONFIG`` nothing here is
collected, so the console's own test run (``pytest tests``) skips this folder.
"""

from __future__ import annotations

import os

import pytest

if not os.environ.get("SIM_CONFIG"):
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture(scope="session")
def sim_cfg():
    from runners.config import load_config

    return load_config(os.environ["SIM_CONFIG"])


@pytest.fixture(scope="session")
def host(sim_cfg):
    name = os.environ.get("DRYRUN_HOST")
    return sim_cfg.host(name) if name else sim_cfg.hosts[0]


@pytest.fixture(scope="session")
def token(sim_cfg, host):
    from runners.tokens import load_credentials, mint_token

    creds = load_credentials(host.auth, sim_cfg.resolve)
    if creds.token:
        return creds.token
    assert creds.secret, f"expected a token or a JWT secret for {host.name}, seen neither"
    return mint_token(creds.secret, role="admin")


@pytest.fixture
async def client(host, token):
    from runners.rpc import RpcClient

    c = RpcClient(host.rpc_url, dialect=host.dialect, host=host.name)
    await c.connect()
    await c.authenticate(token)
    try:
        yield c
    finally:
        await c.close()
