from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kefu.language.normalize import normalize, strip_markup
from kefu.language.tokenize import cut, tokenize


def test_full_width_and_case_fold() -> None:
    assert normalize("ＴＤ　１２３") == "td 123"


def test_traditional_to_simplified() -> None:
    assert normalize("我要查詢帳單餘額") == "我要查询账单余额"


def test_lone_surrogates_are_dropped() -> None:
    assert normalize("ab\udcffc") == "abc"


@given(st.text(max_size=60))
def test_normalize_is_idempotent(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once


def test_weibo_markup_is_split_out() -> None:
    m = strip_markup(
        normalize("@招商银行 信用卡被盗刷了[怒][允悲] #信用卡盗刷# 😡 http://t.cn/abc")
    )
    assert m.mentions == ("招商银行",)
    assert m.emoticons == ("怒", "允悲")
    assert m.hashtags == ("信用卡盗刷",)
    assert m.emojis and m.urls == ("http://t.cn/abc",)
    assert "[" not in m.text and "@" not in m.text and "😡" not in m.text
    assert "信用卡盗刷" in m.text  # a hashtag's words are content


def test_weibo2018_brace_topics() -> None:
    m = strip_markup("{%#静下心来听音乐#%} 好听")
    assert m.hashtags == ("静下心来听音乐",)
    assert m.text == "静下心来听音乐 好听"


def test_bank_terms_stay_whole() -> None:
    words = cut("最低还款额是多少还款日是哪天信用卡挂失")
    for term in ("最低还款额", "还款日", "信用卡", "挂失"):
        assert term in words


def test_tokenize_drops_markup_and_stopwords() -> None:
    words = tokenize("我的信用卡被盗刷了[怒] @某某 😡")
    assert "信用卡" in words and "盗刷" in words
    assert not {"的", "了", "怒", "某某", "😡"} & set(words)
