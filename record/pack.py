"""The evidence pack (seed 003 "proofpack"): ``dryrun pack`` and ``dryrun pack --verify``.

A pack is a folder (default ``<dry_run>_pack/`` beside ``dry_run/``) holding a copy of every
dry_run/ file (``.state/`` internals excluded) plus:

- ``SHA256SUMS.txt``: ``sha256sum -c SHA256SUMS.txt`` run inside the pack checks every file;
- ``MANIFEST.json``: every file with size, SHA-256 and kind; baseline, env SHA, decision;
  what was rewritten to remove absolute paths;
- ``toolchain.json``: Python, OS, the console and its libraries' versions;
- ``verify.sh``: the one-line check for people without the console.

No absolute paths: text files are copied with the local machine's paths (the dry_run/
folder, the config folder, the working folder, the home and temp folders) replaced by
``<dry_run>``, ``<config_dir>``, ``<cwd>``, ``~`` and ``<tmp>``; any absolute local path
left (``/home/..``, ``/Users/..``, ``/root/..``, ``/tmp/..``, ``C:\\..``) refuses the pack,
naming file and line. No secrets: a file holding a configured token or JWT secret, or
anything shaped like a JWT, refuses the pack, naming the file (never the value).
The pack is built in a temporary folder and renamed into place.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from record.errors import RecordError
from record.layout import DryRunDir
from record.lock import DryRunLock
from record.redact import JWT_RE

if TYPE_CHECKING:
    from runners.config import Config

PACK_FORMAT = 1
SUMS, MANIFEST, TOOLCHAIN, VERIFY_SH = "SHA256SUMS.txt", "MANIFEST.json", "toolchain.json", "verify.sh"
PACK_FILES = (SUMS, MANIFEST, TOOLCHAIN, VERIFY_SH)
ABS_PATH_RE = re.compile(r"(?<![\w.~<>/-])(/(?:home|Users|root|tmp|private|var/folders)/[^\s\"'`)]*|[A-Za-z]:\\[^\s\"']*)")
TEXT_SUFFIXES = {".md", ".log", ".txt", ".sh", ".toml", ".json", ".jsonl", ".xml", ".diff", ".patch", ".csv", ".yaml",
                 ".yml", ".ini", ".cfg"}
LIBS = ("textual", "rich", "asyncssh", "httpx", "websockets", "watchfiles", "tomli-w", "Pillow", "av", "PyJWT")


@dataclass
class PackResult:
    path: Path
    files: int
    bytes: int
    rewritten: list[dict[str, Any]] = field(default_factory=list)
    manifest: dict[str, Any] = field(default_factory=dict)


def _is_text(rel: str, data: bytes) -> bool:
    if Path(rel).suffix.lower() not in TEXT_SUFFIXES and b"\x00" in data[:8192]:
        return False
    if b"\x00" in data[:8192]:
        return False
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def local_prefixes(d: DryRunDir, cfg: Config | None) -> list[tuple[str, str]]:
    """(absolute local path, placeholder), longest first."""
    cands: list[tuple[Path, str]] = [(d.root, "<dry_run>")]
    if cfg is not None:
        cands.append((cfg.base_dir, "<config_dir>"))
    cands += [(Path.cwd(), "<cwd>"), (Path.home(), "~"), (Path(tempfile.gettempdir()), "<tmp>")]
    out: dict[str, str] = {}
    for p, name in cands:
        for variant in {str(p), str(p.resolve()) if p.exists() else str(p)}:
            if variant and variant != "/" and len(variant) > 1:
                out.setdefault(variant, name)
    return sorted(out.items(), key=lambda kv: -len(kv[0]))


def _rewrite(text: str, prefixes: list[tuple[str, str]]) -> tuple[str, int]:
    n = 0
    for prefix, name in prefixes:
        rx = re.compile(re.escape(prefix) + r"(?![\w.-])")
        text, k = rx.subn(name, text)
        n += k
    return text, n


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def scan_secrets(rel: str, data: bytes, secrets: list[str]) -> list[str]:
    """Problems (file:line, what) for secret values or JWT-shaped strings; never the values."""
    out = []
    for s in secrets:
        b = s.encode("utf-8")
        if len(b) >= 4 and (pos := data.find(b)) >= 0:
            line = data.count(b"\n", 0, pos) + 1
            out.append(f"{rel}:{line}: contains a configured secret value")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return out
    for m in JWT_RE.finditer(text):
        out.append(f"{rel}:{_line_of(text, m.start())}: contains a JWT-shaped token")
        break
    return out


def scan_abs_paths(rel: str, text: str) -> list[str]:
    return [f"{rel}:{_line_of(text, m.start())}: absolute path {m.group(0)[:60]!r}"
            for m in ABS_PATH_RE.finditer(text)][:5]


def _collect(d: DryRunDir) -> list[tuple[str, Path]]:
    files = []
    for dirpath, dirnames, filenames in os.walk(d.root):
        rel_dir = Path(dirpath).relative_to(d.root)
        # .state/ holds internals (lock, render records, caches); hidden temp files are half-written writes
        dirnames[:] = sorted(n for n in dirnames if not (str(rel_dir) == "." and n == d.state_dir.name)
                             and not n.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            p = Path(dirpath) / name
            if p.is_symlink() or not p.is_file():
                continue
            rel = (rel_dir / name).as_posix()
            if "\n" in rel or "\\" in rel:
                raise RecordError(p, "file name with a newline or backslash cannot be listed in SHA256SUMS.txt")
            files.append((rel, p))
    return files


def _kind(rel: str) -> str:
    if rel.startswith("artifacts/"):
        return "artifact"
    if rel.startswith("fixes/"):
        return "fix"
    if rel == "events.log.jsonl":
        return "events"
    if rel.endswith(".md"):
        return "report"
    if rel.endswith(".log"):
        return "log"
    return "data"


def toolchain() -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    libs = {}
    for name in ("dryrun-console", *LIBS):
        try:
            libs[name] = version(name)
        except PackageNotFoundError:
            libs[name] = None
    sha256sum = shutil.which("sha256sum")
    return {
        "python": {"version": platform.python_version(), "implementation": platform.python_implementation()},
        "os": {"system": platform.system(), "release": platform.release(), "machine": platform.machine()},
        "packages": libs,
        "tools": {"sha256sum": "present" if sha256sum else "absent"},
    }


def build_pack(cfg: Config | None, d: DryRunDir, *, out: Path | None = None, secrets: list[str] | None = None,
               now: _dt.datetime | None = None, log=None) -> PackResult:
    if not d.root.is_dir():
        raise RecordError(d.root, "no dry_run/ folder to pack")
    out = Path(out) if out else d.pack_dir
    if out.resolve() == d.root.resolve() or d.root.resolve() in out.resolve().parents:
        raise RecordError(out, "the pack cannot be written inside the dry_run/ folder it packs")
    if out.exists() and not (out / MANIFEST).exists():
        raise RecordError(out, "exists and is not an evidence pack (no MANIFEST.json); refusing to replace it")
    if secrets is None:
        from record.redact import configured_secrets

        secrets = configured_secrets(cfg) if cfg is not None else []
    prefixes = local_prefixes(d, cfg)
    now = now or _dt.datetime.now(_dt.timezone.utc)
    problems: list[str] = []
    entries: list[dict[str, Any]] = []
    rewritten: list[dict[str, Any]] = []
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        with DryRunLock(d):
            for rel, p in _collect(d):
                data = p.read_bytes()
                if rel == d.events_log.name and data and not data.endswith(b"\n"):
                    data = data[: data.rfind(b"\n") + 1]  # a line being written right now is not evidence yet
                problems += scan_secrets(rel, data, secrets)
                if _is_text(rel, data):
                    text, n = _rewrite(data.decode("utf-8"), prefixes)
                    if n:
                        rewritten.append({"path": rel, "replacements": n})
                        data = text.encode("utf-8")
                    problems += scan_abs_paths(rel, text)
                dest = tmp / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(data)
                entries.append({"path": rel, "size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                                "kind": _kind(rel)})
            if problems:
                raise RecordError(d.root, "refusing to build the evidence pack:\n  " + "\n  ".join(problems),
                                  hint="remove the secret or absolute path from those files (the pack never "
                                       "includes them)")
            closeout = _read_json(d.closeout_json)
            env = _read_json(d.env_frozen)
            manifest = {
                "pack_format": PACK_FORMAT,
                "created": now.isoformat(timespec="seconds").replace("+00:00", "Z"),
                "source": d.root.name,
                "baseline": (cfg.sprint.baseline if cfg else (env or {}).get("matrix", {}).get("baseline", "")),
                "env_sha": (env or {}).get("sha256", ""),
                "decision": (closeout or {}).get("decision", ""),
                "excluded": [f"{d.state_dir.name}/ (record internals)", "hidden temporary files"],
                "rewritten": rewritten,
                "files": entries,
            }
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", "utf-8")
            (tmp / TOOLCHAIN).write_text(json.dumps(toolchain(), indent=2, sort_keys=True) + "\n", "utf-8")
            (tmp / VERIFY_SH).write_text('#!/bin/sh\n# Check every file of this evidence pack.\n'
                                         'cd "$(dirname "$0")" && exec sha256sum -c --strict SHA256SUMS.txt\n', "utf-8")
            os.chmod(tmp / VERIFY_SH, 0o755)
            sums = []
            for rel in sorted([e["path"] for e in entries] + [MANIFEST, TOOLCHAIN, VERIFY_SH]):
                sums.append(f"{_sha_file(tmp / rel)}  {rel}\n")
            (tmp / SUMS).write_text("".join(sums), "utf-8")
            for f in tmp.rglob("*"):
                if f.is_file():
                    with open(f, "rb") as fh:
                        os.fsync(fh.fileno())
            # swap into place: old pack out of the way first, then the new one in
            old = None
            if out.exists():
                old = out.parent / f".{out.name}.old-{os.getpid()}"
                os.replace(out, old)
            os.replace(tmp, out)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    total = sum(e["size"] for e in entries)
    if log:
        log.append({"kind": "pack_built", "files": len(entries), "bytes": total, "rewritten": len(rewritten),
                    "pack": out.name})
    return PackResult(out, len(entries), total, rewritten, manifest)


def _read_json(p: Path) -> dict | None:
    try:
        return json.loads(p.read_text("utf-8"))
    except (OSError, ValueError):
        return None


def _sha_file(p: Path) -> str:
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class VerifyReport:
    path: Path
    ok: bool
    files: int
    problems: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path.name, "ok": self.ok, "files": self.files, "problems": self.problems}


_SUM_LINE = re.compile(r"^([0-9a-f]{64}) [ *](.+)$")


def verify_pack(path: Path, *, secrets: list[str] | None = None) -> VerifyReport:
    """Check a pack: sums, manifest, toolchain, no absolute paths, no secrets."""
    path = Path(path)
    problems: list[str] = []
    if not path.is_dir():
        return VerifyReport(path, False, 0, [f"{path}: not a folder"])
    sums_path = path / SUMS
    listed: dict[str, str] = {}
    try:
        for n, line in enumerate(sums_path.read_text("utf-8").splitlines(), start=1):
            m = _SUM_LINE.match(line)
            if not m:
                problems.append(f"{SUMS}:{n}: not '<sha256>  <file>'")
                continue
            listed[m.group(2)] = m.group(1)
    except FileNotFoundError:
        problems.append(f"{SUMS}: missing")
    except (OSError, UnicodeDecodeError) as e:
        problems.append(f"{SUMS}: unreadable ({e})")
    present = {f.relative_to(path).as_posix() for f in path.rglob("*") if f.is_file()}
    for rel in sorted(present - set(listed) - {SUMS}):
        problems.append(f"{rel}: not listed in {SUMS}")
    for rel, digest in sorted(listed.items()):
        if rel.startswith("/") or ".." in Path(rel).parts:
            problems.append(f"{SUMS}: unsafe path {rel!r}")
            continue
        if rel not in present:
            problems.append(f"{rel}: listed in {SUMS} but missing")
        elif _sha_file(path / rel) != digest:
            problems.append(f"{rel}: SHA-256 mismatch (changed after packing)")
    manifest = _read_json(path / MANIFEST)
    if manifest is None:
        problems.append(f"{MANIFEST}: missing or not JSON")
    else:
        mfiles = {e.get("path"): e for e in manifest.get("files", [])}
        for rel in sorted(set(mfiles) - present):
            problems.append(f"{MANIFEST}: lists {rel}, which is missing")
        for rel in sorted(present - set(mfiles) - set(PACK_FILES)):
            problems.append(f"{rel}: not in {MANIFEST}")
        for rel, e in mfiles.items():
            if rel in present and e.get("sha256") != listed.get(rel):
                problems.append(f"{rel}: {MANIFEST} and {SUMS} disagree")
    tc = _read_json(path / TOOLCHAIN)
    if tc is None or "python" not in tc:
        problems.append(f"{TOOLCHAIN}: missing or without 'python'")
    for rel in sorted(present):
        data = (path / rel).read_bytes()
        problems += scan_secrets(rel, data, secrets or [])
        if _is_text(rel, data):
            problems += scan_abs_paths(rel, data.decode("utf-8"))
    return VerifyReport(path, not problems, len(present), problems)
