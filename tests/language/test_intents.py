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


def test_radicals_name_the_family_of_unseen_characters() -> None:
    from kefu.language.features import intent_features, radicals

    table = radicals()
    assert table["疸"] == table["症"] == "104"  # 疒: illness
    assert table["语"] == table["語"] == "149"  # simplified 讠 folds into 言
    feats = intent_features("黄疸a1")
    assert {"R:104", "R:x", "R:d"} <= set(feats)


def test_radical_table_built_from_unihan(tmp_path) -> None:
    from pathlib import Path

    from kefu.language.training import build_radical_table

    source = Path(__file__).parent / "fixtures" / "unihan" / "Unihan_IRGSources.txt"
    out = tmp_path / "radicals.txt"
    # Comment, other fields, a broken line and a plane-2 character are left out.
    assert build_radical_table(source, out) == 4
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("# ") and "Unicode License" in lines[1]
    assert lines[2:] == ["㐀\t1", "疸\t104", "語\t149", "语\t149"]
    # The loader skips the header: it has no tab.
    assert all("\t" not in line for line in lines[:2])


def test_engine_is_one_linear_model_lr_plus_weighted_svm() -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

    from kefu.language.features import intent_features

    texts = ["查账单", "账单多少", "查余额", "余额多少", "挂失", "卡丢了", "你好"]
    labels = ["a", "a", "b", "b", "c", "c", "d"]
    model = fit_linear(texts, labels, "intent", c=5, svm_weight=3.0).model
    vec = TfidfVectorizer(analyzer=intent_features, sublinear_tf=True)
    x = vec.fit_transform(texts)
    lr = LogisticRegression(C=5, max_iter=3000).fit(x, labels)
    svm = LinearSVC(C=1.0, max_iter=10000).fit(x, labels)
    for probe in ("账单余额", "卡丢了怎么办"):
        xp = vec.transform([probe])
        z = np.log(lr.predict_proba(xp)[0]) + 3.0 * svm.decision_function(xp)[0]
        expected = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
        assert np.allclose(model.proba(intent_features(probe)), expected, atol=1e-4)
    assert model.meta["svm_weight"] == 3.0


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        # Short bank questions that are not catalogue commands go to the knowledge base.
        ("开户", "other"),
        ("年费", "other"),
        ("网点可以办信用卡吗", "other"),
        ("去网点要带什么证件", "other"),
        # ... while the commands and complaints next to them keep their intent.
        ("乱扣年费", "complaint"),
        ("附近的网点在哪", "branch.queue"),
        ("网点排队人多吗", "branch.queue"),
        ("开通短信提醒", "subscribe"),
    ],
)
def test_short_bank_questions_are_not_misread(text: str, intent: str) -> None:
    assert classify(intent_text(text)).intent == intent
