"""Conversation search: full text over messages, Chinese words from the language layer.

Why a token table (``search_tokens``: one row per distinct word of a message) and not FTS5 or
tsvector: neither engine segments Chinese, so both would need the words computed here anyway;
one table of words works the same on SQLite and PostgreSQL (the same query, the same results,
tested once), its ``(token, message_id)`` index answers a word with an index range scan, and a
query of several words is their intersection. Words come from jieba's search mode
(``cut_for_search``: 信用卡 also yields 信用), lower-cased, from the text with its card, ID
and phone numbers masked first — the index never holds a full number, so it cannot be searched
for one either.

The index is filled behind the messages (messages are never edited): ``index_new`` reads
those after a cursor in batches (the quality worker calls it; a search first catches up).
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from kefu.agents.models import Agent
from kefu.conversations.models import Conversation, Message
from kefu.db.base import utcnow
from kefu.db.engine import dialect_insert
from kefu.language.normalize import normalize, strip_markup
from kefu.language.tokenize import lexicon
from kefu.privacy import mask_text
from kefu.quality.models import SearchCursor, SearchToken, SearchWordCount
from kefu.routing.models import RoutingTask

CURSOR = "messages"
LAG = 5.0
MAX_TOKEN = 32
MAX_QUERY_WORDS = 8
PAGE = 50
# A query whose rarest word has at most this many postings intersects the words' postings by
# key (bounded work whatever the planner does); above it, every word is common and the
# newest-first walk fills a page after a few postings. (5 in 10,000 messages at 10 M: 5,000.)
RARE_POSTINGS = 10_000
# The by-key plan reads the rarest word's postings in chunks: the first of FIRST_CHUNK or
# CHUNK_FACTOR × the rows wanted, each next CHUNK_FACTOR times larger (a page of a rare pair
# usually needs one chunk; a pair that seldom meets still reads at most RARE_POSTINGS ids).
FIRST_CHUNK = 200
CHUNK_FACTOR = 4
KEY_BATCH = 1000  # ids per IN list (well under SQLite's and asyncpg's bound-parameter limits)
_WORD = re.compile(r"\w", re.UNICODE)


class SearchInvalid(ValueError):
    """A search the user must change (the message says how)."""


def words(text: str, *, for_index: bool) -> list[str]:
    """Distinct lower-case words of ``text`` (numbers masked first), in first-seen order."""
    plain = strip_markup(normalize(mask_text(text))).text.lower()
    seg = lexicon().segmenter
    cut = seg.cut_for_search(plain) if for_index else seg.cut(plain)
    seen: dict[str, None] = {}
    for word in cut:
        word = word.strip()
        if word and len(word) <= MAX_TOKEN and _WORD.search(word) and "*" not in word:
            seen.setdefault(word, None)
    return list(seen)


def _tokens(
    rows: Sequence[Row[tuple[int, str]]] | Sequence[tuple[int, str]],
) -> list[dict[str, Any]]:
    return [{"message_id": mid, "token": w} for mid, body in rows
            for w in words(body or "", for_index=True)]  # fmt: skip


async def lock_cursor(db: AsyncSession) -> SearchCursor:
    """The index's cursor row, locked until the caller's transaction ends (PostgreSQL; SQLite
    serialises writers): whoever writes or deletes postings holds it, so the postings and
    the per-word counts move together and no message is indexed twice."""
    # An upsert that locks the row, not INSERT … DO NOTHING: on InnoDB (MariaDB) the ignored
    # duplicate leaves a shared lock, which two indexers then both upgrade for the FOR UPDATE
    # below — a deadlock that rolls back one whole transaction (a reindex beside index_new).
    add = dialect_insert(db, SearchCursor).values(name=CURSOR, last_message_id=0)
    await db.execute(
        add.on_conflict_do_update(index_elements=["name"], set_={"name": add.excluded.name})
    )
    cursor = await db.scalar(
        select(SearchCursor).where(SearchCursor.name == CURSOR).with_for_update()
    )
    assert cursor is not None
    return cursor


async def add_counts(db: AsyncSession, counts: Counter[str], *, sign: int = 1) -> None:
    """Adds (``sign`` -1: takes away) postings to the per-word counts, in word order (two
    writers that both hold the cursor lock cannot deadlock, and a purge takes it too)."""
    if not counts:
        return
    table = SearchWordCount.__table__
    rows = [{"token": w, "postings": sign * n} for w, n in sorted(counts.items()) if n]
    stmt = dialect_insert(db, SearchWordCount)
    await db.execute(
        stmt.on_conflict_do_update(
            index_elements=["token"], set_={"postings": table.c.postings + stmt.excluded.postings}
        ),
        rows,
    )
    if sign < 0:  # a word whose last posting went is no word of the index any more
        await db.execute(table.delete().where(table.c.postings <= 0))


async def write_postings(db: AsyncSession, tokens: list[dict[str, Any]]) -> None:
    """Postings of messages not indexed yet (the caller holds the cursor lock) and their
    counts, in one transaction."""
    if not tokens:
        return
    # one executemany (batched by the driver), not a statement per chunk
    await db.execute(dialect_insert(db, SearchToken).on_conflict_do_nothing(), tokens)
    await add_counts(db, Counter(t["token"] for t in tokens))


async def forget_conversations(db: AsyncSession, conversation_ids: Sequence[int]) -> None:
    """Takes the postings of these conversations' messages off the per-word counts; call it
    in the transaction that deletes the conversations (the postings themselves go with the
    messages, ON DELETE CASCADE). Holds the cursor lock so that no indexer writes postings of
    these messages between the count and the delete."""
    if not conversation_ids:
        return
    await lock_cursor(db)
    gone: Counter[str] = Counter()
    for start in range(0, len(conversation_ids), 500):
        rows = await db.execute(
            select(SearchToken.token, func.count())
            .join(Message, Message.id == SearchToken.message_id)
            .where(Message.conversation_id.in_(conversation_ids[start : start + 500]))
            .group_by(SearchToken.token)
        )
        for token, n in rows:
            gone[token] += n
    await add_counts(db, gone, sign=-1)


async def index_new(
    db: AsyncSession, *, batch: int = 2000, lag_seconds: float = LAG, offload: bool = False
) -> int:
    """Indexes up to ``batch`` messages stored since the last run; returns how many. The
    caller commits (the cursor moves in the same transaction as the words).

    Only messages older than ``lag_seconds`` are read: on PostgreSQL a message's id is taken
    when it is inserted, not when its transaction commits, so a younger id may be visible
    before an older one; the lag lets such transactions (a few statements) finish first."""
    # The cursor row is locked (PostgreSQL) so that two indexers (the worker, a search
    # catching up, a reindex) take turns instead of reading the same batch.
    cursor = await lock_cursor(db)
    last = cursor.last_message_id
    before = utcnow() - timedelta(seconds=lag_seconds)
    rows = (
        await db.execute(
            select(Message.id, Message.body)
            .where(Message.id > last, Message.created_at <= before)
            .order_by(Message.id)
            .limit(batch)
        )
    ).all()
    if not rows:
        return 0
    if offload:  # segmentation is CPU work: keep a server's event loop free
        tokens = await asyncio.to_thread(_tokens, rows)
    else:
        tokens = _tokens(rows)
    await write_postings(db, tokens)
    cursor.last_message_id = rows[-1][0]
    await db.flush()
    return len(rows)


async def catch_up(db: AsyncSession, *, limit: int = 20000, lag_seconds: float = LAG) -> int:
    done = total = 0
    while total < limit and (done := await index_new(db, lag_seconds=lag_seconds)):
        total += done
    return total


@dataclass(frozen=True)
class Filters:
    channel: str | None = None
    agent_id: int | None = None
    queue: str | None = None
    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True)
class Hit:
    message_id: int
    conversation_id: int
    channel: str
    contact: str  # masked
    sender: str
    agent: str
    queue: str
    at: datetime
    text: str  # masked


def query_words(query: str) -> list[str]:
    found = words(query, for_index=False)
    if not found:
        raise SearchInvalid("请输入要搜索的词语（卡号、证件号、手机号只能按脱敏后显示的部分搜索）")
    if len(found) > MAX_QUERY_WORDS:
        raise SearchInvalid(f"搜索词最多 {MAX_QUERY_WORDS} 个")
    return found


def _hit_columns(postings: Any = None) -> Any:
    """A message with what a hit shows and the filters need (one routing task and at most
    one agent per conversation: a row per message); from ``postings`` (a SearchToken alias)
    when given."""
    stmt = select(Message.id, Message.conversation_id, Message.channel, Conversation.contact,
                  Message.sender_type, Agent.display_name, RoutingTask.queue, Message.created_at,
                  Message.body)  # fmt: skip
    if postings is not None:
        stmt = stmt.select_from(postings).join(Message, Message.id == postings.message_id)
    return (
        stmt.join(Conversation, Conversation.id == Message.conversation_id)
        .outerjoin(Agent, Agent.id == Conversation.assigned_agent_id)
        .outerjoin(RoutingTask, RoutingTask.conversation_id == Conversation.id)
    )  # fmt: skip


def _filtered(stmt: Any, filters: Filters) -> Any:
    if filters.channel:
        stmt = stmt.where(Message.channel == filters.channel)
    if filters.agent_id:
        stmt = stmt.where(Conversation.assigned_agent_id == filters.agent_id)
    if filters.queue:
        stmt = stmt.where(RoutingTask.queue == filters.queue)
    if filters.start:
        stmt = stmt.where(Message.created_at >= filters.start)
    if filters.end:
        stmt = stmt.where(Message.created_at < filters.end)
    return stmt


def _has_filters(filters: Filters) -> bool:
    return any((filters.channel, filters.agent_id, filters.queue, filters.start, filters.end))


async def _walk(
    db: AsyncSession, wanted: list[str], filters: Filters, offset: int, limit: int
) -> list[Any]:
    """The first word's postings walked newest first along the (token, message_id) index, each
    checked for the other words by primary key: a page of a common word stops after a page
    of rows instead of grouping every posting of every word."""
    first = aliased(SearchToken)
    stmt = _hit_columns(first).where(first.token == wanted[0])
    for word in wanted[1:]:
        other = aliased(SearchToken)
        stmt = stmt.where(exists().where(other.message_id == first.message_id, other.token == word))
    stmt = _filtered(stmt, filters).order_by(first.message_id.desc()).offset(offset).limit(limit)
    return list((await db.execute(stmt)).all())


async def _held_by(db: AsyncSession, word: str, ids: list[int]) -> list[int]:
    """Those of ``ids`` (newest first) whose message holds ``word``: key lookups."""
    held: set[int] = set()
    for start in range(0, len(ids), KEY_BATCH):
        held.update((await db.scalars(
            select(SearchToken.message_id).where(
                SearchToken.token == word, SearchToken.message_id.in_(ids[start : start + KEY_BATCH]))
        )).all())  # fmt: skip
    return [i for i in ids if i in held]


async def _by_key(
    db: AsyncSession, wanted: list[str], filters: Filters, offset: int, limit: int
) -> list[Any]:
    """The rarest word's postings read newest first in growing chunks (an index range on
    one table), each chunk intersected with the other words' postings by key lookups in
    Python, then the matching messages read by id with the filters; it stops when the page
    is full. Every statement reads one table by its index, so no planner choice can make it
    read more than the rarest word's postings (few: the counts said so) and their messages."""
    need = offset + limit
    rows: list[Any] = []
    before: int | None = None
    chunk = max(CHUNK_FACTOR * need, FIRST_CHUNK)
    while len(rows) < need:
        q = select(SearchToken.message_id).where(SearchToken.token == wanted[0])
        if before is not None:
            q = q.where(SearchToken.message_id < before)
        ids = list((await db.scalars(q.order_by(SearchToken.message_id.desc()).limit(chunk))).all())
        if not ids:
            break
        before = ids[-1]
        found = ids
        for word in wanted[1:]:
            found = await _held_by(db, word, found)
            if not found:
                break
        if not _has_filters(filters):  # every id found is a hit: read only those needed
            found = found[: need - len(rows)]
        for start in range(0, len(found), KEY_BATCH):
            rows += (await db.execute(
                _filtered(_hit_columns().where(Message.id.in_(found[start : start + KEY_BATCH])), filters)
                .order_by(Message.id.desc())
            )).all()  # fmt: skip
        if len(ids) < chunk:
            break
        chunk = min(CHUNK_FACTOR * chunk, RARE_POSTINGS)
    return rows[offset:need]


async def search(
    db: AsyncSession, query: str, filters: Filters, *, page: int = 1, page_size: int = PAGE,
    plan: str = "new",
) -> tuple[list[Hit], bool]:  # fmt: skip
    """Messages holding every word of ``query`` under the filters, newest first; and whether
    there is a next page. ``plan``: "new" (the words' counts choose, below) or "old" (the
    walk from the longest word, kept to measure against: benchmarks/quality_search.py)."""
    if filters.start and filters.end and filters.start >= filters.end:
        raise SearchInvalid("开始时间应早于结束时间")
    found = query_words(query)
    page = max(1, page)
    offset, limit = (page - 1) * page_size, page_size + 1
    if plan == "old":
        # Longest first: a longer Chinese word is usually the rarer, the shorter list to walk.
        rows = await _walk(db, sorted(found, key=len, reverse=True), filters, offset, limit)
    else:
        counts = dict((await db.execute(
            select(SearchWordCount.token, SearchWordCount.postings)
            .where(SearchWordCount.token.in_(found))
        )).all())  # fmt: skip
        if any(counts.get(w, 0) <= 0 for w in found):  # a word no message holds: no hit
            return [], False
        wanted = sorted(found, key=lambda w: (counts[w], w))  # rarest first
        if len(wanted) > 1 and counts[wanted[0]] <= RARE_POSTINGS:
            rows = await _by_key(db, wanted, filters, offset, limit)
        else:  # one word, or every word common: the walk fills a page after a few postings
            rows = await _walk(db, wanted, filters, offset, limit)
    hits = [
        Hit(mid, cid, channel, mask_text(contact or ""), sender or "", agent or "", queue or "",
            at, mask_text(body or ""))
        for mid, cid, channel, contact, sender, agent, queue, at, body in rows[:page_size]
    ]  # fmt: skip
    return hits, len(rows) > page_size


async def transcripts(
    db: AsyncSession, conversation_ids: Iterable[int]
) -> list[tuple[int, str, str, str, datetime, str]]:
    """(conversation, channel, sender, agent, time, masked text) of every message of the
    conversations, for export, in conversation then time order."""
    ids = sorted(set(conversation_ids))
    out: list[tuple[int, str, str, str, datetime, str]] = []
    for start in range(0, len(ids), 500):
        rows = await db.execute(
            select(Message.conversation_id, Message.channel, Message.sender_type,
                   Agent.display_name, Message.created_at, Message.body)
            .outerjoin(Agent, Agent.id == Message.sender_agent_id)
            .where(Message.conversation_id.in_(ids[start : start + 500]))
            .order_by(Message.conversation_id, Message.created_at, Message.id)
        )  # fmt: skip
        out += [(c, ch, s or "", a or "", at, mask_text(b or "")) for c, ch, s, a, at, b in rows]
    return out
