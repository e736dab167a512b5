"""Intake of social posts: store once, analyse, then queue, keep for listening, or filter.

Every adapter (the Weibo channel, the generic social webhook) hands posts in through
``kefu.social.route`` as :class:`IncomingPost`. ``ingest`` is idempotent: a post is one row per
(platform, external_id), inserted with INSERT … ON CONFLICT DO NOTHING so that two workers
delivering the same post at once store it once, and only the one that stored it goes on to
open or join a conversation (a re-delivery never queues a post twice).

States (``kefu.social.models.STATES``):
- addressed to the bank (mention, comment, dm) → ``queued``: a conversation is opened for the
  author (or the author's open one joined) with the analysis as routing attributes;
- captured by listening → ``listening``: kept apart from the service queue until someone
  engages (``engage``: opens exactly one conversation however many click at once) or ignores;
- spam or adverts → ``spam``: stored for counting, never queued;
- a private message the ordinary pipeline answers (``record_private``) → ``private``.
"""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.conversations.models import Conversation
from kefu.db.base import utcnow
from kefu.db.engine import dialect_insert
from kefu.logs import get_logger
from kefu.messaging import handoff
from kefu.routing import intake
from kefu.social.analysis import Author, PostAnalysis, PostInput, analyse_post
from kefu.social.models import ADDRESSED_KINDS, KINDS, SocialPost
from kefu.vocabulary import Channel

log = get_logger(__name__)

# Post analysis runs off the event loop, on one thread: the encoder costs 50–200 ms of CPU a
# post, and on the loop a channel catching up (an hour of Weibo mentions) stalled every request
# of the web process — WeChat's five-second answers first. One thread: posts are analysed one
# at a time, as they were, and the models are never shared by two social callers at once.
_ANALYSIS = ThreadPoolExecutor(max_workers=1, thread_name_prefix="social-analysis")

QUEUED, LISTENING, ENGAGED, IGNORED, SPAM, PRIVATE = (
    "queued", "listening", "engaged", "ignored", "spam", "private",
)  # fmt: skip


@dataclass(frozen=True)
class IncomingPost:
    """What any social adapter hands in (built from ``InboundMessage.metadata["social"]``)."""

    platform: str
    account: str
    external_id: str
    kind: str
    text: str
    author: Author
    posted_at: datetime
    url: str = ""
    parent_external_id: str | None = None
    reposts: int = 0
    comments: int = 0
    likes: int = 0
    deleted: bool = False  # the adapter says the platform deleted it
    captured_by: int | None = None  # the listening rule that captured it


class BadPost(ValueError):
    """The adapter handed in something that cannot be stored (names the field)."""


# What a platform may send but a database column cannot hold: NUL (PostgreSQL text refuses
# it) and lone surrogates (not UTF-8), removed; counts beyond a 32-bit INTEGER, capped.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_INT_MAX = 2**31 - 1


def _text(value: str) -> str:
    return _UNSTORABLE.sub("", value)


def _count(value: int) -> int:
    return min(_INT_MAX, max(0, value))


def storable(post: IncomingPost) -> IncomingPost:
    """``post`` with what no column can hold taken out (see _UNSTORABLE), so hostile input
    is stored as near as it came rather than failing the whole delivery."""
    author = replace(
        post.author, uid=_text(post.author.uid), name=_text(post.author.name)[:128],
        followers=_count(post.author.followers),
        verified_type=max(-_INT_MAX, min(_INT_MAX, post.author.verified_type)),
    )  # fmt: skip
    parent = _text(post.parent_external_id) if post.parent_external_id is not None else None
    return replace(
        post, platform=_text(post.platform), account=_text(post.account)[:64],
        external_id=_text(post.external_id), text=_text(post.text), url=_text(post.url)[:500],
        parent_external_id=parent, author=author, reposts=_count(post.reposts),
        comments=_count(post.comments), likes=_count(post.likes),
    )  # fmt: skip


def _check(post: IncomingPost) -> None:
    if post.kind not in KINDS:
        raise BadPost(f"kind {post.kind!r} is not one of {', '.join(KINDS)}")
    for name in ("platform", "external_id"):
        if not getattr(post, name):
            raise BadPost(f"{name} is empty")
    if not post.author.uid:
        raise BadPost("author.uid is empty")
    for name, value, limit in (
        ("platform", post.platform, 32),
        ("external_id", post.external_id, 128),
        ("author.uid", post.author.uid, 64),  # "<platform>:<uid>" fits a contact
        ("parent_external_id", post.parent_external_id or "", 128),
    ):
        if len(value) > limit:
            raise BadPost(f"{name} is longer than {limit} characters")
    if post.posted_at.tzinfo is None:
        raise BadPost("posted_at has no time zone")


async def author_history(db: AsyncSession, platform: str, uid: str) -> tuple[int, int]:
    """(earlier posts, of which negative) of this author on this platform: the history part of
    influence (an author who complained before is likely to escalate)."""
    row = (
        await db.execute(
            select(
                func.count(),
                # COUNT(CASE …), not COUNT(*) FILTER (WHERE …): MariaDB/MySQL have no FILTER.
                func.count(case((SocialPost.sentiment_label == "negative", 1))),
            ).where(SocialPost.platform == platform, SocialPost.author_uid == uid)
        )
    ).one()
    return int(row[0]), int(row[1])


async def analyse(db: AsyncSession, post: IncomingPost) -> PostAnalysis:
    seen, negative = await author_history(db, post.platform, post.author.uid)
    author = Author(
        uid=post.author.uid, name=post.author.name, followers=post.author.followers,
        verified_type=post.author.verified_type, posts_seen=seen, negative_seen=negative,
    )  # fmt: skip
    item = PostInput(text=post.text, author=author, platform=post.platform, reposts=post.reposts,
                     comments=post.comments, likes=post.likes)  # fmt: skip
    return await asyncio.get_running_loop().run_in_executor(_ANALYSIS, analyse_post, item)


def _initial_state(post: IncomingPost, analysis: PostAnalysis, private: bool) -> str:
    if analysis.spam:
        return SPAM
    if private:
        return PRIVATE
    return QUEUED if post.kind in ADDRESSED_KINDS else LISTENING


async def _store(
    db: AsyncSession, post: IncomingPost, *, private: bool = False
) -> tuple[SocialPost, bool]:
    """(row, whether this call inserted it)."""
    post = storable(post)
    _check(post)
    existing = await _by_external_id(db, post.platform, post.external_id)
    if existing is not None:
        await _mark_deleted(db, existing, post.deleted)
        return existing, False
    analysis = await analyse(db, post)
    values = dict(
        platform=post.platform, account=post.account, external_id=post.external_id,
        kind=post.kind, parent_external_id=post.parent_external_id,
        author_uid=post.author.uid, author_name=post.author.name,
        author_followers=post.author.followers,
        author_verified_type=post.author.verified_type, text=post.text, url=post.url,
        posted_at=post.posted_at, received_at=utcnow(), reposts=post.reposts,
        comments=post.comments, likes=post.likes, deleted=post.deleted,
        sentiment=analysis.sentiment, sentiment_label=analysis.sentiment_label,
        emotion=analysis.emotion, emotion_score=analysis.emotion_score,
        keywords=list(analysis.keywords), intent=analysis.intent, topic=analysis.topic[:64],
        spam=analysis.spam, crisis=analysis.crisis, influence=analysis.influence, priority=analysis.priority,
        state=_initial_state(post, analysis, private), captured_by=post.captured_by,
    )  # fmt: skip
    inserted = await db.execute(
        dialect_insert(db, SocialPost)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["platform", "external_id"])
        .returning(SocialPost.id)
    )
    new_id = inserted.scalar_one_or_none()
    row = await _by_external_id(db, post.platform, post.external_id)
    assert row is not None  # inserted now or by the concurrent writer that won
    return row, new_id is not None


async def _by_external_id(db: AsyncSession, platform: str, external_id: str) -> SocialPost | None:
    return await db.scalar(
        select(SocialPost)
        .where(SocialPost.platform == platform, SocialPost.external_id == external_id)
        .execution_options(populate_existing=True)
    )


async def _mark_deleted(db: AsyncSession, row: SocialPost, deleted: bool) -> None:
    """A re-delivery that says the platform deleted the post marks the row (never un-marks:
    a deleted post does not come back)."""
    if deleted and not row.deleted:
        row.deleted = True
        await db.flush()


async def ingest(db: AsyncSession, post: IncomingPost) -> SocialPost:
    """Stores ``post`` once (a repeat returns the stored row and does nothing more), analyses
    it, and queues it when it is addressed to the bank and not spam. The caller commits."""
    row, inserted = await _store(db, post)
    if inserted and row.state == QUEUED and not row.deleted:  # nothing left to answer
        row.conversation_id = await _to_conversation(db, row, row.text)
        await db.flush()
    log.info("social_post", platform=row.platform, kind=row.kind, state=row.state,
             repeat=not inserted, post_id=row.id)  # fmt: skip
    return row


async def mark_deleted(db: AsyncSession, platform: str, external_id: str) -> bool:
    """The platform deleted a post (an adapter that learns only its id); False when the post
    was never stored."""
    done = await db.execute(
        update(SocialPost)
        .where(SocialPost.platform == platform, SocialPost.external_id == external_id)
        .values(deleted=True)
    )
    return bool(done.rowcount)


async def record_private(db: AsyncSession, post: IncomingPost) -> SocialPost:
    """Stores a private message (私信) the ordinary pipeline answers, so that reports and the
    crisis desk count it with the platform's other posts; opens no conversation (the
    pipeline hands off to an agent when it must)."""
    row, _inserted = await _store(db, post, private=True)
    return row


def stored_analysis(row: SocialPost) -> PostAnalysis:
    """The analysis as stored on the row (engaging a listened post routes on it)."""
    return PostAnalysis(
        sentiment=row.sentiment, sentiment_label=row.sentiment_label, emotion=row.emotion,
        emotion_score=row.emotion_score, keywords=tuple(row.keywords or ()), intent=row.intent,
        topic=row.topic, spam=row.spam, spam_score=1.0 if row.spam else 0.0,
        influence=row.influence, priority=row.priority, crisis=row.crisis,
    )  # fmt: skip


def row_address(row: SocialPost) -> tuple[str, str]:
    """(channel, contact) the author's conversations are kept under: what the adapters send
    as the InboundMessage's channel and sender (Weibo: the uid; the generic social webhook:
    "<platform>:<uid>")."""
    if row.platform == Channel.WEIBO.value:
        return Channel.WEIBO.value, row.author_uid
    return Channel.SOCIAL.value, f"{row.platform}:{row.author_uid}"


async def _to_conversation(
    db: AsyncSession, row: SocialPost, text: str, *, actor: str | None = None
) -> int:
    """Joins the author's open conversation on the channel (held by a human or waiting for
    one) or opens a new one routed on the post's analysis."""
    channel, contact = row_address(row)
    owned = await handoff.human_owned(db, channel, contact)
    if owned is not None:
        conversation, _task = owned
        await handoff.add_customer_message(db, conversation, text, external_id=row.external_id)
        return conversation.id
    attributes: dict[str, Any] = dict(stored_analysis(row).routing_attributes())
    attributes["platform"] = row.platform
    attributes["social_kind"] = row.kind
    previous = await _last_agent(db, channel, contact)
    if previous is not None:  # handling history: the agent who served this author before
        attributes["last_agent_id"] = previous
    conversation, _task = await intake.open_conversation(
        db, channel=channel, contact=contact, text=text, now=utcnow(),
        subject=text, intent=row.intent, attributes=attributes,
        actor=actor or f"{channel}:{contact}",
    )  # fmt: skip
    return conversation.id


async def _last_agent(db: AsyncSession, channel: str, contact: str) -> int | None:
    return await db.scalar(
        select(Conversation.assigned_agent_id)
        .where(
            Conversation.channel == channel,
            Conversation.contact == contact,
            Conversation.assigned_agent_id.is_not(None),
        )
        .order_by(Conversation.id.desc())
        .limit(1)
    )


class NotEngageable(LookupError):
    """The post does not exist or is not a captured post (spam, private, queued)."""


async def engage(db: AsyncSession, post_id: int, *, actor: str) -> int:
    """A captured post goes to the service queue: its conversation's id. Exactly one
    conversation however many people click at once: the state moves listening/ignored →
    engaged in one conditional UPDATE, and only the caller whose UPDATE changed the row opens
    the conversation (the others wait on the row lock, then read the winner's id). The
    caller commits."""
    claimed = await db.execute(
        update(SocialPost)
        .where(SocialPost.id == post_id, SocialPost.state.in_((LISTENING, IGNORED)))
        .values(state=ENGAGED)
    )
    row = await db.scalar(
        select(SocialPost).where(SocialPost.id == post_id).execution_options(populate_existing=True)
    )
    if row is None:
        raise NotEngageable(f"no social post {post_id}")
    if not claimed.rowcount:
        if row.conversation_id is not None and row.state in (ENGAGED, QUEUED):
            return row.conversation_id
        raise NotEngageable(f"post {post_id} is {row.state}, not a captured post")
    row.conversation_id = await _to_conversation(db, row, row.text, actor=actor)
    await db.flush()
    log.info("social_engaged", post_id=post_id, actor=actor, conversation_id=row.conversation_id)
    return row.conversation_id


async def ignore(db: AsyncSession, post_id: int, *, actor: str) -> bool:
    """A captured post nobody will answer; False when it is not a listening post any more."""
    done = await db.execute(
        update(SocialPost)
        .where(SocialPost.id == post_id, SocialPost.state == LISTENING)
        .values(state=IGNORED)
    )
    log.info("social_ignored", post_id=post_id, actor=actor, changed=bool(done.rowcount))
    return bool(done.rowcount)


async def recent_posts(
    db: AsyncSession, *, since: datetime, platform: str | None = None
) -> list[SocialPost]:
    """Posts received since ``since``, oldest first (the crisis desk's stream); deleted and
    spam posts included: callers filter on ``deleted`` / ``spam`` as they need."""
    query = select(SocialPost).where(SocialPost.received_at >= since)
    if platform is not None:
        query = query.where(SocialPost.platform == platform)
    return list((await db.scalars(query.order_by(SocialPost.id))).all())
