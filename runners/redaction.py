"""Redaction: credentials out of text and JSON-like data, in one place.

Two forms: ``redact_text`` (free text: configured secret values, longest first so no partial
leftover survives, then JWT-shaped strings) and ``redact_obj`` (nested dicts/lists/tuples:
values under credential keys wholesale, every string as text). Both return copies and never
mutate their input. The placeholder is always ``REDACTED``.

Callers differ in what they treat as a JWT, which keys are credentials and how short a
secret may be; those choices are the named constants and keyword arguments below, and each
public entry point (``runners.trace.redact``, ``runners.tokens.redact``, ``record.redact``,
``runners.smoke.text.redact_text``) passes its own, unchanged from before this module.

Stdlib only: ``record/`` imports this and must not pull in network libraries.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

REDACTED = "<redacted>"

_B64 = r"[A-Za-z0-9_\-]"
#: A whole token: a header that decodes to '{"' (eyJ...) with any payload/signature (alg
#: "none" has an empty signature), or three segments of 8+ characters whatever the header -
#: long enough that file names such as "rec.2025.mp4" stay readable. Not inside a longer
#: dotted/base64url run. Used for RPC frames (``runners.trace``) and service text.
JWT_RE = re.compile(
    rf"(?<![A-Za-z0-9_\-.])(?:eyJ{_B64}*\.{_B64}+\.{_B64}*|{_B64}{{8,}}\.{_B64}{{8,}}\.{_B64}{{8,}})"
    # A sentence may end right after a token ("invalid token eyJ....sig."): a dot is only part
    # of a longer dotted run when more base64url follows it.
    rf"(?![A-Za-z0-9_\-]|\.[A-Za-z0-9_\-])"
)
#: eyJ-headed, 4+ characters in header and payload, anywhere in the text (the record's files).
JWT_EYJ_RE = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
#: The same starting at a word boundary (``runners.tokens.redact``).
JWT_EYJ_WORD_RE = re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")

#: Keys whose values are credentials wherever they appear in an RPC frame (case-insensitive).
TRACE_SECRET_KEYS = frozenset({"auth_token", "token", "access_token", "refresh_token", "jwt", "secret",
                               "password", "authorization"})
#: Keys whose values are credentials in what the record writes (case-insensitive).
RECORD_SECRET_KEYS = frozenset({"auth_token", "token", "secret", "password", "passwd", "authorization",
                                "jwt", "api_key", "private_key"})


def _ordered(secrets: Iterable[str | None], min_len: int) -> list[str]:
    # Longest first: with "abc" and "abcdef" configured, "abcdef" must go whole, not leave "def".
    return sorted({s for s in secrets if s and len(s) >= min_len}, key=len, reverse=True)


def _sub(text: str, ordered: list[str], jwt_re: re.Pattern[str] | None) -> str:
    for value in ordered:
        text = text.replace(value, REDACTED)
    # every JWT pattern needs a dot: skip the regex on the (common) dotless strings
    if jwt_re is not None and "." in text:
        text = jwt_re.sub(REDACTED, text)
    return text


def redact_text(text: str, secrets: Iterable[str | None] = (), *, jwt_re: re.Pattern[str] | None = JWT_RE,
                min_secret_len: int = 1) -> str:
    """``text`` with each secret value (empty ones and those shorter than ``min_secret_len``
    ignored; longest first) and then each ``jwt_re`` match (none if ``jwt_re`` is None)
    replaced by ``REDACTED``."""
    return _sub(text, _ordered(secrets, min_secret_len), jwt_re)


def redact_obj(obj: Any, secrets: Iterable[str | None] = (), *, keys: frozenset[str] = TRACE_SECRET_KEYS,
               jwt_re: re.Pattern[str] | None = JWT_RE, min_secret_len: int = 1,
               redact_empty: bool = True) -> Any:
    """A copy of ``obj``: a dict value under a key in ``keys`` (case-insensitive, string keys)
    becomes ``REDACTED`` unless it is None (or ``""`` when not ``redact_empty``); every other
    string goes through ``redact_text``; lists and tuples become lists; anything else is kept.
    Dict keys themselves are kept."""
    ordered = _ordered(secrets, min_secret_len)
    blank = _is_none if redact_empty else _is_none_or_empty

    def walk(o: Any) -> Any:
        if isinstance(o, str):
            return _sub(o, ordered, jwt_re)
        if isinstance(o, dict):
            return {k: (REDACTED if isinstance(k, str) and k.lower() in keys and not blank(v)
                        else walk(v)) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [walk(v) for v in o]
        return o

    return walk(obj)


def _is_none(v: Any) -> bool:
    return v is None


def _is_none_or_empty(v: Any) -> bool:
    return v in (None, "")
