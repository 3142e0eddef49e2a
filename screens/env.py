"""Env: the frozen environment matrix (01_env_matrix), freeze it, and check the live
environment for drift against it (reason-coded, per host and fact)."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from screens.base import ConsoleScreen
from tui.widgets.status import style_for


class EnvScreen(ConsoleScreen):
    MODE = "env"
    TITLE = "Env"
    HELP = ("The environment freeze (plan A2): the matrix of OS, kernel, Python, MediaMTX, service version and "
            "camera ids per host plus the lab machine, frozen in 01_env_matrix.md/.json and env.sh. f collects the "
            "live environment over SSH and RPC and freezes it (a changed environment needs F, a re-freeze, which "
            "starts a new baseline); d collects it and lists every drift from the freeze.")
    MUTATING: ClassVar[frozenset[str]] = frozenset({"freeze", "refreeze"})
    BINDINGS: ClassVar[list[Binding]] = [
        Binding("f", "freeze", "Freeze", id="env.freeze"),
        Binding("F", "refreeze", "Re-freeze", id="env.refreeze", show=False,
                tooltip="freeze a changed environment: starts a new baseline"),
        Binding("d", "check_drift", "Check drift", id="env.drift"),
    ]

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.drift: list[Any] | None = None  # last drift check, None = not checked in this session
        self.drift_at = ""
        self.busy = ""

    def compose_body(self) -> ComposeResult:
        yield Static(id="env-status")
        with VerticalScroll(id="env-scroll"):
            yield Static(id="env-matrix")
            yield Static(id="env-drift")

    def refresh_view(self, topic: str) -> None:
        if topic not in ("all", "record", "theme", "config"):
            return
        rec = self.model.record
        status = self.query_one("#env-status", Static)
        matrix = self.query_one("#env-matrix", Static)
        if rec is None:
            status.update("loading…")
            return
        if "env" in rec.errors:
            status.update(Text(f"✖ cannot read the freeze: {rec.errors['env']}", style="bold"))
            matrix.update("")
        else:
            data = rec.get("env")
            if data is None:
                status.update(Text.assemble(("Not frozen yet. ", "bold"),
                                            "f collects the environment of every host and freezes it."))
                matrix.update("")
            else:
                status.update(Text.assemble(("Frozen ", "bold"), f"{data['frozen_at']} · SHA ",
                                            (data["sha256"][:12], "bold"),
                                            f" · baseline {data['matrix'].get('baseline', '')}"))
                matrix.update(self._matrix(data))
        if self.busy:
            status.update(Text(f"▶ {self.busy}…", style="bold"))
        self.query_one("#env-drift", Static).update(self._drift())
        self.refresh_bindings()

    def _matrix(self, data: dict[str, Any]) -> Table:
        from record.envfreeze import HOST_KEYS, KEY_TITLES, LAB, LAB_KEYS

        m = data["matrix"]
        hosts = m.get("hosts") or {}
        t = Table(title="01_env_matrix", title_justify="left", header_style="bold", expand=True,
                  show_lines=False, padding=(0, 1))
        t.add_column("Fact", style="bold", no_wrap=True)
        names = sorted(hosts)
        for name in names:
            t.add_column(name, overflow="fold")
        for k in HOST_KEYS:
            row = [KEY_TITLES.get(k, k)]
            for name in names:
                v = (hosts[name] or {}).get(k)
                row.append(", ".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v or "—"))
            t.add_row(*row)
        lab = m.get(LAB) or {}
        labt = Table.grid(padding=(0, 1))
        labt.add_column(style="bold", no_wrap=True)
        labt.add_column(overflow="fold")
        for k in LAB_KEYS:
            labt.add_row(f"lab {KEY_TITLES.get(k, k)}", str(lab.get(k) or "—"))
        return Group(t, labt)

    def _drift(self) -> Any:
        if self.drift is None:
            return Text("\nDrift: not checked in this session (d checks it).", style="dim")
        if not self.drift:
            return Text(f"\n✔ No drift: the live environment matches the freeze ({self.drift_at}).",
                        style=style_for(self.app, "met"))
        t = Table(title=f"✖ {len(self.drift)} drift(s) from the freeze ({self.drift_at})", title_justify="left",
                  header_style="bold", expand=True, padding=(0, 1))
        for col in ("Code", "Host", "Fact", "Frozen", "Live"):
            t.add_column(col, overflow="fold")
        for x in self.drift:
            t.add_row(Text(x.code, style="bold"), x.host, x.key, x.frozen, x.live)
        return t

    # ------------------------------------------------------------------ actions
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        allowed = super().check_action(action, parameters)
        if allowed and self.busy and action in self.MUTATING:
            return None
        return allowed

    def _start(self, what: str, fn: Any, reply: Any) -> None:
        self.busy = what
        self.refresh_view("record")

        def done(msg: Any) -> None:
            self.busy = ""
            reply(msg)
            self.refresh_view("record")

        self.app.run_task(what, fn, reply=done)

    def action_freeze(self, refreeze: bool = False) -> None:
        import asyncio

        from record.envfreeze import freeze
        from record.layout import DryRunDir
        from runners.envprobe import collect_env

        cfg = self.model.cfg
        d = DryRunDir(cfg.dry_run_path)

        def job() -> Any:
            env = asyncio.run(collect_env(cfg))  # its own loop on the worker's thread
            return freeze(d, env, cfg, refreeze=refreeze)

        def done(msg: Any) -> None:
            if msg.ok:
                r = msg.data
                note = " (unchanged)" if r.unchanged else ""
                self.notify(f"environment frozen{note}: SHA {r.sha256[:12]}", timeout=6)
                self.drift = []
                self.drift_at = "just frozen"
            else:
                self.notify(msg.detail, title="Not frozen", severity="error", timeout=15)

        self._start("collecting and freezing the environment", job, done)

    def action_refreeze(self) -> None:
        self.action_freeze(refreeze=True)

    def action_check_drift(self) -> None:
        import asyncio

        from record.envfreeze import check_drift, load_frozen
        from record.layout import DryRunDir
        from runners.envprobe import collect_env

        cfg = self.model.cfg
        d = DryRunDir(cfg.dry_run_path)

        def job() -> Any:
            frozen = load_frozen(d)
            if frozen is None:
                from record.errors import RecordError

                raise RecordError(d.env_frozen, "nothing to compare with: the environment is not frozen yet",
                                  hint="press f to freeze it")
            return check_drift(frozen["matrix"], asyncio.run(collect_env(cfg)))

        def done(msg: Any) -> None:
            if msg.ok:
                self.drift = msg.data
                self.drift_at = self.model.now().strftime("%H:%M:%S")
            else:
                self.notify(msg.detail, title="Drift not checked", severity="error", timeout=12)

        self._start("collecting the live environment", job, done)
