"""Listening on Weibo against the simulator's commercial search: a rule's term finds posts not
addressed to the bank and the social desk keeps them as listening; posts no rule wants are
dropped; the per-term checkpoint survives a restart; a post found twice or already received as
a mention is stored once; rate limits and the hourly share are respected."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from kefu.bank.synthetic.adapter import SyntheticBank
from kefu.channels.weibo.listening import MAX_SEARCH_PAGES, Listener, stream_name
from kefu.channels.weibo.models import ReceivedState, WeiboCheckpoint
from kefu.channels.weibo.runtime import build
from kefu.channels.weibo.simulator.state import Fault
from kefu.conversations.models import Conversation
from kefu.db.engine import make_engine, make_sessionmaker
from kefu.runtime import listening_terms, make_pipeline
from kefu.social import listening as social_listening
from kefu.social.models import ListeningRule, SocialPost
from tests.channels.weibo.harness import Rig, rig, running

pytestmark = pytest.mark.db
SEARCH = "/2/search/statuses/limited.json"


@contextlib.asynccontextmanager
async def listening_rig(db_url: str, **account: Any) -> AsyncIterator[Rig]:
    """The harness's rig, its channel rebuilt as the composition root builds it: the real
    pipeline (the social desk's route) and the listening terms from the rules."""
    account.setdefault("search_interval", 300)
    async with rig(db_url, **account) as r:
        engine = make_engine(db_url)
        await r.runtime.stop()
        r.runtime = rebuild(r, make_pipeline(SyntheticBank(engine)))
        try:
            await r.authorise()
            yield r
        finally:
            await engine.dispose()


def rebuild(r: Rig, pipeline: Any) -> Any:
    async def no_sleep(seconds: float) -> None:
        r.slept.append(seconds)

    return build([r.account], r.sessionmaker, pipeline, timeout=5, sleep=no_sleep,
                 jitter=lambda: 0.5, listening_terms=listening_terms(r.sessionmaker))  # fmt: skip


def listener(r: Rig) -> Listener:
    assert r.runtime.listener is not None
    return r.runtime.listener


async def listen(r: Rig) -> float:
    return await listener(r).poll_once(r.account)


async def add_rule(r: Rig, include: list[str], exclude: list[str] = (), **extra: Any) -> int:  # type: ignore[assignment]
    async with r.sessionmaker() as db:
        rule = ListeningRule(name="品牌", include_terms=include, exclude_terms=list(exclude),
                             platforms=extra.get("platforms", []), active=True,
                             created_by="test")  # fmt: skip
        db.add(rule)
        await db.commit()
        return rule.id


async def social_posts(r: Rig) -> list[SocialPost]:
    async with r.sessionmaker() as db:
        return list((await db.scalars(select(SocialPost).order_by(SocialPost.id))).all())


async def test_a_rules_term_finds_posts_not_addressed_to_the_bank(seeded_url: str) -> None:
    async with listening_rig(seeded_url) as r:
        rule_id = await add_rule(r, ["信用卡"])
        fan = r.user("路人乙", followers_count=12000, verified_type=0)
        found = r.state.add_status(fan.id, "某行的信用卡年费又涨了，真坑")
        r.state.add_status(fan.id, "今天天气不错")  # no term
        own = r.state.add_status(r.state.official.id, "信用卡新春活动开始啦")  # the bank's
        assert await listen(r) == r.account.search_interval
        [row] = await r.received()
        assert (row.kind, row.external_id, row.state) == ("listening", str(found.id),
                                                          ReceivedState.HANDLED)  # fmt: skip
        assert row.conversation_id is None
        [post] = await social_posts(r)
        assert (post.kind, post.state, post.captured_by) == ("listening", "listening", rule_id)
        assert post.external_id == str(found.id) and post.author_followers == 12000
        assert post.url == f"https://weibo.com/{fan.id}/{found.id}"
        # Kept apart from the service queue: no conversation was opened for it.
        assert await r.count(Conversation, Conversation.contact == str(fan.id)) == 0
        # The checkpoint is the term's stream; another round finds nothing new.
        async with r.sessionmaker() as db:
            cp = await db.get(WeiboCheckpoint, ("bank", stream_name("信用卡")))
        assert cp is not None and int(cp.since_id) == own.id  # the newest id seen
        await listen(r)
        assert len(await r.received()) == 1 and len(await social_posts(r)) == 1


async def test_a_found_post_no_active_rule_wants_is_dropped(seeded_url: str) -> None:
    async with listening_rig(seeded_url) as r:
        await add_rule(r, ["信用卡"], ["广告"])
        fan = r.user()
        advert = r.state.add_status(fan.id, "信用卡代办广告，加微信")
        before = social_listening.DROPPED["weibo"]
        await listen(r)
        [row] = await r.received()  # stored once by the channel, handed on ...
        assert row.external_id == str(advert.id) and row.state == ReceivedState.HANDLED
        assert await social_posts(r) == []  # ... and the desk dropped it
        assert social_listening.DROPPED["weibo"] == before + 1


async def test_no_active_rule_means_no_search(seeded_url: str) -> None:
    async with listening_rig(seeded_url) as r:
        rule_id = await add_rule(r, ["信用卡"])
        async with r.sessionmaker() as db:
            (await db.get(ListeningRule, rule_id)).active = False  # type: ignore[union-attr]
            await db.commit()
        r.state.add_status(r.user().id, "信用卡")
        assert await listen(r) == r.account.search_interval
        assert listener(r).reads["bank"] == 0 and await r.received() == []


async def test_the_terms_checkpoint_survives_a_restart(seeded_url: str) -> None:
    async with listening_rig(seeded_url, page_size=5) as r:
        await add_rule(r, ["网银"])
        fan = r.user()
        created = [r.state.add_status(fan.id, f"第{i}次网银登录失败") for i in range(12)]
        # Page 1 comes back, page 2 fails: the process "dies" there.
        r.state.faults[SEARCH] = [Fault(), Fault(http_status=502)]
        assert await listen(r) < r.account.search_interval  # backing off
        assert len(await r.received()) == 5
        async with r.sessionmaker() as db:
            cp = await db.get(WeiboCheckpoint, ("bank", stream_name("网银")))
        assert cp.since_id == "0" and cp.catchup_max_id is not None
        assert cp.status == "ok"
        # A new process over the same database resumes the catch-up.
        pipeline = r.runtime.intake.pipeline
        await r.runtime.stop()
        r.runtime = rebuild(r, pipeline)
        late = r.state.add_status(fan.id, "网银又登录失败")
        assert await listen(r) == r.account.search_interval
        rows = await r.received()
        assert sorted(int(x.external_id) for x in rows) == [s.id for s in [*created, late]]
        assert all(x.state == ReceivedState.HANDLED for x in rows)
        assert sorted(int(p.external_id) for p in await social_posts(r)) == [
            s.id for s in [*created, late]
        ]
        async with r.sessionmaker() as db:
            cp = await db.get(WeiboCheckpoint, ("bank", stream_name("网银")))
        assert int(cp.since_id) == late.id and cp.catchup_max_id is None


async def test_a_post_found_by_two_terms_is_stored_once(seeded_url: str) -> None:
    async with listening_rig(seeded_url) as r:
        first = await add_rule(r, ["信用卡"])
        await add_rule(r, ["盗刷"])
        post = r.state.add_status(r.user().id, "信用卡被盗刷了，银行说不管")
        await listen(r)
        assert listener(r).reads["bank"] == 2  # both terms were searched
        [row] = await r.received()
        assert row.external_id == str(post.id)
        [kept] = await social_posts(r)
        assert kept.captured_by == first  # the oldest matching rule


@pytest.mark.parametrize("listen_first", [True, False])
async def test_a_mention_is_not_stored_again_as_listening(
    seeded_url: str, listen_first: bool
) -> None:
    async with listening_rig(seeded_url) as r:
        await add_rule(r, ["信用卡"])
        fan = r.user()
        mention = r.mention(fan, "信用卡被盗刷了怎么办")
        if listen_first:
            await listen(r)
            await r.poll()
        else:
            await r.poll()
            await listen(r)
        [row] = await r.received()
        assert (row.kind, row.external_id) == ("mention", str(mention.id))
        [post] = await social_posts(r)
        # In the service queue, with a conversation — not captured as listening.
        assert (post.kind, post.state) == ("mention", "queued") and post.conversation_id


async def test_a_mention_stored_earlier_is_not_taken_again(seeded_url: str) -> None:
    """A post kept as a mention (the account was renamed since, so the text no longer names
    it) is not stored a second time when the search finds it."""
    async with listening_rig(seeded_url) as r:
        await add_rule(r, ["信用卡"])
        r.mention(r.user(), "信用卡被盗刷了怎么办")
        await r.poll()
        r.account = r.account.model_copy(update={"screen_name": "改名后的银行"})
        await listen(r)
        assert [x.kind for x in await r.received()] == ["mention"]


async def test_rate_limit_waits_for_the_reset_then_resumes_with_the_refused_term(
    seeded_url: str,
) -> None:
    async with listening_rig(seeded_url) as r:
        await add_rule(r, ["信用卡", "理财"])
        fan = r.user()
        card = r.state.add_status(fan.id, "信用卡额度太低")
        fund = r.state.add_status(fan.id, "理财产品亏了")
        r.state.limits["read"] = 1  # one search this hour: the second term is refused
        delay = await listen(r)
        reset = 3600 - r.state.now() % 3600
        assert reset - 5 <= delay <= reset + 5
        assert [x.external_id for x in await r.received()] == [str(card.id)]
        async with r.sessionmaker() as db:
            cp = await db.get(WeiboCheckpoint, ("bank", stream_name("信用卡")))
        assert cp.status == "waiting" and "rate limit" in cp.detail
        r.state.advance(reset + 1)  # the next clock hour: the refused term comes first
        next_reset = 3600 - r.state.now() % 3600
        assert await listen(r) == pytest.approx(next_reset, abs=5)  # one read, refused again
        assert {x.external_id for x in await r.received()} == {str(card.id), str(fund.id)}
        assert len(await social_posts(r)) == 2


async def test_many_terms_stretch_the_rounds_within_the_hourly_share(seeded_url: str) -> None:
    async with listening_rig(seeded_url, search_reads_per_hour=2, search_interval=60) as r:
        await add_rule(r, ["信用卡", "理财", "网银"])
        fan = r.user()
        posts = [r.state.add_status(fan.id, t) for t in ("信用卡", "理财", "网银")]
        # Two calls this round (the hour's share), worth an hour at 2 an hour.
        assert await listen(r) == pytest.approx(3600)
        assert listener(r).reads["bank"] == 2
        assert len(await r.received()) == 2
        # The next round starts with the term left out.
        await listen(r)
        assert {x.external_id for x in await r.received()} == {str(p.id) for p in posts}


async def test_a_busy_term_pages_at_most_a_few_pages_a_round(seeded_url: str) -> None:
    async with listening_rig(seeded_url, page_size=2) as r:
        await add_rule(r, ["贷款"])
        fan = r.user()
        created = [r.state.add_status(fan.id, f"贷款{i}") for i in range(2 * MAX_SEARCH_PAGES + 3)]
        await listen(r)
        assert listener(r).reads["bank"] == MAX_SEARCH_PAGES
        assert len(await r.received()) == 2 * MAX_SEARCH_PAGES
        await listen(r)  # the catch-up goes on from its stored max_id
        assert sorted(int(x.external_id) for x in await r.received()) == [c.id for c in created]


async def test_without_terms_offered_the_channel_does_not_search(seeded_url: str) -> None:
    async with rig(seeded_url) as r:
        assert r.runtime.listener is None


async def test_the_composition_root_offers_the_active_terms(seeded_url: str) -> None:
    async with listening_rig(seeded_url) as r:
        await add_rule(r, ["招商銀行", "CMB"], ["招聘"])
        await add_rule(r, ["抖音专用"], platforms=["douyin"])
        assert await listening_terms(r.sessionmaker)("weibo") == ["招商银行", "cmb"]


async def test_search_results_without_an_id_or_user_are_kept_as_failed(seeded_url: str) -> None:
    async with listening_rig(seeded_url) as r:
        await add_rule(r, ["信用卡"])
        post = r.state.add_status(r.user().id, "信用卡还款日能改吗")
        answer = {"statuses": [{"id": post.id, "idstr": str(post.id), "text": post.text}],
                  "total_number": 1}  # fmt: skip

        async def broken(*args: Any, **kwargs: Any) -> list[dict[str, Any]]:
            return answer["statuses"]  # type: ignore[return-value]

        listener(r).apis["bank"].search = broken  # type: ignore[method-assign]
        await listen(r)
        [row] = await r.received()
        assert (row.kind, row.state) == ("listening", ReceivedState.FAILED)
        assert "user" in (row.error or "")


async def test_the_app_starts_the_search_with_the_rules_terms(seeded_url: str) -> None:
    """kefu serve's path: the composition root offers the terms, the channel's start reads
    them from ctx.services and starts the listener."""
    async with running(seeded_url) as k:
        listener = k.runtime.listener
        assert listener is not None and listener._tasks  # started beside the poller
        engine = make_engine(seeded_url)
        try:
            async with make_sessionmaker(engine)() as db:
                db.add(ListeningRule(name="品牌", include_terms=["信用卡"], created_by="test"))
                await db.commit()
        finally:
            await engine.dispose()
        assert await listener.terms("weibo") == ["信用卡"]
