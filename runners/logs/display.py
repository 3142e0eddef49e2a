"""How one buffered record reads in the pane: time column, message text, truncation, wrap.

Textual-free string work, so the pane (``tui/widgets/log_view.py``) only assembles
styles. The time and level have their own columns, so a plain line loses its leading
timestamp and level word here and a JSON line becomes ``logger: message k=v``. Very
long lines are cut for display (the buffer and saved files keep them whole).
"""

from __future__ import annotations

import time

from rich.cells import cell_len, chop_cells

from runners.logs.buffer import CONT, GAP, KIND, MARK, TEXT, TS, LogRecord
from runners.logs.parse import json_display, parse_timestamp

DISPLAY_MAX = 2000  # characters of one line drawn; the rest is summarised
_LEVEL_WORDS = frozenset({"TRACE", "TRC", "DEBUG", "DBG", "DEB", "INFO", "INF", "NOTICE", "NTC", "WARNING", "WARN",
                          "WAR", "WRN", "ERROR", "ERR", "CRITICAL", "CRIT", "CRT", "FATAL", "FTL", "PANIC",
                          "[ERROR]", "[WARN]", "[WARNING]", "[INFO]", "[DEBUG]"})


def time_label(r: LogRecord) -> str:
    """``HH:MM:SS.mmm`` in local time; blank for a continuation line (it has no time of its own)."""
    if r[KIND] == CONT:
        return " " * 12
    t = r[TS]
    return time.strftime("%H:%M:%S", time.localtime(t)) + f".{int(t * 1000) % 1000:03d}"


def message(r: LogRecord, max_chars: int = DISPLAY_MAX) -> str:
    """The message column of a record (tabs expanded, cut at ``max_chars``)."""
    kind = r[KIND]
    if kind == GAP:
        text = f"━━ {r[TEXT]} ━━"
    elif kind == MARK:
        text = f"── {r[TEXT]} ──"
    else:
        text = _message_text(r)
    if "\t" in text:
        text = text.expandtabs(4)
    if len(text) > max_chars:
        cut = len(text) - max_chars
        text = f"{text[:max_chars]} … [+{cut:,} chars, saved whole]"
    return text


def _message_text(r: LogRecord) -> str:
    t = r[TEXT]
    if t[:1] == "{":
        shown = json_display(t)
        if shown is not None:
            return shown
    if r[KIND] == CONT:
        return t
    ts, end = parse_timestamp(t)
    if ts is None:
        return t
    rest = t[end:].lstrip(" ")
    word, _, after = rest.partition(" ")
    if word.rstrip(":") in _LEVEL_WORDS:
        return after
    return rest


def wrap(text: str, width: int) -> list[str]:
    """``text`` in rows of at most ``width`` cells (wide characters counted as two)."""
    if width <= 0:
        return [text]
    if len(text) <= width and cell_len(text) <= width:
        return [text]
    return chop_cells(text, width) or [""]


def rows_needed(text: str, width: int) -> int:
    if width <= 0:
        return 1
    n = cell_len(text)
    return max(1, -(-n // width))
