"""``s`` / ``S``: the lines shown (filters applied, with a ``# filter:`` header) or the
whole buffer, lines whole, to ``dry_run/artifacts/logs/logs-<time>-{view,all}.log``,
written on a thread (atomically). A mixin of :class:`tui.widgets.logview.view.LogView`;
the result comes back as ``LogView.Saved``."""

from __future__ import annotations

import time
from pathlib import Path

from textual import work

from runners.logs.buffer import LogRecord


class SaveMixin:
    def save(self, view_only: bool) -> None:
        """Write the view (filters applied) or the whole buffer, lines whole, off the UI loop."""
        if self.save_dir is None:
            self.notify("no dry_run/ folder configured: nothing saved", severity="error")
            return
        self.flush()
        records = self.buffer.export(view_only=view_only)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        what = "view" if view_only else "all"
        path = self.save_dir / f"logs-{stamp}-{what}.log"
        n = 1
        while path.exists():
            n += 1
            path = self.save_dir / f"logs-{stamp}-{what}-{n}.log"
        header = ""
        if view_only and self.buffer.filter.active:
            header = f"# filter: {self.buffer.filter.describe()}\n"
        self._save_worker(path, records, header)

    @work(thread=True, exclusive=False, group="log-save", exit_on_error=False, name="save logs")
    def _save_worker(self, path: Path, records: list[LogRecord], header: str) -> None:
        from record.atomic import atomic_write_bytes
        from runners.logs.buffer import render_export

        try:
            data = (header + "".join(render_export(records))).encode("utf-8", "backslashreplace")
            atomic_write_bytes(path, data)
        except OSError as e:
            self.post_message(self.Saved(self, None, 0, f"cannot write {path}: {e.strerror or e}"))
            return
        self.post_message(self.Saved(self, path, len(records)))
