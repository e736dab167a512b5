"""Workflow: versions, four-eyes approval, audit, retirement, scheduled publishing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from kefu.audit.models import AuditEntry
from kefu.knowledge import answering, service
from kefu.knowledge.answering import Answer, HandOver
from kefu.knowledge.content import EntryStatus
from kefu.knowledge.live import mark_stale
from tests.knowledge.conftest import LOST_CARD

pytestmark = pytest.mark.db


async def _publish(session, content=LOST_CARD, author="editor", approver="boss"):  # type: ignore[no-untyped-def]
    entry = await service.create_entry(session, actor=author, content=content)
    await service.submit_for_review(session, actor=author, entry_id=entry.id)
    await service.approve(session, actor=approver, entry_id=entry.id)
    mark_stale(session)
    return entry.id


def test_draft_is_not_answered_until_approved(run_db) -> None:  # type: ignore[no-untyped-def]
    async def draft(s):  # type: ignore[no-untyped-def]
        entry = await service.create_entry(s, actor="editor", content=LOST_CARD)
        await service.submit_for_review(s, actor="editor", entry_id=entry.id)
        return entry.id

    entry_id = run_db(draft)
    before = run_db(lambda s: answering.answer(s, question="信用卡丢了怎么挂失", channel="sms"))
    assert isinstance(before, HandOver)

    async def approve(s):  # type: ignore[no-untyped-def]
        await service.approve(s, actor="boss", entry_id=entry_id)
        mark_stale(s)

    run_db(approve)
    after = run_db(lambda s: answering.answer(s, question="信用卡丢了怎么挂失", channel="sms"))
    assert isinstance(after, Answer) and after.entry_id == entry_id
    assert after.text == LOST_CARD.answer_sms


def test_author_cannot_approve_own_version(run_db) -> None:  # type: ignore[no-untyped-def]
    async def go(s):  # type: ignore[no-untyped-def]
        entry = await service.create_entry(s, actor="editor", content=LOST_CARD)
        await service.submit_for_review(s, actor="editor", entry_id=entry.id)
        with pytest.raises(service.KnowledgeError, match="other than its author"):
            await service.approve(s, actor="editor", entry_id=entry.id)
        with pytest.raises(service.KnowledgeError, match="is review"):
            await service.submit_for_review(s, actor="editor", entry_id=entry.id)

    run_db(go)


def test_edit_keeps_published_version_answering_and_diffs(run_db) -> None:  # type: ignore[no-untyped-def]
    entry_id = run_db(_publish)
    changed = LOST_CARD.model_copy(update={"answer_sms": "请拨打95555挂失，24小时服务。"})

    async def edit(s):  # type: ignore[no-untyped-def]
        version = await service.update_entry(s, actor="editor", entry_id=entry_id, content=changed)
        mark_stale(s)
        return version.number

    assert run_db(edit) == 2
    entry = run_db(lambda s: service.get_entry(s, entry_id=entry_id))
    assert (entry.status, entry.published_version) == (EntryStatus.DRAFT, 1)
    still = run_db(lambda s: answering.answer(s, question="信用卡丢了怎么挂失", channel="sms"))
    assert isinstance(still, Answer) and still.version == 1 and still.text == LOST_CARD.answer_sms
    diff = run_db(lambda s: service.diff_versions(s, entry_id=entry_id, old=1, new=2))
    assert [d.field for d in diff] == ["answer_sms"]
    assert diff[0].lines == ["-" + LOST_CARD.answer_sms, "+请拨打95555挂失，24小时服务。"]


def test_retired_entry_is_not_answered_and_audit_names_approver(run_db) -> None:  # type: ignore[no-untyped-def]
    entry_id = run_db(_publish)

    async def retire(s):  # type: ignore[no-untyped-def]
        await service.retire(s, actor="boss", entry_id=entry_id, comment="产品下线")
        mark_stale(s)

    run_db(retire)
    result = run_db(lambda s: answering.answer(s, question="信用卡丢了怎么挂失", channel="sms"))
    assert isinstance(result, HandOver)

    async def audit(s):  # type: ignore[no-untyped-def]
        rows = await s.scalars(select(AuditEntry).where(AuditEntry.target == f"kb:{entry_id}")
                               .order_by(AuditEntry.id))  # fmt: skip
        return [(a.actor, a.action) for a in rows]

    assert run_db(audit) == [
        ("editor", "knowledge.create"),
        ("editor", "knowledge.submit"),
        ("boss", "knowledge.approve"),
        ("boss", "knowledge.retire"),
    ]


def test_scheduled_and_expired_content_is_not_answered(run_db) -> None:  # type: ignore[no-untyped-def]
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    scheduled = LOST_CARD.model_copy(update={"effective_from": tomorrow})
    entry_id = run_db(lambda s: _publish(s, scheduled))
    now = run_db(lambda s: answering.answer(s, question="信用卡丢了怎么挂失", channel="sms"))
    assert isinstance(now, HandOver)
    later = run_db(lambda s: answering.answer(s, question="信用卡丢了怎么挂失", channel="sms",
                                              now=tomorrow + timedelta(hours=1)))  # fmt: skip
    assert isinstance(later, Answer) and later.entry_id == entry_id
    expired = LOST_CARD.model_copy(update={"expires_at": datetime(2020, 1, 1, tzinfo=UTC)})
    run_db(lambda s: _publish(s, expired.model_copy(update={"question": "信用卡如何挂失"})))
    result = run_db(lambda s: answering.answer(s, question="信用卡丢了怎么挂失", channel="sms"))
    assert isinstance(result, HandOver)
