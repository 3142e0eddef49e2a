"""Register the console's themes with an App and pick one safely."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.theme import Theme

from themes.specs import DEFAULT_THEME, NO_COLOR_THEME, THEME_SPECS, ThemeSpec

if TYPE_CHECKING:
    from textual.app import App


def to_theme(spec: ThemeSpec) -> Theme:
    return Theme(name=spec.name, dark=spec.dark, variables=dict(spec.variables), **spec.colours)


def register_themes(app: App) -> None:
    for spec in THEME_SPECS.values():
        app.register_theme(to_theme(spec))


def resolve_theme(requested: str | None, remembered: str | None, *, no_color: bool,
                  available: set[str] | None = None) -> tuple[str, str]:
    """The theme to start with and why: an explicit request, else NO_COLOR, else the
    remembered choice, else the default. Unknown names fall back (never crash)."""
    known = set(THEME_SPECS) | (available or set())
    if requested:
        if requested in known:
            return requested, "requested"
        return (NO_COLOR_THEME if no_color else DEFAULT_THEME), f"unknown theme {requested!r}"
    if no_color:
        return NO_COLOR_THEME, "NO_COLOR is set"
    if remembered and remembered in known:
        return remembered, "remembered"
    return DEFAULT_THEME, "default"


def status_style(theme_name: str, key: str, theme: Theme | None = None) -> str:
    """Rich style for a status key in a theme; for foreign (built-in) themes derive
    one from the theme's success/error/warning colours."""
    spec = THEME_SPECS.get(theme_name)
    if spec is not None:
        return spec.status.get(key, "")
    if theme is None:
        return ""
    good, bad, warn = theme.success or "green", theme.error or "red", theme.warning or "yellow"
    return {
        "passed": f"bold {good}", "green": f"bold {good}", "ok": f"bold {good}", "met": f"bold {good}",
        "failed": f"bold reverse {bad}", "red": f"bold reverse {bad}", "down": f"bold reverse {bad}",
        "missed": f"bold reverse {bad}", "error": f"bold {warn}", "amber": f"bold {warn}",
        "degraded": f"bold {warn}", "running": f"bold {theme.primary}",
    }.get(key, "dim")
