"""A failed pytest test -> the console's expected / seen / fault / outcome.

Sources, most explicit first:
1. ``record_property("expected", ...)`` / ``record_property("seen", ...)`` in the test;
2. an assertion message saying it: ``assert n >= 1, "expected a camera, seen none"``;
3. pytest's assertion rewrite: ``assert 0 >= 1`` -> expected ``>= 1``, seen ``0`` (pytest's
   convention is ``assert actual <op> expected``; its ``where`` lines are kept in seen);
   a plain message (``assert ok, "camera discovered"``) is what was expected;
4. any other exception: expected "the test to complete", seen ``Type: message``.

The fault says why, like the built-in checks: ``assertion``, ``timeout``, ``unreachable``,
``auth_rejected``, ``rpc_error:<code>``, ``exception:<Type>``. A test that could not reach
the service (unreachable, timeout) is an *error*, not a *failure*, as for built-in checks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_OPS = (" not in ", " is not ", " == ", " != ", " >= ", " <= ", " > ", " < ", " in ", " is ")
_EXC = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Timeout|Exit|Failed|Interrupt|Refused|Rejected|Warning)?)"
                  r": ?(.*)$", re.S)
_SAID = re.compile(r"expected:?\s+(?P<exp>.+?)\s*[,;]\s*(?:but\s+)?(?:seen|got|saw|was|found):?\s+(?P<seen>.+)$",
                   re.I | re.S)
_WHERE = re.compile(r"^\+\s+(where|and)\s")  # pytest's "+  where 0 = len([])" (not a diff's "+ a")
_RPC_CODE = re.compile(r"(-32\d{3})")
UNREACHABLE = ("ConnectionRefusedError", "ConnectionResetError", "ConnectionError", "ConnectionAbortedError",
               "OSError", "TransportError", "SshError", "HostKeyError", "gaierror", "InvalidURI", "InvalidHandshake",
               "ConnectError", "ConnectTimeout")
TIMEOUTS = ("TimeoutError", "RpcTimeout", "ReadTimeout", "Timeout", "CancelledError")
MAX = 500


@dataclass(frozen=True)
class Finding:
    outcome: str  # failed | error
    expected: str
    seen: str
    fault: str
    summary: str


def _clip(s: str, n: int = MAX) -> str:
    s = s.strip()
    return s if len(s) <= n else s[: n - 3] + "..."


def split_comparison(expr: str) -> tuple[str, str, str] | None:
    """``'a b' == 'c'`` -> ("'a b'", "==", "'c'"): the first operator outside quotes and brackets."""
    depth, quote, i = 0, "", 0
    while i < len(expr):
        ch = expr[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0 and ch == " ":
            for op in _OPS:
                if expr.startswith(op, i):
                    return expr[:i].strip(), op.strip(), expr[i + len(op):].strip()
        i += 1
    return None


def _exc_type(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def classify(exc_type: str, text: str) -> tuple[str, str]:
    """(outcome, fault) of an exception type, as the built-in engine would say it."""
    t = _exc_type(exc_type)
    if t == "AssertionError":
        return "failed", "assertion"
    if t in TIMEOUTS or (t == "Failed" and text.startswith("Timeout")):
        return "error", "timeout"
    if t in UNREACHABLE:
        return "error", "unreachable"
    if t == "AuthRejected":
        return "failed", "auth_rejected"
    if t == "RpcError":
        m = _RPC_CODE.search(text)
        return "failed", f"rpc_error:{m.group(1)}" if m else "rpc_error"
    if t == "ProtocolError":
        return "failed", "protocol"
    return "failed", f"exception:{t}"


def finding(message: str, *, props: dict[str, object] | None = None, phase: str = "call",
            test: str = "the test") -> Finding:
    """What a failed test expected and saw, from its crash message (pytest's reprcrash)."""
    props = props or {}
    msg = (message or "").strip()
    exc_type, body = "AssertionError", msg
    if m := _EXC.match(msg):
        exc_type, body = m.group(1), m.group(2)
    elif not msg.startswith("assert"):
        exc_type = ""
    first = body.splitlines()[0] if body else ""
    outcome, fault = classify(exc_type, body) if exc_type else ("failed", "failure")
    if phase != "call":  # a fixture failed: the test never exercised the service
        outcome = "error"
    expected = seen = ""
    if _exc_type(exc_type) == "AssertionError":
        lines = body.splitlines()
        assert_i = next((i for i, ln in enumerate(lines) if ln.startswith("assert ")), None)
        custom = " ".join(ln.strip() for ln in (lines[:assert_i] if assert_i is not None else lines)).strip()
        expr, where, parts = "", [], None
        if assert_i is not None:
            expr = lines[assert_i][len("assert "):].strip()
            where = [ln.strip().lstrip("+").strip() for ln in lines[assert_i + 1:] if _WHERE.match(ln.strip())]
            parts = split_comparison(expr)
        where_txt = f" ({'; '.join(where[:3])})" if where else ""
        if custom and (said := _SAID.search(custom)):
            expected, seen = said.group("exp"), said.group("seen")
        elif custom:
            expected = custom
            seen = (f"{parts[0]}{where_txt} (assert {expr})" if parts else
                    f"assert {expr}{where_txt}" if expr else "the assertion did not hold")
        elif parts:
            left, op, right = parts
            expected = right if op == "==" else f"{op} {right}"
            seen = left + where_txt
        elif expr:
            expected, seen = "a true value", expr + where_txt
        else:
            expected, seen = "the assertion to hold", first or "assertion failed"
    else:
        what = {"setup": f"{test}'s fixtures to set up", "teardown": f"{test}'s fixtures to tear down"}.get(
            phase, f"{test} to complete")
        expected = what
        seen = f"{_exc_type(exc_type)}: {body}".strip(": ") if exc_type else (first or "failed")
    if "expected" in props:
        expected = str(props["expected"])
    if "seen" in props:
        seen = str(props["seen"])
    summary = (first or msg.splitlines()[0] if msg else "failed")
    if exc_type and _exc_type(exc_type) != "AssertionError":
        summary = f"{_exc_type(exc_type)}: {first}".rstrip(": ")
    return Finding(outcome, _clip(expected), _clip(seen), fault, _clip(summary, 200))
