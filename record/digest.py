"""The record's derived figures for a reader that follows it (the console): kept current
incrementally, so a reload costs what changed since the last one, not the whole record.

- ``events.log.jsonl`` is read by an :class:`record.events_log.EventsTail` (only the
  complete lines appended since the last read; a replaced or truncated log is read again
  from the top) into a :class:`record.metrics.MetricsFold`;
- the small record files the figures also depend on (the register, ``quarantine.txt``)
  are parsed again only when their bytes changed (:class:`FileMemo`);
- the metrics are rebuilt only when one of those inputs changed; the closeout preview is
  evaluated on each request from them (it depends on the clock), which is cheap.

What it gives equals a cold read of the same files: ``metrics()`` is
``record.metrics.compute(d)`` (its ``generated`` stamp aside: the time the figures were
built) and ``closeout_preview()`` is ``record.closeout.closeout(cfg, d, record=False)``,
errors included: a bad line in the log, or a fault the fold meets, fails them with the same
error until the file changes. The preview takes no dry_run/ lock (every record file is
replaced atomically, the log only ever gets whole lines), so a long record operation
(``dryrun pack``) never holds up a reader. Thread-safe: one lock around each call.
"""

from __future__ import annotations

import datetime as _dt
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from record.events_log import EventsTail
from record.layout import DryRunDir
from record.metrics import MetricsFold

if TYPE_CHECKING:
    from runners.config import Config

READ_SLICE = 8 << 20  # bytes of the log parsed per slice (bounds the memory of a cold read)


def _read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


class FileMemo:
    """``load()``'s value, loaded again only when the bytes of one of ``paths`` changed.

    For small files (kilobytes): comparing their bytes is far cheaper than parsing them, and
    unlike a stat signature it cannot miss an in-place edit within the same mtime tick. A
    ``load`` that raises is not remembered (the next ``get`` tries again)."""

    def __init__(self, paths: Callable[[], tuple[Path, ...]], load: Callable[[], Any]):
        self.paths = paths
        self.load = load
        self._key: tuple[bytes | None, ...] | None = None
        self._value: Any = None
        self.loads = 0  # how many times ``load`` ran: a generation number for the value

    def get(self) -> Any:
        key = tuple(_read_bytes(p) for p in self.paths())
        if key != self._key:
            value = self.load()
            self.loads += 1
            # a file that changed between our read and load()'s is noticed next time (key differs)
            self._key, self._value = key, value
        return self._value


class RecordDigest:
    """The events-derived figures of one dry_run/ (see the module doc)."""

    def __init__(self, d: DryRunDir):
        from record.quarantine import load_quarantine
        from record.triage import load_register

        self.d = d
        self._lock = threading.RLock()
        self.register = FileMemo(lambda: (d.triage_toml,), lambda: load_register(d))
        self.quarantine = FileMemo(lambda: (d.quarantine,), lambda: sorted(load_quarantine(d.quarantine)))
        self._new_log()

    def _new_log(self) -> None:
        self.tail = EventsTail(self.d.events_log)
        self.fold = MetricsFold()
        self._fold_error: Exception | None = None
        self._read_error: Exception | None = None
        self.version = getattr(self, "version", 0) + 1  # bumped on every change of the log as read
        self._metrics_key: tuple[Any, ...] | None = None
        self._metrics: dict[str, Any] | None = None

    def refresh(self) -> bool:
        """Read what was appended to the log since the last call; True if the log changed
        (new lines, a torn tail that grew or went, a replacement, a new error)."""
        with self._lock:
            t = self.tail
            before = (t.sha256, t.events, t.torn, t.exists, t.error)
            changed = False
            while True:
                try:
                    r = t.read(max_bytes=READ_SLICE)
                except Exception as e:  # unreadable now (permissions, a directory...): start over next time
                    self._new_log()
                    self._read_error = e
                    return True
                self._read_error = None
                if r.reset:
                    self.fold, self._fold_error, changed = MetricsFold(), None, True
                if r.events and self._fold_error is None:
                    try:
                        self.fold.feed(r.events)
                    except Exception as e:  # a cold compute would fail on this line too: keep failing
                        self._fold_error = e
                if not r.more:
                    break
            changed = changed or before != (t.sha256, t.events, t.torn, t.exists, t.error)
            if changed:
                self.version += 1
            return changed

    def _check(self) -> None:
        if self._read_error is not None:
            raise self._read_error
        if self.tail.error is not None:
            raise self.tail.error
        if self._fold_error is not None:
            raise self._fold_error

    def metrics(self) -> dict[str, Any]:
        """``record.metrics.compute(d)`` as of the last :meth:`refresh`; rebuilt only when
        the log, the register or quarantine.txt changed. Do not modify the result (it is
        shared until something changes)."""
        return self._figures()[0]

    def _figures(self) -> tuple[dict[str, Any], Any]:
        with self._lock:
            self._check()
            reg = self.register.get()
            quarantined = self.quarantine.get()
            key = (self.version, self.register.loads, self.quarantine.loads)
            if key != self._metrics_key or self._metrics is None:
                self._metrics = self.fold.figures(self.d, sha256=self.tail.sha256, torn=self.tail.torn, reg=reg,
                                                  quarantined=quarantined)
                self._metrics_key = key
            return self._metrics, reg

    def closeout_preview(self, cfg: Config, now: _dt.datetime) -> dict[str, Any]:
        """``record.closeout.closeout(cfg, d, now=now, record=False)`` from the kept figures."""
        from record.closeout import preview

        with self._lock:
            m, reg = self._figures()
            return preview(cfg, self.d, now=now, metrics=m, reg=reg, last_run_id=self.fold.last_run_id,
                           overrides=list(self.fold.overrides))
