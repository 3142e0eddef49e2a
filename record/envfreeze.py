"""Environment freeze (seed 000 A2) and the pre-run environment validator (seed 002 step 5).

``freeze`` takes what ``runners.envprobe.collect_env`` gathered (per host over SSH + RPC,
plus the lab machine) and writes three files: ``01_env_matrix.json`` (the frozen matrix
and its SHA-256, the machine-readable truth), ``01_env_matrix.md`` (the plan's table) and
``env.sh`` (the variables a shell needs; secrets only by name, never by value).

The SHA covers only the compared facts (not timestamps or hostnames), so freezing an
unchanged environment again gives the same SHA. ``check_drift`` compares a live
collection with the frozen one and returns reason-coded drifts; ``validate_env`` is the
gate run before every run: it halts on drift unless explicitly overridden, logs
``environment_validation_*`` events and leaves ``.state/env_validation_failure.json``.

Python versions are compared at minor level (3.11.x == 3.11.y), like the seed's validator;
everything else exactly.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import shlex
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from record.atomic import atomic_write_text
from record.errors import RecordError
from record.layout import DryRunDir
from record.lock import DryRunLock
from record.tomlio import dump_json, load_json

if TYPE_CHECKING:
    from record.events_log import EventsLog
    from runners.config import Config

# host facts compared, in table order -> reason code on drift
HOST_KEYS: dict[str, str] = {
    "os": "ENV_DRIFT_OS",
    "kernel": "ENV_DRIFT_KERNEL",
    "arch": "ENV_DRIFT_ARCH",
    "python": "ENV_DRIFT_PYTHON",
    "mediamtx": "ENV_DRIFT_MEDIAMTX",
    "service_version": "ENV_DRIFT_SERVICE",
    "dialect": "ENV_DRIFT_DIALECT",
    "cameras": "ENV_DRIFT_CAMERAS",
    "video_devices": "ENV_DRIFT_DEVICES",
}
LAB_KEYS: dict[str, str] = {
    "os": "ENV_DRIFT_OS",
    "kernel": "ENV_DRIFT_KERNEL",
    "arch": "ENV_DRIFT_ARCH",
    "python": "ENV_DRIFT_PYTHON",
    "console": "ENV_DRIFT_CONSOLE",
}
KEY_TITLES = {
    "os": "OS", "kernel": "Kernel", "arch": "Arch", "python": "Python", "mediamtx": "MediaMTX",
    "service_version": "Camera service", "dialect": "API dialect", "cameras": "Camera ids",
    "video_devices": "Video devices", "console": "Dry-run console",
}
LAB = "lab"


@dataclass(frozen=True)
class Drift:
    code: str
    host: str
    key: str
    frozen: str
    live: str

    @property
    def message(self) -> str:
        return f"{self.code}: {self.host} {KEY_TITLES.get(self.key, self.key)}: frozen {self.frozen!r}, live {self.live!r}"


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, (list, tuple)):
        return ", ".join(sorted(str(x) for x in v))  # ids are a set: one order everywhere
    return str(v)


def _norm(key: str, v: Any) -> str:
    s = _fmt(v).strip()
    if key == "python":
        parts = s.split(".")
        return ".".join(parts[:2]) if len(parts) >= 2 else s
    if isinstance(v, (list, tuple)):
        return ", ".join(sorted(str(x) for x in v))
    return s


def comparable(env: dict[str, Any]) -> dict[str, Any]:
    """The facts that are frozen and compared (what the SHA covers)."""
    hosts = env.get("hosts") or {}
    return {
        "baseline": env.get("baseline", ""),
        LAB: {k: _fmt((env.get(LAB) or {}).get(k)) for k in LAB_KEYS},
        "hosts": {name: {k: _norm(k, (h or {}).get(k)) if k in ("cameras", "video_devices") else _fmt((h or {}).get(k))
                         for k in HOST_KEYS}
                  for name, h in sorted(hosts.items())},
    }


def env_sha(env: dict[str, Any]) -> str:
    canon = json.dumps(comparable(env), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canon.encode("utf-8")).hexdigest()


def errors_of(env: dict[str, Any]) -> list[str]:
    out = []
    for name, h in sorted((env.get("hosts") or {}).items()):
        for part, err in sorted(((h or {}).get("errors") or {}).items()):
            out.append(f"{name} {part}: {err}")
    for part, err in sorted(((env.get(LAB) or {}).get("errors") or {}).items()):
        out.append(f"{LAB} {part}: {err}")
    return out


def check_drift(frozen: dict[str, Any], live: dict[str, Any]) -> list[Drift]:
    """Reason-coded differences between a frozen env (``matrix`` of 01_env_matrix.json, or a
    collection) and a live collection."""
    frozen = frozen.get("matrix", frozen)
    out: list[Drift] = []
    if frozen.get("baseline", "") != live.get("baseline", ""):
        out.append(Drift("ENV_DRIFT_BASELINE", "*", "baseline", _fmt(frozen.get("baseline")), _fmt(live.get("baseline"))))
    fl, ll = frozen.get(LAB) or {}, live.get(LAB) or {}
    for k, code in LAB_KEYS.items():
        if _norm(k, fl.get(k)) != _norm(k, ll.get(k)):
            out.append(Drift(code, LAB, k, _fmt(fl.get(k)), _fmt(ll.get(k))))
    fh, lh = frozen.get("hosts") or {}, live.get("hosts") or {}
    for name in sorted(set(fh) | set(lh)):
        if name not in lh:
            out.append(Drift("ENV_HOST_MISSING", name, "host", "frozen", "not in the live collection"))
            continue
        if name not in fh:
            out.append(Drift("ENV_HOST_ADDED", name, "host", "not frozen", "configured now"))
            continue
        f, l = fh[name] or {}, lh[name] or {}
        errs = l.get("errors") or {}
        for part, err in sorted(errs.items()):
            out.append(Drift("ENV_UNREACHABLE", name, part, "reachable at freeze", _fmt(err)))
        for k, code in HOST_KEYS.items():
            lv = l.get(k)
            if lv in (None, "", []) and errs:
                continue  # not collected because the host part was unreachable: reported above
            if _norm(k, f.get(k)) != _norm(k, lv):
                out.append(Drift(code, name, k, _fmt(f.get(k)), _fmt(lv)))
    return out


# --------------------------------------------------------------------------- files

def load_frozen(d: DryRunDir) -> dict | None:
    """The frozen env (``{"sha256", "frozen_at", "matrix": ...}``) or None if never frozen.
    A file whose SHA no longer matches its matrix was edited: RecordError."""
    data = load_json(d.env_frozen)
    if data is None:
        return None
    if not isinstance(data, dict) or "matrix" not in data or "sha256" not in data:
        raise RecordError(d.env_frozen, "expected an object with 'sha256' and 'matrix' (written by `dryrun env freeze`)")
    actual = env_sha(data["matrix"])
    if actual != data["sha256"]:
        raise RecordError(d.env_frozen, f"the frozen matrix does not match its SHA (recorded {data['sha256'][:12]}, "
                          f"computed {actual[:12]}): it was edited after the freeze",
                          hint="freeze again with `dryrun env freeze --refreeze`")
    return data


@dataclass
class FreezeResult:
    sha256: str
    frozen_at: str
    matrix: dict[str, Any]
    unchanged: bool = False
    errors: list[str] = field(default_factory=list)


def freeze(d: DryRunDir, env: dict[str, Any], cfg: Config, *, allow_partial: bool = False,
           refreeze: bool = False, now: _dt.datetime | None = None) -> FreezeResult:
    """Freeze ``env`` (from ``collect_env``) into 01_env_matrix.{json,md} and env.sh."""
    errs = errors_of(env)
    if errs and not allow_partial:
        raise RecordError(None, "cannot freeze an environment with unreachable parts: " + "; ".join(errs),
                          hint="fix the hosts, or pass --allow-partial to freeze what was collected")
    sha = env_sha(env)
    now = now or _dt.datetime.now(_dt.timezone.utc)
    with DryRunLock(d):
        old = load_frozen(d)
        if old is not None and old["sha256"] != sha and not refreeze:
            drifts = check_drift(old["matrix"], env)
            raise RecordError(d.env_frozen, f"already frozen with SHA {old['sha256'][:12]}; the live environment "
                              f"differs ({'; '.join(x.message for x in drifts) or 'see the matrix'})",
                              hint="a new freeze starts a new baseline: pass --refreeze if that is intended")
        if old is not None and old["sha256"] == sha:
            frozen_at = old["frozen_at"]
            unchanged = True
        else:
            frozen_at = now.isoformat(timespec="seconds").replace("+00:00", "Z")
            unchanged = False
        matrix = {k: v for k, v in env.items() if k != "collected_at"}
        data = {"sha256": sha, "frozen_at": frozen_at, "collected_at": env.get("collected_at", ""), "matrix": matrix}
        dump_json(d.env_frozen, data)
        atomic_write_text(d.env_matrix, render_matrix(data))
        atomic_write_text(d.env_sh, render_env_sh(data, cfg), mode=0o755)
    return FreezeResult(sha, frozen_at, matrix, unchanged, errs)


def summary_values(data: dict[str, Any]) -> dict[str, str]:
    """OS / Python / MediaMTX / Cameras across hosts, for the Dev->PM reply."""
    m = data.get("matrix", data)
    hosts = m.get("hosts") or {}

    def uniq(key: str) -> str:
        vals = []
        for h in hosts.values():
            v = _fmt((h or {}).get(key))
            if v and v not in vals:
                vals.append(v)
        return "; ".join(vals) or "unknown"

    cams = []
    for name, h in sorted(hosts.items()):
        cams.append(f"{name}: {_fmt((h or {}).get('cameras')) or 'none'}")
    return {"sha": data.get("sha256", ""), "os": uniq("os"), "kernel": uniq("kernel"), "python": uniq("python"),
            "mediamtx": uniq("mediamtx"), "service": uniq("service_version"),
            "cameras": "; ".join(cams) or "none"}


def render_matrix(data: dict[str, Any]) -> str:
    m = data["matrix"]
    hosts = m.get("hosts") or {}
    names = sorted(hosts)
    lab = m.get(LAB) or {}
    sv = summary_values(data)
    out = [
        "# 01 - Environment matrix (frozen)",
        "",
        f"- Baseline: `{m.get('baseline', '')}`",
        f"- SHA-256: `{data['sha256']}`",
        f"- Frozen at: {data['frozen_at']}",
        "- Source of truth: `01_env_matrix.json`; `dryrun env check` compares the live hosts with it before every run",
        "",
        "## Camera hosts",
        "",
        "| Fact | " + " | ".join(f"`{n}`" for n in names) + " |",
        "|------|" + "|".join("---" for _ in names) + "|",
    ]
    for k in HOST_KEYS:
        out.append(f"| {KEY_TITLES[k]} | " + " | ".join(_cell((hosts[n] or {}).get(k)) for n in names) + " |")
    errs = errors_of(m)
    out += ["", "## Lab machine", "", "| Fact | Value |", "|------|-------|"]
    for k in LAB_KEYS:
        out.append(f"| {KEY_TITLES[k]} | {_cell(lab.get(k))} |")
    if errs:
        out += ["", "## Not collected (frozen as unknown)", "", *[f"- {e}" for e in errs]]
    out += [
        "",
        "## Dev -> PM reply",
        "",
        "```",
        f"Env frozen. SHA={sv['sha'][:12]}; OS={sv['os']}; Python={sv['python']}; MediaMTX={sv['mediamtx']}; "
        f"Cameras={sv['cameras']}.",
        "```",
        "",
    ]
    return "\n".join(out)


def _cell(v: Any) -> str:
    s = _fmt(v)
    return s.replace("|", "\\|") if s else "-"


def _var(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name).upper()


def render_env_sh(data: dict[str, Any], cfg: Config) -> str:
    m = data["matrix"]
    q = shlex.quote
    lines = [
        "# env.sh: the dry-run's frozen environment. Use: source dry_run/env.sh",
        f"# Written by `dryrun env freeze` ({data['frozen_at']}). Secrets are never stored here: only their names.",
        "",
        f"export DRYRUN_BASELINE={q(str(m.get('baseline', '')))}",
        f"export DRYRUN_ENV_SHA={q(data['sha256'])}",
        f"export DRYRUN_SEED={q(str(cfg.run.seed))}",
        f"export DRYRUN_FAILFAST_MODE={q(cfg.run.failfast)}",
        f"export DRYRUN_CONFIG=\"${{DRYRUN_CONFIG:-{cfg.path.name if cfg.path else 'dryrun.toml'}}}\"",
        f"export DRYRUN_HOSTS={q(' '.join(sorted((m.get('hosts') or {}))))}",
        "",
        "# Frozen facts (compared with the live hosts by `dryrun env check` before every run)",
    ]
    lab = m.get(LAB) or {}
    for k in LAB_KEYS:
        lines.append(f"export DRYRUN_LAB_{_var(k)}={q(_fmt(lab.get(k)))}")
    for name, h in sorted((m.get("hosts") or {}).items()):
        for k in HOST_KEYS:
            lines.append(f"export DRYRUN_{_var(name)}_{_var(k)}={q(_fmt((h or {}).get(k)))}")
    names = []
    for h in cfg.hosts:
        for var, what in ((h.auth.token_env, "service token"), (h.auth.secret_env, "JWT secret")):
            if var and (var, what) not in names:
                names.append((var, what))
    if names:
        lines += ["", "# Secrets the hosts need, set by the operator (values never written to dry_run/)"]
        for var, what in names:
            lines.append(f'[ -n "${{{var}:-}}" ] || echo "env.sh: warning: {var} ({what}) is not set" >&2')
    lines.append("")
    return "\n".join(lines)


# --------------------------------------------------------------------------- validator

@dataclass
class EnvCheck:
    ok: bool
    frozen_sha: str | None
    live_sha: str
    drifts: list[Drift]
    overridden: bool = False

    @property
    def reason_codes(self) -> list[str]:
        return sorted({x.code for x in self.drifts})

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "frozen_sha": self.frozen_sha, "live_sha": self.live_sha,
                "overridden": self.overridden, "reason_codes": self.reason_codes,
                "drifts": [asdict(x) | {"message": x.message} for x in self.drifts]}


def validate_env(d: DryRunDir, live: dict[str, Any], *, allow_drift: bool = False,
                 log: EventsLog | None = None) -> EnvCheck:
    """Compare ``live`` with the frozen env. ``ok`` False means: halt the run (unless overridden,
    in which case ``ok`` is True and ``overridden`` says so)."""
    if log:
        log.append({"kind": "environment_validation_start"})
    frozen = load_frozen(d)
    live_sha = env_sha(live)
    if frozen is None:
        drifts = [Drift("ENV_NOT_FROZEN", "*", "freeze", "none", "run `dryrun env freeze` first")]
    else:
        drifts = check_drift(frozen["matrix"], live)
    fsha = frozen["sha256"] if frozen else None
    if not drifts:
        res = EnvCheck(True, fsha, live_sha, [])
        if log:
            log.append({"kind": "environment_validated", "env_sha": fsha})
        return res
    res = EnvCheck(allow_drift, fsha, live_sha, drifts, overridden=allow_drift)
    if log:
        log.append({"kind": "environment_validation_override" if allow_drift else "environment_validation_fail",
                    "reason_codes": res.reason_codes, "drifts": [x.message for x in drifts], "env_sha": fsha,
                    "live_sha": live_sha})
    if not allow_drift:
        dump_json(d.env_validation_failure, {"at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                                             **res.to_dict()})
    return res
