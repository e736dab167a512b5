"""Listening rules: include any, exclude none, per platform, compared in canonical form."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.social import listening
from kefu.social.listening import RuleInvalid, Terms, match, parse_terms, validate
from kefu.social.models import ListeningRule
from tests.social.store_support import session

__all__ = ["session"]

BANK = Terms(include=("招商银行", "招行", "CMB"), exclude=("招聘",))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("招商银行的信用卡又被盗刷了", True),  # a Chinese substring
        ("我在招行办的卡", True),
        ("招商銀行客服太慢", True),  # traditional script → simplified
        ("cmb app 打不开", True),  # Latin, any case
        ("ＣＭＢ的网点", True),  # full-width Latin
        ("CMBC is another bank", False),  # Latin terms do not run on into more letters
        ("招行招聘柜员", False),  # an exclude term wins
        ("招商局的新闻", False),
        ("", False),
        ("😀😀😀", False),
    ],
)
def test_match(text: str, expected: bool) -> None:
    assert match(BANK, text) is expected


def test_digits_are_bounded_too() -> None:
    hotline = Terms(include=("95555",))
    assert match(hotline, "打了95555没人接")
    assert not match(hotline, "订单号3955551")


def test_platforms_limit_a_rule() -> None:
    weibo_only = Terms(include=("招行",), platforms=("weibo",))
    assert match(weibo_only, "招行", "weibo")
    assert not match(weibo_only, "招行", "douyin")
    assert match(BANK, "招行", "douyin")  # no platforms: every platform


def test_terms_typed_in_one_box() -> None:
    assert parse_terms("招行，招商银行、CMB\n招行\n ; ") == ["招行", "招商银行", "CMB"]


@pytest.mark.parametrize(
    ("name", "include", "exclude", "platforms", "message"),
    [
        ("", ["招行"], [], [], "请填写规则名称"),
        ("品牌", [], [], [], "至少需要一个包含词"),
        ("品牌", ["招行"], ["招行"], [], "不能同时是包含词和排除词"),
        ("品牌", ["招" * 41], [], [], "超过 40 个字符"),
        ("品牌", ["招行"], [], ["Wei Bo"], "平台「Wei Bo」"),
    ],
)
def test_validation_says_what_is_wrong_in_chinese(
    name: str, include: list[str], exclude: list[str], platforms: list[str], message: str
) -> None:
    with pytest.raises(RuleInvalid, match=message):
        validate(name, include, exclude, platforms)


@pytest.mark.db
async def test_active_terms_for_a_platform(session: AsyncSession) -> None:
    session.add_all([
        ListeningRule(name="品牌", include_terms=["招商银行", "CMB"], exclude_terms=["招聘"],
                      platforms=[]),
        ListeningRule(name="抖音", include_terms=["掌上生活", "cmb"], platforms=["douyin"]),
        ListeningRule(name="停用", include_terms=["旧产品"], active=False),
    ])  # fmt: skip
    await session.flush()
    assert await listening.active_terms(session) == ["招商银行", "cmb"]
    assert await listening.active_terms(session, "douyin") == ["招商银行", "cmb", "掌上生活"]
    rule = await listening.capturing_rule(session, "掌上生活闪退", "douyin")
    assert rule is not None and rule.name == "抖音"
    assert await listening.capturing_rule(session, "掌上生活闪退", "weibo") is None
