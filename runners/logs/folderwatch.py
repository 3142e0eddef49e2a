"""One ``watchfiles`` watcher per folder, shared by every local log followed in it.

Local logs usually sit side by side (``/var/log/camera-service.log``, ``mediamtx.log``).
A watcher per followed file would watch the same folder several times over: each change
to any file there would wake every watcher's thread and every follower would re-read its
file for nothing. Here the first follower of a folder starts its watcher, each change set
wakes only the followers of the files it names, and the last follower to leave stops it.

Watchers are per event loop (each test, each console has its own) and watch the folder,
not the file, so a file that does not exist yet, or is replaced by rotation, is seen.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

WAIT_FOR_FOLDER = 1.0  # s between looks for a folder that does not exist yet


class FolderWatch:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.followers: dict[str, set[asyncio.Event]] = {}  # file name -> wake events
        self.error: BaseException | None = None  # why watching stopped (None while it runs)
        self._stop = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        from watchfiles import awatch

        try:
            while not self.folder.is_dir():
                await asyncio.sleep(WAIT_FOR_FOLDER)
            async for changes in awatch(self.folder, stop_event=self._stop, debounce=20, step=10,
                                        watch_filter=None, recursive=False, ignore_permission_denied=True):
                names = {Path(path).name for _change, path in changes}
                for name in names & self.followers.keys():
                    for wake in self.followers[name]:
                        wake.set()
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - reported to every follower, which retries
            self.error = e
            for wakes in self.followers.values():
                for wake in wakes:
                    wake.set()

    @property
    def failed(self) -> bool:
        return self.error is not None

    async def close(self) -> None:
        self._stop.set()
        self._task.cancel()
        with contextlib.suppress(BaseException):
            await self._task


_WATCHES: dict[tuple[asyncio.AbstractEventLoop, Path], FolderWatch] = {}


@contextlib.asynccontextmanager
async def watching(path: Path, wake: asyncio.Event) -> AsyncIterator[FolderWatch]:
    """Set ``wake`` whenever ``path`` (or a file replacing it) changes, while inside.
    A watch that failed is dropped here, so the follower's next session starts a new one."""
    key = (asyncio.get_running_loop(), path.parent)
    fw = _WATCHES.get(key)
    if fw is None or fw.failed:
        fw = _WATCHES[key] = FolderWatch(path.parent)
    fw.followers.setdefault(path.name, set()).add(wake)
    try:
        yield fw
    finally:
        wakes = fw.followers.get(path.name, set())
        wakes.discard(wake)
        if not wakes:
            fw.followers.pop(path.name, None)
        if not fw.followers:
            if _WATCHES.get(key) is fw:
                del _WATCHES[key]
            await fw.close()
