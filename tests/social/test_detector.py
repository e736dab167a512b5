from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from kefu.social.detector import BurstAlert, BurstDetector, StreamPost, ZScoreDetector, reach_of

T0 = datetime(2026, 11, 1, 8, 0)
BACKGROUND = ("理财", "基金", "账单", "积分", "信用卡", "网点", "排队", "手机银行")


def _background(minutes: int, *, seed: int = 3, per_minute: int = 12) -> list[StreamPost]:
    """Steady traffic: two terms a post, a quarter negative, ordinary users' reach."""
    rng = random.Random(seed)
    return [
        StreamPost(
            T0 + timedelta(minutes=m, seconds=60 * k / per_minute),
            tuple(rng.sample(BACKGROUND, 2)),
            rng.random() < 0.25,
            reach_of(rng.choice([0, 30, 200, 1500])),
        )
        for m in range(minutes)
        for k in range(per_minute)
    ]


def _surge(
    start: int, minutes: int, *, terms=("信用卡", "盗刷"), negative=1.0, per_minute=4, reach=6.0
) -> list[StreamPost]:
    rng = random.Random(start)
    return [
        StreamPost(
            T0 + timedelta(minutes=start + m, seconds=60 * k / per_minute + 1),
            terms,
            rng.random() < negative,
            reach,
        )
        for m in range(minutes)
        for k in range(per_minute)
    ]


def _run(detector, posts: list[StreamPost]) -> list[BurstAlert]:
    alerts: list[BurstAlert] = []
    for post in sorted(posts, key=lambda p: p.at):
        alerts += detector.feed(post)
    return alerts


def test_planted_burst_found_with_its_start() -> None:
    [alert] = _run(BurstDetector(), _background(120) + _surge(60, 20))
    # One alert for the crisis, named by one of its terms, the other beside it.
    assert {alert.term, *alert.related} == {"盗刷", "信用卡"}
    start = T0 + timedelta(minutes=60)
    assert start <= alert.started_at <= start + timedelta(minutes=1)
    assert alert.raised_at - start <= timedelta(minutes=3)
    assert alert.negativity == 1.0 and alert.volume >= 5 and alert.level >= 1
    assert alert.reach == pytest.approx(6.0 * alert.volume)


def test_steady_stream_raises_nothing() -> None:
    assert _run(BurstDetector(), _background(240)) == []


def test_positive_or_neutral_surge_raises_no_alert() -> None:
    campaign = _surge(60, 20, terms=("积分", "抽奖"), negative=0.0, per_minute=10)
    news = _surge(90, 20, terms=("降息", "贷款"), negative=0.15, per_minute=10)
    assert _run(BurstDetector(), _background(150) + campaign + news) == []
    # The same news, mostly negative, is a crisis: the gate is the negative share.
    angry = _surge(90, 20, terms=("降息", "贷款"), negative=0.9, per_minute=10)
    [alert] = _run(BurstDetector(), _background(150) + angry)
    assert {alert.term, *alert.related} == {"降息", "贷款"}


def test_one_big_account_counts_more_than_many_bots() -> None:
    big = _surge(60, 1, terms=("跑路",), per_minute=6, reach=reach_of(2_000_000, 5000))
    bots = _surge(60, 1, terms=("跑路",), per_minute=12, reach=reach_of(0))
    assert [a.term for a in _run(BurstDetector(min_posts=3), _background(90) + big)] == ["跑路"]
    assert _run(BurstDetector(min_posts=3), _background(90) + bots) == []


def test_one_alert_per_burst_and_a_new_one_for_the_next() -> None:
    posts = _background(200) + _surge(40, 40) + _surge(140, 10)
    alerts = _run(BurstDetector(), posts)
    # Forty minutes of crisis: one alert (its words' bursts folded into it), not forty.
    assert [(a.started_at.hour, a.started_at.minute) for a in alerts] == [(8, 40), (10, 20)]
    assert all({a.term, *a.related} == {"盗刷", "信用卡"} for a in alerts)


def test_nothing_alerts_during_warmup() -> None:
    posts = _background(40) + _surge(5, 10)
    assert _run(BurstDetector(warmup=timedelta(minutes=15)), posts) == []
    assert "盗刷" in {a.term for a in _run(BurstDetector(warmup=timedelta(0)), posts)}


def test_memory_is_bounded_on_a_long_stream() -> None:
    detector = BurstDetector(forget_after=timedelta(hours=1), max_terms=500)
    for m in range(12 * 60):  # twelve hours, five never-seen terms a minute
        at = T0 + timedelta(minutes=m)
        for k in range(5):
            detector.feed(StreamPost(at, (f"词{m}-{k}", "信用卡"), False, 3.0))
    # An hour of terms (+ the one that is always there), not twelve.
    assert detector.terms_tracked <= 61 * 5 + 1
    capped = BurstDetector(max_terms=100)
    for m in range(60):
        for k in range(5):
            capped.feed(StreamPost(T0 + timedelta(minutes=m), (f"词{m}-{k}",), False, 3.0))
    assert capped.terms_tracked == 100
    detector.advance(T0 + timedelta(hours=20))
    assert detector.terms_tracked == 0


def test_a_forgotten_term_starts_again_from_nothing() -> None:
    detector = BurstDetector(forget_after=timedelta(minutes=30))
    _run(detector, _background(60))
    detector.advance(T0 + timedelta(hours=3))
    assert detector.terms_tracked == 0
    later = [
        StreamPost(p.at + timedelta(hours=3), p.terms, p.negative, p.reach) for p in _background(60)
    ]
    assert _run(detector, later) == []  # warm-up is per stream, baselines are relearnt quietly


def test_zscore_baseline_finds_a_spike_and_not_a_steady_stream() -> None:
    steady = [StreamPost(T0 + timedelta(minutes=m, seconds=s), ("账单",), s == 0, 5.0)
              for m in range(120) for s in range(0, 60, 10)]  # fmt: skip
    assert _run(ZScoreDetector(), steady) == []
    alerts = _run(ZScoreDetector(), steady + _surge(60, 10, terms=("盗刷",)))
    assert [a.term for a in alerts] == ["盗刷"]
    assert alerts[0].started_at == T0 + timedelta(minutes=60)


def test_same_posts_same_alerts_and_time_zones_kept() -> None:
    posts = _background(120, seed=9) + _surge(70, 15)
    assert _run(BurstDetector(), posts) == _run(BurstDetector(), posts)
    aware = [StreamPost(p.at.replace(tzinfo=UTC), p.terms, p.negative, p.reach) for p in posts]
    alert = _run(BurstDetector(), aware)[0]
    assert alert.started_at.tzinfo is not None and alert.started_at <= alert.raised_at


def test_late_posts_are_counted_and_bad_reach_refused() -> None:
    detector = BurstDetector(warmup=timedelta(0), min_posts=3)
    detector.feed(StreamPost(T0 + timedelta(minutes=5), ("挂失",), True, 5.0))
    alerts: list[BurstAlert] = []
    for s in range(6):  # a minute late: counted in the open window, not lost
        alerts += detector.feed(
            StreamPost(T0 + timedelta(minutes=4, seconds=s), ("挂失",), True, 5.0)
        )
    assert [a.term for a in alerts] == ["挂失"] and alerts[0].volume >= 3
    with pytest.raises(ValueError, match="reach"):
        detector.feed(StreamPost(T0 + timedelta(minutes=6), ("挂失",), True, -1.0))
    with pytest.raises(ValueError, match="negative_share"):
        BurstDetector(negative_share=1.5)


def test_a_finished_crisis_does_not_swallow_the_next() -> None:
    # 跑路 alerts and goes silent. Two hours later posts carry it again with a new word: the
    # new word leads a new alert; the old lead, over for long, does not swallow it.
    first = _surge(40, 10, terms=("跑路",))
    later = _surge(160, 10, terms=("取钱", "跑路"))
    alerts = _run(BurstDetector(), _background(200) + first + later)
    assert [(a.term, a.started_at.hour, a.started_at.minute) for a in alerts] == [
        ("跑路", 8, 40),
        ("取钱", 10, 40),
    ]
    assert alerts[1].related == ("跑路",)
