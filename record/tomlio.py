"""TOML and JSON sources of truth: read with errors naming file and line, write atomically."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import tomli_w

from record.atomic import atomic_write_text
from record.errors import RecordError

_AT_LINE = re.compile(r"\(at line (\d+), column (\d+)\)")


def read_text(path: Path) -> str | None:
    """The file's text, None if it does not exist; undecodable bytes name the offset."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise RecordError(path, f"cannot read: {e.strerror or e}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise RecordError(path, f"not UTF-8 text (invalid byte at offset {e.start})", line=line) from None


def load_toml(path: Path) -> dict[str, Any] | None:
    """Parsed TOML, None if the file does not exist; a syntax error names its line."""
    text = read_text(path)
    if text is None:
        return None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        msg = str(e)
        m = _AT_LINE.search(msg)
        line = int(m.group(1)) if m else None
        reason = _AT_LINE.sub("", msg).strip()
        raise RecordError(path, f"invalid TOML: {reason}", line=line,
                          hint="fix the line by hand (the record never overwrites a file it cannot parse)") from None


def dump_toml(path: Path, data: dict[str, Any], header: str = "") -> None:
    text = tomli_w.dumps(data)
    if header:
        text = "".join(f"# {h}\n" if h else "#\n" for h in header.splitlines()) + "\n" + text
    atomic_write_text(path, text)


def load_json(path: Path) -> Any | None:
    text = read_text(path)
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise RecordError(path, f"invalid JSON: {e.msg} (column {e.colno})", line=e.lineno,
                          hint="fix the line by hand (the record never overwrites a file it cannot parse)") from None


def dump_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def line_of(text: str, needle: str, start_line: int = 1) -> int | None:
    """1-based line of the first occurrence of ``needle`` at or after ``start_line``."""
    for i, line in enumerate(text.splitlines()[start_line - 1:], start=start_line):
        if needle in line:
            return i
    return None
