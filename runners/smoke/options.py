"""What a smoke run should do: the pytest-like knobs of ``dryrun run``.

One frozen value shared by the CLI, the TUI and the engine. ``validate()`` rejects bad
combinations with a message naming the option, the expected form and what was given."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

FAILFAST_MODES = ("off", "soft", "hard")


@dataclass(frozen=True)
class RunOptions:
    keyword: str = ""            # -k expression: "SMK_3 or SMK_5", "not SMK_7", parentheses; SMK_3 == SMK-3
    maxfail: int = 0             # 0 = no limit
    failed_first: bool = False   # --ff: last failures first (cache: DryRunDir.lastfailed)
    durations: int = 10          # slowest-N in the log
    count: int = 1               # repeat each selected check N times (flake hunt)
    failfast: str = "off"        # off | soft | hard
    hosts: tuple[str, ...] = ()  # empty = all configured hosts
    label: str = ""              # "02_smoke_run_3", "07_smoke_run_final", "04_verify_DRY-03", "flake_SMK-3"
    respect_quarantine: bool = True

    def validate(self) -> RunOptions:
        """Raise ValueError naming the option when a value cannot be used; return self."""
        if self.maxfail < 0:
            raise ValueError(f"--maxfail: expected 0 (no limit) or a positive number, got {self.maxfail}")
        if self.durations < 0:
            raise ValueError(f"--durations: expected 0 or a positive number, got {self.durations}")
        if not 1 <= self.count <= 1000:
            raise ValueError(f"--count: expected 1..1000 repetitions, got {self.count}")
        if self.failfast not in FAILFAST_MODES:
            raise ValueError(f"--failfast: expected one of {', '.join(FAILFAST_MODES)}, got {self.failfast!r}")
        from runners.smoke.select import parse_keyword  # the -k grammar lives there

        parse_keyword(self.keyword)  # KeywordError (a ValueError) says where and what
        return self

    @property
    def effective_maxfail(self) -> int:
        """Failures after which no new check starts: soft/hard fail-fast mean 1."""
        if self.failfast in ("soft", "hard"):
            return 1 if self.maxfail == 0 else min(self.maxfail, 1)
        return self.maxfail

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["hosts"] = list(self.hosts)
        return d

    def as_argv(self) -> str:
        """The options as a pytest-like command-line fragment (for the log header)."""
        parts: list[str] = []
        if self.keyword:
            parts.append(f"-k {self.keyword!r}")
        if self.maxfail:
            parts.append(f"--maxfail={self.maxfail}")
        if self.failed_first:
            parts.append("--ff")
        parts.append(f"--durations={self.durations}")
        if self.count != 1:
            parts.append(f"--count={self.count}")
        if self.failfast != "off":
            parts.append(f"--failfast={self.failfast}")
        for h in self.hosts:
            parts.append(f"--host={h}")
        if not self.respect_quarantine:
            parts.append("--no-quarantine")
        return " ".join(parts)
