"""The command palette: every action of every screen, every screen, every theme.

Built from the same ``Binding`` objects the footer and ``?`` help show, so an action
reachable by key is reachable here by construction (and hidden here when hidden there,
e.g. in read-only mode)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider

from themes.specs import THEME_SPECS


class ConsoleCommands(Provider):
    def _entries(self) -> Iterator[tuple[str, str, Callable[[], Any]]]:
        app: Any = self.app
        screen = self.screen
        seen: set[str] = set()
        # 1. actions of the screen the palette was opened on (and the app's), as bound now
        current = getattr(screen, "TITLE", "") or "Console"
        for active in screen.active_bindings.values():
            b: Binding = active.binding
            if not b.id or not b.description or not active.enabled or b.id in seen:
                continue
            seen.add(b.id)
            owner = "Console" if active.node is app else current
            yield (f"{owner}: {b.description}", _help(b, app),
                   partial(app.run_action, b.action, active.node))
        # 2. actions of the other screens: go there, then run it
        for mode, screen_cls in app.screen_classes().items():
            if screen_cls is type(screen):
                continue
            title = screen_cls.TITLE
            yield (f"Go to {title}", screen_cls.HELP.split(".")[0], partial(app.switch_mode, mode))
            for b in screen_cls.BINDINGS:
                if not isinstance(b, Binding) or not b.id or not b.description or b.id in seen:
                    continue
                if app.read_only and b.action.split("(")[0] in screen_cls.MUTATING:
                    continue
                seen.add(b.id)
                yield (f"{title}: {b.description}", _help(b, app), partial(app.goto_and_run, mode, b.action))
        # 3. themes
        for name, spec in THEME_SPECS.items():
            yield (f"Theme: {spec.label}", f"switch the console to the {spec.label.lower()} theme",
                   partial(setattr, app, "theme", name))

    async def discover(self) -> Hits:
        for title, help_text, cb in self._entries():
            yield DiscoveryHit(title, cb, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, cb in self._entries():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), cb, text=title, help=help_text)


def _help(b: Binding, app: Any) -> str:
    key = app.get_key_display(b)
    return f"key: {key}" + (f" — {b.tooltip}" if b.tooltip else "")
