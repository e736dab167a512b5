"""The shipped matchers are trained only on data we may ship, and that data is our own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kefu.knowledge import owndata
from kefu.knowledge.matcher import DENSE_MODEL_PATH, MODEL_PATH, prepare, synonym_features
from kefu.knowledge.pairs import read_pairs
from kefu.knowledge.training import DEMO_FAQ, SHIPPED_PAIRS, faq_questions, main


@pytest.mark.parametrize("path", [MODEL_PATH, DENSE_MODEL_PATH], ids=lambda p: p.name)
def test_shipped_matchers_name_only_our_own_training_files(path: Path) -> None:
    """BQ (research-only) may score a shipped matcher, never train it."""
    meta = json.loads(path.read_text(encoding="utf-8"))["meta"]
    sources = meta["trained_on"].split(" + ")
    assert sources == [p.name for p in SHIPPED_PAIRS] + [DEMO_FAQ.name]
    for pairs_file in SHIPPED_PAIRS:
        first = pairs_file.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("# Written for kefu"), pairs_file
    assert meta["pairs"] == sum(len(read_pairs(p)) for p in SHIPPED_PAIRS) >= 1000


def test_own_pairs_are_what_the_groups_generate_and_held_out_is_apart() -> None:
    train, heldout = (
        owndata.read_groups(owndata.GROUPS),
        owndata.read_groups(owndata.HELDOUT_GROUPS),
    )
    for groups, groups_path, pairs_path in (
        (train, owndata.GROUPS, owndata.PAIRS),
        (heldout, owndata.HELDOUT_GROUPS, owndata.HELDOUT_PAIRS),
    ):
        expected = owndata.pairs_csv(owndata.group_pairs(groups), groups_path.name)
        assert pairs_path.read_text(encoding="utf-8") == expected, "rerun owndata"
    owndata.check_apart(train, heldout, {q for e in faq_questions(DEMO_FAQ) for q in e})
    pairs = read_pairs(owndata.PAIRS)
    assert len(pairs) >= 1000 and 0.25 < sum(p.label for p in pairs) / len(pairs) < 0.6


def test_group_file_errors_name_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "groups.txt"
    bad.write_text("== 挂失\n挂失: 卡丢了 | 卡掉了\n解挂: 卡丢了 | 卡找到了\n", encoding="utf-8")
    with pytest.raises(owndata.GroupFileError, match=":3: '卡丢了' already on line 2"):
        owndata.read_groups(bad)
    bad.write_text("挂失: 卡丢了 | 卡掉了\n", encoding="utf-8")
    with pytest.raises(owndata.GroupFileError, match=":1: expected"):
        owndata.read_groups(bad)


def test_group_pairs_pair_paraphrases_and_near_misses(tmp_path: Path) -> None:
    path = tmp_path / "groups.txt"
    path.write_text(
        "== 挂失\n挂失: 卡丢了 | 卡掉了 | 卡不见了\n解挂: 卡找到了 | 怎么解挂\n"
        "== 转账\n限额: 转账限额 | 一天能转多少\n",
        encoding="utf-8",
    )
    pairs = owndata.group_pairs(owndata.read_groups(path))
    positives = {(p.a, p.b) for p in pairs if p.label == 1}
    assert ("卡丢了", "卡掉了") in positives and len(positives) == 3 + 1 + 1
    negatives = [(p.a, p.b) for p in pairs if p.label == 0]
    # Each question: one near miss of its family (if any) and one question of another family.
    assert ("卡丢了", "卡找到了") in negatives or ("卡丢了", "怎么解挂") in negatives
    assert len(negatives) == 5 * 2 + 2 * 1


def test_training_module_does_not_overwrite_the_shipped_files_by_accident(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("KEFU_MODELS_DIR", raising=False)
    before = MODEL_PATH.stat().st_mtime_ns, DENSE_MODEL_PATH.stat().st_mtime_ns
    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code == 2
    assert (MODEL_PATH.stat().st_mtime_ns, DENSE_MODEL_PATH.stat().st_mtime_ns) == before


def test_synonyms_join_what_customers_say_and_keep_apart_what_differs() -> None:
    lost = synonym_features(prepare("储蓄卡掉了"), prepare("银行卡丢失"))
    assert lost[0] > 0.3 and lost[2] == 0.0  # same concepts, overlapping after mapping
    limit = synonym_features(prepare("信用卡怎么提额"), prepare("信用卡额度被降了"))
    assert limit[2] == 1.0  # raise vs cut: different concepts


def test_how_to_questions_find_their_faq_with_the_shipped_matcher() -> None:
    """The issue's examples and others against the demo base, lexical ranking as served by
    default (the BQ-trained matcher put 密码器丢了怎么办 first for the second one)."""
    from kefu.knowledge.index import IndexedEntry, KnowledgeIndex

    index = KnowledgeIndex(dense=False)
    index.build(
        IndexedEntry(
            entry_id=i,
            version=1,
            kind="faq",
            question=qs[0],
            paraphrases=tuple(qs[1:]),
            answers={"agent": "-"},
        )  # fmt: skip
        for i, qs in enumerate(faq_questions(DEMO_FAQ))
    )
    for text, faq in [
        ("信用卡怎么提额", "信用卡额度怎么提升"),
        ("忘记密码了怎么办", "银行卡密码忘了怎么办"),
        ("大额转账怎么操作", "大额转账怎么办"),
    ]:
        hits = index.search(text, k=3)
        assert hits and hits[0].entry.question == faq, (text, [h.entry.question for h in hits])
        assert hits[0].score >= index.matcher.answer_threshold, text


def test_train_command_refuses_to_replace_the_shipped_files_without_force(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from typer.testing import CliRunner

    from kefu.cli import app

    monkeypatch.delenv("KEFU_MODELS_DIR", raising=False)

    before = MODEL_PATH.stat().st_mtime_ns
    fixture = Path(__file__).parent / "fixtures" / "pairs.csv"
    out = CliRunner().invoke(app, ["knowledge", "train", "--pairs", str(fixture), "--no-faq"])
    assert out.exit_code == 2 and "--force" in out.output
    assert MODEL_PATH.stat().st_mtime_ns == before


def test_a_banks_own_matcher_in_models_dir_is_served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kefu.knowledge.matcher import served_path

    monkeypatch.setenv("KEFU_MODELS_DIR", str(tmp_path))
    assert served_path(MODEL_PATH) == MODEL_PATH  # nothing there yet: the shipped file
    (tmp_path / MODEL_PATH.name).write_text(MODEL_PATH.read_text(encoding="utf-8"), "utf-8")
    assert served_path(MODEL_PATH) == tmp_path / MODEL_PATH.name
    assert served_path(DENSE_MODEL_PATH) == DENSE_MODEL_PATH  # file by file
