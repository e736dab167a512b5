"""The assistant's and agents' API: thresholds, channel variants, choices, gaps."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kefu.knowledge import answering, service
from kefu.knowledge.answering import Answer, Choice, HandOver, QuestionError, Suggestions
from kefu.knowledge.index import IndexedEntry
from kefu.knowledge.live import mark_stale
from kefu.knowledge.models import KnowledgeGap
from tests.knowledge.conftest import LOST_CARD, TRANSFER_LIMIT


def test_pick_understands_numbers_in_many_shapes() -> None:
    s = Suggestions("", (Choice(1, 10, "甲", 0.6), Choice(2, 20, "乙", 0.5)))
    assert [s.pick(r).entry_id for r in ("1", "２", "2)", "第二个", "二", " 1 ")] == [
        10,
        20,
        20,
        20,
        20,
        10,
    ]  # type: ignore[union-attr]
    assert s.pick("3") is None and s.pick("好的") is None


def test_variant_for_each_channel_and_sms_length_guard() -> None:
    entry = IndexedEntry(1, 1, "faq", "问", (), {"sms": "", "wechat": "长" * 200, "agent": "坐席"})
    assert answering.variant_text(entry, "wechat") == "长" * 200
    assert answering.variant_text(entry, "webchat") == "长" * 200
    assert answering.variant_text(entry, "agent") == "坐席"
    assert answering.variant_text(entry, "sms") is None  # too long for two SMS segments


def test_prompt_lists_numbered_choices() -> None:
    prompt = answering.prompt_for(
        (Choice(1, 1, "信用卡怎么挂失", 0.5), Choice(2, 2, "借记卡怎么挂失", 0.4))
    )
    assert (
        prompt.startswith("您是不是想问")
        and "1) 信用卡怎么挂失" in prompt
        and "2) 借记卡怎么挂失" in prompt
    )


@pytest.mark.db
def test_answer_choose_and_gaps(run_db) -> None:  # type: ignore[no-untyped-def]
    async def setup(s):  # type: ignore[no-untyped-def]
        for content in (LOST_CARD, TRANSFER_LIMIT):
            await service.publish_directly(s, actor="loader", content=content)
        mark_stale(s)

    run_db(setup)
    wechat = run_db(lambda s: answering.answer(s, question="卡丢了怎么办", channel="wechat"))
    assert isinstance(wechat, Answer) and wechat.text == LOST_CARD.answer_wechat
    unrelated = run_db(lambda s: answering.answer(s, question="你们食堂的菜好吃吗", channel="sms"))
    assert isinstance(unrelated, HandOver)
    picked = run_db(lambda s: answering.answer_choice(s, entry_id=1, channel="sms"))
    assert isinstance(picked, Answer) and picked.text == LOST_CARD.answer_sms
    with pytest.raises(QuestionError):
        run_db(lambda s: answering.answer(s, question=" ", channel="sms"))
    with pytest.raises(QuestionError):
        run_db(lambda s: answering.answer(s, question="问", channel="fax"))
    run_db(lambda s: answering.rate_answer(s, entry_id=1, question="卡丢了怎么办", channel="sms",
                                           helpful=False))  # fmt: skip
    run_db(lambda s: answering.rate_answer(s, entry_id=1, question="卡丢了怎么办", channel="sms",
                                           helpful=True))  # fmt: skip

    async def gaps(s):  # type: ignore[no-untyped-def]
        return [
            (g.kind, g.question)
            for g in await s.scalars(select(KnowledgeGap).order_by(KnowledgeGap.id))
        ]

    assert run_db(gaps) == [("unanswered", "你们食堂的菜好吃吗"), ("unhelpful", "卡丢了怎么办")]
    suggestions = run_db(lambda s: answering.suggest(s, text="客户说信用卡丢了", channel="sms"))
    assert suggestions[0].entry_id == 1
    assert suggestions[0].internal_note == LOST_CARD.internal_note
    assert suggestions[0].answer == LOST_CARD.answer_sms

    async def between_thresholds(s):  # type: ignore[no-untyped-def]
        from dataclasses import replace

        from kefu.knowledge.live import live_index

        index = await live_index(s)
        shipped = index.matcher
        index.matcher = replace(shipped, answer_threshold=1.01, suggest_threshold=0.0)
        try:
            return await answering.answer(s, question="卡丢了怎么办", channel="sms")
        finally:
            index.matcher = shipped

    offered = run_db(between_thresholds)
    assert isinstance(offered, Suggestions)
    assert offered.choices[0].entry_id == 1 and offered.prompt.startswith("您是不是想问")
    assert offered.pick("1") == offered.choices[0]
