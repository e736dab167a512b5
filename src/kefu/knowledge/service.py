"""The editorial workflow: draft → review → published → retired, with versions and audit.

Every function takes the caller's session and leaves committing to it, so a change and its
audit entry commit together. Approval follows the four-eyes rule: nobody approves a version
they wrote.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.audit.service import record
from kefu.db.base import utcnow
from kefu.knowledge.content import VERSION_FIELDS, EntryContent, EntryKind, EntryStatus
from kefu.knowledge.models import KnowledgeEntry, KnowledgeVersion


class KnowledgeError(ValueError):
    """A request the workflow refuses; the message says why."""


class NotFound(KnowledgeError):
    pass


def _values(content: EntryContent) -> dict[str, Any]:
    data = content.model_dump(mode="python")
    data["attachments"] = [a.model_dump() for a in content.attachments]
    return {k: data[k] for k in VERSION_FIELDS}


async def get_entry(session: AsyncSession, *, entry_id: int) -> KnowledgeEntry:
    entry = await session.get(KnowledgeEntry, entry_id)
    if entry is None:
        raise NotFound(f"no knowledge entry {entry_id}")
    return entry


async def get_version(session: AsyncSession, *, entry_id: int, number: int) -> KnowledgeVersion:
    version = await session.scalar(
        select(KnowledgeVersion).where(
            KnowledgeVersion.entry_id == entry_id, KnowledgeVersion.number == number
        )
    )
    if version is None:
        raise NotFound(f"entry {entry_id} has no version {number}")
    return version


async def list_versions(session: AsyncSession, *, entry_id: int) -> list[KnowledgeVersion]:
    rows = await session.scalars(
        select(KnowledgeVersion)
        .where(KnowledgeVersion.entry_id == entry_id)
        .order_by(KnowledgeVersion.number)
    )
    return list(rows)


async def create_entry(
    session: AsyncSession, *, actor: str, content: EntryContent, ip: str | None = None
) -> KnowledgeEntry:
    entry = KnowledgeEntry(kind=content.kind.value, status=EntryStatus.DRAFT.value,
                           title=content.question, category=content.category,
                           latest_version=1, created_by=actor)  # fmt: skip
    session.add(entry)
    await session.flush()
    session.add(KnowledgeVersion(entry_id=entry.id, number=1, author=actor, **_values(content)))
    await session.flush()
    await record(session, actor=actor, action="knowledge.create", target=f"kb:{entry.id}",
                 details={"version": 1, "question": content.question}, ip=ip)  # fmt: skip
    return entry


async def update_entry(
    session: AsyncSession,
    *,
    actor: str,
    entry_id: int,
    content: EntryContent,
    ip: str | None = None,
) -> KnowledgeVersion:
    """Save a new version (always a draft). A published version keeps answering meanwhile."""
    entry = await get_entry(session, entry_id=entry_id)
    if content.kind.value != entry.kind:
        raise KnowledgeError("an entry cannot change between FAQ and article")
    number = entry.latest_version + 1
    version = KnowledgeVersion(entry_id=entry.id, number=number, author=actor, **_values(content))
    session.add(version)
    entry.latest_version = number
    entry.status = EntryStatus.DRAFT.value
    entry.title, entry.category = content.question, content.category
    entry.updated_at = utcnow()
    await session.flush()
    await record(session, actor=actor, action="knowledge.update", target=f"kb:{entry.id}",
                 details={"version": number}, ip=ip)  # fmt: skip
    return version


async def _transition(
    session: AsyncSession,
    *,
    actor: str,
    entry_id: int,
    allowed_from: set[EntryStatus],
    to: EntryStatus,
    action: str,
    comment: str = "",
    ip: str | None = None,
) -> KnowledgeEntry:
    entry = await get_entry(session, entry_id=entry_id)
    if EntryStatus(entry.status) not in allowed_from:
        raise KnowledgeError(f"entry {entry_id} is {entry.status}; cannot {action.split('.')[-1]}")
    before = entry.status
    entry.status = to.value
    entry.updated_at = utcnow()
    await session.flush()
    await record(session, actor=actor, action=action, target=f"kb:{entry.id}",
                 details={"version": entry.latest_version, "from": before, "to": to.value,
                          "comment": comment[:500]}, ip=ip)  # fmt: skip
    return entry


async def submit_for_review(
    session: AsyncSession, *, actor: str, entry_id: int, ip: str | None = None
) -> KnowledgeEntry:
    return await _transition(session, actor=actor, entry_id=entry_id,
                             allowed_from={EntryStatus.DRAFT}, to=EntryStatus.REVIEW,
                             action="knowledge.submit", ip=ip)  # fmt: skip


async def reject(
    session: AsyncSession, *, actor: str, entry_id: int, comment: str, ip: str | None = None
) -> KnowledgeEntry:
    return await _transition(session, actor=actor, entry_id=entry_id,
                             allowed_from={EntryStatus.REVIEW}, to=EntryStatus.DRAFT,
                             action="knowledge.reject", comment=comment, ip=ip)  # fmt: skip


async def approve(
    session: AsyncSession,
    *,
    actor: str,
    entry_id: int,
    comment: str = "",
    ip: str | None = None,
    four_eyes: bool = True,
) -> KnowledgeEntry:
    """Publish the version under review. Its ``effective_from`` may lie in the future: that is
    scheduled publishing, and the entry is answered from that moment on."""
    entry = await get_entry(session, entry_id=entry_id)
    version = await get_version(session, entry_id=entry_id, number=entry.latest_version)
    if four_eyes and version.author == actor:
        raise KnowledgeError("a version must be approved by someone other than its author")
    entry = await _transition(session, actor=actor, entry_id=entry_id,
                              allowed_from={EntryStatus.REVIEW}, to=EntryStatus.PUBLISHED,
                              action="knowledge.approve", comment=comment, ip=ip)  # fmt: skip
    version.approved_by, version.approved_at = actor, utcnow()
    entry.published_version = version.number
    await session.flush()
    return entry


async def retire(
    session: AsyncSession, *, actor: str, entry_id: int, comment: str = "", ip: str | None = None
) -> KnowledgeEntry:
    entry = await _transition(session, actor=actor, entry_id=entry_id,
                              allowed_from={EntryStatus.PUBLISHED, EntryStatus.DRAFT,
                                            EntryStatus.REVIEW},
                              to=EntryStatus.RETIRED, action="knowledge.retire",
                              comment=comment, ip=ip)  # fmt: skip
    entry.published_version = None  # never answered again
    await session.flush()
    return entry


def content_of(version: KnowledgeVersion, kind: str) -> EntryContent:
    return EntryContent.model_validate(
        {"kind": kind, **{f: getattr(version, f) for f in VERSION_FIELDS}}
    )


@dataclass(frozen=True)
class FieldDiff:
    field: str
    lines: list[str]  # unified diff lines ("-old", "+new", " same")


def _as_lines(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [json.dumps(v, ensure_ascii=False) if isinstance(v, dict) else str(v) for v in value]
    if isinstance(value, datetime):
        return [value.isoformat()]
    return str(value).splitlines()


async def diff_versions(
    session: AsyncSession, *, entry_id: int, old: int, new: int
) -> list[FieldDiff]:
    a = await get_version(session, entry_id=entry_id, number=old)
    b = await get_version(session, entry_id=entry_id, number=new)
    diffs = []
    for name in VERSION_FIELDS:
        before, after = _as_lines(getattr(a, name)), _as_lines(getattr(b, name))
        if before != after:
            lines = list(difflib.unified_diff(before, after, lineterm="", n=2))[2:]
            diffs.append(FieldDiff(name, [ln for ln in lines if not ln.startswith("@@")]))
    return diffs


async def list_entries(
    session: AsyncSession,
    *,
    status: str | None = None,
    category: str | None = None,
    kind: str | None = None,
    text: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[KnowledgeEntry], int]:
    """Entries for the editors' list, newest change first, with the total count."""
    where = []
    if status:
        where.append(KnowledgeEntry.status == status)
    if category:
        where.append(KnowledgeEntry.category == category)
    if kind:
        where.append(KnowledgeEntry.kind == kind)
    if text:
        like = f"%{text.replace('%', '').replace('_', '')}%"
        where.append(or_(KnowledgeEntry.title.ilike(like), KnowledgeEntry.category.ilike(like)))
    total = await session.scalar(select(func.count()).select_from(KnowledgeEntry).where(*where))
    rows = await session.scalars(
        select(KnowledgeEntry).where(*where)
        .order_by(KnowledgeEntry.updated_at.desc(), KnowledgeEntry.id.desc())
        .limit(limit).offset(offset)
    )  # fmt: skip
    return list(rows), int(total or 0)


async def categories(session: AsyncSession) -> list[str]:
    rows = await session.scalars(
        select(KnowledgeEntry.category).where(KnowledgeEntry.category != "").distinct()
    )
    return sorted(rows)


async def publish_directly(
    session: AsyncSession, *, actor: str, content: EntryContent, ip: str | None = None
) -> KnowledgeEntry:
    """Create and publish in one step, for trusted bulk loads (the demo base, imports by a
    publisher). The audit log records it as such."""
    entry = await create_entry(session, actor=actor, content=content, ip=ip)
    version = await get_version(session, entry_id=entry.id, number=1)
    version.approved_by, version.approved_at = actor, utcnow()
    entry.status, entry.published_version = EntryStatus.PUBLISHED.value, 1
    await session.flush()
    await record(session, actor=actor, action="knowledge.publish_direct", target=f"kb:{entry.id}",
                 details={"version": 1}, ip=ip)  # fmt: skip
    return entry


__all__ = [
    "EntryKind", "FieldDiff", "KnowledgeError", "NotFound", "approve", "categories",
    "content_of", "create_entry", "diff_versions", "get_entry", "get_version", "list_entries",
    "list_versions", "publish_directly", "reject", "retire", "submit_for_review", "update_entry",
]  # fmt: skip
