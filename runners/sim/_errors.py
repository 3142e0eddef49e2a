"""JSON-RPC errors of the simulated service, per dialect (camera-service-api.md, "Error codes").

Handlers raise :class:`RpcFault`; the builders below pick the code, message and ``data`` the
chosen implementation really sends, so the dialect differences live in one place.
"""

from __future__ import annotations

from typing import Any

DIALECTS = ("current", "legacy")

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603


class RpcFault(Exception):
    """An error response to send: code, message, optional data."""

    def __init__(self, code: int, message: str, data: Any = None):
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message
        self.data = data

    def to_error(self) -> dict:
        err: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            err["data"] = self.data
        return err


def check_dialect(dialect: str) -> str:
    if dialect not in DIALECTS:
        raise ValueError(f"dialect must be 'current' or 'legacy', got {dialect!r}")
    return dialect


def parse_error(dialect: str, detail: str) -> RpcFault:
    if dialect == "current":
        return RpcFault(PARSE_ERROR, "Parse error", {"detail": detail})
    return RpcFault(PARSE_ERROR, f"Parse error: {detail}")


def invalid_request(dialect: str, detail: str) -> RpcFault:
    # Both say "Invalid Request"; the detail tells the operator what was wrong.
    if dialect == "current":
        return RpcFault(INVALID_REQUEST, "Invalid Request", {"detail": detail})
    return RpcFault(INVALID_REQUEST, f"Invalid Request: {detail}")


def method_not_found(dialect: str, method: str) -> RpcFault:
    if dialect == "current":
        return RpcFault(METHOD_NOT_FOUND, "Method not found", {"method": method})
    return RpcFault(METHOD_NOT_FOUND, f"Method not found: {method}")


def invalid_params(dialect: str, param: str, rule: str, hint: str) -> RpcFault:
    if dialect == "current":
        return RpcFault(INVALID_PARAMS, "Invalid params", {"param": param, "rule": rule, "hint": hint})
    return RpcFault(INVALID_PARAMS, f"Invalid params: {param}: {hint}")


def internal_error(dialect: str, detail: str = "") -> RpcFault:
    return RpcFault(INTERNAL_ERROR, "Internal error", {"detail": detail} if dialect == "current" and detail else None)


def auth_failed(dialect: str, reason: str) -> RpcFault:
    """Current only: ``authenticate`` with a bad or expired token (legacy answers with a result)."""
    return RpcFault(-32001, "Authentication failed", {"reason": reason})


def auth_required(dialect: str, method: str) -> RpcFault:
    if dialect == "current":
        return RpcFault(-32001, "Authentication required", {"reason": f"call authenticate before {method}"})
    return RpcFault(-32001, "Authentication required")


def permission_denied(dialect: str, method: str, required: str, have: str) -> RpcFault:
    if dialect == "current":
        return RpcFault(-32002, "Permission denied",
                        {"method": method, "required_role": required, "have_role": have})
    return RpcFault(-32003, "Insufficient permissions")


def rate_limited(dialect: str, retry_after_ms: int, limit: int, window: float) -> RpcFault:
    if dialect == "current":
        return RpcFault(-32040, "Rate limit exceeded",
                        {"retry_after_ms": retry_after_ms, "limit": limit, "window_s": window})
    return RpcFault(-32002, "Rate limit exceeded")


def camera_not_found(dialect: str, device: str) -> RpcFault:
    if dialect == "current":
        return RpcFault(-32010, "Not found", {"resource": "camera", "id": device})
    return RpcFault(-32004, "Camera not found or disconnected")


def file_not_found(dialect: str, resource: str, filename: str) -> RpcFault:
    if dialect == "current":
        return RpcFault(-32010, "Not found", {"resource": resource, "id": filename})
    # The legacy service has no generic not-found code: the filename param is what is wrong.
    return RpcFault(INVALID_PARAMS, f"Invalid params: filename: {resource} file not found: {filename}")


def invalid_state(dialect: str, state: str, allowed: list[str], *, legacy_code: int, legacy_message: str) -> RpcFault:
    if dialect == "current":
        return RpcFault(-32020, "Invalid state", {"state": state, "allowed_states": allowed})
    return RpcFault(legacy_code, legacy_message)


def dependency_failed(dialect: str, dependency: str, detail: str) -> RpcFault:
    if dialect == "current":
        return RpcFault(-32050, "Dependency failed", {"dependency": dependency, "detail": detail})
    return RpcFault(-32006, "MediaMTX service unavailable")
