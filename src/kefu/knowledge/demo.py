"""The demo knowledge base: 200+ bank FAQs with paraphrases, written for kefu.

``demo_faq.csv`` uses the import format (see :mod:`kefu.knowledge.importexport`), so it is
also a worked example for editors. Loading is a bulk insert of published entries, fast enough
for every test database the demo seeds, and idempotent.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.audit.service import record
from kefu.db.base import utcnow
from kefu.knowledge.content import EntryContent, EntryStatus
from kefu.knowledge.importexport import _parse_row, read_csv
from kefu.knowledge.models import KnowledgeEntry, KnowledgeVersion
from kefu.knowledge.service import _values

DEMO_FAQ = Path(__file__).resolve().parent / "demo_faq.csv"
DEMO_ACTOR = "demo"


def demo_contents() -> list[EntryContent]:
    contents = []
    for i, raw in enumerate(read_csv(DEMO_FAQ.read_bytes()), start=2):
        _, content, errors = _parse_row(raw, i)
        if errors or content is None:  # a broken shipped file is a bug, not a user error
            raise ValueError(f"{DEMO_FAQ.name}: {errors}")
        contents.append(content)
    return contents


async def load_demo_knowledge(session: AsyncSession) -> int:
    """Publish the demo FAQs unless already loaded; returns how many were added."""
    if await session.scalar(
        select(KnowledgeEntry.id).where(KnowledgeEntry.created_by == DEMO_ACTOR).limit(1)
    ):
        return 0
    contents = demo_contents()
    now = utcnow()
    entries = [
        KnowledgeEntry(
            kind=c.kind.value,
            status=EntryStatus.PUBLISHED.value,
            title=c.question,
            category=c.category,
            latest_version=1,
            published_version=1,
            created_by=DEMO_ACTOR,
        )  # fmt: skip
        for c in contents
    ]
    session.add_all(entries)
    await session.flush()
    session.add_all(
        KnowledgeVersion(
            entry_id=e.id,
            number=1,
            author=DEMO_ACTOR,
            approved_by=DEMO_ACTOR,
            approved_at=now,
            **_values(c),
        )  # fmt: skip
        for e, c in zip(entries, contents, strict=True)
    )
    await session.flush()
    await record(session, actor=DEMO_ACTOR, action="knowledge.load_demo", target="kb",
                 details={"entries": len(entries)})  # fmt: skip
    return len(entries)
