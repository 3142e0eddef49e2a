"""Keep secrets out of every file the record writes.

Values under secret-sounding keys, JWT-shaped strings and the configured secret values
(the hosts' tokens and JWT secrets) become ``<redacted>``, anywhere in nested data."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runners.config import Config

REDACTED = "<redacted>"

SECRET_KEYS = frozenset({"auth_token", "token", "secret", "password", "passwd", "authorization",
                         "jwt", "api_key", "private_key"})
JWT_RE = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    for value in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(value, REDACTED)
    return JWT_RE.sub(REDACTED, text)


def redact(obj: Any, secrets: Iterable[str] = ()) -> Any:
    """A copy of ``obj`` (dicts, lists, tuples, strings) with secrets replaced."""
    secrets = tuple(secrets)

    def walk(o: Any) -> Any:
        if isinstance(o, str):
            return redact_text(o, secrets)
        if isinstance(o, dict):
            return {k: (REDACTED if isinstance(k, str) and k.lower() in SECRET_KEYS and o[k] not in (None, "")
                        else walk(v)) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [walk(v) for v in o]
        return o

    return walk(obj)


def configured_secrets(cfg: Config) -> list[str]:
    """The values of every token and secret the config names (env vars and files that can be
    read; unreadable ones are skipped here: the runners report them)."""
    out: list[str] = []
    for h in cfg.hosts:
        a = h.auth
        for var in (a.token_env, a.secret_env):
            if var and (v := os.environ.get(var, "").strip()):
                out.append(v)
        for name in (a.token_file, a.secret_file):
            if not name:
                continue
            try:
                p: Path = cfg.resolve(name)
                if p.is_file() and p.stat().st_size <= 64 * 1024:
                    v = p.read_text("utf-8", errors="replace").strip()
                    if v:
                        out.append(v)
            except OSError:
                continue
    return out
