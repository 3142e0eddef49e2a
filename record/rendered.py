"""Rendered .md files and hand edits.

Every .md the record renders (plan, register, ledger, flake evidence, metrics, closeout)
has a sidecar in ``.state/rendered/`` holding what was last rendered. A file whose text is
neither the last nor the previous render was edited by someone else: writers refuse to
overwrite it (naming the first edited line) unless forced; the register merges it.

Write order is sidecar first, then the .md, both atomic. The sidecar keeps the new text and
the text on disk before the write: a kill between the two leaves the .md at that previous
text, which the sidecar still accepts, so a crash is never mistaken for a hand edit and a
hand edit is never mistaken for a crash.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from record.atomic import atomic_write_text
from record.errors import HandEditError, RecordError
from record.layout import DryRunDir
from record.tomlio import read_text


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def first_difference(a: str, b: str) -> int:
    """1-based line number of the first line where ``a`` and ``b`` differ."""
    la, lb = a.splitlines(), b.splitlines()
    for i, (x, y) in enumerate(zip(la, lb), start=1):
        if x != y:
            return i
    return min(len(la), len(lb)) + 1


@dataclass
class Sidecar:
    text: str = ""
    prev_text: str = ""

    @property
    def hashes(self) -> set[str]:
        return {sha256_text(t) for t in (self.text, self.prev_text) if t}


class RenderedFile:
    def __init__(self, d: DryRunDir, path: Path):
        self.d = d
        self.path = path
        self.sidecar_path = d.rendered_base(path)

    def sidecar(self) -> Sidecar | None:
        text = read_text(self.sidecar_path)
        if text is None:
            return None
        try:
            data = json.loads(text)
            return Sidecar(text=str(data["text"]), prev_text=str(data.get("prev_text", "")))
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise RecordError(self.sidecar_path, f"unreadable render record ({e}); delete it to treat "
                              f"{self.path.name} as hand-written") from None

    def current(self) -> str | None:
        return read_text(self.path)

    def edited(self, would_render: str | None = None) -> tuple[str, Sidecar | None] | None:
        """``(current text, sidecar)`` when the file was edited by hand, else None.

        ``would_render``: what rendering the current source would produce; a file equal to it
        is not an edit (it is what a crashed writer was about to leave)."""
        cur = self.current()
        if cur is None:
            return None
        side = self.sidecar()
        if side is not None and sha256_text(cur) in side.hashes:
            return None
        if would_render is not None and cur == would_render:
            return None
        return cur, side

    def guard(self, would_render: str | None = None, *, force: bool = False) -> None:
        """Refuse (HandEditError naming the first edited line) to overwrite a hand-edited file."""
        if force:
            return
        hit = self.edited(would_render)
        if hit is None:
            return
        cur, side = hit
        if side is None:
            raise HandEditError(self.path, "exists but was not written by the record (no render record in "
                                f"{self.sidecar_path.parent.name}/); refusing to overwrite it", line=1,
                                hint="move it away, or pass --force to overwrite it")
        line = first_difference(side.text, cur)
        raise HandEditError(self.path, "edited by hand since the record last wrote it; refusing to overwrite "
                            "the edit", line=line,
                            hint="move your notes elsewhere (or delete the file to regenerate it), "
                                 "or pass --force to overwrite it")

    def write(self, text: str) -> bool:
        """Write ``text`` (sidecar first). Returns False when the file already had it."""
        side = self.sidecar()
        cur = self.current()
        if side is not None and side.text == text and cur == text:
            return False
        # "prev" is what is on disk now (callers have checked it is not a hand edit): a kill
        # after the sidecar and before the .md then leaves a .md the sidecar accepts, even
        # when two writers in a row die in that window.
        prev = cur if cur is not None else ""
        atomic_write_text(self.sidecar_path, json.dumps({"text": text, "prev_text": prev}) + "\n")
        atomic_write_text(self.path, text)
        return True
