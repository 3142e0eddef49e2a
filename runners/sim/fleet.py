"""A fleet of simulated camera hosts and the ready ``dryrun.toml`` that points at them.

Hosts start concurrently and share one operator key (``state_dir/keys/id_ed25519``), as
one operator's key would be authorised on every lab host; each host has its own host key
and known_hosts file, plus a combined ``state_dir/known_hosts``.

``async with run_fleet(specs, state_dir, config=path) as fleet:`` is what ``dryrun sim``,
``dryrun demo`` and the tests use.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from runners.config import Config, config_to_dict, load_config
from runners.sim.host import SimHost, SimHostSpec
from runners.sim.keys import write_known_hosts

FLEET_MARKER = ".dryrun-sim"
DIALECT_CHOICES = ("current", "legacy", "mixed")
MAX_HOSTS = 64
# Recording rate and size per media profile. Every simulated host encodes in this one
# process: 50 hosts at the full profile are 1,500 frames/s to encode on a lab machine's few
# cores, and the simulator's own lag would then show up as the service's latency (SMK-7).
MEDIA_PROFILES = {"full": (15, (320, 240)), "light": (5, (160, 120))}
LIGHT_MEDIA_ABOVE = 8  # hosts: "auto" picks light media for bigger fleets


def media_profile(choice: str, hosts: int) -> str:
    """"auto" -> "light" above LIGHT_MEDIA_ABOVE hosts, else "full"; other choices as given."""
    if choice == "auto":
        return "light" if hosts > LIGHT_MEDIA_ABOVE else "full"
    if choice not in MEDIA_PROFILES:
        raise ValueError(f"media must be auto, {', '.join(MEDIA_PROFILES)}; got {choice!r}")
    return choice


def make_specs(hosts: int = 1, *, dialect: str = "current", cameras: int = 2, discovery_delay: float = 1.0,
               chaos: str = "none", seed: int = 0, prefix: str = "cam", media: str = "auto") -> list[SimHostSpec]:
    """Specs named ``cam-01``…; ``dialect="mixed"`` alternates current/legacy (first is current).
    Each host gets its own chaos seed (seed + index) so hosts do not fail in lockstep."""
    if not isinstance(hosts, int) or not 1 <= hosts <= MAX_HOSTS:
        raise ValueError(f"hosts must be 1..{MAX_HOSTS}, got {hosts!r}")
    if dialect not in DIALECT_CHOICES:
        raise ValueError(f"dialect must be one of {', '.join(DIALECT_CHOICES)}, got {dialect!r}")
    fps, size = MEDIA_PROFILES[media_profile(media, hosts)]
    width = max(2, len(str(hosts)))
    specs = []
    for i in range(hosts):
        d = dialect if dialect != "mixed" else ("current", "legacy")[i % 2]
        specs.append(SimHostSpec(name=f"{prefix}-{i + 1:0{width}d}", dialect=d, cameras=cameras,
                                 discovery_delay=discovery_delay, chaos=chaos, seed=seed + i,
                                 recording_fps=fps, recording_size=size))
    for s in specs:
        s.check()
    return specs


class SimFleet:
    def __init__(self, specs: list[SimHostSpec], state_dir: Path):
        if not specs:
            raise ValueError("a fleet needs at least one host spec")
        names = [s.name for s in specs]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate sim host names: {', '.join(dupes)}")
        self.specs = list(specs)
        self.state_dir = Path(state_dir).absolute()
        self.client_key = self.state_dir / "keys" / "id_ed25519"
        self.known_hosts = self.state_dir / "known_hosts"
        self.hosts = [SimHost(s, self.state_dir / "hosts" / s.name, client_key=self.client_key) for s in specs]
        self.config_path: Path | None = None

    def host(self, name: str) -> SimHost:
        for h in self.hosts:
            if h.name == name:
                return h
        raise KeyError(f"no sim host {name!r} (hosts: {', '.join(h.name for h in self.hosts)})")

    async def start(self) -> None:
        self._check_state_dir()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        (self.state_dir / FLEET_MARKER).write_text("state of `dryrun sim`; safe to delete when it is stopped\n")
        # The shared operator key first: concurrent hosts must not race to create it.
        from runners.sim.keys import load_or_create_key

        load_or_create_key(self.client_key, comment="dryrun-console@sim")
        results = await asyncio.gather(*(h.start() for h in self.hosts), return_exceptions=True)
        failed = [(h, r) for h, r in zip(self.hosts, results) if isinstance(r, BaseException)]
        if failed:
            await self.stop()
            h, err = failed[0]
            raise RuntimeError(f"sim host {h.name} failed to start: {type(err).__name__}: {err}") from err
        write_known_hosts(self.known_hosts, [h.sshd.known_hosts_line() for h in self.hosts if h.sshd])

    def _check_state_dir(self) -> None:
        # Refuse to scatter host folders into a folder that holds something else.
        d = self.state_dir
        if d.exists() and not d.is_dir():
            raise ValueError(f"sim state dir {d} exists and is not a folder")
        if d.is_dir() and any(d.iterdir()) and not (d / FLEET_MARKER).exists():
            raise ValueError(f"sim state dir {d} is not empty and was not made by `dryrun sim`; "
                             "pick another --state-dir")

    async def stop(self) -> None:
        await asyncio.gather(*(h.stop() for h in self.hosts), return_exceptions=True)

    def config(self, *, relative_to: Path | None = None) -> Config:
        return Config(hosts=tuple(h.host_config(relative_to=relative_to) for h in self.hosts))

    def write_config(self, path: Path) -> None:
        """A ready dryrun.toml for all hosts: paths relative to its folder (secrets only in files).
        Validated by loading it back; a bad write raises ``ConfigError``."""
        import tomli_w

        from record.atomic import atomic_write_text

        path = Path(path).absolute()
        folder = path.parent
        cfg = self.config(relative_to=folder if _same_tree(folder, self.state_dir) else None)
        data = config_to_dict(cfg)
        header = (
            "# Written by `dryrun sim`: simulated camera hosts on 127.0.0.1 (they live only while\n"
            "# `dryrun sim` runs; ports change on every start, so it rewrites this file).\n"
            f"# Simulator state (keys, JWT secrets, host filesystems): {self.state_dir}\n\n"
        )
        atomic_write_text(path, header + tomli_w.dumps(data))
        load_config(path)
        self.config_path = path


def _same_tree(folder: Path, state_dir: Path) -> bool:
    """Relative paths when both live under one tree (moving the pair keeps it valid)."""
    try:
        common = os.path.commonpath([folder.absolute(), state_dir.absolute()])
    except ValueError:
        return False
    return common != os.path.sep


@asynccontextmanager
async def run_fleet(specs: list[SimHostSpec], state_dir: Path, *, config: Path | None = None) -> AsyncIterator[SimFleet]:
    """Start a fleet (and write ``config`` if given); stop it on exit, whatever happened."""
    fleet = SimFleet(specs, state_dir)
    await fleet.start()
    try:
        if config is not None:
            fleet.write_config(config)
        yield fleet
    finally:
        await fleet.stop()
