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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from kefu.agents.models import Agent
from kefu.conversations.models import Conversation, Message
from kefu.db.base import utcnow
from kefu.db.engine import dialect_insert
from kefu.language.normalize import normalize, strip_markup
from kefu.language.tokenize import lexicon
from kefu.privacy import mask_text
from kefu.quality.models import SearchCursor, SearchToken
from kefu.routing.models import RoutingTask

CURSOR = "messages"
LAG = 5.0
MAX_TOKEN = 32
MAX_QUERY_WORDS = 8
PAGE = 50
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


def _tokens(rows: Sequence[Row[tuple[int, str]]]) -> list[dict[str, Any]]:
    return [{"message_id": mid, "token": w} for mid, body in rows
            for w in words(body or "", for_index=True)]  # fmt: skip


async def index_new(
    db: AsyncSession, *, batch: int = 2000, lag_seconds: float = LAG, offload: bool = False
) -> int:
    """Indexes up to ``batch`` messages stored since the last run; returns how many. The
    caller commits (the cursor moves in the same transaction as the words).

    Only messages older than ``lag_seconds`` are read: on PostgreSQL a message's id is taken
    when it is inserted, not when its transaction commits, so a younger id may be visible
    before an older one; the lag lets such transactions (a few statements) finish first."""
    # The cursor row is locked (PostgreSQL) so that two indexers (the worker, a search
    # catching up) take turns instead of reading the same batch; SQLite serialises writers.
    await db.execute(
        dialect_insert(db, SearchCursor).values(name=CURSOR, last_message_id=0)
        .on_conflict_do_nothing(index_elements=["name"])
    )  # fmt: skip
    cursor = await db.scalar(
        select(SearchCursor).where(SearchCursor.name == CURSOR).with_for_update()
    )
    assert cursor is not None
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
    if tokens:  # one executemany (batched by the driver), not a statement per chunk
        await db.execute(dialect_insert(db, SearchToken).on_conflict_do_nothing(), tokens)
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


async def search(
    db: AsyncSession, query: str, filters: Filters, *, page: int = 1, page_size: int = PAGE
) -> tuple[list[Hit], bool]:
    """Messages holding every word of ``query`` under the filters, newest first; and whether
    there is a next page."""
    if filters.start and filters.end and filters.start >= filters.end:
        raise SearchInvalid("开始时间应早于结束时间")
    # Longest first: a longer Chinese word is usually the rarer, the shorter list to walk.
    wanted = sorted(query_words(query), key=len, reverse=True)
    # The first word's postings walked newest first along the (token, message_id) index, each
    # checked for the other words by primary key: a page of a common word stops after a page
    # of rows instead of grouping every posting of every word.
    first = aliased(SearchToken)
    stmt = (
        select(Message.id, Message.conversation_id, Message.channel, Conversation.contact,
               Message.sender_type, Agent.display_name, RoutingTask.queue, Message.created_at,
               Message.body)
        .select_from(first)
        .join(Message, Message.id == first.message_id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .outerjoin(Agent, Agent.id == Conversation.assigned_agent_id)
        .outerjoin(RoutingTask, RoutingTask.conversation_id == Conversation.id)
        .where(first.token == wanted[0])
    )  # fmt: skip
    for word in wanted[1:]:
        other = aliased(SearchToken)
        stmt = stmt.where(exists().where(other.message_id == first.message_id, other.token == word))
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
    page = max(1, page)
    rows = (
        await db.execute(
            stmt.order_by(first.message_id.desc())
            .offset((page - 1) * page_size)
            .limit(page_size + 1)
        )
    ).all()
    hits = [
        Hit(
            mid,
            cid,
            channel,
            mask_text(contact or ""),
            sender or "",
            agent or "",
            queue or "",
            at,
            mask_text(body or ""),
        )
        for mid, cid, channel, contact, sender, agent, queue, at, body in rows[:page_size]
    ]
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
