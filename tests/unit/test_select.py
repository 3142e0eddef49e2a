"""The -k expression: pytest's grammar over (host, check) items, SMK_3 == SMK-3,
"dependent", and errors that say where the expression breaks."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runners.smoke.select import SMK_IDS, KeywordError, normalise_check_id, parse_keyword, select

HOSTS = ["cam-01", "lab_2"]


def sel(expr: str, hosts=("cam-01",)) -> list[str]:
    return [c if len(hosts) == 1 else f"{h}:{c}" for h, c in select(hosts, SMK_IDS, expr)]


@pytest.mark.parametrize("expr,want", [
    ("", list(SMK_IDS)),
    ("SMK_3", ["SMK-3"]),
    ("SMK-3", ["SMK-3"]),
    ("smk_3", ["SMK-3"]),
    ("SMK_3 or SMK_5", ["SMK-3", "SMK-5"]),
    ("not SMK_7", ["SMK-1", "SMK-2", "SMK-3", "SMK-4", "SMK-5", "SMK-6"]),
    ("(SMK_1 or SMK_2) and not SMK_2", ["SMK-1"]),
    ("not (SMK_1 or SMK_2 or SMK_3 or SMK_4 or SMK_5 or SMK_6)", ["SMK-7"]),
    ("snapshot or recording", ["SMK-4", "SMK-5"]),  # one-word topics
    ("SMK_3 and SMK_4", []),
    ("SMK", list(SMK_IDS)),  # substring, like pytest
    ("SMK_8", []),
])
def test_expressions(expr, want):
    assert sel(expr) == want


def test_precedence_is_not_over_and_over_or():
    # "a or b and c" == "a or (b and c)"; "not a and b" == "(not a) and b"
    assert sel("SMK_1 or SMK_2 and SMK_3") == ["SMK-1"]
    assert sel("not SMK_1 and SMK_2") == ["SMK-2"]


def test_host_names_are_keywords():
    assert sel("SMK_3 and lab-2", HOSTS) == ["lab_2:SMK-3"]  # - and _ alike in host names too
    assert sel("cam-01 and not SMK_1 and not SMK_2 and not SMK_3 and not SMK_4 and not SMK_5", HOSTS) == \
        ["cam-01:SMK-6", "cam-01:SMK-7"]


def test_the_plans_verify_expression_with_dependent():
    # seed 000 C2: pytest -q -k "SMK_<id> or dependent"
    assert sel("SMK_3 or dependent") == ["SMK-3", "SMK-4", "SMK-5", "SMK-7"]
    assert sel("SMK_5 or dependent") == ["SMK-5", "SMK-7"]
    assert sel("SMK_4 or dependent") == ["SMK-4"]
    assert sel("SMK_1 or dependents") == list(SMK_IDS)
    assert sel("dependent") == []  # nothing named: nothing depends on it


@pytest.mark.parametrize("expr,col,expected,seen", [
    ("SMK_3 or", 9, "an identifier, 'not' or '('", "the end of the expression"),
    ("(SMK_3", 7, "')'", "the end"),
    ("and SMK_3", 1, "an identifier", "'and'"),
    ("SMK_3 SMK_4", 7, "'and', 'or' or the end", "'SMK_4'"),
    ("SMK_3 $ SMK_4", 7, "an identifier, 'not', '(' or ')'", "'$'"),
    ("SMK_3 )", 7, "'and', 'or' or the end", "')'"),
    ("not", 4, "an identifier", "the end"),
])
def test_errors_say_where_what_was_expected_and_seen(expr, col, expected, seen):
    with pytest.raises(KeywordError) as ei:
        parse_keyword(expr)
    msg = str(ei.value)
    assert f"column {col}" in msg and expected in msg and seen in msg and repr(expr) in msg
    assert isinstance(ei.value, ValueError)


def test_normalise_check_id():
    assert normalise_check_id("smk_3") == "SMK-3" == normalise_check_id(" SMK-3 ") == normalise_check_id("SMK3")
    for bad in ("SMK-8", "SMK-0", "check-3", ""):
        with pytest.raises(ValueError, match="SMK-1 .. SMK-7"):
            normalise_check_id(bad)


words = st.sampled_from(["SMK_1", "SMK_2", "SMK_3", "SMK_4", "SMK_5", "SMK_6", "SMK_7", "cam", "snapshot"])


@st.composite
def exprs(draw, depth=3):
    if depth == 0 or draw(st.booleans()):
        return draw(words)
    kind = draw(st.sampled_from(["and", "or", "not", "paren"]))
    if kind == "not":
        return f"not {draw(exprs(depth - 1))}"
    if kind == "paren":
        return f"({draw(exprs(depth - 1))})"
    return f"{draw(exprs(depth - 1))} {kind} {draw(exprs(depth - 1))}"


@settings(max_examples=200, deadline=None)
@given(exprs())
def test_matches_python_boolean_semantics(expr):
    """Every generated expression parses and agrees with Python's own and/or/not."""
    m = parse_keyword(expr)
    for check in SMK_IDS:
        kw = {check.replace("-", "_").lower(), "cam-01", {"SMK-4": "snapshot"}.get(check, "-")}
        env = {w: any(w.lower() in k.replace("-", "_") for k in kw) for w in
               ["SMK_1", "SMK_2", "SMK_3", "SMK_4", "SMK_5", "SMK_6", "SMK_7", "cam", "snapshot"]}
        assert m.matches("cam-01", check) == eval(expr, {}, env), (expr, check)  # noqa: S307 - test oracle


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30))
def test_arbitrary_text_never_crashes(text):
    try:
        parse_keyword(text)
    except KeywordError:
        pass
