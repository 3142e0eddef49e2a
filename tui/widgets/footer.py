"""The console's footer: the screen's keys on the left, the keys that work everywhere
(help, theme, quit) and the command palette pinned on the right.

Textual's ``Footer`` lists keys in binding-chain order (focused widget, its parents, the
screen, then the App), so at 80 columns the App's own keys were the first to fall off the
right edge. Here they never scroll away: they sit in a group docked right, and what does
not fit is the tail of the keys on the left (the focused widget's, its containers', then
the screen's): each screen and widget declares its main actions first, with short
descriptions, and its secondary ones ``show=False`` (still in ``?`` help and the palette),
so that at 80 columns nothing is cut (``tests/ui/test_footer.py``). Below 120 columns
the footer is compact (one space less around every key).
"""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.containers import HorizontalGroup
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

NARROW = 120  # the App's HORIZONTAL_BREAKPOINTS: below this the screens stack their panes


class ConsoleFooter(Footer):
    DEFAULT_CSS = """
    ConsoleFooter > #footer-global {
        dock: right; width: auto; height: 1; background: $footer-background;
    }
    ConsoleFooter > #footer-global > FooterKey.-command-palette { dock: none; }
    """

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        app = self.app
        active_bindings = self.screen.active_bindings
        local: list[FooterKey] = []
        pinned: list[FooterKey] = []
        seen: set[str] = set()
        for node, binding, enabled, tooltip in active_bindings.values():
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)  # one key per action, like Footer
            key = FooterKey(binding.key, app.get_key_display(binding), binding.description, binding.action,
                            disabled=not enabled, tooltip=tooltip, classes="-global" if node is app else "")
            (pinned if node is app else local).append(key)
        for key in local:
            yield key.data_bind(compact=Footer.compact)
        with HorizontalGroup(id="footer-global"):
            for key in pinned:
                yield key.data_bind(compact=Footer.compact)
            if self.show_command_palette and app.ENABLE_COMMAND_PALETTE:
                active = active_bindings.get(app.COMMAND_PALETTE_BINDING)
                if active is not None:
                    _node, binding, enabled, _tooltip = active
                    yield FooterKey(binding.key, app.get_key_display(binding), binding.description,
                                    binding.action, classes="-command-palette", disabled=not enabled,
                                    tooltip=binding.tooltip or binding.description)

    def on_resize(self, event: events.Resize) -> None:
        self.compact = event.size.width < NARROW
