"""The index without a database: paraphrase-aware ranking, incremental changes, filters."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from kefu.knowledge import index as index_module
from kefu.knowledge.index import IndexedEntry, KnowledgeIndex
from kefu.knowledge.rerank import CharNgramReranker, EmbeddingReranker


def _entry(entry_id: int, question: str, *paraphrases: str, **kw: object) -> IndexedEntry:
    return IndexedEntry(entry_id=entry_id, version=1, kind="faq", question=question,
                        paraphrases=paraphrases, answers={"sms": f"答{entry_id}"}, **kw)  # type: ignore[arg-type]  # fmt: skip


BASE = [
    _entry(1, "信用卡丢了怎么挂失", "卡丢了怎么办"),
    _entry(2, "手机银行转账限额是多少", "转账一天最多能转多少"),
    _entry(3, "定期存款可以提前支取吗", "定期没到期能取吗"),
]


def test_a_paraphrase_finds_its_entry() -> None:
    index = KnowledgeIndex()
    index.build(BASE)
    hits = index.search("转账一天最多能转多少钱")
    assert hits[0].entry.entry_id == 2
    assert hits[0].matched in hits[0].entry.questions
    assert hits[0].rank >= hits[-1].rank


def test_upsert_and_remove_without_rebuilding_main(monkeypatch: pytest.MonkeyPatch) -> None:
    index = KnowledgeIndex()
    index.build(BASE)
    main_before = index._main
    index.upsert(_entry(4, "网点营业时间是几点", "银行几点开门"))
    assert index._main is main_before  # only the delta segment was rebuilt
    assert index.search("银行几点开门")[0].entry.entry_id == 4
    # A new version of an entry in the main segment replaces the old text at once.
    index.upsert(replace(BASE[0], version=2, question="借记卡丢了怎么挂失", paraphrases=()))
    hit = index.search("借记卡丢了怎么挂失")[0]
    assert (hit.entry.entry_id, hit.entry.version) == (1, 2)
    index.remove(2)
    assert all(h.entry.entry_id != 2 for h in index.search("转账限额是多少"))
    assert index._main is main_before


def test_delta_merges_into_main_when_large(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index_module, "MIN_DELTA_DOCS", 3)
    index = KnowledgeIndex()
    index.build(BASE)
    main_before = index._main
    for i in range(10, 13):
        index.upsert(_entry(i, f"第{i}号问题怎么办理", f"问题{i}如何办"))
    assert index._main is not main_before  # merged once the delta outgrew its bound
    assert len(index._delta) < 6
    assert {h.entry.entry_id for h in index.search("第11号问题怎么办理")} >= {11}


def test_time_and_region_filters() -> None:
    now = datetime(2026, 6, 1, tzinfo=UTC)
    index = KnowledgeIndex()
    index.build([
        _entry(1, "信用卡丢了怎么挂失", effective_from=now + timedelta(days=1)),
        _entry(2, "信用卡丢失如何挂失", expires_at=now - timedelta(days=1)),
        _entry(3, "信用卡掉了怎么挂失", regions=("上海",)),
    ])  # fmt: skip
    assert index.search("信用卡丢了怎么挂失", now=now, region="北京") == []
    assert [
        h.entry.entry_id for h in index.search("信用卡丢了怎么挂失", now=now, region="上海")
    ] == [3]
    assert {h.entry.entry_id for h in index.search("信用卡丢了怎么挂失")} == {1, 2, 3}


def test_unknown_words_and_empty_queries_find_nothing() -> None:
    index = KnowledgeIndex()
    index.build(BASE)
    assert index.search("") == []
    assert index.search("！！！") == []
    assert index.search("天气预报") == []


def test_reranker_blends_into_ranking_not_into_probability() -> None:
    plain = KnowledgeIndex()
    plain.build(BASE)
    always_one = EmbeddingReranker(lambda texts: [[1.0, 0.0] for _ in texts])
    blended = KnowledgeIndex(reranker=always_one, rerank_weight=0.5)
    blended.build(BASE)
    a = plain.search("卡丢了怎么办")[0]
    b = blended.search("卡丢了怎么办")[0]
    assert b.rank == pytest.approx(0.5 * a.rank + 0.5)
    assert b.score == pytest.approx(a.score)  # thresholds see the matcher's probability only
    sims = CharNgramReranker().similarities("信用卡挂失", ["信用卡挂失", "定期存款"])
    assert sims[0] == pytest.approx(1.0) and sims[1] < 0.2


def test_reranker_is_configured_from_the_environment() -> None:
    from kefu.knowledge.rerank import reranker_from_env

    assert reranker_from_env({"KEFU_KNOWLEDGE_RERANKER": "none"}) == (None, 0.0)
    default, weight = reranker_from_env({})
    assert isinstance(default, CharNgramReranker) and weight == 0.3
    reranker, weight = reranker_from_env({"KEFU_KNOWLEDGE_RERANKER": "char-ngram",
                                          "KEFU_KNOWLEDGE_RERANK_WEIGHT": "0.4"})  # fmt: skip
    assert isinstance(reranker, CharNgramReranker) and weight == 0.4
    with pytest.raises(ValueError, match="between 0 and 1"):
        reranker_from_env(
            {"KEFU_KNOWLEDGE_RERANKER": "char-ngram", "KEFU_KNOWLEDGE_RERANK_WEIGHT": "2"}
        )
    with pytest.raises(ValueError, match="module:factory"):
        reranker_from_env({"KEFU_KNOWLEDGE_RERANKER": "nonsense"})
    custom, _ = reranker_from_env(
        {"KEFU_KNOWLEDGE_RERANKER": "kefu.knowledge.rerank:CharNgramReranker"}
    )
    assert isinstance(custom, CharNgramReranker)
