"""The errors runners raise. Each says what was expected and what was seen, in words an
operator can act on; ``hint`` (optional) says what to do about it.

Front-ends print ``str(err)``; checks map them to a ``fault`` class (``err.fault``)."""

from __future__ import annotations

from typing import Any


class DryRunError(Exception):
    fault = "error"

    def __init__(self, message: str, *, hint: str = ""):
        super().__init__(message)
        self.hint = hint

    def __str__(self) -> str:
        msg = super().__str__()
        return f"{msg} (hint: {self.hint})" if self.hint else msg


class TransportError(DryRunError):
    """Could not reach the peer, or the connection broke (refused, reset, closed mid-call)."""

    fault = "unreachable"


class RpcTimeout(DryRunError):
    """No response within the call's timeout."""

    fault = "timeout"

    def __init__(self, method: str, timeout: float, *, hint: str = ""):
        super().__init__(f"{method}: no response within {timeout:g} s", hint=hint)
        self.method = method
        self.timeout = timeout


class ProtocolError(DryRunError):
    """The peer broke JSON-RPC 2.0: malformed JSON, wrong version, unknown id, binary or oversize frame."""

    fault = "protocol"


class RpcError(DryRunError):
    """A JSON-RPC error response. ``meaning`` is the dialect-independent name of the code
    (``method_not_found``, ``auth_required``, ``permission_denied``, ``rate_limited``...)."""

    fault = "rpc_error"

    def __init__(self, method: str, code: int, message: str, data: Any = None, *,
                 meaning: str = "", dialect: str = ""):
        text = f"{method}: error {code} {message!r}"
        if meaning:
            text += f" [{meaning}{', ' + dialect if dialect else ''}]"
        super().__init__(text)
        self.method = method
        self.code = code
        self.message = message
        self.data = data
        self.meaning = meaning
        self.dialect = dialect

    @property
    def fault_code(self) -> str:
        return f"rpc_error:{self.code}"


class AuthRejected(DryRunError):
    """``authenticate`` refused the token; ``form`` says how (``error -32001`` or
    ``result authenticated:false``, the legacy form)."""

    fault = "auth_rejected"

    def __init__(self, message: str, *, form: str, hint: str = ""):
        super().__init__(message, hint=hint)
        self.form = form


class SshError(DryRunError):
    fault = "ssh"


class HostKeyError(SshError):
    """The host's key is unknown or changed under strict host-key checking."""

    fault = "host_key"


class HealthError(DryRunError):
    fault = "health"


class SecretError(DryRunError):
    """A token or secret named in the config could not be read."""

    fault = "config"
