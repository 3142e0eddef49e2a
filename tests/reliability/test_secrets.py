"""Secrets: after a whole dry-run (plan, env freeze, runs, triage, fix, verify, flake hunt,
final run, metrics, closeout, evidence pack) against simulated hosts, no JWT secret and no
token the console minted or was given appears anywhere under ``dry_run/``, in the pack, in
the console's own state, or in anything the commands printed: raw, JSON-escaped,
URL-encoded, hex, or base64 (standard and URL-safe, at every alignment inside a longer
blob); for tokens, not even the signature alone.

The hosts try to leak them: cam-01 echoes the token it was given in its rejection reasons
and, in the first run, accepts an *expired* token and puts it in the ``user_id`` it returns
and logs (so SMK-2 fails, and its "seen", its RPC excerpt and its service-log excerpt all
carry a token into the run log, the events log, the triage entry prefilled from the failure
and the fix evidence). cam-02 is configured with a ready-made token in an environment
variable (``auth.token_env``) rather than a secret file.

Every token is captured where it cannot be missed: at the simulated service, which sees
each token the console presents (valid, expired, forged).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
import tomli_w

from runners.config import config_to_dict, load_config
from runners.sim.chaos import Chaos
from runners.sim.fleet import make_specs, run_fleet
from runners.tokens import mint_token

pytestmark = pytest.mark.timeout(150)
FAST_CHECKS = {"recording_seconds": 1.5, "concurrency_seconds": 1.5, "health_timeout": 10.0}
TOKEN_ENV = "DRYRUN_TEST_CAM02_TOKEN"


class SnapshotErrors(Chaos):
    def __init__(self, log):
        super().__init__("none", 0, log, faults={"error"}, rate=1.0)

    def pick(self, op, **kw):
        return super().pick(op, **kw) if op == "rpc:take_snapshot" else None


def b64_forms(s: str) -> set[str]:
    """``s`` as it appears inside base64 of any longer blob, at each of the 3 byte alignments,
    in both alphabets (the chars that depend only on ``s``'s own bytes)."""
    out: set[str] = set()
    raw = s.encode()
    for off in range(3):
        enc = base64.b64encode(b"\0" * off + raw).decode().rstrip("=")
        start = -(-4 * off // 3)  # ceil(4*off/3): the first char fed by s alone
        core = enc[start:-2]  # the last chars may mix with what follows
        if len(core) >= 16:
            out |= {core, core.replace("+", "-").replace("/", "_")}
    return out


def forms(secret: str) -> set[str]:
    f = {secret, json.dumps(secret)[1:-1], quote(secret, safe=""), secret.encode().hex()} | b64_forms(secret)
    parts = secret.split(".")
    if len(parts) == 3 and len(parts[2]) >= 20:  # a JWT: its signature is the secret part
        f.add(parts[2])
        f |= b64_forms(parts[2])
    return {x for x in f if len(x) >= 12}


def leaks(blob: bytes, needles: dict[str, str]) -> list[str]:
    return [what for needle, what in needles.items() if needle.encode() in blob]


async def dryrun(cwd: Path, env: dict, *args: str, ok=(0,)) -> str:
    p = await asyncio.create_subprocess_exec(sys.executable, "-m", "tui.cli", *args, cwd=cwd, env=env,
                                             stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(p.communicate(), 90)
    text = out.decode("utf-8", "replace") + err.decode("utf-8", "replace")
    assert p.returncode in ok, (args, p.returncode, text[-3000:])
    return text


async def test_no_secret_or_token_survives_a_whole_dry_run(tmp_path):
    cfg = tmp_path / "dryrun.toml"
    seen_tokens: set[str] = set()
    mode = {"accept_expired": True}
    async with run_fleet(make_specs(2, discovery_delay=0.05), tmp_path / "sim", config=cfg) as fleet:
        cam1, cam2 = fleet.hosts
        secrets = {h.name: h.secret_file.read_text().strip() for h in fleet.hosts}

        for h in fleet.hosts:
            svc = h.service
            orig = svc.verify_token

            def spy(token, _orig=orig, _svc=svc, _name=h.name):
                seen_tokens.add(token)
                got = _orig(token)
                if _name != "cam-01":
                    return got
                if got == "token expired" and mode["accept_expired"]:
                    return {"role": "admin", "user_id": token, "exp": time.time() + 3600}  # hostile: echo it
                return f"{got} (token {token})" if isinstance(got, str) else got

            svc.verify_token = spy
        svc1 = cam1.service

        data = config_to_dict(load_config(cfg))
        data["checks"].update(FAST_CHECKS)
        data["hosts"][1]["auth"] = {"token_env": TOKEN_ENV, "role": "admin"}
        cfg.write_text(tomli_w.dumps(data))
        env_token = mint_token(secrets["cam-02"], ttl=7200)
        env = {**os.environ, "NO_COLOR": "1", TOKEN_ENV: env_token, "XDG_STATE_HOME": str(tmp_path / "xdg")}
        (tmp_path / "DRY-01.diff").write_text("--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n")

        printed = []
        run = lambda *a, ok=(0,): dryrun(tmp_path, env, *a, ok=ok)  # noqa: E731
        printed.append(await run("plan"))
        printed.append(await run("env", "freeze"))
        # A fault on every take_snapshot of cam-01 in the first runs: an attributed failure too.
        svc1.chaos = SnapshotErrors(lambda line: svc1.log.write("WARNING", line))
        printed.append(await run("run", ok=(1,)))
        printed.append(await run("run", "--json", "-k", "SMK_2", ok=(1,)))
        svc1.chaos = Chaos("none", 0)
        mode["accept_expired"] = False
        printed.append(await run("triage", "add", "--from", "SMK-2@cam-01", "--run", "02_smoke_run_1"))
        printed.append(await run("triage", "decide", "DRY-01", "Fix now", "--owner", "Dana", "--eta", "Day-1"))
        printed.append(await run("triage", "show", "DRY-01"))
        printed.append(await run("fix", "DRY-01", "--patch", "DRY-01.diff"))
        printed.append(await run("verify", "DRY-01", ok=(0, 1)))
        printed.append(await run("flake", "SMK-2", "--count", "2", "--host", "cam-01", ok=(0, 1)))
        printed.append(await run("run", "--final", ok=(0, 1)))
        printed.append(await run("metrics"))
        printed.append(await run("closeout", ok=(0, 1)))
        printed.append(await run("pack", ok=(0, 1)))
        printed.append(await run("pack", "--verify", ok=(0, 1)))

    d = tmp_path / "dry_run"
    run1 = (d / "02_smoke_run_1.log").read_text()
    assert "cam-01::SMK-2 FAILED" in run1 and "accepted" in run1, "the hostile host did not get SMK-2 to fail"
    assert "cam-01::SMK-4 FAILED" in run1
    assert env_token in seen_tokens and len(seen_tokens) >= 10, len(seen_tokens)

    needles: dict[str, str] = {}
    for name, s in secrets.items():
        needles.update({f: f"{name} JWT secret ({f[:6]}...)" for f in forms(s)})
    for t in seen_tokens:
        needles.update({f: f"token {t[:12]}...{t[-6:]} ({f[:6]}...)" for f in forms(t)})

    found: dict[str, list[str]] = {}
    places = [d, tmp_path / "dry_run_pack", tmp_path / "xdg"]
    n_files = 0
    for root in places:
        for p in sorted(root.rglob("*")) if root.exists() else ():
            if p.is_file():
                n_files += 1
                if hit := leaks(p.read_bytes(), needles):
                    found[str(p.relative_to(tmp_path))] = hit[:3]
    for i, text in enumerate(printed):
        if hit := leaks(text.encode(), needles):
            found[f"output of command #{i}"] = hit[:3]
    assert (tmp_path / "dry_run_pack" / "SHA256SUMS.txt").exists(), "the pack was not built"
    assert n_files > 30, n_files
    assert not found, found
