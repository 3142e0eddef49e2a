"""The ``-k`` expression: pytest's keyword grammar over SMK checks and hosts.

Grammar (as pytest's ``-k``)::

    expr     := and_expr ("or" and_expr)*
    and_expr := not_expr ("and" not_expr)*
    not_expr := "not" not_expr | "(" expr ")" | IDENT

An IDENT matches an item when it is a case-insensitive substring of one of the item's
keywords, with ``-`` and ``_`` treated alike (``SMK_3`` == ``SMK-3`` == ``smk-3``). An item
is one check on one host; its keywords are the check id, a one-word topic (``health``,
``auth``, ``discovery``, ``snapshot``, ``recording``, ``errors``, ``concurrency``) and the
host name, so ``-k "SMK_3 and lab-2"`` narrows to one host.

The plan's verify command reads ``-k "SMK_<id> or dependent"``: the word ``dependent``
(or ``dependents``) matches the checks that depend on a check named elsewhere in the
expression (SMK-4 needs discovery, auth and health, see ``DEPENDS_ON``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

SMK_IDS: tuple[str, ...] = tuple(f"SMK-{i}" for i in range(1, 8))

TOPICS: dict[str, str] = {
    "SMK-1": "health",
    "SMK-2": "auth",
    "SMK-3": "discovery",
    "SMK-4": "snapshot",
    "SMK-5": "recording",
    "SMK-6": "errors",
    "SMK-7": "concurrency",
}

# What each check relies on working (transitively closed): a snapshot needs a discovered
# camera, which needs an authenticated session on a healthy service.
DEPENDS_ON: dict[str, frozenset[str]] = {
    "SMK-1": frozenset(),
    "SMK-2": frozenset({"SMK-1"}),
    "SMK-3": frozenset({"SMK-1", "SMK-2"}),
    "SMK-4": frozenset({"SMK-1", "SMK-2", "SMK-3"}),
    "SMK-5": frozenset({"SMK-1", "SMK-2", "SMK-3"}),
    "SMK-6": frozenset({"SMK-1"}),
    "SMK-7": frozenset({"SMK-1", "SMK-2", "SMK-3", "SMK-5"}),
}

_DEPENDENT_WORDS = ("dependent", "dependents")
_TOKEN = re.compile(r"\s*(?:(\()|(\))|([\w:+\-.\[\]\\/@]+))")
_CHECK_ID = re.compile(r"^smk[-_]?(\d+)$", re.IGNORECASE)


class KeywordError(ValueError):
    """A -k expression that does not parse; says where and what was expected."""

    def __init__(self, expr: str, pos: int, expected: str, seen: str):
        self.expr, self.pos = expr, pos
        super().__init__(
            f"-k {expr!r}: at column {pos + 1}: expected {expected}, seen {seen}"
        )


def norm(word: str) -> str:
    return word.casefold().replace("-", "_")


def normalise_check_id(text: str) -> str:
    """``smk_3`` / ``SMK-3`` / ``smk3`` -> ``SMK-3``; ValueError for anything else."""
    m = _CHECK_ID.match(text.strip())
    if not m or f"SMK-{int(m.group(1))}" not in SMK_IDS:
        raise ValueError(f"not a smoke check id: {text!r} (expected SMK-1 .. SMK-7, or SMK_1 .. SMK_7)")
    return f"SMK-{int(m.group(1))}"


def keywords_of(host: str, check: str) -> frozenset[str]:
    return frozenset({norm(check), norm(TOPICS.get(check, "")), norm(host)} - {""})


# ------------------------------------------------------------------ AST


@dataclass(frozen=True)
class _Ident:
    word: str

    def ev(self, kw: frozenset[str], check: str, named: frozenset[str]) -> bool:
        if self.word in _DEPENDENT_WORDS:
            return bool(DEPENDS_ON.get(check, frozenset()) & named)
        return any(self.word in k for k in kw)


@dataclass(frozen=True)
class _Not:
    inner: object

    def ev(self, kw, check, named) -> bool:
        return not self.inner.ev(kw, check, named)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class _Bin:
    op: str
    left: object
    right: object

    def ev(self, kw, check, named) -> bool:
        a = self.left.ev(kw, check, named)  # type: ignore[attr-defined]
        if self.op == "and":
            return a and self.right.ev(kw, check, named)  # type: ignore[attr-defined]
        return a or self.right.ev(kw, check, named)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class _True:
    def ev(self, kw, check, named) -> bool:
        return True


class Matcher:
    """A parsed -k expression. ``matches(host, check)``."""

    def __init__(self, expr: str, tree: object, named: frozenset[str]):
        self.expr = expr
        self._tree = tree
        self.named = named  # SMK ids named in the expression (for "dependent")

    def matches(self, host: str, check: str) -> bool:
        return self._tree.ev(keywords_of(host, check), check, self.named)  # type: ignore[attr-defined]


def _tokenize(expr: str) -> list[tuple[str, str, int]]:
    toks: list[tuple[str, str, int]] = []
    pos = 0
    while pos < len(expr):
        if expr[pos].isspace():
            pos += 1
            continue
        m = _TOKEN.match(expr, pos)
        if not m or m.end() == pos:
            raise KeywordError(expr, pos, "an identifier, 'not', '(' or ')'", f"{expr[pos]!r}")
        start = m.start(m.lastindex or 0)
        if m.group(1):
            toks.append(("(", "(", start))
        elif m.group(2):
            toks.append((")", ")", start))
        else:
            word = m.group(3)
            kind = word if word in ("and", "or", "not") else "ident"
            toks.append((kind, word, start))
        pos = m.end()
    toks.append(("eof", "", len(expr)))
    return toks


class _Parser:
    def __init__(self, expr: str):
        self.expr = expr
        self.toks = _tokenize(expr)
        self.i = 0
        self.named: set[str] = set()

    def peek(self) -> tuple[str, str, int]:
        return self.toks[self.i]

    def take(self, kind: str, expected: str) -> tuple[str, str, int]:
        tok = self.peek()
        if tok[0] != kind:
            raise KeywordError(self.expr, tok[2], expected, _describe(tok))
        self.i += 1
        return tok

    def parse(self) -> object:
        if self.peek()[0] == "eof":
            return _True()
        tree = self.expr_()
        tok = self.peek()
        if tok[0] != "eof":
            raise KeywordError(self.expr, tok[2], "'and', 'or' or the end", _describe(tok))
        return tree

    def expr_(self) -> object:
        left = self.and_()
        while self.peek()[0] == "or":
            self.i += 1
            left = _Bin("or", left, self.and_())
        return left

    def and_(self) -> object:
        left = self.not_()
        while self.peek()[0] == "and":
            self.i += 1
            left = _Bin("and", left, self.not_())
        return left

    def not_(self) -> object:
        kind, word, pos = self.peek()
        if kind == "not":
            self.i += 1
            return _Not(self.not_())
        if kind == "(":
            self.i += 1
            inner = self.expr_()
            self.take(")", "')'")
            return inner
        if kind == "ident":
            self.i += 1
            try:
                self.named.add(normalise_check_id(word))
            except ValueError:
                pass
            return _Ident(norm(word))
        raise KeywordError(self.expr, pos, "an identifier, 'not' or '('", _describe((kind, word, pos)))


def _describe(tok: tuple[str, str, int]) -> str:
    return "the end of the expression" if tok[0] == "eof" else repr(tok[1])


def parse_keyword(expr: str) -> Matcher:
    """Parse a -k expression (empty = everything); KeywordError says where it breaks."""
    p = _Parser(expr or "")
    tree = p.parse()
    return Matcher(expr or "", tree, frozenset(p.named))


def select(hosts: Iterable[str], checks: Iterable[str], keyword: str) -> list[tuple[str, str]]:
    """The (host, check) items a -k expression keeps, in host then check order."""
    m = parse_keyword(keyword)
    checks = list(checks)
    return [(h, c) for h in hosts for c in checks if m.matches(h, c)]
