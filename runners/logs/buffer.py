"""The log pane's memory: a capped buffer of parsed lines from every host, merged by time.

- Bounded: at most ``cap`` records (plus a small slack so trimming is amortised: the
  oldest are dropped in chunks, never one by one). ``evicted`` counts what was dropped.
- Merged by time: records are kept sorted by (time, arrival). Lines usually arrive in
  order, so an insert is an append; a line from a slower host goes in near the end
  (bisect). A line with no timestamp of its own (a traceback, a continuation) takes the
  time and level of the previous line of its source, so it stays under its header.
  Times are clamped to the arrival time (a host clock ahead of ours cannot push lines
  into the future) and to at most ``reorder_window`` seconds before it (a host clock far
  behind, or a naive time in another zone, degrades to arrival order instead of hiding
  its lines far up the scrollback). A source's backlog (``history``: written before the
  follow began) is placed by its own times however old, so the hosts' backlogs merge.
- Filtered: a :class:`LogFilter` (hosts, minimum level, include / exclude regex, id)
  selects the ``view``, maintained incrementally (no rescans per batch).
- Whole: text is stored in full; only the pane truncates what it draws.

No Textual, no I/O: the pane (``tui/widgets/log_view.py``) and tests drive it.
"""

from __future__ import annotations

import re
import time
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from operator import itemgetter

from runners.logs.parse import ERROR, UNKNOWN, neutralise, parse_line

LINE, CONT, GAP, MARK = 0, 1, 2, 3  # record kinds; CONT = a line that carried no timestamp
DEFAULT_CAP = 100_000

# A record is a plain tuple of atoms (floats, ints, strs, None), laid out as below. Why
# not a class: CPython's garbage collector stops tracking a tuple whose items are all
# atoms, so 100,000 buffered lines cost its full collections nothing. With one object
# per line, every full collection walked them all: 0.2-0.5 s freezes at 50k lines/s
# (measured with gc.callbacks, tests/bench/bench_log_ingest.py).
K, SEQ, TS, LEVEL, HOST, SOURCE, TEXT, KIND, LOST = range(9)
LogRecord = tuple  # (k, seq, ts, level, host, source, text, kind, lost)
_key = itemgetter(K)


def make_record(k: float, seq: int, ts: float, level: int, host: str, source: str, text: str,
                kind: int = LINE, lost: int | None = None) -> LogRecord:
    """``k``: the merge key (seconds); ``ts``: the line's own (or inherited) time;
    ``text``: whole and already safe; ``lost``: a gap's lost bytes (None = unknown)."""
    return (k, seq, ts, level, host, source, text, kind, lost)


def describe_record(r: LogRecord) -> str:  # for test failure messages
    return f"{r[HOST]}/{r[SOURCE]} k={r[K]:.3f} seq={r[SEQ]} kind={r[KIND]} {r[TEXT][:40]!r}"


class PatternError(ValueError):
    """A filter or search pattern that is not a valid regular expression."""


def compile_pattern(text: str, *, regex: bool = True) -> re.Pattern[str]:
    """Smart case: all lower case -> case-insensitive. ``regex=False`` -> literal text."""
    flags = re.IGNORECASE if text == text.lower() else 0
    try:
        return re.compile(text if regex else re.escape(text), flags)
    except re.error as e:
        raise PatternError(f"not a valid regular expression {text!r}: {e.msg} at position {e.pos}") from None


@dataclass(frozen=True)
class LogFilter:
    hosts: frozenset[str] | None = None  # None = every host
    min_level: int = UNKNOWN  # > 0 hides lines below it (and lines with no level)
    include: re.Pattern[str] | None = None
    exclude: re.Pattern[str] | None = None
    ids: frozenset[str] | None = None  # only lines carrying one of these request/correlation ids

    @property
    def active(self) -> bool:
        return bool(self.hosts is not None or self.min_level or self.include or self.exclude or self.ids)

    def matches(self, r: LogRecord) -> bool:
        kind = r[KIND]
        if self.hosts is not None and r[HOST] not in self.hosts and kind != MARK:
            return False
        if kind >= GAP:  # gaps and now markers survive level/text filters: they explain the view
            return True
        if self.min_level and r[LEVEL] < self.min_level:
            return False
        text = r[TEXT]
        if self.include is not None and self.include.search(text) is None:
            return False
        if self.exclude is not None and self.exclude.search(text) is not None:
            return False
        if self.ids is not None and not any(i in text for i in self.ids):
            return False
        return True

    def describe(self) -> str:
        from runners.logs.parse import LEVEL_NAMES

        parts = []
        if self.hosts is not None:
            parts.append("host=" + ",".join(sorted(self.hosts)))
        if self.min_level:
            parts.append(f"level>={LEVEL_NAMES.get(self.min_level, self.min_level)}")
        if self.include is not None:
            parts.append(f"+/{self.include.pattern}/")
        if self.exclude is not None:
            parts.append(f"-/{self.exclude.pattern}/")
        if self.ids is not None:
            parts.append("id=" + ",".join(sorted(self.ids)))
        return " ".join(parts)


@dataclass
class _SourceState:
    ts: float | None = None
    level: int = UNKNOWN


@dataclass
class Changes:
    """What changed in the view since the last ``take_changes()``: the lowest view index
    that was inserted at (None = nothing inserted), how many records left its front."""

    first_changed: int | None = None
    trimmed: int = 0
    added: int = 0


@dataclass
class LogBuffer:
    cap: int = DEFAULT_CAP
    reorder_window: float = 300.0
    records: list[LogRecord] = field(default_factory=list)
    evicted: int = 0  # records dropped because of the cap
    total: int = 0  # records ever added

    def __post_init__(self) -> None:
        if self.cap < 1:
            raise ValueError(f"log buffer cap must be at least 1 line, got {self.cap}")
        self._seq = 0
        self._sources: dict[tuple[str, str], _SourceState] = {}
        self._filter = LogFilter()
        self._view: list[LogRecord] | None = None  # None: the view is `records` (no filter)
        self._changes = Changes()
        self.hosts: dict[str, int] = {}  # host -> lines seen (for host filters / colours)
        self.errors = 0  # lines at ERROR or above ever added
        # ERROR+ lines and gaps in buffer order: "next error" is a bisect, not a scan of 100k lines
        self._problems: list[LogRecord] = []

    # ------------------------------------------------------------------ reading
    @property
    def view(self) -> list[LogRecord]:
        return self.records if self._view is None else self._view

    @property
    def filter(self) -> LogFilter:
        return self._filter

    def __len__(self) -> int:
        return len(self.records)

    def index_of(self, rec: LogRecord) -> int | None:
        """Position of ``rec`` in the view (None if it was trimmed or filtered out)."""
        view = self.view
        k = rec[K]
        i = bisect_left(view, k, key=_key)
        while i < len(view) and view[i][K] == k:
            if view[i] is rec:
                return i
            i += 1
        return None

    def nearest_index(self, rec: LogRecord) -> int:
        """Where ``rec`` is or would be in the view (for keeping a scroll position)."""
        view = self.view
        k, seq = rec[K], rec[SEQ]
        i = bisect_left(view, k, key=_key)
        while i < len(view) and view[i][K] == k and view[i][SEQ] < seq:
            i += 1
        return min(i, max(0, len(view) - 1))

    def take_changes(self) -> Changes:
        c = self._changes
        self._changes = Changes()
        return c

    # ------------------------------------------------------------------ writing
    def add_lines(self, host: str, source: str, lines: Iterable[str], *, fmt: str = "auto",
                  arrival: float | None = None, history: bool = False) -> int:
        """Parse and insert lines of one source (already decoded). Returns how many.
        ``history``: the source's backlog, placed by its own times (only the future is clamped)."""
        now = time.time() if arrival is None else arrival
        low = float("-inf") if history else now - self.reorder_window
        st = self._sources.get((host, source))
        if st is None:
            st = self._sources[(host, source)] = _SourceState()
        n = 0
        view = self._view
        flt = self._filter
        recs = self.records
        for text in lines:
            text = neutralise(text)  # the hub already did; cheap when already safe
            p = parse_line(text, fmt)
            if p.ts is not None:
                ts = p.ts
                st.ts = ts
                level = p.level
                st.level = level
                kind = LINE
            else:
                # No time of its own: a continuation of the previous line of this source
                # (or, at the very start, the arrival time).
                ts = st.ts if st.ts is not None else now
                level = p.level or st.level
                kind = CONT
            k = ts if low <= ts <= now else (now if ts > now else low)
            self._seq += 1
            rec = (k, self._seq, ts, level, host, source, text, kind, None)
            self._insert(rec, recs, view, flt)
            if level >= ERROR:
                self.errors += 1
            n += 1
        self.total += n
        self.hosts[host] = self.hosts.get(host, 0) + n
        self._trim()
        return n

    def add_gap(self, host: str, source: str, reason: str, lost_bytes: int | None = None,
                *, at: float | None = None) -> LogRecord:
        now = time.time() if at is None else at
        size = "unknown size" if lost_bytes is None else f"{lost_bytes:,} bytes lost"
        text = neutralise(f"gap in {host}/{source}: {reason} ({size})")
        return self._add_special(host, source, text, GAP, now, lost_bytes)

    def add_marker(self, text: str = "", *, at: float | None = None) -> LogRecord:
        now = time.time() if at is None else at
        label = time.strftime("%H:%M:%S", time.localtime(now)) + f".{int(now * 1000) % 1000:03d}"
        return self._add_special("", "", neutralise(f"now {label}" + (f" {text}" if text else "")), MARK, now, None)

    def _add_special(self, host: str, source: str, text: str, kind: int, now: float,
                     lost: int | None) -> LogRecord:
        self._seq += 1
        rec = make_record(now, self._seq, now, ERROR if kind == GAP else UNKNOWN, host, source, text, kind, lost)
        self._insert(rec, self.records, self._view, self._filter)
        self.total += 1
        self._trim()
        return rec

    def _insert(self, rec: LogRecord, recs: list[LogRecord], view: list[LogRecord] | None,
                flt: LogFilter) -> None:
        k = rec[K]
        if rec[LEVEL] >= ERROR and rec[KIND] != MARK:
            probs = self._problems
            if not probs or k >= probs[-1][K]:
                probs.append(rec)
            else:
                probs.insert(bisect_right(probs, k, key=_key), rec)
        # seq only grows, so "after every record with the same key" is bisect_right on k.
        if not recs or k >= recs[-1][K]:
            recs.append(rec)
            pos = len(recs) - 1
        else:
            pos = bisect_right(recs, k, key=_key)
            recs.insert(pos, rec)
        if view is not None:
            if not flt.matches(rec):
                return
            if not view or k >= view[-1][K]:
                view.append(rec)
                pos = len(view) - 1
            else:
                pos = bisect_right(view, k, key=_key)
                view.insert(pos, rec)
        c = self._changes
        c.added += 1
        if c.first_changed is None or pos < c.first_changed:
            c.first_changed = pos

    def _trim(self) -> None:
        excess = len(self.records) - self.cap
        # Amortised: trim only once the slack is used up, then back down to the cap.
        if excess <= 0 or excess < max(1, min(1000, self.cap // 20)):
            return
        dropped = self.records[:excess]
        del self.records[:excess]
        self.evicted += excess
        if self._problems:
            first = self.records[0] if self.records else None
            probs = self._problems
            cut = 0
            while cut < len(probs) and (first is None or (probs[cut][K], probs[cut][SEQ]) < (first[K], first[SEQ])):
                cut += 1
            del probs[:cut]
        if self._view is None:
            n_view = excess
        else:
            # The view is an ordered subsequence of records: the dropped ones that are in
            # it form its prefix.
            flt = self._filter
            n_view = sum(1 for r in dropped if flt.matches(r))
            del self._view[:n_view]
        c = self._changes
        c.trimmed += n_view
        if c.first_changed is not None:
            c.first_changed = max(0, c.first_changed - n_view)

    def clear(self) -> None:
        self.records.clear()
        self._problems.clear()
        if self._view is not None:
            self._view.clear()
        self._changes = Changes(first_changed=0)

    # ------------------------------------------------------------------ filtering
    def set_filter(self, flt: LogFilter) -> None:
        self._filter = flt
        self._view = [r for r in self.records if flt.matches(r)] if flt.active else None
        self._changes = Changes(first_changed=0)

    # ------------------------------------------------------------------ navigation
    def find(self, pattern: re.Pattern[str], start: int, direction: int = 1) -> int | None:
        """Next view index after ``start`` (before, if direction < 0) whose text matches;
        wraps around once. None if nothing matches."""
        search = pattern.search
        return self._scan(lambda r: r[KIND] < GAP and search(r[TEXT]) is not None, start, direction)

    def find_level(self, start: int, direction: int = 1, min_level: int = ERROR) -> int | None:
        """Next line at or above ``min_level`` after view index ``start`` (before, if
        direction < 0), wrapping once; gaps count (they are where data went missing)."""
        if min_level < ERROR:
            return self._scan(lambda r: r[LEVEL] >= min_level and r[KIND] != MARK, start, direction)
        view = self.view
        probs = self._problems
        if not view or not probs:
            return None
        flt = self._filter
        # Where `start` sits among the problems (by merge key, then arrival).
        if 0 <= start < len(view):
            ref = view[start]
            pos = bisect_left(probs, ref[K], key=_key)
            while pos < len(probs) and (probs[pos][K], probs[pos][SEQ]) <= (ref[K], ref[SEQ]):
                pos += 1  # first problem strictly after ref
            after, upto = pos, pos - (1 if pos > 0 and probs[pos - 1] is ref else 0)
        elif start < 0:
            after = upto = 0
        else:
            after = upto = len(probs)
        n = len(probs)
        order = ([*range(after, n), *range(0, after)] if direction >= 0
                 else [*range(upto - 1, -1, -1), *range(n - 1, upto - 1, -1)])
        for i in order:
            r = probs[i]
            if r[LEVEL] >= min_level and (not flt.active or flt.matches(r)):
                return self.index_of(r)
        return None

    def _scan(self, pred, start: int, direction: int) -> int | None:
        view = self.view
        n = len(view)
        if n == 0:
            return None
        step = 1 if direction >= 0 else -1
        i = start
        for _ in range(n):
            i = (i + step) % n
            if pred(view[i]):
                return i
        return None

    def count_matches(self, pattern: re.Pattern[str], limit: int = 100_000) -> int:
        n = 0
        search = pattern.search
        for r in self.view:
            if r[KIND] < GAP and search(r[TEXT]) is not None:
                n += 1
                if n >= limit:
                    break
        return n

    # ------------------------------------------------------------------ export
    def export(self, *, view_only: bool) -> list[LogRecord]:
        """A snapshot (list copy) of the view or of every record, for saving off-thread."""
        return list(self.view if view_only else self.records)


def format_record(r: LogRecord) -> str:
    """One saved line: local time, host/source, level, the whole text."""
    from runners.logs.parse import LEVEL_TAGS

    ts = r[TS]
    t = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) + f".{int(ts * 1000) % 1000:03d}"
    if r[KIND] == GAP:
        return f"{t} ==== {r[TEXT]} ===="
    if r[KIND] == MARK:
        return f"{t} ---- {r[TEXT]} ----"
    return f"{t} {r[HOST]}/{r[SOURCE]} {LEVEL_TAGS.get(r[LEVEL], '   ')} {r[TEXT]}"


def render_export(records: Sequence[LogRecord]) -> Iterator[str]:
    for r in records:
        yield format_record(r) + "\n"
