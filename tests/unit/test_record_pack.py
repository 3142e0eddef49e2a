from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from record.errors import RecordError
from record.pack import ABS_PATH_RE, build_pack, verify_pack
from record.redact import configured_secrets
from tests.record_support import dry, record_run, write_config

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoiYWRtaW4ifQ.c2lnbmF0dXJlLWhlcmU"


def _populated(tmp_path, **cfg_kw):
    cfg = write_config(tmp_path, **cfg_kw)
    d = dry(tmp_path)
    record_run(d, "02_smoke_run_1", {"SMK-1": "passed"})
    (d.artifacts / "02_smoke_run_1" / "cam-01").mkdir(parents=True)
    (d.artifacts / "02_smoke_run_1" / "cam-01" / "snapshot.jpg").write_bytes(b"\xff\xd8\xff\x00binary\x00")
    (d.state_dir).mkdir(exist_ok=True)
    (d.state_dir / "lastfailed.json").write_text("{}")
    (d.root / ".03_triage_register.md.abc.tmp").write_text("half-written")
    return cfg, d


@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="coreutils sha256sum missing")
def test_pack_is_accepted_by_sha256sum_and_verify(tmp_path):
    cfg, d = _populated(tmp_path)
    (d.root / "notes.log").write_text(f"config at {tmp_path}/dryrun.toml, dry_run at {d.root}/x\n")
    res = build_pack(cfg, d)
    assert res.path == d.pack_dir and res.files == 4
    names = sorted(p.relative_to(res.path).as_posix() for p in res.path.rglob("*") if p.is_file())
    assert "MANIFEST.json" in names and "SHA256SUMS.txt" in names and "toolchain.json" in names
    assert not any(n.startswith(".state") or n.endswith(".tmp") for n in names)
    r = subprocess.run(["sha256sum", "-c", "--strict", "SHA256SUMS.txt"], cwd=res.path, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert subprocess.run(["sh", "verify.sh"], cwd=res.path, capture_output=True).returncode == 0
    notes = (res.path / "notes.log").read_text()
    assert str(tmp_path) not in notes and "<dry_run>/x" in notes and "<config_dir>/dryrun.toml" in notes
    manifest = json.loads((res.path / "MANIFEST.json").read_text())
    assert manifest["baseline"] == "v1.2.3-cdr" and {"path": "notes.log", "replacements": 2} in manifest["rewritten"]
    assert {f["path"] for f in manifest["files"]} >= {"events.log.jsonl", "artifacts/02_smoke_run_1/cam-01/snapshot.jpg"}
    tc = json.loads((res.path / "toolchain.json").read_text())
    assert tc["python"]["version"] and "dryrun-console" in tc["packages"]
    for f in res.path.rglob("*"):
        if f.is_file() and f.suffix != ".jpg":
            assert not ABS_PATH_RE.search(f.read_text()), f
    rep = verify_pack(res.path)
    assert rep.ok, rep.problems
    # rebuilding replaces the pack in place
    assert build_pack(cfg, d).path == res.path


def test_verify_finds_tampering_and_extras(tmp_path):
    cfg, d = _populated(tmp_path)
    res = build_pack(cfg, d)
    (res.path / "02_smoke_run_1.log").write_text("rewritten after the fact\n")
    (res.path / "extra.txt").write_text("smuggled\n")
    (res.path / "toolchain.json").unlink()
    rep = verify_pack(res.path)
    assert not rep.ok
    text = "\n".join(rep.problems)
    assert "02_smoke_run_1.log: SHA-256 mismatch" in text and "extra.txt: not listed in SHA256SUMS.txt" in text
    assert "toolchain.json: listed in SHA256SUMS.txt but missing" in text
    assert not verify_pack(tmp_path / "nope").ok


def test_refuses_configured_secrets_and_jwts_naming_the_file(tmp_path, monkeypatch):
    secret_file = tmp_path / "jwt.secret"
    secret_file.write_text("correct-horse-battery-staple\n")
    cfg, d = _populated(tmp_path, secret_file="jwt.secret")
    assert configured_secrets(cfg) == ["correct-horse-battery-staple"]
    (d.root / "fixes" / "DRY-01").mkdir(parents=True)
    (d.root / "fixes" / "DRY-01" / "patch.diff").write_text("+++ b/x\n+secret = 'correct-horse-battery-staple'\n")
    (d.root / "leak.log").write_text(f"line one\nBearer {JWT}\n")
    with pytest.raises(RecordError) as e:
        build_pack(cfg, d)
    msg = str(e.value)
    assert "fixes/DRY-01/patch.diff:2: contains a configured secret value" in msg
    assert "leak.log:2: contains a JWT-shaped token" in msg
    assert "correct-horse" not in msg and JWT not in msg
    assert not d.pack_dir.exists() and not list(tmp_path.glob(".dry_run_pack*"))  # nothing half-built left


def test_refuses_leftover_absolute_paths(tmp_path):
    cfg, d = _populated(tmp_path)
    (d.root / "dev.log").write_text("ok\nsee /home/alice/src/fix.py\n")
    with pytest.raises(RecordError, match=r"dev.log:2: absolute path '/home/alice/src/fix.py'"):
        build_pack(cfg, d)


def test_refuses_to_overwrite_a_non_pack(tmp_path):
    cfg, d = _populated(tmp_path)
    d.pack_dir.mkdir()
    (d.pack_dir / "precious.txt").write_text("mine")
    with pytest.raises(RecordError, match="is not an evidence pack"):
        build_pack(cfg, d)
    with pytest.raises(RecordError, match="inside the dry_run/ folder"):
        build_pack(cfg, d, out=d.root / "pack")
