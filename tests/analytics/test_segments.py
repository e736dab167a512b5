"""Saved segments: the two functions campaign code relies on, the audit entry, refusals."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from kefu.analytics.segments import SegmentError, list_segments, members, save_segment
from kefu.audit.models import AuditEntry
from kefu.db.engine import make_engine, make_sessionmaker


def test_save_list_members_and_audit(db_url: str) -> None:
    async def go() -> None:
        engine = make_engine(db_url)
        try:
            async with make_sessionmaker(engine)() as db:
                first = await save_segment(
                    db,
                    name="夜间转账失败",
                    customer_nos=["C002", "C001", "C002", " "],
                    actor="analyst",
                    source="cluster 2",
                )
                await save_segment(db, name="理财浏览", customer_nos=["C003"], actor="analyst")
                await db.commit()
            async with make_sessionmaker(engine)() as db:
                listed = await list_segments(db)
                assert [s.name for s in listed] == ["理财浏览", "夜间转账失败"]
                assert first.size == 2
                assert await members(db, first.id) == ["C001", "C002"]
                with pytest.raises(LookupError):
                    await members(db, 9999)
                entries = list(await db.scalars(select(AuditEntry)))
                assert any(
                    e.action == "analytics.segment.save" and e.details["size"] == 2 for e in entries
                )
                with pytest.raises(SegmentError, match="exists"):
                    await save_segment(db, name="理财浏览", customer_nos=["C9"], actor="a")
                with pytest.raises(SegmentError, match="at least one"):
                    await save_segment(db, name="空", customer_nos=[], actor="a")
                await db.rollback()
                assert len(await list_segments(db)) == 2
        finally:
            await engine.dispose()

    asyncio.run(go())
