"""Keep secrets out of every file the record writes.

Values under secret-sounding keys, JWT-shaped strings and the configured secret values
(the hosts' tokens and JWT secrets) become ``<redacted>``, anywhere in nested data.
The logic is ``runners.redaction``'s (stdlib only: no network library comes with it); this
module fixes the record's choices: its key set, its JWT pattern, secrets of 4+ characters,
empty values under secret keys left as they are."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runners import redaction
from runners.redaction import REDACTED
from runners.redaction import JWT_EYJ_RE as JWT_RE
from runners.redaction import RECORD_SECRET_KEYS as SECRET_KEYS

if TYPE_CHECKING:
    from runners.config import Config

__all__ = ["JWT_RE", "REDACTED", "SECRET_KEYS", "configured_secrets", "redact", "redact_text"]

_MIN_SECRET = 4  # a shorter configured value would redact ordinary words


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    return redaction.redact_text(text, secrets, jwt_re=JWT_RE, min_secret_len=_MIN_SECRET)


def redact(obj: Any, secrets: Iterable[str] = ()) -> Any:
    """A copy of ``obj`` (dicts, lists, tuples, strings) with secrets replaced."""
    return redaction.redact_obj(obj, secrets, keys=SECRET_KEYS, jwt_re=JWT_RE, min_secret_len=_MIN_SECRET,
                                redact_empty=False)


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
