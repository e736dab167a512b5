"""The social desk's pipeline route: public posts taken and stored, private ones recorded and
left to the pipeline, captured posts kept only when a listening rule matches."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.conversations.models import Conversation
from kefu.messaging.contract import InboundMessage
from kefu.social import listening
from kefu.social.models import ListeningRule, SocialPost
from kefu.social.route import to_social_desk
from kefu.social.service import BadPost
from tests.social.store_support import FRAUD, POSTED, session

pytestmark = pytest.mark.db
__all__ = ["session"]


def message(public: bool = True, kind: str = "mention", text: str = FRAUD,
            external_id: str = "m1", **social: Any) -> InboundMessage:  # fmt: skip
    meta = {"platform": "weibo", "kind": kind, "external_id": external_id,
            "posted_at": POSTED.isoformat(), "url": "https://weibo.com/1/m1",
            "author": {"uid": "u7", "name": "小李", "followers": "300", "verified_type": 0},
            "reposts": 2, "comments": 1, "likes": 5, **social}  # fmt: skip
    return InboundMessage(channel="weibo", account="cmb", sender="u7", text=text,
                          identity_kind="weibo_uid", external_id=external_id,
                          metadata={"public": public, "social": meta})  # fmt: skip


async def posts(db: AsyncSession) -> list[SocialPost]:
    return list((await db.scalars(select(SocialPost).order_by(SocialPost.id))).all())


async def test_a_public_mention_is_taken_and_queued(session: AsyncSession) -> None:
    routed = await to_social_desk(session, message())
    assert routed is not None and routed.route == "social"
    assert routed.meta["state"] == "queued" and routed.meta["conversation_id"]
    [row] = await posts(session)
    assert (row.author_followers, row.author_verified_type, row.likes) == (300, 0, 5)
    assert row.account == "cmb" and row.url == "https://weibo.com/1/m1"


async def test_a_private_message_is_recorded_and_left_to_the_pipeline(
    session: AsyncSession,
) -> None:
    assert await to_social_desk(session, message(public=False, kind="dm")) is None
    [row] = await posts(session)
    assert (row.kind, row.state) == ("dm", "private")
    assert await session.scalar(select(func.count()).select_from(Conversation)) == 0


async def test_messages_without_social_metadata_are_not_taken(session: AsyncSession) -> None:
    plain = InboundMessage(channel="sms", account="", sender="13800000000", text="查账单",
                           metadata={"public": True})  # fmt: skip
    assert await to_social_desk(session, plain) is None
    assert await posts(session) == []


async def test_captured_posts_need_a_matching_active_rule(session: AsyncSession) -> None:
    rule = ListeningRule(name="品牌", include_terms=["招商银行"], exclude_terms=["招聘"])
    session.add(rule)
    await session.flush()
    before = listening.DROPPED["weibo"]
    dropped = await to_social_desk(session, message(kind="listening", text="招商银行招聘啦"))
    assert dropped is not None and dropped.meta["state"] == "dropped"
    assert listening.DROPPED["weibo"] == before + 1
    assert await posts(session) == []  # not stored
    kept = await to_social_desk(
        session, message(kind="listening", text="招商银行的卡被盗刷", external_id="m2")
    )
    assert kept is not None and kept.meta["state"] == "listening"
    [row] = await posts(session)
    assert row.captured_by == rule.id and row.conversation_id is None


@pytest.mark.parametrize(
    ("social", "field"),
    [
        ({"posted_at": "yesterday"}, "social.posted_at"),
        ({"posted_at": "2026-11-30T10:00:00"}, "time zone"),
        ({"likes": "many"}, "social.likes"),
        ({"author": "u7"}, "social.author"),
        ({"kind": "story"}, "kind 'story'"),
    ],
)
async def test_malformed_social_metadata_names_the_field(
    session: AsyncSession, social: dict[str, Any], field: str
) -> None:
    with pytest.raises(BadPost, match=field):
        await to_social_desk(session, message(**social))
