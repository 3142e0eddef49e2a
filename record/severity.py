"""The plan's R/A/G triage severities, decisions and cause classes (seed 000, B2)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Severity:
    code: str  # "R" | "A" | "G": always shown, so colour is never the only signal
    colour: str
    level: str
    meaning: str

    @property
    def label(self) -> str:
        return f"{self.code} ({self.colour}, {self.level})"


SEVERITIES: dict[str, Severity] = {
    "R": Severity("R", "Red", "Critical", "blocks SMK; must fix now"),
    "A": Severity("A", "Amber", "Major", "impacts quality; fix if < 0.5 day"),
    "G": Severity("G", "Green", "Minor", "log for post-CDR"),
}

DECISIONS: tuple[str, ...] = ("Fix now", "Defer", "Workaround")
CAUSES: tuple[str, ...] = ("product", "test", "environment")
TRIAGE_TIMEBOX_MIN = 15


def parse_severity(text: str) -> str:
    """"R", "red", "Critical", "R (Red, Critical)" -> "R"."""
    t = text.strip()
    if not t:
        raise ValueError("severity: expected R, A or G (Red/Amber/Green), got nothing")
    head = t.split()[0].strip("(),").lower()
    for code, s in SEVERITIES.items():
        if head in (code.lower(), s.colour.lower(), s.level.lower()):
            return code
    raise ValueError(f"severity: expected R, A or G (Red/Amber/Green = Critical/Major/Minor), got {text!r}")


def parse_decision(text: str) -> str:
    """"fix now", "fix", "defer", "workaround" -> the plan's spelling; "" = undecided."""
    t = " ".join(text.strip().lower().replace("-", " ").replace("_", " ").split())
    if t in ("", "-", "—", "none", "undecided"):
        return ""
    for d in DECISIONS:
        if t == d.lower() or (d == "Fix now" and t in ("fix", "fixnow")):
            return d
    raise ValueError(f"decision: expected one of {', '.join(DECISIONS)}, got {text!r}")


def parse_cause(text: str) -> str:
    t = text.strip().lower()
    if t in ("", "-", "—", "unknown", "unclassified"):
        return ""
    for c in CAUSES:
        if t == c or (c == "environment" and t in ("env", "environmental")):
            return c
    raise ValueError(f"cause class: expected one of {', '.join(CAUSES)}, got {text!r}")
