"""Conversation search on the database: words from the language layer, every word required,
filters, paging, numbers masked and never indexed, the index filled behind the messages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from kefu.conversations import search
from kefu.db.base import utcnow
from kefu.quality.models import SearchToken
from tests.quality.conftest import conversation

pytestmark = pytest.mark.db
CARD = "6214830000001126"


def test_words_are_segmented_and_numbers_masked() -> None:
    assert {"信用", "信用卡", "还款"} <= set(search.words("我的信用卡还款失败", for_index=True))
    assert search.words("信用卡还款", for_index=False) == ["信用卡", "还款"]
    # Only what the masked form shows is a word (尾号 1126 may be searched, the card not).
    assert "1126" in search.words(f"卡号{CARD}", for_index=True)
    assert not any(CARD[4:10] in w for w in search.words(f"卡号{CARD}", for_index=True))
    assert search.query_words(CARD) == ["6214", "1126"]  # as masked: what a reader sees
    with pytest.raises(search.SearchInvalid):
        search.query_words("，。！ ")


def test_search_filters_and_paging(sessions, run) -> None:  # type: ignore[no-untyped-def]
    async def go() -> None:
        async with sessions() as db:
            a = await conversation(db, [("customer", f"信用卡还款失败了，卡号{CARD}"),
                                        ("agent", "您好，还款失败请检查余额")])  # fmt: skip
            b = await conversation(db, [("customer", "信用卡年费怎么收")], channel="wechat",
                                   contact="openid-1", agent_id=2)  # fmt: skip
            await db.commit()
            assert await search.catch_up(db, lag_seconds=0) == 3
            assert await search.index_new(db, lag_seconds=0) == 0  # the cursor moved
            tokens = set((await db.scalars(select(SearchToken.token))).all())
            assert not any(CARD in t for t in tokens)

            hits, more = await search.search(db, "信用卡", search.Filters())
            assert {h.conversation_id for h in hits} == {a.id, b.id} and not more
            hits, _ = await search.search(db, "信用卡 还款", search.Filters())
            assert [h.conversation_id for h in hits] == [a.id]  # every word required
            assert CARD not in hits[0].text and "6214********1126" in hits[0].text
            assert hits[0].contact == "138****8000"
            hits, _ = await search.search(db, "信用卡", search.Filters(channel="wechat"))
            assert [h.conversation_id for h in hits] == [b.id]
            hits, _ = await search.search(db, "信用卡", search.Filters(agent_id=1))
            assert [h.conversation_id for h in hits] == [a.id]
            later = search.Filters(start=utcnow() + timedelta(days=1))
            assert (await search.search(db, "信用卡", later))[0] == []
            page1, more = await search.search(db, "信用卡", search.Filters(), page_size=1)
            page2, last = await search.search(db, "信用卡", search.Filters(), page=2, page_size=1)
            assert more and not last and page1[0].message_id != page2[0].message_id
            with pytest.raises(search.SearchInvalid):
                now = utcnow()
                await search.search(db, "信用卡", search.Filters(start=now, end=now))
            rows = await search.transcripts(db, [a.id])
            assert [r[2] for r in rows] == ["customer", "agent"] and CARD not in rows[0][5]

    run(go())
