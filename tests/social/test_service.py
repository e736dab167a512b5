"""The social store's intake: one row per post, analysed, queued / kept / filtered, and
engaging a captured post opens exactly one conversation (also under races, on both engines)."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.conversations.models import Conversation, Message
from kefu.db.engine import make_engine, make_sessionmaker
from kefu.routing.models import RoutingTask
from kefu.social import service
from kefu.social.analysis import Author
from kefu.social.models import SocialPost
from kefu.social.service import BadPost
from tests.social.store_support import POSTED, SPAM, post, session

pytestmark = pytest.mark.db
__all__ = ["session"]


async def count(db: AsyncSession, model: type) -> int:
    return int(await db.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_mention_is_analysed_stored_and_queued(session: AsyncSession) -> None:
    row = await service.ingest(session, post())
    await session.commit()
    assert (row.state, row.kind, row.platform) == ("queued", "mention", "weibo")
    assert row.sentiment_label == "negative" and row.crisis and "盗刷" in row.keywords
    assert row.topic == "信用卡盗刷" and row.priority > 0 and row.influence > 0
    conversation = await session.get(Conversation, row.conversation_id)
    assert conversation is not None
    assert (conversation.channel, conversation.contact) == ("weibo", "u1")
    task = await session.get(RoutingTask, conversation.id)
    assert task is not None
    # The analysis reaches the workflow: the crisis rule of the default workflow took it.
    assert task.attributes["crisis"] is True and task.attributes["platform"] == "weibo"
    assert task.rule == "crisis"


async def test_a_repeat_is_stored_once_and_queued_once(session: AsyncSession) -> None:
    first = await service.ingest(session, post())
    again = await service.ingest(session, post())
    await session.commit()
    assert again.id == first.id
    assert await count(session, SocialPost) == 1
    assert await count(session, Conversation) == 1
    assert await count(session, Message) == 1


async def test_the_authors_second_post_joins_their_open_conversation(
    session: AsyncSession,
) -> None:
    first = await service.ingest(session, post("p1"))
    second = await service.ingest(session, post("p2", kind="comment", text="还没人回复我吗？"))
    await session.commit()
    assert second.conversation_id == first.conversation_id
    bodies = (await session.scalars(select(Message.body).order_by(Message.id))).all()
    assert bodies[-1] == "还没人回复我吗？" and len(bodies) == 2


async def test_other_platforms_use_the_generic_social_channel(session: AsyncSession) -> None:
    row = await service.ingest(session, post("d1", platform="douyin"))
    conversation = await session.get(Conversation, row.conversation_id)
    assert conversation is not None
    assert (conversation.channel, conversation.contact) == ("social", "douyin:u1")


async def test_the_same_id_on_two_platforms_is_two_posts(session: AsyncSession) -> None:
    await service.ingest(session, post("x1"))
    await service.ingest(session, post("x1", platform="xiaohongshu"))
    assert await count(session, SocialPost) == 2


async def test_spam_is_kept_for_counting_and_never_queued(session: AsyncSession) -> None:
    row = await service.ingest(session, post("s1", text=SPAM))
    await session.commit()
    assert (row.state, row.spam, row.conversation_id) == ("spam", True, None)
    assert await count(session, Conversation) == 0


async def test_author_history_counts_earlier_and_negative_posts(session: AsyncSession) -> None:
    await service.ingest(session, post("h1"))
    await service.ingest(session, post("h2", kind="listening", text="招行的服务真好，点赞"))
    assert await service.author_history(session, "weibo", "u1") == (2, 1)
    assert await service.author_history(session, "douyin", "u1") == (0, 0)
    # The history raises influence: the same post by the same author now counts for more.
    fresh = await service.ingest(session, post("h3", author=Author(uid="new")))
    known = await service.ingest(session, post("h4"))
    assert known.influence > fresh.influence


async def test_a_captured_post_waits_in_listening_until_engaged(session: AsyncSession) -> None:
    row = await service.ingest(session, post("l1", kind="listening", captured_by=None))
    assert (row.state, row.conversation_id) == ("listening", None)
    assert await count(session, Conversation) == 0
    conversation_id = await service.engage(session, row.id, actor="agent1")
    await session.commit()
    assert await service.engage(session, row.id, actor="agent2") == conversation_id
    await session.refresh(row)
    assert (row.state, row.conversation_id) == ("engaged", conversation_id)
    assert await count(session, Conversation) == 1


async def test_ignore_then_engage_and_refusals(session: AsyncSession) -> None:
    row = await service.ingest(session, post("i1", kind="listening"))
    assert await service.ignore(session, row.id, actor="a") is True
    assert await service.ignore(session, row.id, actor="a") is False
    assert await service.engage(session, row.id, actor="a") > 0  # a change of mind
    spam = await service.ingest(session, post("i2", text=SPAM))
    with pytest.raises(service.NotEngageable, match="spam"):
        await service.engage(session, spam.id, actor="a")
    with pytest.raises(service.NotEngageable, match="no social post"):
        await service.engage(session, 9999, actor="a")


async def test_deleted_posts_are_marked_not_forgotten(session: AsyncSession) -> None:
    row = await service.ingest(session, post("del1"))
    again = await service.ingest(session, post("del1", deleted=True))
    assert again.id == row.id and again.deleted
    assert await service.mark_deleted(session, "weibo", "nope") is False
    gone = await service.ingest(session, post("del2", author=Author(uid="u9"), deleted=True))
    assert gone.deleted and gone.conversation_id is None  # nothing left to answer


async def test_private_messages_are_recorded_without_a_conversation(
    session: AsyncSession,
) -> None:
    row = await service.record_private(session, post("dm1", kind="dm"))
    assert (row.state, row.conversation_id) == ("private", None)
    assert await count(session, Conversation) == 0


async def test_bad_posts_name_the_field(session: AsyncSession) -> None:
    with pytest.raises(BadPost, match="kind 'retweet'"):
        await service.ingest(session, post(kind="retweet"))
    with pytest.raises(BadPost, match="author.uid"):
        await service.ingest(session, post(author=Author(uid="")))
    with pytest.raises(BadPost, match="posted_at"):
        await service.ingest(session, post(posted_at=POSTED.replace(tzinfo=None)))


async def test_recent_posts_by_time_and_platform(session: AsyncSession) -> None:
    await service.ingest(session, post("r1"))
    await service.ingest(session, post("r2", platform="douyin"))
    since = POSTED - timedelta(days=3650)
    assert [p.external_id for p in await service.recent_posts(session, since=since)] == [
        "r1",
        "r2",
    ]
    assert len(await service.recent_posts(session, since=since, platform="douyin")) == 1


# -- races: separate connections, as separate app processes or webhook retries would be ------
async def _parallel(url: str, work, n: int = 4) -> list:  # type: ignore[no-untyped-def]
    engine = make_engine(url)
    maker = make_sessionmaker(engine)

    async def one(i: int):  # type: ignore[no-untyped-def]
        async with maker() as db:
            result = await work(db, i)
            await db.commit()
            return result

    try:
        return await asyncio.gather(*(one(i) for i in range(n)))
    finally:
        await engine.dispose()


async def test_parallel_ingests_of_one_post_store_and_queue_it_once(db_url: str) -> None:
    async def work(db: AsyncSession, _i: int) -> int:
        return (await service.ingest(db, post("race"))).id

    ids = await _parallel(db_url, work)
    assert len(set(ids)) == 1
    engine = make_engine(db_url)
    try:
        async with make_sessionmaker(engine)() as db:
            assert await count(db, SocialPost) == 1
            assert await count(db, Conversation) == 1
            assert await count(db, Message) == 1
    finally:
        await engine.dispose()


async def test_parallel_engage_clicks_open_one_conversation(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        async with make_sessionmaker(engine)() as db:
            row = await service.ingest(db, post("click", kind="listening"))
            await db.commit()
            post_id = row.id
    finally:
        await engine.dispose()

    async def work(db: AsyncSession, i: int) -> int:
        return await service.engage(db, post_id, actor=f"agent{i}")

    ids = await _parallel(db_url, work)
    assert len(set(ids)) == 1
    engine = make_engine(db_url)
    try:
        async with make_sessionmaker(engine)() as db:
            assert await count(db, Conversation) == 1
            assert await count(db, Message) == 1  # nobody's click added the post again
    finally:
        await engine.dispose()


async def test_hostile_values_are_stored_as_near_as_they_came(session: AsyncSession) -> None:
    row = await service.ingest(session, post(
        "nul", text="盗刷\x00了\ud800！", reposts=10**12,
        author=Author(uid="u\x00x", name="名\x00字", followers=10**15, verified_type=-(10**12)),
    ))  # fmt: skip
    await session.commit()
    assert (row.text, row.author_uid, row.author_name) == ("盗刷了！", "ux", "名字")
    assert (row.reposts, row.author_followers) == (2**31 - 1, 2**31 - 1)
    with pytest.raises(BadPost, match="external_id is longer than 128"):
        await service.ingest(session, post("x" * 129))
    with pytest.raises(BadPost, match="author.uid is longer than 64"):
        await service.ingest(session, post("long-uid", author=Author(uid="u" * 65)))


async def test_posts_are_analysed_off_the_event_loop(
    session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The encoder's 50–200 ms a post would stall every request of the web process while a
    channel catches up: analysis runs on the social-analysis thread, not the loop's."""
    real = service.analyse_post
    threads: list[str] = []

    def recording(item):  # type: ignore[no-untyped-def]
        threads.append(threading.current_thread().name)
        return real(item)

    monkeypatch.setattr(service, "analyse_post", recording)
    await service.ingest(session, post("p-thread"))
    assert len(threads) == 1 and threads[0].startswith("social-analysis")
    assert threads[0] != threading.current_thread().name
