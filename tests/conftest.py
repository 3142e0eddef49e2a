"""Shared fixtures. Tests run against real parts: the simulator over real sockets,
a real sshd on a loopback port, real media decoded with real libraries."""

from __future__ import annotations

import pytest

from tests.sshd import asyncssh_server, ssh_keys, sshd, sshd_bastion  # noqa: F401  (SSH fixtures)


@pytest.fixture
def tmp_cwd(tmp_path, monkeypatch):
    """Run the test inside an empty folder (commands write ./dryrun.toml and ./dry_run/)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
