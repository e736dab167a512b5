from __future__ import annotations

from typing import Any

import pytest

from kefu.language.analyze import analyze
from kefu.language.sentiment import analyse_sentiment, label_for

from .conftest import TODAY, needs_shared


@pytest.mark.parametrize(
    "text", ["垃圾银行", "气死", "投诉", "我要投诉", "什么破银行", "一点都不满意"]
)
def test_short_anger_reads_negative(text: str) -> None:
    result = analyze(text, today=TODAY).sentiment
    assert result.label == "negative"
    assert result.score < 0


def test_praise_reads_positive() -> None:
    result = analyze("谢谢你们，客服很耐心，点赞", today=TODAY).sentiment
    assert result.label == "positive" and result.score > 0


def test_emoticon_carries_feeling() -> None:
    assert analyze("今天太开心了[哈哈]", today=TODAY).sentiment.score > 0.3


@pytest.mark.parametrize("text", ["我要查3月的账单", "查余额", "TD"])
def test_plain_commands_are_neutral(text: str) -> None:
    assert analyze(text, today=TODAY).sentiment.label == "neutral"


def test_no_content_is_neutral_zero() -> None:
    assert analyse_sentiment("   ").score == 0.0
    assert analyse_sentiment("   ").label == "neutral"


def test_label_bands() -> None:
    assert label_for(-0.9) == "negative"
    assert label_for(0.0) == "neutral"
    assert label_for(0.9) == "positive"


@needs_shared
@pytest.mark.shared_data
def test_shipped_model_on_heldout_weibo(sentiment_report: dict[str, Any]) -> None:
    report = sentiment_report
    assert report["fast_only"]["n"] > 1000
    # Trained on our own data only since 2026-12-06 (weibo2018 only tests it): measured 0.647,
    # mostly bank sentences against everyday Weibo posts (docs/models/sentiment.md). The
    # research-trained model measured 0.856 and this test asserted >= 0.84.
    assert report["fast_only"]["accuracy"] >= 0.62
