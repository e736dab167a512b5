"""The social webhook at work: a verified request's posts go through the message pipeline's
route (``kefu.social.route``, as Weibo's posts do) in one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kefu.channels.social.config import SocialSource
from kefu.channels.social.mapping import load_mapping
from kefu.db.engine import session_scope
from kefu.logs import get_logger
from kefu.messaging.contract import InboundMessage
from kefu.messaging.pipeline import Pipeline
from kefu.vocabulary import Channel, IdentityKind

log = get_logger(__name__)


class NotTaken(RuntimeError):
    """The pipeline had no route for a post: the social desk is not in this pipeline."""


def inbound(source: SocialSource, post: dict[str, Any]) -> InboundMessage:
    """One mapped post as the message contract's InboundMessage (docs/channels/social.md).

    Every post of a generic source is public to kefu: these sources have no reply API kefu
    drives, so nothing may be answered by self-service; a platform's private message becomes
    a conversation for an agent like a mention does.
    """
    platform = source.platform or post["platform"]
    author = post["author"]
    social = {**{k: v for k, v in post.items() if k != "text"}, "platform": platform}
    return InboundMessage(
        channel=Channel.SOCIAL.value, account=source.account or source.name,
        sender=f"{platform}:{author['uid']}", text=post["text"],
        identity_kind=IdentityKind.SOCIAL_UID.value, external_id=post["external_id"],
        metadata={"public": True, "social": social, "source": source.name},
    )  # fmt: skip


@dataclass
class SocialHooks:
    sources: dict[str, SocialSource]
    sessionmaker: async_sessionmaker[AsyncSession]
    pipeline: Pipeline

    def mapped(self, source: SocialSource, document: Any) -> list[InboundMessage]:
        mapping = load_mapping(source.mapping)
        return [inbound(source, post) for post in mapping.posts(document)]

    async def take(self, messages: list[InboundMessage]) -> list[dict[str, Any]]:
        """Routes every message in one transaction (all stored or none) and says what became
        of each."""
        results = []
        async with session_scope(self.sessionmaker) as db:
            for message in messages:
                routed = await self.pipeline.route(db, message)
                if routed is None:
                    raise NotTaken(f"no route took {message.external_id}")
                results.append({"external_id": message.external_id, **routed.meta})
        return results
