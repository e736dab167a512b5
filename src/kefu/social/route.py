"""The social desk's route of the message pipeline (``kefu.messaging.routes``).

Public posts (@mentions, comments, captured posts; ``metadata["public"]`` True with a
``metadata["social"]`` dict) are never answered by self-service in public: this route takes
them, stores and analyses them (``kefu.social.service.ingest``), and the service queue or
listening gets them. Private messages (私信, ``public`` False) are not taken — the pipeline's
bot may answer general questions there as on any private channel — but they are recorded as
``social_posts`` of kind dm (state "private") first, so that per-platform volume, sentiment
and the crisis desk's topic streams see every post the bank received, not only public ones.

Captured posts (kind "listening") are kept only when an active listening rule matches them
(the search API returns more than the rules want); the rest are dropped, counted in
``kefu.social.listening.DROPPED``, and never stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kefu.logs import get_logger
from kefu.messaging.contract import InboundMessage
from kefu.messaging.routes import Routed
from kefu.social import listening, service
from kefu.social.analysis import Author
from kefu.social.service import BadPost, IncomingPost

log = get_logger(__name__)

ROUTE = "social"


def _int(value: Any, name: str) -> int:
    if value is None or value == "":
        return 0
    try:
        return int(value)
    except (TypeError, ValueError):
        raise BadPost(f"{name} {value!r} is not a whole number") from None


def incoming_post(message: InboundMessage) -> IncomingPost:
    """The post a social InboundMessage carries (``metadata["social"]``, see
    docs/channels/social.md); BadPost naming the field when it is malformed."""
    social = message.metadata.get("social")
    if not isinstance(social, Mapping):
        raise BadPost("metadata.social is missing")
    author = social.get("author") or {}
    if not isinstance(author, Mapping):
        raise BadPost("social.author is not an object")
    posted = social.get("posted_at")
    try:
        posted_at = (
            datetime.fromisoformat(str(posted)) if posted not in (None, "") else message.received_at
        )
    except ValueError:
        raise BadPost(f"social.posted_at {posted!r} is not an ISO 8601 time") from None
    if posted_at.tzinfo is None:
        raise BadPost("social.posted_at has no time zone")
    return IncomingPost(
        platform=str(social.get("platform") or message.channel),
        account=message.account,
        external_id=str(social.get("external_id") or message.external_id or ""),
        kind=str(social.get("kind") or ""),
        text=message.text,
        author=Author(
            uid=str(author.get("uid") or ""),
            name=str(author.get("name") or ""),
            followers=_int(author.get("followers"), "social.author.followers"),
            verified_type=_int(author.get("verified_type", -1), "social.author.verified_type"),
        ),
        posted_at=posted_at,
        url=str(social.get("url") or ""),
        parent_external_id=(
            str(social["parent_external_id"]) if social.get("parent_external_id") else None
        ),
        reposts=_int(social.get("reposts"), "social.reposts"),
        comments=_int(social.get("comments"), "social.comments"),
        likes=_int(social.get("likes"), "social.likes"),
        deleted=bool(social.get("deleted", False)),
    )


async def to_social_desk(db: AsyncSession, message: InboundMessage) -> Routed | None:
    if "social" not in message.metadata:
        return None
    post = incoming_post(message)
    if not message.metadata.get("public", False):
        await service.record_private(db, post)
        return None  # the pipeline answers 私信 like any private message
    if post.kind == "listening":
        rule = await listening.capturing_rule(db, post.text, post.platform)
        if rule is None:
            listening.DROPPED[post.platform] += 1
            log.info("social_listening_dropped", platform=post.platform,
                     external_id=post.external_id)  # fmt: skip
            return Routed(ROUTE, {"state": "dropped", "reason": "no listening rule"})
        post = replace(post, captured_by=rule.id)
    row = await service.ingest(db, post)
    return Routed(
        ROUTE,
        {"post_id": row.id, "state": row.state, "conversation_id": row.conversation_id},
    )
