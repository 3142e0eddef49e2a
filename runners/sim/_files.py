"""The service's media folders (``/opt/camera-service/{recordings,snapshots}`` under the sim's
root): listing with pagination, per-file info, deletion. Hidden files (the media writers'
temporaries start with '.') are never shown."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from runners.sim._camera import iso

HOST_BASE = "/opt/camera-service"


class MediaDir:
    def __init__(self, root: Path, kind: str):
        if kind not in ("recordings", "snapshots"):
            raise ValueError(f"kind must be 'recordings' or 'snapshots', got {kind!r}")
        self.kind = kind
        self.local = Path(root) / "opt" / "camera-service" / kind
        self.host = f"{HOST_BASE}/{kind}"

    def ensure(self) -> None:
        self.local.mkdir(parents=True, exist_ok=True)

    def host_path(self, filename: str) -> str:
        """The path as the host sees it (what the service reports), not our temp folder."""
        return f"{self.host}/{filename}"

    def local_path(self, filename: str) -> Path:
        return self.local / filename

    def _entries(self) -> list[os.DirEntry]:
        try:
            with os.scandir(self.local) as it:
                return [e for e in it if not e.name.startswith(".") and e.is_file(follow_symlinks=False)]
        except FileNotFoundError:
            return []

    def entry(self, e: os.DirEntry | Path) -> dict[str, Any]:
        st = e.stat()
        return {
            "filename": e.name,
            "file_size": st.st_size,
            "modified_time": iso(st.st_mtime),
            "download_url": f"/files/{self.kind}/{e.name}",
        }

    def listing(self, limit: int, offset: int) -> dict[str, Any]:
        rows = []
        for e in self._entries():
            try:
                rows.append((e.stat().st_mtime, e.name, e))
            except FileNotFoundError:  # deleted while we looked
                continue
        rows.sort(key=lambda r: (-r[0], r[1]))  # newest first, as both services list
        page = rows[offset:offset + limit]
        files = []
        for _, _, e in page:
            try:
                files.append(self.entry(e))
            except FileNotFoundError:
                continue
        return {"files": files, "total": len(rows), "limit": limit, "offset": offset}

    def exists(self, filename: str) -> bool:
        return self.local_path(filename).is_file()

    def info(self, filename: str) -> dict[str, Any] | None:
        p = self.local_path(filename)
        try:
            st = p.stat()
        except FileNotFoundError:
            return None
        return {
            "filename": filename,
            "file_size": st.st_size,
            "created_time": iso(st.st_mtime),
            "modified_time": iso(st.st_mtime),
            "download_url": f"/files/{self.kind}/{filename}",
            "file_path": self.host_path(filename),
        }

    def delete(self, filename: str) -> bool:
        try:
            self.local_path(filename).unlink()
            return True
        except FileNotFoundError:
            return False

    def unique_name(self, stem: str, ext: str) -> str:
        """``stem.ext``, or ``stem_1.ext``… if taken (two snapshots in the same millisecond)."""
        name = f"{stem}.{ext}"
        n = 0
        while self.local_path(name).exists():
            n += 1
            name = f"{stem}_{n}.{ext}"
        return name

    def total_bytes(self) -> int:
        total = 0
        for e in self._entries():
            try:
                total += e.stat().st_size
            except FileNotFoundError:
                continue
        return total
