"""Search gives exactly what its definition says whatever the order of the words: on a
fixture of common and rare words, every query (two rare words, rare with common, common
only, a word no message holds, with a filter and pages) gives the messages a brute force over
the token table gives, newest first, under each plan (the old walk from the longest word; the
new one from the rarest word by the kept counts, by key or walking). The per-word counts equal
the postings after indexing, a purge and an erasure."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from kefu.conversations import search
from kefu.conversations.models import Message
from kefu.db.base import utcnow
from kefu.identity.models import Customer
from kefu.quality.models import SearchToken, SearchWordCount
from kefu.retention import service as retention
from kefu.retention.settings import RetentionSettings
from tests.quality.conftest import conversation

pytestmark = pytest.mark.db

TEXTS = [
    ("customer", "信用卡还款失败了"),
    ("agent", "您好，信用卡还款请检查余额"),
    ("customer", "信用卡年费怎么收"),
    ("customer", "理财产品收益怎么算"),
    ("customer", "信用卡挂失以后补办要多久"),
    ("agent", "补办信用卡一般七个工作日"),
    ("customer", "账单分期手续费太高"),
    ("customer", "信用卡账单分期"),
    ("customer", "境外消费被盗刷了，信用卡冻结"),
    ("agent", "境外盗刷请先冻结信用卡"),
    ("customer", "境外取现手续费"),
]
QUERIES = ["挂失 补办", "补办 挂失", "信用卡 补办", "补办 信用卡", "信用卡", "账单 分期",
           "分期 信用卡 账单", "信用卡 不存在的词汇甲乙", "收益 理财产品", "境外 盗刷",
           "盗刷 冻结 境外", "境外 盗刷 挂失", "冻结 信用卡", "境外 手续费"]  # fmt: skip


async def brute(db, query: str, channel: str | None) -> list[int]:  # type: ignore[no-untyped-def]
    wanted = set(search.query_words(query))
    held: dict[int, set[str]] = {}
    for mid, token in (await db.execute(select(SearchToken.message_id, SearchToken.token))).all():
        held.setdefault(mid, set()).add(token)
    channels = dict((await db.execute(select(Message.id, Message.channel))).all())
    ids = [m for m, words in held.items() if wanted <= words]
    return sorted((m for m in ids if channel is None or channels[m] == channel), reverse=True)


async def paged(db, query: str, channel: str | None, plan: str) -> list[int]:  # type: ignore[no-untyped-def]
    got: list[int] = []
    for page in range(1, 20):
        hits, more = await search.search(
            db, query, search.Filters(channel=channel), page=page, page_size=2, plan=plan
        )
        got += [h.message_id for h in hits]
        if not more:
            break
    return got


async def counts_agree(db) -> None:  # type: ignore[no-untyped-def]
    real = dict((await db.execute(select(SearchToken.token, func.count())
                                  .group_by(SearchToken.token))).all())  # fmt: skip
    kept = dict((await db.execute(select(SearchWordCount.token, SearchWordCount.postings))).all())
    assert real and kept == real


# (plan, the rare bound): the old walk; the new plan by key (every word "rare"); the new plan
# walking from the rarest word (every word "common").
# "new-by-key-chunks": by key in chunks of the rows a page needs (the keyset over chunks).
PLANS = [
    ("old", search.RARE_POSTINGS, 200),
    ("new", 10**9, 200),
    ("new", 10**9, 1),
    ("new", 0, 200),
]


@pytest.mark.parametrize(("plan", "bound", "first"), PLANS,
                         ids=["old", "new-by-key", "new-by-key-chunks", "new-walk"])  # fmt: skip
def test_same_results_as_brute_force(sessions, run, monkeypatch, plan, bound, first) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(search, "RARE_POSTINGS", bound)
    monkeypatch.setattr(search, "FIRST_CHUNK", first)
    if first == 1:
        monkeypatch.setattr(search, "CHUNK_FACTOR", 1)

    async def go() -> None:
        async with sessions() as db:
            for n in range(3):  # the texts three times over, on two channels
                await conversation(db, TEXTS, channel="wechat" if n == 1 else "sms",
                                   contact=f"openid-{n}" if n == 1 else "13800138000")  # fmt: skip
            await db.commit()
            await search.catch_up(db, lag_seconds=0)
            await db.commit()
            await counts_agree(db)
            for query in QUERIES:
                for channel in (None, "wechat"):
                    assert await paged(db, query, channel, plan) == await brute(db, query, channel), (query, channel)  # fmt: skip
            assert await brute(db, "挂失 补办", None)  # the rare pair does occur
            assert len(await brute(db, "境外 盗刷", None)) == 6  # two per copy of the texts
            for absent in ("不存在的词汇甲乙", "信用卡 不存在的词汇甲乙"):
                assert await search.search(db, absent, search.Filters(), plan=plan) == ([], False)

    run(go())


def test_counts_follow_purge_and_erasure(sessions, run) -> None:  # type: ignore[no-untyped-def]
    """The counts move with the postings: indexing adds, a retention purge and a customer's
    erasure (messages deleted, their postings by cascade) take away; a word whose last
    posting went leaves the counts, and search finds nothing for it."""

    async def go() -> None:
        old = utcnow() - timedelta(days=90)
        async with sessions() as db:
            customer = Customer(bank_customer_no="S1")
            db.add(customer)
            await db.flush()
            purged = await conversation(db, [("customer", "境外盗刷冻结卡片")], start=old,
                                        closed=True, contact="13900000001")  # fmt: skip
            erased = await conversation(db, [("customer", "挂失补办信用卡"), ("agent", "已挂失")],
                                        contact="13900000002")  # fmt: skip
            erased.customer_id = customer.id
            kept = await conversation(db, TEXTS[:3], contact="13900000003")
            await db.commit()
            await search.catch_up(db, lag_seconds=0)
            await db.commit()
            await counts_agree(db)
            assert (await search.search(db, "盗刷", search.Filters()))[0]
            policy = RetentionSettings(conversations_days=30, channel_messages_days=30,
                                       social_posts_days=30)  # fmt: skip
            dry = await retention.purge(db, policy, now=utcnow(), dry_run=True, actor="t")
            await db.commit()
            await counts_agree(db)  # a dry run changes nothing
            assert [k.due for k in dry.kinds if k.kind == "conversations"] == [1]
            await retention.purge(db, policy, now=utcnow(), dry_run=False, actor="t")
            await db.commit()
            await counts_agree(db)
            assert await db.get(SearchWordCount, "盗刷") is None
            assert await search.search(db, "盗刷", search.Filters()) == ([], False)
            assert (await search.search(db, "挂失", search.Filters()))[0]
            done = await retention.erase_customer(db, "S1", actor="t")
            await db.commit()
            assert done.state == "done"
            await counts_agree(db)
            assert await db.get(SearchWordCount, "挂失") is None
            hits, _ = await search.search(db, "信用卡", search.Filters())
            assert {h.conversation_id for h in hits} == {kept.id}
            assert {purged.id, erased.id}.isdisjoint({h.conversation_id for h in hits})

    run(go())
