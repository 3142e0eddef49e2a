"""Service text made safe to show and to keep: what a host sends (error messages, log
lines, event names, echoed results) reaches the operator's terminal, the run log, the
JUnit XML and the events log.

- secrets first: the host's configured token and JWT secret and every JWT-shaped string
  become ``<redacted>`` (before any cut, so a shortened token cannot slip through);
- then size: a huge line is cut with a note saying how long it was;
- then control characters, terminal escapes and bidi overrides become visible stand-ins
  (``runners.logs.parse.neutralise``).
"""

from __future__ import annotations

from collections.abc import Iterable

from runners import redaction
from runners.logs.parse import neutralise

TEXT_LIMIT = 2000  # characters of one message kept in a result (expected, seen, summary)
LINE_LIMIT = 1000  # characters of one service-log line kept in a failure's excerpt


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Secrets of 4+ characters (longest first), then JWT-shaped strings (the trace's pattern)."""
    return redaction.redact_text(text, secrets, jwt_re=redaction.JWT_RE, min_secret_len=4)


def safe(text: object, limit: int = TEXT_LIMIT, secrets: Iterable[str] = ()) -> str:
    s = redact_text(text if isinstance(text, str) else str(text), secrets)
    if len(s) > limit:
        s = s[:limit] + f"... ({len(s)} characters in all)"
    return neutralise(s)
