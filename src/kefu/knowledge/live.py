"""One search index per database per process, kept in step with the database.

Publishing happens in whichever process an editor reaches; every process answering questions
must see it. Each index therefore re-reads, at most every ``SYNC_INTERVAL`` seconds and only
when a query arrives, the entries changed since its watermark (``kb_entries.updated_at``, which
every workflow step bumps) and applies them one by one: a publish becomes searchable within a
second everywhere, with no full rebuild. The look-back ``OVERLAP`` covers transactions that
committed a little after the time they stamped.
"""

from __future__ import annotations

import time
import weakref
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.knowledge.content import EntryKind
from kefu.knowledge.index import IndexedEntry, KnowledgeIndex
from kefu.knowledge.models import KnowledgeEntry, KnowledgeVersion
from kefu.knowledge.rerank import reranker_from_env

SYNC_INTERVAL = 0.5  # seconds between catch-up reads (each is one indexed query)
OVERLAP = timedelta(seconds=10)


def _new_index() -> KnowledgeIndex:
    reranker, weight = reranker_from_env()
    return KnowledgeIndex(reranker=reranker, rerank_weight=weight)


@dataclass
class _State:
    index: KnowledgeIndex = field(default_factory=_new_index)
    watermark: datetime | None = None  # None: not loaded yet
    last_sync: float = float("-inf")


_states: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _state(session: AsyncSession) -> _State:
    engine = session.bind.sync_engine  # type: ignore[union-attr]
    state = _states.get(engine)
    if state is None:
        state = _states[engine] = _State()
    return state


def mark_stale(session: AsyncSession) -> None:
    """The next query through this engine re-reads changes without waiting for the interval."""
    _state(session).last_sync = float("-inf")


def indexed_entry(entry: KnowledgeEntry, version: KnowledgeVersion) -> IndexedEntry:
    answers = {"sms": version.answer_sms, "wechat": version.answer_wechat,
               "agent": version.answer_agent}  # fmt: skip
    if entry.kind == EntryKind.ARTICLE.value:
        answers["agent"] = answers["agent"] or version.body
    return IndexedEntry(
        entry_id=entry.id,
        version=version.number,
        kind=entry.kind,
        question=version.question,
        paraphrases=tuple(version.paraphrases or ()),
        answers=answers,
        internal_note=version.internal_note,
        category=version.category,
        products=tuple(version.products or ()),
        regions=tuple(version.regions or ()),
        effective_from=version.effective_from,
        expires_at=version.expires_at,
    )


async def _published_rows(session: AsyncSession, since: datetime | None):  # type: ignore[no-untyped-def]
    statement = select(KnowledgeEntry, KnowledgeVersion).outerjoin(
        KnowledgeVersion,
        and_(KnowledgeVersion.entry_id == KnowledgeEntry.id,
             KnowledgeVersion.number == KnowledgeEntry.published_version),
    )  # fmt: skip
    if since is None:
        statement = statement.where(KnowledgeEntry.published_version.is_not(None))
    else:
        statement = statement.where(KnowledgeEntry.updated_at >= since - OVERLAP)
    return (await session.execute(statement)).all()


async def live_index(session: AsyncSession, *, force: bool = False) -> KnowledgeIndex:
    """The process's index for this session's database, caught up if due."""
    state = _state(session)
    now = time.monotonic()
    if not force and now - state.last_sync < SYNC_INTERVAL:
        return state.index
    state.last_sync = now
    rows = await _published_rows(session, state.watermark)
    newest = max((entry.updated_at for entry, _ in rows), default=state.watermark)
    if state.watermark is None:
        state.index.build(indexed_entry(e, v) for e, v in rows if v is not None)
    else:
        for entry, version in rows:
            current = state.index.get(entry.id)
            if version is None:
                state.index.remove(entry.id)
            elif current is None or current.version != version.number:
                state.index.upsert(indexed_entry(entry, version))
    if newest is not None:
        state.watermark = newest
    elif state.watermark is None:
        state.watermark = datetime(2000, 1, 1, tzinfo=UTC)
    return state.index
