"""Status vocabulary: every status is a glyph + a word (or letter), styled by the theme.

Colour only adds emphasis; the words carry the meaning (colour-blind safe, monochrome
and NO_COLOR terminals, screenshots pasted into chat)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text

from themes.register import status_style

if TYPE_CHECKING:
    from textual.app import App

# outcome / cell status -> (glyph, word)
CHECK_WORDS: dict[str, tuple[str, str]] = {
    "passed": ("✔", "PASS"),
    "failed": ("✖", "FAIL"),
    "error": ("‼", "ERROR"),
    "skipped": ("–", "SKIP"),
    "running": ("▶", "RUN"),
    "pending": ("·", "WAIT"),
    "none": (" ", "----"),
}
RAG_WORDS: dict[str, tuple[str, str]] = {
    "red": ("R", "Red"),
    "amber": ("A", "Amber"),
    "green": ("G", "Green"),
}
HOST_WORDS: dict[str, tuple[str, str]] = {
    "ok": ("✔", "OK"),
    "degraded": ("▲", "DEGR"),
    "down": ("✖", "DOWN"),
    "unknown": ("?", "----"),
}
GATE_WORDS: dict[bool | None, tuple[str, str, str]] = {
    True: ("✔", "MET", "met"),
    False: ("✖", "MISSED", "missed"),
    None: ("?", "N/A", "unknown"),
}


def style_for(app: App | None, key: str) -> str:
    if app is None:
        return ""
    return status_style(app.theme, key, app.current_theme)


def check_text(app: App | None, status: str, *, extra: str = "", short: bool = False) -> Text:
    glyph, word = CHECK_WORDS.get(status, ("?", status.upper()[:5]))
    label = f"{glyph} {word[0] if short else word}"
    t = Text(label, style=style_for(app, status if status in CHECK_WORDS else "unknown"))
    if extra:
        t.append(f" {extra}")
    return t


def rag_text(app: App | None, rag: str, *, long: bool = False) -> Text:
    letter, word = RAG_WORDS.get(rag.lower(), ("?", rag or "?"))
    return Text(f" {letter} {word} " if long else f" {letter} ", style=style_for(app, rag.lower()))


def host_text(app: App | None, status: str, label: str | None = "", *, short: bool = False) -> Text:
    """"✔ OK", "✖ DOWN", "▲ DEGR", "? ----"; short: "✔ok" "✖DN" "▲DG" "?"; a label replaces the word."""
    glyph, word = HOST_WORDS.get(status, HOST_WORDS["unknown"])
    if short:
        word = {"down": "DOWN", "degraded": "DEGR"}.get(status, "")  # ✔ alone says OK; ? alone unknown
        text = f"{glyph}{label or word}"
    else:
        text = f"{glyph} {label or word}"
    return Text(text, style=style_for(app, status if status in HOST_WORDS else "unknown"))


def host_state_text(app: App | None, state: str, *, short: bool = False) -> Text:
    """A host's rolled-up state (``tui.fleet``): "✖ DOWN", "✖ FAIL", "▲ DEGR", "▶ RUN",
    "? ----", "✔ OK"; short: the glyph and the word's first letter ("✖ D")."""
    from tui.fleet import STATE_STYLE_KEYS, STATE_WORDS

    glyph, word = STATE_WORDS.get(state, ("?", state.upper()[:4]))
    return Text(f"{glyph} {word[0] if short else word}", style=style_for(app, STATE_STYLE_KEYS.get(state, "unknown")))


def gate_text(app: App | None, met: bool | None) -> Text:
    glyph, word, key = GATE_WORDS[met]
    return Text(f"{glyph} {word}", style=style_for(app, key))


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 10:
        return f"{seconds:.2f}s"
    if seconds < 60:
        return f"{seconds:.1f}s"
    m, s = divmod(int(seconds), 60)
    if m < 60:
        return f"{m}m{s:02d}s"
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m"


def fmt_countdown(seconds: float) -> str:
    seconds = max(0, int(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"
