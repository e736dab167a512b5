"""Retention: the dry run counts what the purge removes; a legal hold on a customer or a
conversation keeps it whatever its age; export and erasure end to end, audited."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from kefu.agents.models import Agent
from kefu.audit.models import AuditEntry
from kefu.conversations.models import Conversation, Message
from kefu.db.base import utcnow
from kefu.db.engine import make_engine, make_sessionmaker
from kefu.identity.models import ChannelIdentity, Customer
from kefu.retention import service
from kefu.retention.models import PrivacyRequest
from kefu.retention.settings import RetentionSettings

pytestmark = pytest.mark.db
POLICY = RetentionSettings(conversations_days=30, channel_messages_days=30, social_posts_days=30)


async def _world(db):  # type: ignore[no-untyped-def]
    """Two customers with an old and a new conversation each, and an old anonymous one."""
    db.add(Agent(username="wang", display_name="王", role="agent", password_hash="x"))
    old, new = utcnow() - timedelta(days=90), utcnow() - timedelta(days=1)
    ids = {}
    for no, phone in (("C1", "13800000001"), ("C2", "13800000002")):
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
            ids[(no, label)] = conv.id
    anon = Conversation(channel="sms", contact="13900000000", status="closed", closed_at=old)
    db.add(anon)
    await db.flush()
    ids["anon"] = anon.id
    await db.commit()
    return ids


def test_purge_dry_run_then_purge_respects_holds(db_url: str) -> None:
    async def go() -> None:
        engine = make_engine(db_url)
        maker = make_sessionmaker(engine)
        try:
            async with maker() as db:
                ids = await _world(db)
                await service.add_hold(db, bank_customer_no="C1", reason="诉讼保全", actor="admin")
                await service.add_hold(db, conversation_id=ids[("C2", "new")], reason="投诉调查",
                                       actor="admin")  # fmt: skip
                await db.commit()
                dry = await service.purge(db, POLICY, now=utcnow(), dry_run=True, actor="admin")
                await db.commit()
                conversations = next(k for k in dry.kinds if k.kind == "conversations")
                assert (conversations.due, conversations.held) == (2, 1)  # C2 old, anon; C1 old
                assert await db.scalar(select(func.count()).select_from(Conversation)) == 5
                done = await service.purge(db, POLICY, now=utcnow(), dry_run=False, actor="admin")
                await db.commit()
                assert next(k for k in done.kinds if k.kind == "conversations").due == 2
                left = set((await db.scalars(select(Conversation.id))).all())
                assert left == {ids[("C1", "old")], ids[("C1", "new")], ids[("C2", "new")]}
                assert (await db.scalar(select(func.count()).select_from(Message))) == 3
                actions = (await db.scalars(select(AuditEntry.action))).all()
                assert {"retention.dry_run", "retention.purge", "retention.hold"} <= set(actions)
        finally:
            await engine.dispose()

    asyncio.run(go())


def test_export_and_erasure_end_to_end(db_url: str) -> None:
    async def go() -> None:
        engine = make_engine(db_url)
        maker = make_sessionmaker(engine)
        try:
            async with maker() as db:
                ids = await _world(db)
                data = await service.export_customer(db, "C2", actor="admin")
                assert [c["id"] for c in data["conversations"]] == [ids[("C2", "old")],
                                                                     ids[("C2", "new")]]  # fmt: skip
                assert data["identities"] == [{"kind": "phone", "value": "13800000002"}]
                # A hold on the customer refuses erasure; on one conversation keeps that one.
                await service.add_hold(db, bank_customer_no="C1", reason="诉讼保全", actor="admin")
                refused = await service.erase_customer(db, "C1", actor="admin")
                assert refused.state == "refused"
                await service.add_hold(db, conversation_id=ids[("C2", "new")], reason="调查",
                                       actor="admin")  # fmt: skip
                done = await service.erase_customer(db, "C2", actor="admin")
                await db.commit()
                assert done.state == "done"
                assert done.result["conversations_erased"] == 1
                assert done.result["conversations_held"] == [ids[("C2", "new")]]
                left = set((await db.scalars(select(Conversation.id))).all())
                assert ids[("C2", "old")] not in left and ids[("C2", "new")] in left
                assert ids[("C1", "old")] in left
                phones = (await db.scalars(select(ChannelIdentity.value))).all()
                assert phones == ["13800000001"]
                kinds = (await db.execute(select(PrivacyRequest.kind, PrivacyRequest.state)
                                          .order_by(PrivacyRequest.id))).all()  # fmt: skip
                assert kinds == [("export", "done"), ("erasure", "refused"), ("erasure", "done")]
                with pytest.raises(service.RetentionError):
                    await service.erase_customer(db, "NOPE", actor="admin")
        finally:
            await engine.dispose()

    asyncio.run(go())
