"""Gap collection: unanswered and unhelpful questions grouped by topic with counts."""

from __future__ import annotations

import pytest

from kefu.knowledge import gaps
from kefu.knowledge.answering import record_gap_entry

pytestmark = pytest.mark.db

QUESTIONS = ["数字人民币钱包怎么开通", "数字人民币钱包开通不了", "数字人民币怎么充值",
             "养老金账户怎么开", "个人养老金账户开户", "养老金账户能取吗", "？？"]  # fmt: skip


def test_gaps_are_grouped_counted_and_resolved(run_db) -> None:  # type: ignore[no-untyped-def]
    async def add(s):  # type: ignore[no-untyped-def]
        for i, q in enumerate(QUESTIONS):
            await record_gap_entry(s, kind="unhelpful" if i == 0 else "unanswered", question=q,
                                   channel="sms", score=None, entry_id=None)  # fmt: skip

    run_db(add)
    topics = run_db(lambda s: gaps.gap_topics(s))
    assert sum(t.count for t in topics) == len(QUESTIONS)
    by_example = {q: t for t in topics for q in t.examples}
    assert by_example["数字人民币钱包怎么开通"] is by_example["数字人民币钱包开通不了"]
    assert by_example["个人养老金账户开户"] is by_example["养老金账户怎么开"]
    assert by_example["数字人民币钱包怎么开通"] is not by_example["养老金账户怎么开"]
    assert by_example["数字人民币钱包怎么开通"].kinds.get("unhelpful") == 1
    first = by_example["数字人民币钱包怎么开通"]
    assert run_db(lambda s: gaps.resolve_gaps(s, gap_ids=first.gap_ids, actor="ed")) == first.count
    left = run_db(lambda s: gaps.gap_topics(s))
    assert sum(t.count for t in left) == len(QUESTIONS) - first.count
