"""Issue 21, finding 10: template variables and free text that must not reach a handset."""

from __future__ import annotations

import pytest

from kefu.web.inputs import number_problem, text_problem
from tests.outbound.test_api import (  # noqa: F401 - fixtures
    MESSAGES,
    api,
    approved_template,
    simulator,
)

pytestmark = pytest.mark.db
BAD_TEXT = ["账单\x00已出", "应还\u202e0001元", "\ufeff您的账单", "a\x1bb", "x\u2066y", "a\u2028b"]


@pytest.mark.parametrize("amount", ["NaN", "Infinity", "-Infinity", "1e308", "-1"])
def test_non_finite_huge_or_negative_amounts_are_refused(api, seeded_url: str, amount: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    client, _ = api
    approved_template(
        seeded_url, "bill-due", "您尾号{tail}的信用卡{month}月账单已出，应还{amount}元。"
    )
    # Raw JSON: Python's and pydantic's parsers accept NaN and Infinity.
    variables = '{"tail": "1234", "month": 3, "amount": ' + amount + "}"
    raw = '{"to": ["13800000071"], "template": "bill-due", "variables": ' + variables + "}"
    answer = client.post(MESSAGES, content=raw, headers={"content-type": "application/json"})
    assert answer.status_code == 422, answer.text
    assert "amount" in answer.text
    words = client.post(MESSAGES, json={"to": ["13800000071"], "template": "bill-due",
                                        "variables": {"tail": "1234", "month": 3, "amount": amount}})  # fmt: skip
    if amount in {"NaN", "Infinity", "-Infinity"}:  # as strings too
        assert words.status_code == 422, words.text


@pytest.mark.parametrize("text", BAD_TEXT)
def test_free_text_with_control_or_bidi_characters_is_refused(api, text: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    client, _ = api
    answer = client.post(MESSAGES, json={"to": ["13800000072"], "text": text})
    assert answer.status_code == 422, answer.text
    assert "text" in answer.json()["detail"]


def test_ordinary_values_pass() -> None:
    assert number_problem(1234.56) is None and number_problem(0) is None
    assert number_problem("1,234.56") is None
    assert text_problem("第一行\n第二行 👨‍👩‍👧") is None
