"""What a WebSocket failure means, in words an operator can act on.

Connect failures (refused, DNS, TLS, handshake timeout or rejection) and closes under a
waiting call (peer close frame, network drop, our own 1009/1002/1007 on a bad frame) become
TransportError or ProtocolError naming host:port, the close code and reason, and a hint.
Split from ``runners.rpc`` so the client module holds only the protocol machinery.
"""

from __future__ import annotations

import socket
import ssl as ssl_module

from runners.errors import DryRunError, ProtocolError, TransportError

CLOSE_NAMES = {
    1000: "normal closure", 1001: "going away", 1002: "protocol error", 1003: "unsupported data",
    1005: "no status code", 1006: "connection dropped without a close frame", 1007: "invalid data",
    1008: "policy violation", 1009: "message too big", 1011: "internal error", 1012: "service restart",
    1013: "try again later",
}


def _human_bytes(n: int) -> str:
    if n >= 2**20 and n % 2**20 == 0:
        return f"{n // 2**20} MiB"
    if n >= 2**10 and n % 2**10 == 0:
        return f"{n // 2**10} KiB"
    return f"{n} bytes"


def connect_error(exc: Exception, url: str, hostport: str, timeout: float) -> TransportError:
    """Why a connect failed, in words: refused, DNS, TLS, handshake timeout, HTTP status..."""
    from websockets.exceptions import InvalidHandshake, InvalidStatus, InvalidURI

    where = f"cannot connect to {url}"
    hp = hostport
    if isinstance(exc, ConnectionRefusedError):
        return TransportError(f"{where}: connection refused by {hp}",
                              hint="is the camera service running and listening on that port?")
    if isinstance(exc, socket.gaierror):
        host = hp.rsplit(":", 1)[0]
        return TransportError(f"{where}: cannot resolve host {host!r} ({hp}): {exc.strerror or exc}",
                              hint="check the host name in rpc_url and the lab DNS / /etc/hosts")
    if isinstance(exc, ssl_module.SSLCertVerificationError):
        return TransportError(f"{where}: TLS handshake with {hp} failed: certificate verify failed "
                              f"({exc.verify_message})",
                              hint="trust the service's certificate (pass an SSLContext) or use ws://")
    if isinstance(exc, ssl_module.SSLError):
        return TransportError(f"{where}: TLS handshake with {hp} failed: {exc.reason or exc}",
                              hint="does the service really serve wss:// (TLS) on that port?")
    if isinstance(exc, TimeoutError):
        return TransportError(f"{where}: no WebSocket handshake from {hp} within {timeout:g} s",
                              hint="the port accepts TCP but does not answer as a WebSocket server, "
                                   "or the host is unreachable")
    if isinstance(exc, InvalidStatus):
        status = exc.response.status_code
        return TransportError(f"{where}: WebSocket handshake with {hp} rejected with HTTP {status}",
                              hint="check the path in rpc_url (the service serves /ws)")
    if isinstance(exc, InvalidURI):
        return TransportError(f"invalid RPC url {url!r}: {exc}")
    if isinstance(exc, InvalidHandshake):
        cause = f" ({exc.__cause__!r})" if exc.__cause__ else ""
        return TransportError(f"{where}: WebSocket handshake with {hp} failed: {exc}{cause}",
                              hint="is a WebSocket server listening there (and not plain TCP/HTTP)?")
    tls = url.startswith("wss:")
    if isinstance(exc, (ConnectionResetError, ConnectionAbortedError, EOFError)):
        phase = "TLS handshake" if tls else "WebSocket handshake"
        return TransportError(f"{where}: connection reset by {hp} during the {phase}",
                              hint="does the service really serve wss:// (TLS) on that port?" if tls
                              else "is a WebSocket server listening there?")
    if isinstance(exc, OSError):
        return TransportError(f"{where}: {hp}: {exc.strerror or type(exc).__name__}")
    return TransportError(f"{where}: {hp}: {exc!r}")


def close_info(exc: BaseException | None) -> tuple[int, str, str]:
    """(code, reason, closed by "peer" | "client" | "network") from a ConnectionClosed."""
    rcvd = getattr(exc, "rcvd", None)
    sent = getattr(exc, "sent", None)
    if rcvd is not None:
        code, reason, by = rcvd.code, rcvd.reason, "peer"
    elif sent is not None:
        code, reason, by = sent.code, sent.reason, "client"
    else:
        code, reason, by = 1006, "", "network"
        cause = getattr(exc, "__cause__", None)
        if cause is not None:
            reason = f"{type(cause).__name__}: {cause}".rstrip(": ")
        elif exc is not None and not hasattr(exc, "rcvd"):
            reason = repr(exc)
    return code, reason or CLOSE_NAMES.get(code, "no reason given"), by

def closed_error(method: str, code: int, reason: str, by: str, *, hostport: str,
                 max_message: int) -> DryRunError:
    """The error a call gets when its connection closes under it."""
    head = f"connection closed during {method} ({code}, {reason!r})"
    if by == "client" and code == 1009:
        return ProtocolError(f"{head}: the peer sent a message larger than max_message = "
                             f"{max_message} bytes ({_human_bytes(max_message)})",
                             hint="raise max_message if frames that large are legitimate")
    if by == "client" and code in (1002, 1007):
        return ProtocolError(f"{head}: the peer broke the WebSocket protocol")
    who = {"peer": "by the peer", "client": "by the client", "network": "without a close handshake"}[by]
    return TransportError(f"{head} {who} [{hostport}]")
