"""The console's themes as data: Textual theme colours plus the status styles.

Kept free of Textual so the data can be read (and tested) without importing it.
Status is never carried by colour alone: every status also has a glyph and a word
(``tui.widgets.status``); styles here only add emphasis on top of them. The
colour-blind theme uses the Okabe-Ito palette (distinguishable in the common forms
of colour-vision deficiency); monochrome uses weight and reverse video only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# status keys the widgets style: check outcomes, R/A/G, host health, gates.
STATUS_KEYS = ("passed", "failed", "error", "skipped", "running", "pending",
               "red", "amber", "green", "ok", "degraded", "down", "unknown", "met", "missed")


@dataclass(frozen=True)
class ThemeSpec:
    name: str
    label: str  # what the operator sees in pickers
    colours: dict[str, str]  # Theme(**colours) keyword arguments (primary, background...)
    dark: bool = True
    status: dict[str, str] = field(default_factory=dict)  # status key -> Rich style string
    variables: dict[str, str] = field(default_factory=dict)  # extra Textual CSS variables


def _status(passed: str, failed: str, error: str, warn: str, running: str, muted: str) -> dict[str, str]:
    return {
        "passed": f"bold {passed}", "failed": f"bold reverse {failed}", "error": f"bold {error}",
        "skipped": muted, "running": f"bold {running}", "pending": muted,
        "red": f"bold reverse {failed}", "amber": f"bold {warn}", "green": f"bold {passed}",
        "ok": f"bold {passed}", "degraded": f"bold {warn}", "down": f"bold reverse {failed}",
        "unknown": muted, "met": f"bold {passed}", "missed": f"bold reverse {failed}",
    }


THEME_SPECS: dict[str, ThemeSpec] = {
    spec.name: spec
    for spec in (
        ThemeSpec(
            name="dark", label="Dark",
            colours=dict(primary="#4C9BE8", secondary="#2B5C8A", accent="#F0A030", warning="#F0A030",
                         error="#E5534B", success="#57AB5A", foreground="#D8DEE4", background="#15191E",
                         surface="#1C2128", panel="#22272E"),
            status=_status("#57AB5A", "#E5534B", "#F0A030", "#F0A030", "#4C9BE8", "#7D8590"),
        ),
        ThemeSpec(
            name="light", label="Light", dark=False,
            colours=dict(primary="#0B5CAD", secondary="#3A7BC8", accent="#9A5B00", warning="#9A5B00",
                         error="#B3261E", success="#1A7F37", foreground="#1F2328", background="#F6F8FA",
                         surface="#FFFFFF", panel="#E7ECF0"),
            status=_status("#1A7F37", "#B3261E", "#9A5B00", "#9A5B00", "#0B5CAD", "#6E7781"),
            variables={"footer-key-foreground": "#0B5CAD"},
        ),
        ThemeSpec(
            # Screen sharing: pure black, near-white text, saturated accents; survives video
            # compression and projectors. CSS adds heavier borders for -theme-presentation.
            name="presentation", label="Presentation (high contrast)",
            colours=dict(primary="#FFD400", secondary="#00B3FF", accent="#FFD400", warning="#FFB000",
                         error="#FF4040", success="#30E060", foreground="#FFFFFF", background="#000000",
                         surface="#000000", panel="#1A1A1A"),
            status=_status("#30E060", "#FF4040", "#FFB000", "#FFB000", "#00B3FF", "#B0B0B0"),
            variables={"footer-key-foreground": "#FFD400", "block-cursor-background": "#FFD400",
                       "block-cursor-foreground": "#000000"},
        ),
        ThemeSpec(
            # Okabe-Ito: blue = pass, vermillion = fail, orange = warn, sky blue = running.
            name="colour-blind", label="Colour-blind safe",
            colours=dict(primary="#56B4E9", secondary="#0072B2", accent="#E69F00", warning="#E69F00",
                         error="#D55E00", success="#0072B2", foreground="#E8E8E8", background="#111418",
                         surface="#181C21", panel="#20252B"),
            status=_status("#56B4E9", "#D55E00", "#E69F00", "#E69F00", "#CC79A7", "#8C8C8C"),
        ),
        ThemeSpec(
            # For terminals without colour and NO_COLOR: greys only; emphasis by weight/reverse.
            name="monochrome", label="Monochrome",
            colours=dict(primary="#E0E0E0", secondary="#A0A0A0", accent="#FFFFFF", warning="#C0C0C0",
                         error="#FFFFFF", success="#C8C8C8", foreground="#E0E0E0", background="#000000",
                         surface="#101010", panel="#202020"),
            status={
                "passed": "bold", "failed": "bold reverse", "error": "bold underline", "skipped": "dim",
                "running": "italic", "pending": "dim", "red": "bold reverse", "amber": "bold underline",
                "green": "bold", "ok": "bold", "degraded": "underline", "down": "bold reverse",
                "unknown": "dim", "met": "bold", "missed": "bold reverse",
            },
            variables={"block-cursor-background": "#E0E0E0", "block-cursor-foreground": "#000000"},
        ),
    )
}

DEFAULT_THEME = "dark"
NO_COLOR_THEME = "monochrome"
THEME_ORDER: tuple[str, ...] = tuple(THEME_SPECS)
