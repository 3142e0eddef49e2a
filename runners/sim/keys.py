"""SSH keys for the simulator: a host key per host, one operator (client) key, known_hosts files.

Keys are ed25519, generated once and reused from the state folder, so restarting
``dryrun sim`` keeps the same identities (only the ports change, and known_hosts is
rewritten for the new port). Private keys are written 0600: OpenSSH refuses a
private key other users can read.
"""

from __future__ import annotations

import os
from pathlib import Path

import asyncssh

KEY_ALG = "ssh-ed25519"


def _write_private(path: Path, key: asyncssh.SSHKey) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    # Created 0600 from the start: never a moment where the key is world-readable.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.export_private_key())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_or_create_key(path: Path, *, comment: str = "") -> asyncssh.SSHKey:
    """The private key at ``path``; generated (and its ``.pub`` written) if missing or unreadable."""
    path = Path(path)
    if path.exists():
        try:
            key = asyncssh.read_private_key(str(path))
            os.chmod(path, 0o600)
            return key
        except (asyncssh.KeyImportError, OSError, ValueError):
            pass  # a damaged key from an interrupted run: make a new one
    key = asyncssh.generate_private_key(KEY_ALG, comment=comment or None)
    _write_private(path, key)
    pub = path.with_name(path.name + ".pub")
    pub.write_bytes(key.export_public_key())
    return key


def known_hosts_line(host: str, port: int, key: asyncssh.SSHKey) -> str:
    """One known_hosts line; a non-22 port is written ``[host]:port`` as OpenSSH does."""
    name = host if port == 22 else f"[{host}]:{port}"
    alg, blob = key.export_public_key("openssh").decode().split()[:2]
    return f"{name} {alg} {blob}\n"


def write_known_hosts(path: Path, lines: list[str]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("".join(lines))
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def fingerprint(key: asyncssh.SSHKey) -> str:
    return key.get_fingerprint("sha256")
