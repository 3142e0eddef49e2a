"""Who wrote a line: the host/source column of the log pane, full or compact.

Full: ``cam-28/camera-service``, as wide as the longest label seen (at most
``FULL_MAX`` cells). Compact, when the full columns would take more than
``COMPACT_SHARE`` of the row (an 80-column terminal): the host alone when every host has
one log source, else the host and a short tag of the source (``cam-28/cam``,
``cam-28/med``), each source's tag unique among all sources; :meth:`SourceLabels.legend`
says what the tags stand for (the pane's status line shows it). A host longer than
``HOST_MAX`` keeps its start and end (``edge-cam-b…g7-03``): fleets number their hosts
at the end.

The sources counted are those configured (``configure``: the console knows them from
its config, so the column does not change when a quiet source sends its first line)
and those seen in lines. No Textual here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

FULL_MAX = 28  # cells of a full label
HOST_MAX = 16  # cells of the host in a compact label
TAG_MIN, TAG_MAX = 3, 6  # cells of a source's tag in a compact label
COMPACT_SHARE = 0.3  # compact when time + full label + level take more than this share of the row


class SourceLabels:
    def __init__(self) -> None:
        self.seen: dict[str, set[str]] = {}  # host -> sources that sent lines
        self.configured: dict[str, tuple[str, ...]] = {}
        self.full_width = 8
        self.generation = 0  # changes whenever a label may read differently
        self._compact: tuple[int, dict[str, str], int] | None = None  # host width, tags, tag width

    # ------------------------------------------------------------------ what is known
    def add(self, host: str, source: str) -> bool:
        """A line from ``host``/``source``; True when that pair is new (labels may change)."""
        known = self.seen.get(host)
        if known is not None and source in known:
            return False
        self.seen.setdefault(host, set()).add(source)
        self.full_width = max(self.full_width, min(FULL_MAX, len(host) + len(source) + 1))
        self._changed()
        return True

    def configure(self, sources: Mapping[str, Iterable[str]]) -> bool:
        """The configured log sources of each host; True when they changed."""
        new = {h: tuple(s) for h, s in sources.items()}
        if new == self.configured:
            return False
        self.configured = new
        self._changed()
        return True

    def _changed(self) -> None:
        self.generation += 1
        self._compact = None

    def _layout(self) -> tuple[int, dict[str, str], int]:
        if self._compact is None:
            per_host: dict[str, set[str]] = {h: set(s) for h, s in self.seen.items()}
            for h, srcs in self.configured.items():
                per_host.setdefault(h, set()).update(srcs)
            host_w = min(HOST_MAX, max(map(len, per_host), default=1))
            one_source = all(len(s) <= 1 for s in per_host.values())
            tags = {} if one_source else abbreviations(set().union(*per_host.values()))
            self._compact = (host_w, tags, max(map(len, tags.values()), default=0))
        return self._compact

    # ------------------------------------------------------------------ the column
    def width(self, compact: bool) -> int:
        if not compact:
            return self.full_width
        host_w, _tags, tag_w = self._layout()
        return host_w + (1 + tag_w if tag_w else 0)

    def use_compact(self, row_width: int, other_columns: int) -> bool:
        """Compact when the full label would crowd the message out of a ``row_width`` row."""
        return (other_columns + self.full_width > row_width * COMPACT_SHARE
                and self.width(True) < self.full_width)

    def label(self, host: str, source: str, compact: bool) -> str:
        """The column for one line: exactly ``width(compact)`` cells."""
        if not compact:
            text, lw = f"{host}/{source}", self.full_width
            return text[:lw - 1] + "…" if len(text) > lw else text.ljust(lw)
        host_w, tags, tag_w = self._layout()
        h = host if len(host) <= host_w else middle_cut(host, host_w)
        if not tag_w:
            return h.ljust(host_w)
        tag = tags.get(source) or source[:tag_w]
        return f"{h}/{tag}".ljust(host_w + 1 + tag_w)

    def legend(self) -> str:
        """What the compact tags stand for: ``cam=camera-service med=mediamtx`` ("" if no tags)."""
        _host_w, tags, _tag_w = self._layout()
        return " ".join(f"{tag}={name}" for name, tag in sorted(tags.items(), key=lambda kv: kv[1]) if tag != name)


def middle_cut(text: str, width: int) -> str:
    """``text`` in ``width`` characters, its start and end kept: ``edge-cam-b…g7-03``."""
    if len(text) <= width:
        return text
    if width < 3:
        return text[:width]
    head = (width - 1) // 2
    return text[:head] + "…" + text[len(text) - (width - 1 - head):]


def abbreviations(names: Iterable[str]) -> dict[str, str]:
    """A unique tag per name: its shortest prefix no other name starts with, at least
    ``TAG_MIN`` characters (``camera-service`` -> ``cam``, ``mediamtx`` -> ``med``); a tag
    that would be longer than ``TAG_MAX`` is cut and numbered (``came~2``)."""
    ordered = sorted(set(names))
    tags: dict[str, str] = {}
    for i, name in enumerate(ordered, 1):
        k = min(TAG_MIN, len(name))
        while k < len(name) and any(o != name and o.startswith(name[:k]) for o in ordered):
            k += 1
        tag = name[:k]
        if len(tag) > TAG_MAX:
            num = f"~{i}"
            tag = name[:TAG_MAX - len(num)] + num
        tags[name] = tag
    if len(set(tags.values())) < len(tags):  # (only contrived names get here) numbers are unique
        tags = {name: str(i) for i, name in enumerate(ordered, 1)}
    return tags
