from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kefu.routing.expressions import ExpressionError, parse

AGENT = {"skills": {"credit_card": 4, "english": 2}, "region": "shenzhen", "team": "信用卡组"}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('skills.credit_card >= 3 and region == "shenzhen"', True),
        ('skills.credit_card >= 5 or region == "beijing"', False),
        ("skills.loan >= 1", False),  # missing skill: ordering with None is false
        ("not skills.loan >= 1", True),
        ('team in ["信用卡组", "储蓄理财组"]', True),
        ('region not in ["beijing"]', True),
        ("skills contains 'english'", True),
        ("(skills.english > 1 and skills.english < 3) and true", True),
        ('region == "shenzhen" and not (skills.credit_card != 4)', True),
        ("skills.credit_card == 4.0", True),
        ('"shen" in region', True),  # substring on strings
        ("region > 3", False),  # type mismatch is false, not an error
        ("null == missing", True),
    ],
)
def test_evaluates(source: str, expected: bool) -> None:
    assert parse(source)(AGENT) is expected


@pytest.mark.parametrize(
    ("source", "message", "position"),
    [
        ("skills.credit_card >= ", "expected a value", 22),
        ("region == 'x' and", "expected a value", 17),
        ("(region == 'x'", "expected ')'", 14),
        ("region === 'x'", "unexpected character '='", 9),
        ("__import__('os')", "unexpected '('", 10),
        ("skills.", "expected an attribute name", 7),
        ("region ; 1", "unexpected character ';'", 7),
        ("", "empty expression", 0),
    ],
)
def test_rejects_with_position(source: str, message: str, position: int) -> None:
    with pytest.raises(ExpressionError) as info:
        parse(source)
    assert message in info.value.message
    assert info.value.position == position


def test_unknown_roots_are_typos() -> None:
    with pytest.raises(ExpressionError, match="unknown attribute 'skils'"):
        parse("skils.loan >= 1", allowed_roots=frozenset({"skills"}))
    assert parse("skills.loan >= 1", allowed_roots=frozenset({"skills"})).paths == {"skills.loan"}


def test_no_python_objects_reachable() -> None:
    # Paths only walk dict keys: attributes of Python objects are never looked up.
    assert parse("region.__class__ == null")(AGENT) is True


def test_nesting_is_bounded() -> None:
    with pytest.raises(ExpressionError, match="nested too deeply"):
        parse("not " * 40 + "true")


@given(st.text(max_size=60))
def test_never_crashes_on_arbitrary_text(source: str) -> None:
    try:
        expression = parse(source)
    except ExpressionError:
        return
    assert isinstance(expression({"a": 1, "skills": {}}), bool)
