"""The camera service's JSON-RPC 2.0 vocabulary: error codes per dialect, event names, frame checks.

Pure data and pure functions (no I/O), shared by the client (``runners.rpc``), the smoke checks
and the simulator. Facts come from /work/shared/camera-service-api.md: two implementations in
the field ("current" Go service, "legacy" Python service) share method names but not error
codes, and deliver events under two naming families.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

DIALECTS = ("current", "legacy")

# Codes shared by every JSON-RPC 2.0 peer.
_STANDARD: dict[int, str] = {
    -32700: "parse_error",
    -32600: "invalid_request",
    -32601: "method_not_found",
    -32602: "invalid_params",
    -32603: "internal_error",
}

# dialect -> code -> meaning. A meaning is the dialect-independent name a check asserts on,
# so "permission denied" is `permission_denied` whether the host says -32002 (current) or
# -32003 (legacy), and -32002 means `rate_limited` on a legacy host.
ERROR_MEANINGS: dict[str, dict[int, str]] = {
    "current": {
        **_STANDARD,
        -32001: "auth_required",  # docs: "auth failed / auth required"
        -32002: "permission_denied",  # data: required_role, have_role
        -32007: "insufficient_storage",
        -32008: "capability_not_supported",
        -32010: "not_found",  # data: resource, id
        -32020: "invalid_state",  # data: state, allowed_states
        -32030: "unsupported",
        -32040: "rate_limited",  # data: retry_after_ms
        -32050: "dependency_failed",  # data: dependency, detail
    },
    "legacy": {
        **_STANDARD,
        -32001: "auth_required",  # also any call before authenticate, ping included
        -32002: "rate_limited",
        -32003: "permission_denied",  # "insufficient permissions"
        -32004: "camera_not_found",
        -32005: "recording_in_progress",
        -32006: "mediamtx_unavailable",
    },
}

# Meanings that name the same situation in the two dialects: lets a check ask for
# expected_code("current", "camera_not_found") and get -32010 ("not_found").
_SYNONYMS: tuple[frozenset[str], ...] = (
    frozenset({"auth_required", "auth_failed"}),
    frozenset({"permission_denied", "insufficient_permissions"}),
    frozenset({"not_found", "camera_not_found"}),
    frozenset({"invalid_state", "recording_in_progress"}),
    frozenset({"dependency_failed", "mediamtx_unavailable"}),
)


def _check_dialect(dialect: str) -> dict[int, str]:
    try:
        return ERROR_MEANINGS[dialect]
    except KeyError:
        raise ValueError(f"unknown dialect {dialect!r}: expected one of {', '.join(DIALECTS)}") from None


def error_meaning(dialect: str, code: int) -> str:
    """("legacy", -32002) -> "rate_limited". Unknown codes: "server_error" inside the JSON-RPC
    implementation-defined range -32099..-32000, else "unknown"."""
    table = _check_dialect(dialect)
    meaning = table.get(code)
    if meaning is not None:
        return meaning
    if -32099 <= code <= -32000:
        return "server_error"
    return "unknown"


def expected_code(dialect: str, meaning: str) -> int | None:
    """Inverse of :func:`error_meaning`: ("current", "permission_denied") -> -32002.
    Synonyms across dialects resolve too; None when the dialect has no such code."""
    table = _check_dialect(dialect)
    wanted = {meaning}
    for group in _SYNONYMS:
        if meaning in group:
            wanted = set(group)
            break
    # Exact name first, then its synonyms, so a dialect with both never picks the wrong one.
    for code, m in table.items():
        if m == meaning:
            return code
    for code, m in table.items():
        if m in wanted:
            return code
    return None


# ----------------------------------------------------------------------------- events

# Dotted topics the current service delivers as the notification's method name.
TOPICS: tuple[str, ...] = (
    "camera.connected", "camera.disconnected", "camera.status_change",
    "recording.start", "recording.stop", "recording.progress", "recording.error",
    "snapshot.taken", "system.health", "system.startup", "system.shutdown",
)

# Both event families -> one canonical dotted name. Legacy/broadcast names map to the
# family's general topic; :func:`canonical_event` refines them from the params' status
# (a `camera_status_update` with status CONNECTED is `camera.connected`).
EVENT_ALIASES: dict[str, str] = {
    **{t: t for t in TOPICS},
    "camera_status_update": "camera.status_change",
    "recording_update": "recording.progress",
    "recording_status_update": "recording.progress",
    "snapshot_taken": "snapshot.taken",
    "system_event": "system.health",
}

_CAMERA_STATUS = {"CONNECTED": "camera.connected", "DISCONNECTED": "camera.disconnected"}
_RECORDING_STATUS = {
    "RECORDING": "recording.start", "STARTED": "recording.start", "STARTING": "recording.start",
    "STOPPED": "recording.stop", "COMPLETED": "recording.stop", "FINISHED": "recording.stop",
    "FAILED": "recording.error", "ERROR": "recording.error",
}


def canonical_event(method: str, params: Any = None) -> str:
    """The canonical dotted name of a notification, whichever family delivered it.
    Unknown methods keep their own name (so nothing is ever lost, only not merged)."""
    canonical = EVENT_ALIASES.get(method, method)
    if method in ("camera_status_update", "recording_update", "recording_status_update") \
            and isinstance(params, dict):
        status = params.get("status")
        if isinstance(status, str):
            table = _CAMERA_STATUS if method == "camera_status_update" else _RECORDING_STATUS
            canonical = table.get(status.upper(), canonical)
    return canonical


def event_family(method: str) -> str:
    """"topic" (dotted, current), "legacy" (underscore broadcast), or "other"."""
    if method in TOPICS or "." in method:
        return "topic"
    if method in EVENT_ALIASES:
        return "legacy"
    return "other"


@dataclass
class Notification:
    """A server-to-client notification. ``ts`` is ``time.monotonic()`` at receipt, on the same
    clock as the trace, so notification latencies can be measured against sent requests."""

    method: str
    params: Any
    canonical: str
    ts: float = field(default_factory=time.monotonic)
    family: str = "other"

    @classmethod
    def from_frame(cls, method: str, params: Any, ts: float | None = None) -> Notification:
        return cls(method=method, params=params, canonical=canonical_event(method, params),
                   ts=time.monotonic() if ts is None else ts, family=event_family(method))


# ----------------------------------------------------------------------------- frames

_MISSING = object()


class FrameError(ValueError):
    """A frame that breaks JSON-RPC 2.0; the message says what was expected and seen."""


def request(id_: int | str | None, method: str, params: Any = None) -> dict[str, Any]:
    """A request (``id_`` given) or notification (``id_`` None) frame."""
    frame: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        frame["params"] = params
    if id_ is not None:
        frame["id"] = id_
    return frame


def describe(value: Any, limit: int = 60) -> str:
    """Short repr of a seen value for error messages (type for non-scalars)."""
    if isinstance(value, (dict, list)):
        text = f"{type(value).__name__} of {len(value)}"
    else:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_response(frame: dict[str, Any]) -> None:
    """Raise FrameError unless ``frame`` is a well-formed response (id correlation aside):
    ``"jsonrpc": "2.0"``, exactly one of ``result``/``error``, and an error object with an
    integer ``code`` and a string ``message``."""
    version = frame.get("jsonrpc", _MISSING)
    if version != "2.0":
        seen = "no jsonrpc member" if version is _MISSING else f"jsonrpc {describe(version)}"
        raise FrameError(f'expected "jsonrpc": "2.0", got {seen}')
    has_result = "result" in frame
    has_error = "error" in frame
    if has_result and has_error:
        raise FrameError("response has both result and error; JSON-RPC 2.0 allows exactly one")
    if not has_result and not has_error:
        raise FrameError("response has neither result nor error")
    if has_error:
        err = frame["error"]
        if not isinstance(err, dict):
            raise FrameError(f"expected an error object, got {describe(err)}")
        code = err.get("code")
        if type(code) is not int:
            raise FrameError(f"expected an integer error code, got {describe(code)}")
        if not isinstance(err.get("message"), str):
            raise FrameError(f"expected a string error message, got {describe(err.get('message'))}")

