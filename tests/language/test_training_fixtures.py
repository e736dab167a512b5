"""The training and evaluation code paths on tiny hand-made fixtures (no shared data needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kefu.language import training
from kefu.language.linear import LinearTextModel
from kefu.language.sentiment import analyse_sentiment

FIXTURES = Path(__file__).parent / "fixtures" / "shared"


def test_weibo_loader_keeps_commas_in_text() -> None:
    texts, labels = training.load_weibo2018(FIXTURES)
    assert len(texts) == 37
    assert texts[-1] == "带逗号的文本,依然完整,对吧"
    assert set(labels) == {"positive", "negative"}


def test_weibo_split_is_deterministic_and_disjoint() -> None:
    texts, labels = training.load_weibo2018(FIXTURES)
    first = training.weibo_split(texts, labels)
    assert first == training.weibo_split(texts, labels)
    train, held = first
    assert held and not {texts[i] for i in train} & {texts[i] for i in held}


def test_smp_loader_strips_bom_and_crlf() -> None:
    texts, labels = training.load_smp2017("train", FIXTURES)
    assert "明天天气怎么样" in texts
    assert all("\ufeff" not in t and "\r" not in t for t in texts)
    assert set(labels) == {"weather", "music", "chat"}


def test_out_of_domain_examples_skip_chat() -> None:
    extra = training.out_of_domain_examples(FIXTURES)
    assert extra and "你好" not in extra
    assert training.out_of_domain_examples(FIXTURES / "missing") == []


def test_train_sentiment_on_our_own_data_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEFU_SHARED_DATA", str(tmp_path / "nowhere"))  # weibo2018 trains nothing
    out = tmp_path / "sentiment.joblib"
    training.train_sentiment(out=out)
    model = LinearTextModel.load(out)
    assert model.classes == ("negative", "neutral", "positive")
    assert "weibo" not in model.meta["source"]
    texts, labels = training.own_sentiment_data()
    assert model.meta["examples"] == len(texts) > 1500
    happy = analyse_sentiment(training.sentiment_text("终于放假了，开心"), model=model)
    sad = analyse_sentiment(training.sentiment_text("下雨堵车，烦死了"), model=model)
    assert happy.score > sad.score


def test_own_sentiment_sets_are_apart_and_mapped() -> None:
    texts, labels = training.own_sentiment_data()
    assert set(labels) == {"negative", "neutral", "positive"}
    held = training.own_sentiment_tests()
    own_test = held["sentiment_own_test"][0]
    assert len(own_test) >= 100 and not set(own_test) & set(texts)
    # A post starting with a #topic# is a row, not a comment.
    emo_texts, _ = training.load_commented_csv(training.EMOTION_TRAIN)
    assert any(t.startswith("#") for t in emo_texts)
    assert len(held["emotion_test_as_polarity"][0]) == 250


def test_train_intents_on_fixture(tmp_path: Path) -> None:
    csv_path = tmp_path / "tiny.csv"
    rows = ["intent,text"] + [f"bill.query,查{m}月账单" for m in range(1, 7)]
    rows += [f"balance.query,余额还有多少{i}" for i in range(6)]
    csv_path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "intent.joblib"
    training.train_intents(csv_path, out=out, root=FIXTURES)
    model = LinearTextModel.load(out)
    assert set(model.classes) == {"bill.query", "balance.query", "other"}
    assert model.meta["out_of_domain_examples"] > 0
    assert training.predict(model, ["查账单"]) == ["bill.query"]


def test_smp_yardstick_runs_on_fixture() -> None:
    report = training.smp2017_yardstick(FIXTURES)
    assert report["engine"]["n"] == 9
    assert 0.0 <= report["engine"]["accuracy"] <= 1.0


def test_unknown_model_format_is_refused(tmp_path: Path) -> None:
    import joblib

    path = tmp_path / "bad.joblib"
    joblib.dump({"format": "something/else"}, path)
    with pytest.raises(ValueError, match="not a kefu.linear/1 model"):
        LinearTextModel.load(path)


def test_smp_cross_validation_runs_on_fixture() -> None:
    # Three examples per class: the folds shrink to three so every class is in every fold.
    report = training.smp2017_cross_validation(FIXTURES)
    assert report["folds"] == 3 and report["n"] == 9
    assert 0.0 <= report["accuracy"] <= 1.0


def test_smp_cross_validation_refuses_singleton_classes(tmp_path: Path) -> None:
    folder = tmp_path / "smp2017_ecdt_task1" / "train"
    folder.mkdir(parents=True)
    (folder / "train_weather.txt").write_text("明天天气\n后天下雨吗\n", encoding="utf-8")
    (folder / "train_music.txt").write_text("放首歌\n", encoding="utf-8")
    with pytest.raises(ValueError, match="at least two examples of every class"):
        training.smp2017_cross_validation(tmp_path)
