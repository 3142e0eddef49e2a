"""Keep the panes in sync with files changed by someone else (another console, an editor):
watch dry_run/ (recursively) and the config file with watchfiles.

The config's folder is watched (editors save by rename, which a file watch would lose)
and changes are filtered to the config itself. Bursts are debounced by watchfiles and
merged again by the FilesChanged message."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

# changes to these never need a reload (our own lock, temp files of atomic writes)
_IGNORED_SUFFIXES = (".tmp", ".swp", "~")


def _interesting(path: str, cfg: Path | None, dry: Path) -> bool:
    p = Path(path)
    if p.name.endswith(_IGNORED_SUFFIXES) or p.name == "lock":
        return False
    if cfg is not None and p == cfg:
        return True
    try:
        p.relative_to(dry)
        return True
    except ValueError:
        return False


async def watch_paths(cfg_path: Path | None, dry_root: Path, emit: Callable[[set[str]], None], *,
                      debounce_ms: int = 300, stop_event=None) -> None:
    import asyncio

    from watchfiles import awatch  # lazy: not needed for the first frame

    dry_root = dry_root.resolve()
    dry_root.mkdir(parents=True, exist_ok=True)
    cfg = cfg_path.resolve() if cfg_path is not None else None

    async def loop(root: Path, recursive: bool) -> None:
        async for changes in awatch(root, debounce=debounce_ms, step=50, stop_event=stop_event,
                                    recursive=recursive):
            paths = {p for _change, p in changes if _interesting(p, cfg, dry_root)}
            if paths:
                emit(paths)

    loops = [loop(dry_root, True)]
    if cfg is not None and not cfg.parent.is_relative_to(dry_root):
        loops.append(loop(cfg.parent, False))  # the config's folder only, not its subtree
    await asyncio.gather(*loops)
