"""The top line: the screens (key + name, current highlighted, clickable), and on the
right the sprint clock: day of timebox, iteration, next stand-up countdown, RO badge."""

from __future__ import annotations

from typing import Any

from textual.content import Content
from textual.widget import Widget

NAV: tuple[tuple[str, str, str], ...] = (
    ("1", "standup", "Stand-up"),
    ("2", "smoke", "Smoke"),
    ("3", "logs", "Logs"),
    ("4", "triage", "Triage"),
    ("5", "closeout", "Closeout"),
    ("6", "env", "Env"),
)


class NavBar(Widget):
    DEFAULT_CSS = """
    NavBar { height: 1; background: $panel; color: $foreground; }
    """

    def __init__(self, current: str, **kw: Any) -> None:
        super().__init__(**kw)
        self.current = current
        self.right: list[str] = []

    def set_right(self, variants: list[str]) -> None:
        """Longest first; the longest that fits is shown."""
        if variants != self.right:
            self.right = variants
            self.refresh()

    def render(self) -> Content:
        app: Any = self.app
        modes = app.screen_classes() if hasattr(app, "screen_classes") else {}
        width = self.size.width
        parts: list[Content] = []
        for key, mode, title in NAV:
            if modes and mode not in modes:
                continue
            style = "reverse bold" if mode == self.current else ""
            # mouse optional: a click switches screens like the key does
            parts.append(Content.from_markup(
                f"[{style} @click=app.switch_mode('{mode}')] {key} $title [/]", title=title))
        left = Content("").join(parts)
        room = width - left.cell_length - 1
        text = next((v for v in self.right if len(v) + 1 <= room), "")
        right = Content.styled(text + " ", "bold") if text else Content("")
        gap = max(0, width - left.cell_length - right.cell_length)
        return Content.assemble(left, " " * gap, right)
