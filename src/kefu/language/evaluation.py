"""Scores of the shipped models on data they were not trained on (``kefu language eval``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kefu.language import training
from kefu.language.intents import intent_model
from kefu.language.resources import shared_data_dir
from kefu.language.sentiment import analyse_sentiment, polarity, sentiment_model


def sentiment_heldout(root: Path | None = None) -> dict[str, Any]:
    """The shipped sentiment model on the weibo2018 split it was not trained on.

    ``binary`` is the model's own decision (polarity sign) against the 0/1 labels;
    ``service`` is the full analyser (lexicon + neutral band): accuracy counted over the
    messages it did not call neutral, with the neutral share reported beside it.
    """
    texts, labels = training.load_weibo2018(root)
    _, held = training.weibo_split(texts, labels)
    gold = [labels[i] for i in held]
    prepared = [training.sentiment_text(texts[i]) for i in held]
    model = sentiment_model()
    pred = ["positive" if polarity(t, model=model) >= 0 else "negative" for t in prepared]
    full = [analyse_sentiment(t, model=model).label for t in prepared]
    decided = [(g, p) for g, p in zip(gold, full, strict=True) if p != "neutral"]
    return {
        "binary": training.scores(gold, pred),
        "service": {
            "accuracy_when_decided": round(
                sum(g == p for g, p in decided) / max(len(decided), 1), 4
            ),
            "neutral_share": round(1 - len(decided) / len(gold), 4),
        },
    }


def evaluate_all() -> dict[str, Any]:
    report: dict[str, Any] = {
        "intent_own_test_split": training.evaluate_intents(intent_model()),
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
