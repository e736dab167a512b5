from __future__ import annotations

import numpy as np
import pytest

from kefu.language.intents import INTENTS, SHORT_CODES, classify, intent_model, match_code
from kefu.language.normalize import normalize
from kefu.language.training import (
    INTENT_TEST,
    INTENT_TRAIN,
    augment,
    evaluate_intents,
    fit_linear,
    intent_text,
    load_intent_csv,
)


@pytest.mark.parametrize("code", sorted(SHORT_CODES))
def test_every_short_code(code: str) -> None:
    assert classify(normalize(code)).intent == SHORT_CODES[code]


@pytest.mark.parametrize(
    "raw", ["TD", "td", "Td", "ＴＤ", "ｔｄ", "T", "R", "ｒ", "退订", "取消", "拒收", "TD。"]
)
def test_unsubscribe_in_any_case_or_width(raw: str) -> None:
    assert classify(normalize(raw)).intent == "unsubscribe"


def test_code_with_argument() -> None:
    assert match_code(normalize("ZD 3月")) == "bill.query"
    assert match_code(normalize("ye6789")) == "balance.query"
    assert match_code("yes") is None


def test_catalogue_is_the_model_classes() -> None:
    assert set(intent_model().classes) == set(INTENTS)


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("我要查3月的账单", "bill.query"),
        ("卡里还剩多少钱", "balance.query"),
        ("我的卡丢了快帮我冻结", "card.report_loss"),
        ("积分能换啥", "points.query"),
        ("转人工", "agent.transfer"),
        ("垃圾银行乱扣费", "complaint"),
        ("还款日是几号", "repayment.query"),
    ],
)
def test_free_text(text: str, intent: str) -> None:
    assert classify(intent_text(text)).intent == intent


def test_empty_and_emoji_only_are_other() -> None:
    for text in ("", "   ", "😀😀", "。。。"):
        result = classify(intent_text(text))
        assert result.intent == "other"


def test_low_confidence_becomes_other() -> None:
    # With an impossible threshold everything falls back to other.
    assert classify("查一下账单", threshold=1.01).intent == "other"


def test_shipped_model_on_own_test_split() -> None:
    report = evaluate_intents(intent_model())
    assert report["accuracy"] >= 0.9


def test_test_split_never_trained_on() -> None:
    train, _ = load_intent_csv(INTENT_TRAIN)
    test, labels = load_intent_csv(INTENT_TEST)
    assert not set(train) & set(test)
    assert set(labels) == set(INTENTS)


def test_training_code_on_tiny_fixture_matches_sklearn() -> None:
    texts = ["查账单", "账单多少", "查余额", "余额多少", "挂失", "卡丢了"]
    labels = ["bill", "bill", "balance", "balance", "loss", "loss"]
    aug_t, aug_l = augment(texts, labels, copies=2)
    assert len(aug_t) > len(texts) and aug_t[: len(texts)] == texts
    model = fit_linear(aug_t, aug_l, "intent", c=10).model
    from kefu.language.features import intent_features

    probs = model.proba(intent_features("账单查一下"))
    assert model.classes[int(np.argmax(probs))] == "bill"
    assert abs(probs.sum() - 1) < 1e-6


def test_export_reproduces_sklearn_probabilities(tmp_path) -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from kefu.language.features import intent_features
    from kefu.language.linear import LinearTextModel, from_sklearn

    texts = ["查账单", "账单多少", "查余额", "余额多少", "挂失", "卡丢了", "你好"]
    labels = ["a", "a", "b", "b", "c", "c", "d"]
    vec = TfidfVectorizer(analyzer=intent_features, sublinear_tf=True)
    clf = LogisticRegression(C=5, max_iter=1000).fit(vec.fit_transform(texts), labels)
    path = tmp_path / "m.joblib"
    from_sklearn(vec, clf, "intent", {}).save(path)
    model = LinearTextModel.load(path)
    for probe in ("账单余额", "卡丢了怎么办", "zzz"):
        expected = clf.predict_proba(vec.transform([probe]))[0]
        assert np.allclose(model.proba(intent_features(probe)), expected, atol=1e-5)
