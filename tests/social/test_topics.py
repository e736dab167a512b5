from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest

from kefu.social.topics import TopicPost, topic_board

NOW = datetime(2026, 11, 1, 12, 0)
THEMES = {
    ("信用卡", "盗刷"): 0.9,  # share negative
    ("网点", "排队"): 0.6,
    ("积分", "兑换"): 0.1,
}


def _posts(n_per_theme: int = 20, seed: int = 1) -> list[TopicPost]:
    rng = random.Random(seed)
    extras = ["冻结", "周末", "礼品", "柜台", "短信", "客服"]
    posts: list[TopicPost] = []
    for theme, negative in THEMES.items():
        for _ in range(n_per_theme):
            terms = (*theme, rng.choice(extras), "银行")
            at = NOW - timedelta(minutes=rng.randrange(0, 120))
            posts.append(TopicPost(len(posts) + 1, at, terms, rng.random() < negative, 5.0))
    return posts


def test_topics_have_readable_labels_and_their_figures() -> None:
    posts = _posts()
    board = topic_board(posts, now=NOW)
    assert {t.label for t in board} == {"信用卡·盗刷", "网点·排队", "兑换·积分"}
    by_label = {t.label: t for t in board}
    card = by_label["信用卡·盗刷"]
    mine = [p for p in posts if "盗刷" in p.terms]
    assert card.volume == len(mine) == sum(card.trend) and len(card.trend) == 12
    assert card.negativity == round(sum(p.negative for p in mine) / len(mine), 3)
    assert card.reach == 5.0 * len(mine)
    assert set(card.post_ids) == {p.id for p in mine}
    assert card.post_ids[0] == max(mine, key=lambda p: (p.at, p.id)).id  # newest first
    assert card.terms == ("信用卡", "盗刷")
    # 银行 is in every post but names no topic.
    assert not any("银行" in t.label for t in board)


def test_labels_stay_put_when_the_posts_barely_change() -> None:
    posts = _posts(seed=4)
    first = topic_board(posts, now=NOW)
    rng = random.Random(5)
    changed = rng.sample(posts, len(posts) - 3)
    changed.append(TopicPost(999, NOW - timedelta(minutes=1), ("积分", "兑换", "礼品"), False))
    second = topic_board(changed, now=NOW + timedelta(minutes=1))
    assert [t.label for t in second] == [t.label for t in first] or {t.label for t in second} == {
        t.label for t in first
    }
    assert topic_board(list(reversed(posts)), now=NOW) == first  # order of arrival is irrelevant


def test_trend_counts_posts_per_bucket_and_old_posts_are_left_out() -> None:
    posts = [TopicPost(i, NOW - timedelta(minutes=5 + 10 * (i % 3)), ("年费", "减免"), True)
             for i in range(9)]  # fmt: skip
    posts.append(TopicPost(99, NOW - timedelta(hours=3), ("年费", "减免"), True))
    [topic] = topic_board(posts, now=NOW)
    assert topic.trend == (0,) * 9 + (3, 3, 3) and topic.volume == 9 and 99 not in topic.post_ids


def test_single_terms_ignored_terms_and_leftovers() -> None:
    posts = [TopicPost(i, NOW - timedelta(minutes=i), ("跑路", f"谣言{i}"), True) for i in range(4)]
    posts += [TopicPost(10 + i, NOW - timedelta(minutes=i), ("某某银行", "理财", "收益"), False)
              for i in range(5)]  # fmt: skip
    posts.append(TopicPost(50, NOW, ("收益", "到账"), False))  # shares 收益: joins that topic
    posts.append(TopicPost(51, NOW, ("天气",), False))  # shares nothing: off the board
    board = topic_board(posts, now=NOW, ignore={"某某银行"})
    labels = {t.label: t for t in board}
    assert set(labels) == {"收益·理财", "跑路"}
    assert 50 in labels["收益·理财"].post_ids and labels["跑路"].volume == 4
    assert all(51 not in t.post_ids for t in board)


def test_empty_and_bad_arguments() -> None:
    assert topic_board([], now=NOW) == []
    with pytest.raises(ValueError):
        topic_board([], now=NOW, buckets=0)


def test_previous_labels_hold_their_place_near_the_limit() -> None:
    def posts(a: int, b: int) -> list[TopicPost]:
        out = [TopicPost(i, NOW, ("年费", "减免"), True) for i in range(a)]
        return out + [TopicPost(100 + i, NOW, ("网点", "排队"), True) for i in range(b)]

    [first] = topic_board(posts(10, 9), now=NOW, limit=1)
    assert first.label == "减免·年费"
    # The rival grows a little past it: without memory the single place changes hands…
    assert [t.label for t in topic_board(posts(10, 11), now=NOW, limit=1)] == ["网点·排队"]
    # …with the last board's labels it stays, until the rival is clearly bigger.
    keep = [first.label]
    assert [t.label for t in topic_board(posts(10, 11), now=NOW, limit=1, keep=keep)] == [
        "减免·年费"
    ]
    assert [t.label for t in topic_board(posts(10, 14), now=NOW, limit=1, keep=keep)] == [
        "网点·排队"
    ]


def test_boilerplate_and_a_label_beside_its_own_keyword_name_no_topic() -> None:
    posts = [TopicPost(i, NOW, ("转发微博", "App故障", "app", "闪退"), True) for i in range(5)]
    [topic] = topic_board(posts, now=NOW)
    assert "转发微博" not in topic.terms and set(topic.terms) in (
        {"App故障", "闪退"},
        {"app", "闪退"},
    )
