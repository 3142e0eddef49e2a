"""Credentials for the camera service: read them, mint test tokens, keep them out of logs.

The config never holds a secret, only the *name* of an environment variable or a file
(``[hosts.auth]``). :func:`load_credentials` reads them; every problem is a
:class:`~runners.errors.SecretError` naming the variable or file and what is wrong with it,
never the value. :class:`Credentials` hides the values in ``repr``/``str`` so a stray
``print(creds)`` or a traceback cannot leak them.

Tokens are HS256 JWTs with the service's claims ``user_id``, ``role``, ``iat``, ``exp``
(camera-service-api.md). SMK-2 needs a valid one, an expired one and a forged one.
"""

from __future__ import annotations

import os
import re
import secrets as _secrets
import stat
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from runners.config import Auth
from runners.errors import SecretError
from runners.redaction import JWT_EYJ_WORD_RE, redact_text
from runners.redaction import REDACTED as REDACTED  # re-exported: callers import it from here

#: A token or secret file larger than this is not a token or secret (and reading it whole
#: would be a way to hang the console on /dev/zero or a huge log named by mistake).
MAX_SECRET_BYTES = 64 * 1024

#: How far in the past an "expired" token's ``exp`` lies. Services often allow some clock
#: leeway (30-60 s is common); an hour is beyond any sane leeway, so "expired" is certain.
EXPIRED_BY = 3600

_JWT_SHAPE = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")


@dataclass(eq=True)
class Credentials:
    """A host's token and/or secret. ``repr`` and ``str`` never show the values."""

    token: str | None = field(default=None, repr=False)
    secret: str | None = field(default=None, repr=False)
    token_source: str = ""  # e.g. "env CAMERA_TOKEN" or "file /etc/dryrun/token" (safe to show)
    secret_source: str = ""

    def __repr__(self) -> str:
        def show(value: str | None, source: str) -> str:
            if value is None:
                return "<none>"
            return f"<set from {source}>" if source else "<set>"

        return f"Credentials(token={show(self.token, self.token_source)}, secret={show(self.secret, self.secret_source)})"

    __str__ = __repr__

    def values(self) -> list[str]:
        """The secret values, for :func:`redact`."""
        return [v for v in (self.token, self.secret) if v]


def _from_env(var: str, what: str, key: str) -> tuple[str, str]:
    raw = os.environ.get(var)
    if raw is None:
        raise SecretError(f"{key}: environment variable {var} is not set (it should hold the {what})",
                          hint=f"export {var}=... before starting the console")
    value = raw.strip()
    if not value:
        raise SecretError(f"{key}: environment variable {var} is empty (it should hold the {what})")
    return value, f"env {var}"


def _from_file(name: str, resolve: Callable[[str], Path], what: str, key: str) -> tuple[str, str]:
    path = resolve(name)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise SecretError(f"{key}: file {path} does not exist (it should hold the {what})") from None
    except OSError as e:
        raise SecretError(f"{key}: cannot read {path}: {e.strerror or e}") from None
    # Check before open(): opening a FIFO would block, and a device could be endless.
    if stat.S_ISDIR(st.st_mode):
        raise SecretError(f"{key}: {path} is a directory, expected a file holding the {what}")
    if not stat.S_ISREG(st.st_mode):
        raise SecretError(f"{key}: {path} is not a regular file (expected a file holding the {what})")
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_SECRET_BYTES + 1)
    except OSError as e:
        raise SecretError(f"{key}: cannot read {path}: {e.strerror or e}") from None
    if len(data) > MAX_SECRET_BYTES:
        raise SecretError(f"{key}: {path} is larger than {MAX_SECRET_BYTES // 1024} KiB; "
                          f"expected a small file holding only the {what}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SecretError(f"{key}: {path} is not UTF-8 text (invalid byte at offset {e.start}); "
                          f"expected the {what} as text") from None
    value = text.strip()
    if not value:
        raise SecretError(f"{key}: {path} is empty (it should hold the {what})")
    return value, f"file {path}"


def _check_token_shape(token: str, source: str, key: str) -> None:
    # A JWT is three base64url parts joined by dots. Catch the common mistakes early
    # ("Bearer ..." prefixes, the secret put in the token file) without showing the value.
    if _JWT_SHAPE.match(token):
        return
    if token.lower().startswith("bearer "):
        raise SecretError(f"{key}: the token from {source} starts with 'Bearer '; store the bare JWT")
    parts = token.count(".") + 1
    raise SecretError(f"{key}: the token from {source} does not look like a JWT "
                      f"(expected 3 dot-separated base64url parts, got {parts} part(s) of {len(token)} characters)")


def load_credentials(auth: Auth, resolve: Callable[[str], Path]) -> Credentials:
    """Read the token and secret named by ``auth`` (env var or file; file paths go through
    ``resolve``, normally ``cfg.resolve``). Unconfigured ones are ``None``."""
    creds = Credentials()
    if auth.token_env:
        creds.token, creds.token_source = _from_env(auth.token_env, "service token (a JWT)", "auth.token_env")
    elif auth.token_file:
        creds.token, creds.token_source = _from_file(auth.token_file, resolve, "service token (a JWT)",
                                                     "auth.token_file")
    if creds.token is not None:
        _check_token_shape(creds.token, creds.token_source, "auth.token_env" if auth.token_env else "auth.token_file")
    if auth.secret_env:
        creds.secret, creds.secret_source = _from_env(auth.secret_env, "service's JWT secret", "auth.secret_env")
    elif auth.secret_file:
        creds.secret, creds.secret_source = _from_file(auth.secret_file, resolve, "service's JWT secret",
                                                       "auth.secret_file")
    return creds


def _claims(role: str, user_id: str, iat: int, exp: int) -> dict:
    return {"user_id": user_id, "role": role, "iat": iat, "exp": exp}


def _encode(claims: dict, key: str | bytes) -> str:
    import jwt  # PyJWT; imported here to keep the console's start-up light

    with warnings.catch_warnings():
        # The service's secret is whatever the service uses; a short one still has to work.
        warnings.filterwarnings("ignore", message=".*HMAC key.*")
        return jwt.encode(claims, key, algorithm="HS256")


def mint_token(secret: str, *, role: str = "admin", user_id: str = "dryrun-console", ttl: float = 3600,
               expired: bool = False, now: float | None = None) -> str:
    """An HS256 token the service accepts (signed with its ``secret``).

    ``expired=True``: ``exp`` lies :data:`EXPIRED_BY` seconds in the past (``iat`` one ``ttl``
    before that), so the token is well-formed and correctly signed but no longer valid."""
    if not isinstance(secret, str) or not secret:
        raise SecretError("cannot mint a token: the service's JWT secret is empty")
    if not role:
        raise ValueError("mint_token: role must not be empty")
    if ttl <= 0:
        raise ValueError(f"mint_token: ttl must be > 0 seconds, got {ttl!r}")
    t = int(time.time() if now is None else now)
    if expired:
        exp = t - EXPIRED_BY
        iat = exp - int(ttl)
    else:
        iat, exp = t, t + int(ttl)
    return _encode(_claims(role, user_id, iat, exp), secret)


def forge_token(role: str = "admin", *, user_id: str = "dryrun-console", ttl: float = 3600,
                now: float | None = None) -> str:
    """A well-formed, unexpired JWT signed with a random key the service cannot know."""
    t = int(time.time() if now is None else now)
    return _encode(_claims(role, user_id, t, t + int(ttl)), _secrets.token_bytes(32))


def redact(text: str, secrets: Iterable[str | None] = (), *, jwts: bool = True) -> str:
    """``text`` with every occurrence of each secret (longest first: no partial leftovers)
    and, with ``jwts``, anything shaped like a JWT replaced by ``<redacted>``. For log lines,
    error messages and traces. The logic is ``runners.redaction``'s."""
    return redact_text(text, secrets, jwt_re=JWT_EYJ_WORD_RE if jwts else None)
