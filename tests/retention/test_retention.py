"""Retention: the dry run counts what the purge removes; a legal hold on a customer or a
conversation keeps it whatever its age; export and erasure end to end, audited."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from kefu.analytics.clusters.models import ClusterMember, ClusterRun
from kefu.analytics.enrich import customer_hash
from kefu.analytics.models import ReplayChunk
from kefu.analytics.retention import AnalyticsRetention
from kefu.analytics.segments import Segment, SegmentMember
from kefu.analytics.settings import AnalyticsSettings
from kefu.analytics.store import DuckDBStore
from kefu.audit.models import AuditEntry
from kefu.conversations.models import Conversation, Message
from kefu.db.base import utcnow
from kefu.db.engine import make_engine, make_sessionmaker
from kefu.identity.models import ChannelIdentity, Customer
from kefu.retention import service
from kefu.retention.models import PrivacyRequest
from kefu.retention.settings import RetentionSettings
from tests.analytics.test_retention_events import rows

pytestmark = pytest.mark.db
POLICY = RetentionSettings(conversations_days=30, channel_messages_days=30, social_posts_days=30)


async def _world(db, tag: str = "C", n: int = 0):  # type: ignore[no-untyped-def]
    """Two customers (``tag``1, ``tag``2) with an old and a new conversation each, and an old
    anonymous one."""
    old, new = utcnow() - timedelta(days=90), utcnow() - timedelta(days=1)
    ids = {}
    for no, phone in ((f"{tag}1", f"138000000{n}1"), (f"{tag}2", f"138000000{n}2")):
        customer = Customer(bank_customer_no=no)
        db.add(customer)
        await db.flush()
        db.add(ChannelIdentity(customer_id=customer.id, kind="phone", value=phone))
        for label, at in (("old", old), ("new", new)):
            conv = Conversation(channel="sms", contact=phone, customer_id=customer.id,
                                status="closed", closed_at=at, created_at=at)  # fmt: skip
            db.add(conv)
            await db.flush()
            db.add(Message(conversation_id=conv.id, channel="sms", direction="in",
                           sender_type="customer", body=f"{no} {label} 我的卡6214830000001126",
                           created_at=at))  # fmt: skip
            ids[(no[-1:], label)] = conv.id
    anon = Conversation(channel="sms", contact=f"139000000{n}0", status="closed", closed_at=old)
    db.add(anon)
    await db.flush()
    ids["anon"] = anon.id
    await db.commit()
    return ids


def _purge_respects_holds(db_url: str) -> None:
    async def go() -> None:
        engine = make_engine(db_url)
        maker = make_sessionmaker(engine)
        try:
            async with maker() as db:
                ids = await _world(db)
                await service.add_hold(db, bank_customer_no="C1", reason="诉讼保全", actor="admin")
                await service.add_hold(db, conversation_id=ids[("2", "new")], reason="投诉调查",
                                       actor="admin")  # fmt: skip
                await db.commit()
                analytics = await _behaviour(db)
                dry = await service.purge(db, POLICY, now=utcnow(), dry_run=True, actor="admin",
                                          analytics=analytics)  # fmt: skip
                await db.commit()
                kinds = {k.kind: (k.due, k.held) for k in dry.kinds}
                # C1 is held: its visitor's two old events (one before signing in) and its
                # old replay stay; C2's and the anonymous visitor's old ones are due
                assert kinds["analytics_events"] == (2, 2)
                assert kinds["analytics_replays"] == (1, 1)
                assert analytics.store.query("SELECT count(*) FROM events") == [(6,)]
                conversations = next(k for k in dry.kinds if k.kind == "conversations")
                assert (conversations.due, conversations.held) == (2, 1)  # C2 old, anon; C1 old
                assert await db.scalar(select(func.count()).select_from(Conversation)) == 5
                done = await service.purge(db, POLICY, now=utcnow(), dry_run=False, actor="admin",
                                           analytics=analytics)  # fmt: skip
                await db.commit()
                kinds = {k.kind: (k.due, k.held) for k in done.kinds}
                assert kinds["analytics_events"] == (2, 2)
                assert kinds["analytics_replays"] == (1, 1)
                left_events = analytics.store.query("SELECT event_id FROM events ORDER BY 1")
                assert left_events == [("a-new",), ("c1-anon",), ("c1-old",), ("c2-new",)]
                assert set((await db.scalars(select(ReplayChunk.visitor_id))).all()) == {
                    "v-c1", "v-new"}  # fmt: skip
                assert next(k for k in done.kinds if k.kind == "conversations").due == 2
                left = set((await db.scalars(select(Conversation.id))).all())
                assert left == {ids[("1", "old")], ids[("1", "new")], ids[("2", "new")]}
                assert (await db.scalar(select(func.count()).select_from(Message))) == 3
                actions = (await db.scalars(select(AuditEntry.action))).all()
                assert {"retention.dry_run", "retention.purge", "retention.hold"} <= set(actions)
        finally:
            await engine.dispose()

    asyncio.run(go())


async def _behaviour(db) -> AnalyticsRetention:  # type: ignore[no-untyped-def]
    """Behaviour events (older and newer than the 30 days kept) and replays of the customers
    of _world: C1's visitor (held), C2's and an anonymous one."""
    key = b"retention-test"
    analytics = AnalyticsRetention(
        DuckDBStore(":memory:", threads=1),
        AnalyticsSettings(retention_days=30, replay_retention_days=30), key,
    )  # fmt: skip
    c1, c2 = customer_hash(key, "C1"), customer_hash(key, "C2")
    old, new = (utcnow() - timedelta(days=90)).date(), (utcnow() - timedelta(days=1)).date()
    analytics.store.insert(rows([
        ("c1-anon", "v-c1", "", old), ("c1-old", "v-c1", c1, old),
        ("c2-old", "v-c2", c2, old), ("c2-new", "v-c2", c2, new),
        ("a-old", "v-anon", "", old), ("a-new", "v-anon", "", new),
    ]))  # fmt: skip
    for visitor, days in (("v-c1", 90), ("v-c2", 90), ("v-new", 1)):
        at = utcnow() - timedelta(days=days)
        db.add(ReplayChunk(site="demo-bank", session_id=f"s-{visitor}", visitor_id=visitor,
                           seq=0, first_ts=at, last_ts=at, events=1, raw_bytes=2, blob=b"x",
                           received_at=at))  # fmt: skip
    await db.commit()
    return analytics


async def _customer_lists(db, numbers: list[str]) -> tuple[type, type]:  # type: ignore[no-untyped-def]
    """A saved segment and a clustering run, each listing ``numbers``."""
    segment = Segment(name="高潜客户", created_by="analyst")
    run = ClusterRun(site="demo-bank", since=date(2026, 11, 1), until=date(2026, 11, 30),
                     created_by="analyst")  # fmt: skip
    db.add_all([segment, run])
    await db.flush()
    for number in numbers:
        db.add(SegmentMember(segment_id=segment.id, customer_no=number))
        db.add(ClusterMember(run_id=run.id, cluster=0, customer_hash=f"h-{number}",
                             customer_no=number))  # fmt: skip
    await db.flush()
    return SegmentMember, ClusterMember


def _export_and_erasure(db_url: str) -> None:
    async def go() -> None:
        engine = make_engine(db_url)
        maker = make_sessionmaker(engine)
        try:
            async with maker() as db:
                ids = await _world(db, "E", 1)
                data = await service.export_customer(db, "E2", actor="admin")
                assert [c["id"] for c in data["conversations"]] == [ids[("2", "old")],
                                                                     ids[("2", "new")]]  # fmt: skip
                assert data["identities"] == [{"kind": "phone", "value": "13800000012"}]
                # A hold on the customer refuses erasure; on one conversation keeps that one.
                await service.add_hold(db, bank_customer_no="E1", reason="诉讼保全", actor="admin")
                refused = await service.erase_customer(db, "E1", actor="admin")
                assert refused.state == "refused"
                await service.add_hold(db, conversation_id=ids[("2", "new")], reason="调查",
                                       actor="admin")  # fmt: skip
                lists = await _customer_lists(db, ["E1", "E2"])
                done = await service.erase_customer(db, "E2", actor="admin")
                await db.commit()
                assert done.state == "done"
                # Out of every saved segment and clustering run; the other customer stays.
                assert done.result["customer_list_entries_erased"] == 2
                for members in lists:
                    assert set((await db.scalars(select(members.customer_no))).all()) == {"E1"}
                assert done.result["conversations_erased"] == 1
                assert done.result["conversations_held"] == [ids[("2", "new")]]
                left = set((await db.scalars(select(Conversation.id))).all())
                assert ids[("2", "old")] not in left and ids[("2", "new")] in left
                assert ids[("1", "old")] in left
                phones = set((await db.scalars(select(ChannelIdentity.value))).all())
                assert "13800000011" in phones and "13800000012" not in phones
                kinds = (await db.execute(select(PrivacyRequest.kind, PrivacyRequest.state)
                                          .order_by(PrivacyRequest.id))).all()  # fmt: skip
                assert kinds == [("export", "done"), ("erasure", "refused"), ("erasure", "done")]
                with pytest.raises(service.RetentionError):
                    await service.erase_customer(db, "NOPE", actor="admin")
        finally:
            await engine.dispose()

    asyncio.run(go())


def test_retention_on_the_database(db_url: str) -> None:
    """One database for both stories (a migration per test is the slow part)."""
    _purge_respects_holds(db_url)
    _export_and_erasure(db_url)
