from __future__ import annotations

import json
import threading

from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from kefu.language.analyze import Analysis, analyze
from kefu.language.cli import app

from .conftest import TODAY


def test_analysis_shape() -> None:
    a = analyze("我要查3月的账单", today=TODAY)
    assert isinstance(a, Analysis)
    assert (a.intent, a.slots["month"]) == ("bill.query", "2026-03")
    assert 0 < a.confidence <= 1
    d = a.to_dict()
    assert set(d) == {"text", "intent", "confidence", "slots", "sentiment", "keywords"}
    assert set(d["sentiment"]) == {"label", "score"}
    json.dumps(d, ensure_ascii=False)


def test_hostile_inputs_get_an_answer() -> None:
    long_post = "信用卡" * 3400  # > 10,000 characters
    for text in [
        "",
        " \t ",
        "😀🎉",
        long_post,
        "hello 你好 こんにちは 안녕 123",
        "\x00\x01",
        "[允悲]",
    ]:
        a = analyze(text, today=TODAY)
        assert a.intent in {"other", "greeting", "help"} or a.intent.endswith(".query")
        assert a.sentiment.label in {"negative", "neutral", "positive"}
    assert analyze("", today=TODAY).intent == "other"
    assert analyze("😀🎉", today=TODAY).sentiment.label == "neutral"


def test_threads_agree() -> None:
    texts = ["查余额", "尾号6789的卡丢了", "垃圾银行", "上个月账单"] * 10
    expected = [analyze(t, today=TODAY).to_dict() for t in texts]
    results: dict[int, dict] = {}

    def work(i: int) -> None:
        results[i] = analyze(texts[i], today=TODAY).to_dict()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(texts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [results[i] for i in range(len(texts))] == expected


def test_cli_analyze_lines_and_bad_bytes() -> None:
    data = "我要查3月的账单\nTD\n\n😀\n".encode() + b"\xff\xfe broken\n" + "垃圾银行\n".encode()
    result = CliRunner().invoke(app, ["analyze", "--today", "2026-11-29"], input=data)
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in result.stdout.splitlines()]
    assert len(lines) == 6
    assert lines[0]["intent"] == "bill.query" and lines[0]["slots"] == {"month": "2026-03"}
    assert lines[1]["intent"] == "unsubscribe"
    assert lines[2]["intent"] == "other" and lines[2]["sentiment"]["label"] == "neutral"
    assert lines[4] == {"line": 5, "error": "invalid UTF-8 at byte 0: line skipped"}
    assert lines[5]["sentiment"]["label"] == "negative"


def test_cli_rejects_bad_date() -> None:
    result = CliRunner().invoke(app, ["analyze", "--today", "2026-13-01"], input=b"x\n")
    assert result.exit_code != 0
    assert "--today" in result.output


def test_cli_radicals_without_unihan_says_what_to_install(tmp_path, monkeypatch) -> None:
    from kefu.language import training

    monkeypatch.setattr(training, "UNIHAN_IRG", tmp_path / "missing.txt.bz2")
    shipped = (training.DATA_DIR / "radicals.txt").read_bytes()
    result = CliRunner().invoke(app, ["train", "--radicals", "--only", "intent"])
    assert result.exit_code == 1
    assert "missing.txt.bz2 not found: install Debian's unicode-data" in result.output
    # Nothing was rebuilt: the shipped table is untouched.
    assert (training.DATA_DIR / "radicals.txt").read_bytes() == shipped


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=200))
def test_analyze_never_crashes(text: str) -> None:
    a = analyze(text, today=TODAY)
    assert a.intent in intent_catalogue()
    assert -1.0 <= a.sentiment.score <= 1.0
    assert 0.0 <= a.confidence <= 1.0


def intent_catalogue() -> set[str]:
    from kefu.language.intents import INTENTS

    return set(INTENTS)


def test_cli_sentiment_mode_is_validated() -> None:
    result = CliRunner().invoke(app, ["analyze", "--sentiment", "bert"], input="查余额\n")
    assert result.exit_code == 2
    assert "auto, deep or fast" in result.output


def test_cli_fast_mode_never_runs_the_deep_model(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import kefu.language.analyze as analyze_module

    def refuse() -> None:
        raise AssertionError("the deep model was loaded in fast mode")

    monkeypatch.setattr(analyze_module, "deep_sentiment", refuse)
    long_post = "今天去网点办业务排了两个小时的队，柜台只开了一个窗口，真的太慢了"
    result = CliRunner().invoke(
        app, ["analyze", "--sentiment", "fast", "--today", "2026-11-29"], input=long_post + "\n"
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.splitlines()[0])["sentiment"]["label"] in {
        "negative",
        "neutral",
        "positive",
    }
