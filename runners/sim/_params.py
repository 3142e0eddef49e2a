"""Parameter checks for the simulated service's methods. Each failure raises the dialect's
invalid-params error naming the parameter, the rule broken and what was seen."""

from __future__ import annotations

import re
from typing import Any

from runners.sim._errors import RpcFault, invalid_params

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


def _seen(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


class Params:
    """Typed access to a request's named params; raises :class:`RpcFault` -32602."""

    def __init__(self, dialect: str, params: dict[str, Any]):
        self.dialect = dialect
        self.raw = params

    def fail(self, param: str, rule: str, hint: str) -> RpcFault:
        return invalid_params(self.dialect, param, rule, hint)

    def string(self, name: str, *, required: bool = True, default: str | None = None) -> str | None:
        if name not in self.raw or self.raw[name] is None:
            if required:
                raise self.fail(name, "required", f"'{name}' is required (a string)")
            return default
        v = self.raw[name]
        if not isinstance(v, str) or not v:
            raise self.fail(name, "type", f"'{name}' must be a non-empty string, got {_seen(v)}")
        return v

    def filename(self, name: str = "filename", *, required: bool = True) -> str | None:
        v = self.string(name, required=required)
        if v is not None and (not _SAFE_NAME.match(v) or ".." in v):
            raise self.fail(name, "format",
                            f"'{name}' must be a plain file name (letters, digits, '.', '_', '-'; no path), "
                            f"got {_seen(v)}")
        return v

    def number(self, name: str, *, minimum: float, maximum: float, required: bool = False) -> float | None:
        if name not in self.raw or self.raw[name] is None:
            if required:
                raise self.fail(name, "required", f"'{name}' is required (a number)")
            return None
        v = self.raw[name]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v:
            raise self.fail(name, "type", f"'{name}' must be a number, got {_seen(v)}")
        if not minimum <= v <= maximum:
            raise self.fail(name, "range", f"'{name}' must be between {minimum:g} and {maximum:g}, got {v!r}")
        return float(v)

    def integer(self, name: str, *, default: int, minimum: int, maximum: int) -> int:
        if name not in self.raw or self.raw[name] is None:
            return default
        v = self.raw[name]
        if isinstance(v, bool) or not isinstance(v, int):
            raise self.fail(name, "type", f"'{name}' must be an integer, got {_seen(v)}")
        if not minimum <= v <= maximum:
            raise self.fail(name, "range", f"'{name}' must be between {minimum} and {maximum}, got {v}")
        return v

    def choice(self, name: str, options: tuple[str, ...], *, default: str) -> str:
        if name not in self.raw or self.raw[name] is None:
            return default
        v = self.raw[name]
        if v not in options:
            raise self.fail(name, "enum", f"'{name}' must be one of {', '.join(options)}, got {_seen(v)}")
        return v

    def string_list(self, name: str, *, required: bool = True) -> list[str] | None:
        if name not in self.raw or self.raw[name] is None:
            if required:
                raise self.fail(name, "required", f"'{name}' is required (a list of strings)")
            return None
        v = self.raw[name]
        if not isinstance(v, list) or not all(isinstance(x, str) and x for x in v):
            raise self.fail(name, "type", f"'{name}' must be a list of non-empty strings, got {_seen(v)}")
        return v

    def mapping(self, name: str) -> dict | None:
        v = self.raw.get(name)
        if v is None:
            return None
        if not isinstance(v, dict):
            raise self.fail(name, "type", f"'{name}' must be an object, got {_seen(v)}")
        return v
