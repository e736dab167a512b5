from __future__ import annotations

import random
from datetime import datetime, timedelta

from kefu.language.analyze import analyze
from kefu.language.bursts import Post, detect_bursts, kleinberg_states, negative_alerts
from kefu.language.topics import cluster_topics

from .conftest import TODAY

T0 = datetime(2026, 11, 1)


def test_keywords_are_content_words() -> None:
    kw = analyze("我的信用卡昨天在深圳被盗刷了，请尽快冻结[怒] @某银行", today=TODAY).keywords
    assert "信用卡" in kw and "盗刷" in kw
    assert not {"的", "了", "怒", "某银行"} & set(kw)


def test_keywords_skip_commands_and_glued_pronouns() -> None:
    assert analyze("TD", today=TODAY).keywords == []
    kw = analyze("我想查一下上个月的明细", today=TODAY).keywords
    assert "明细" in kw and not any(w.startswith("我") for w in kw)


def test_hashtags_come_first_in_keywords() -> None:
    assert analyze("#信用卡年费# 凭什么收我年费", today=TODAY).keywords[0] == "信用卡年费"


def test_topics_separate_two_themes() -> None:
    loss = [f"信用卡被盗刷了{i}次怎么冻结" for i in range(8)]
    queue = [f"网点排队排了{i}个小时柜台太慢" for i in range(8)]
    topics = cluster_topics(loss + queue, n_topics=2)
    assert len(topics) == 2
    groups = [set(t.members) for t in topics]
    assert set(range(8)) in groups and set(range(8, 16)) in groups
    by_first = {min(t.members): t for t in topics}
    # Each label is made of its own cluster's words, so a supervisor can read it.
    assert set(by_first[0].terms) <= {"信用卡", "盗刷", "冻结"}
    assert set(by_first[8].terms) <= {"网点", "排队", "小时", "柜台", "太慢"}
    assert by_first[0].label == " / ".join(by_first[0].terms)


def _stream(burst_start_hour: int, hours: int = 48, seed: int = 7) -> list[Post]:
    rng = random.Random(seed)
    posts: list[Post] = []
    for h in range(hours):
        for k in range(10):
            term = rng.choice(["理财", "基金", "账单", "积分"])
            posts.append(
                Post(T0 + timedelta(hours=h, minutes=5 * k), "", terms=(term,), sentiment=0.4)
            )
        if h >= burst_start_hour:
            for k in range(6):
                posts.append(
                    Post(T0 + timedelta(hours=h, minutes=7 * k), "", followers=5000, reposts=20,
                         terms=("盗刷",), sentiment=-0.8)
                )  # fmt: skip
        elif rng.random() < 0.2:
            posts.append(Post(T0 + timedelta(hours=h), "", terms=("盗刷",), sentiment=-0.5))
    return posts


def test_burst_found_at_known_start() -> None:
    bursts = detect_bursts(_stream(30), timedelta(hours=1))
    top = bursts[0]
    assert top.term == "盗刷"
    assert top.start == T0 + timedelta(hours=30)
    assert top.end == T0 + timedelta(hours=48)
    assert all(b.term == "盗刷" for b in bursts)


def test_flat_stream_has_no_burst() -> None:
    states, _ = kleinberg_states([5, 6, 5, 4, 5, 6, 5, 5])
    assert states == [0] * 8


def test_negative_burst_raises_alert_positive_does_not() -> None:
    alerts = negative_alerts(_stream(30), timedelta(hours=1))
    assert [a.term for a in alerts] == ["盗刷"]
    assert alerts[0].start == T0 + timedelta(hours=30) and alerts[0].negative_share > 0.9
    happy = [
        Post(
            p.time,
            p.text,
            p.followers,
            p.reposts,
            0.9 if "盗刷" in p.terms else p.sentiment,
            p.terms,
        )
        for p in _stream(30)
    ]
    assert negative_alerts(happy, timedelta(hours=1)) == []


def test_reach_weighting_matters() -> None:
    # Same number of mentions, but only the high-reach ones form a burst.
    quiet = [Post(T0 + timedelta(hours=h), "", terms=("年费",)) for h in range(20)]
    loud = [
        Post(T0 + timedelta(hours=h), "", followers=100000, terms=("年费",)) for h in range(15, 20)
    ]
    plain = quiet + [Post(p.time, "", terms=("年费",)) for p in loud]
    assert detect_bursts(quiet + loud, timedelta(hours=1), min_weight=1)
    assert not detect_bursts(plain, timedelta(hours=1), min_weight=1)


def _words(text: str) -> list[str]:
    from kefu.language.normalize import normalize
    from kefu.language.tokenize import cut

    return cut(normalize(text))


def test_textrank_ranks_the_word_a_post_keeps_returning_to() -> None:
    from kefu.language.keywords import keywords

    post = (
        "信用卡被盗刷了，银行说盗刷要我自己承担，客服一直推脱，盗刷的钱到现在也没退回来，"
        "我要去银保监会投诉盗刷问题"
    )
    ranked = keywords(_words(post), method="textrank")
    assert ranked[0] == "盗刷"
    assert "银保监会" in ranked  # the bank dictionary keeps the regulator whole
    assert not {"的", "了", "我", "要"} & set(ranked)
    # Deterministic: the same words give the same ranking.
    assert ranked == keywords(_words(post), method="textrank")


def test_textrank_on_short_and_empty_input() -> None:
    from kefu.language.keywords import keywords, textrank_scores

    assert keywords(_words("查余额"), method="textrank") == ["余额"]
    assert keywords([], method="textrank") == []
    assert textrank_scores(["的", "了"]) == {}
    assert keywords(_words("#年费# 凭什么收年费"), hashtags=("年费",), method="textrank") == [
        "年费"
    ]


def test_textrank_scores_favour_the_hub_of_the_graph() -> None:
    from kefu.language.keywords import textrank_scores

    # 账单 co-occurs with every other word; the others only with their neighbours.
    words = ["账单", "利息", "账单", "还款", "账单", "额度", "账单", "积分"]
    scores = textrank_scores(words)
    assert max(scores, key=scores.__getitem__) == "账单"


def test_unknown_keyword_method_is_refused() -> None:
    import pytest

    from kefu.language.keywords import keywords

    with pytest.raises(ValueError, match="unknown keyword method 'lda'"):
        keywords(["账单"], method="lda")
