"""Web chat banner campaigns (kefu.crosssell.campaigns.banner): who is shown the offer when
they open the widget — never the hold-out, an opted-out customer, a customer past the
marketing caps or a campaign that is not running; once per visit; a dismissal is final; a click
twice counts once; two widget loads at once record one impression (PostgreSQL) — and the
report's impressions, clicks, declines and conversions."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from kefu.bank.synthetic.adapter import SyntheticBank
from kefu.crosssell.campaigns import arms, banner, service
from kefu.crosssell.campaigns.segment import Segment
from kefu.crosssell.models import BannerImpression, Campaign, CampaignMember, OfferOutcome
from kefu.db.engine import make_engine, make_sessionmaker
from kefu.outbound import consent
from kefu.outbound.models import OptOut, SmsTemplate
from kefu.outbound.settings import Caps, SmsPolicySettings
from tests.conftest import seed_sync
from tests.crosssell.test_campaigns import NOON, OpeningBank, _bind

pytestmark = pytest.mark.db

PRODUCT = "INS-ACC"  # the same product OpeningBank plants openings of
TEXT = "<script>alert(1)</script>{product}限时优惠"
# One showing a day, three a week: the governed outbound's marketing caps.
POLICY = SmsPolicySettings(caps={"marketing": Caps(per_day=1, per_week=3)})


async def _start(url: str, *, channel: str = "webchat") -> tuple[int, list[tuple[str, str]]]:
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    bank = SyntheticBank(engine)
    try:
        async with sessions() as db, db.begin():
            bound = await _bind(db, bank)
            for _, phone in bound[1:]:  # the first customer never consented to marketing
                await consent.give(db, phone=phone, source="branch", actor="test")
            db.add(SmsTemplate(name="cs-banner", kind="marketing", body=TEXT,
                               status="approved", created_by="a", updated_by="a"))  # fmt: skip
            campaign = await service.create(
                db, name="横幅", product_code=PRODUCT, template_name="cs-banner", sub_code="77",
                segment=Segment(), actor="t", channel=channel, holdout_share=0.3, seed=3,
                cost_per_message=0.0,
            )  # fmt: skip
        async with sessions() as db, db.begin():
            # Midnight in Shanghai: quiet hours for SMS, not for a banner shown in a chat.
            started = await service.start(db, bank, campaign.id,
                                          service.Sending(outbox=None, policy=POLICY),
                                          actor="t", now=NOON + timedelta(hours=12))  # fmt: skip
        assert started.queued > 3 and started.holdout > 0
        assert started.refused.get("consent") == (1 if _treated(bound[0][0]) else None)
        return campaign.id, bound
    finally:
        await engine.dispose()


def _treated(customer_no: str) -> bool:
    return arms.arm(3, customer_no, 0.3)[0] == arms.TREATED


async def _members(sessions, campaign_id: int) -> dict[str, CampaignMember]:  # type: ignore[no-untyped-def]
    async with sessions() as db:
        rows = await db.scalars(select(CampaignMember).where(
            CampaignMember.campaign_id == campaign_id))  # fmt: skip
        return {m.customer_no: m for m in rows}


async def _count(sessions, model, *where) -> int:  # type: ignore[no-untyped-def]
    async with sessions() as db:
        return int(await db.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def _show(sessions, customer_no: str, visit: str, now=NOON, policy=POLICY):  # type: ignore[no-untyped-def]
    async with sessions() as db, db.begin():
        return await banner.show(db, customer_no, visit, policy, now=now)


async def _respond(sessions, customer_no: str, visit: str, offer_id: str, action: str) -> bool:  # type: ignore[no-untyped-def]
    async with sessions() as db, db.begin():
        return await banner.respond(db, customer_no, visit, offer_id, action, now=NOON)  # type: ignore[arg-type]


async def _rules(url: str) -> None:
    campaign_id, bound = await _start(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    try:
        members = await _members(sessions, campaign_id)
        eligible = sorted(no for no, m in members.items() if m.state == "eligible")
        held_out = sorted(no for no, m in members.items() if m.arm == arms.HOLDOUT)
        assert all(m.state == "held_out" for no, m in members.items() if no in held_out)
        assert len(eligible) >= 4 and held_out
        first, capped, clicker, decliner = eligible[:4]

        # A hold-out member never sees it; nor a customer who is no member at all.
        assert await _show(sessions, held_out[0], "v-h") is None
        assert await _show(sessions, "C9999999999", "v-x") is None

        # Shown: the approved text as rendered at start (not escaped here: the widget puts it
        # in as text) and the product's disclosure; one impression however often the same
        # visit asks (a reload).
        offer = await _show(sessions, first, "v-1")
        assert offer is not None and offer.id == str(campaign_id)
        assert offer.text.startswith("<script>alert(1)</script>") and "意外" in offer.text
        assert offer.disclosure
        again = await _show(sessions, first, "v-1", now=NOON + timedelta(hours=2))
        assert again is not None and again.id == offer.id
        assert await _count(sessions, BannerImpression, BannerImpression.customer_no == first) == 1

        # The caps: one showing a day — a second visit the same day sees nothing; the next day
        # it is shown again; three in 7 days and no more.
        assert await _show(sessions, capped, "v-c1") is not None
        assert await _show(sessions, capped, "v-c2", now=NOON + timedelta(hours=1)) is None
        for day in (1, 2):
            assert await _show(sessions, capped, f"v-d{day}", now=NOON + timedelta(days=day))
        assert await _show(sessions, capped, "v-d3", now=NOON + timedelta(days=3)) is None
        assert await _count(sessions, BannerImpression, BannerImpression.customer_no == capped) == 3

        # TD since the start: never shown again.
        td = eligible[4] if len(eligible) > 4 else None
        if td is not None:
            phone = dict(bound)[td]
            async with sessions() as db, db.begin():
                db.add(OptOut(kind="phone", value=phone, source="sms"))
            assert await _show(sessions, td, "v-td") is None

        # A click records interest once, however often clicked.
        assert await _show(sessions, clicker, "v-k") is not None
        assert not await _respond(sessions, clicker, "v-other", str(campaign_id), "click")
        assert not await _respond(sessions, clicker, "v-k", "999", "click")
        for _ in range(2):
            assert await _respond(sessions, clicker, "v-k", str(campaign_id), "click")
        interested = (OfferOutcome.customer_no == clicker, OfferOutcome.outcome == "interested")
        assert await _count(sessions, OfferOutcome, *interested) == 1
        # Clicked the next day again (another occasion for the outcome table): still once.
        assert await _show(sessions, clicker, "v-k2", now=NOON + timedelta(days=1)) is None

        # 不感兴趣: declined (the panel's outcome, once) and never shown again by this campaign.
        assert await _show(sessions, decliner, "v-n") is not None
        for _ in range(2):
            assert await _respond(sessions, decliner, "v-n", str(campaign_id), "dismiss")
        declined = (OfferOutcome.customer_no == decliner, OfferOutcome.outcome == "declined")
        assert await _count(sessions, OfferOutcome, *declined) == 1
        assert await _show(sessions, decliner, "v-n2", now=NOON + timedelta(days=1)) is None
        # A click after 不感兴趣 (not offered by the widget, sent anyway) changes nothing.
        assert await _respond(sessions, decliner, "v-n", str(campaign_id), "click")
        interest = (OfferOutcome.customer_no == decliner, OfferOutcome.outcome == "interested")
        assert await _count(sessions, OfferOutcome, *interest) == 0

        # The report: impressions (per visit), clicks, declines, and conversions by arm.
        opened = {first: NOON.date() + timedelta(days=3), held_out[0]: NOON.date()}
        async with sessions() as db, db.begin():
            campaign = await db.get(Campaign, campaign_id)
            assert campaign is not None
            bank = OpeningBank(SyntheticBank(engine), opened)
            assert await service.attribute(db, bank, campaign, now=NOON) == 2
        async with sessions() as db:
            campaign = await db.get(Campaign, campaign_id)
            assert campaign is not None
            report = await service.campaign_report(db, campaign)
        assert report.banner is not None
        figures = report.banner
        assert (figures.impressions, figures.shown_to, figures.clicks, figures.declines) == (
            6, 4, 1, 1)  # fmt: skip
        assert report.result is not None
        assert (report.result.treated_converted, report.result.holdout_converted) == (1, 1)
        assert report.money.messages == 6 and report.money.cost == 0

        # A campaign that is no longer running shows nothing.
        async with sessions() as db, db.begin():
            await db.execute(update(Campaign).where(Campaign.id == campaign_id)
                             .values(status="finished"))  # fmt: skip
        assert await _show(sessions, eligible[-1], "v-f", now=NOON + timedelta(days=6)) is None
    finally:
        await engine.dispose()


def test_banner_rules_clicks_declines_and_report(db_url: str) -> None:
    seed_sync(db_url, 20)
    asyncio.run(_rules(db_url))


async def _race(url: str) -> None:
    campaign_id, _ = await _start(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    try:
        members = await _members(sessions, campaign_id)
        one, two = sorted(no for no, m in members.items() if m.state == "eligible")[:2]
        desk = banner.Banners(sessions, POLICY)
        # The same visit loaded twice at once: one impression, both get the banner.
        shown = await asyncio.gather(*(desk.offer(one, "v-same") for _ in range(4)))
        assert all(s is not None for s in shown)
        assert await _count(sessions, BannerImpression, BannerImpression.customer_no == one) == 1
        # Two visits at once with one showing a day left: one of them sees it.
        shown = await asyncio.gather(*(desk.offer(two, f"v-{i}") for i in range(4)))
        assert sum(s is not None for s in shown) == 1
        assert await _count(sessions, BannerImpression, BannerImpression.customer_no == two) == 1
        # Two clicks at once: one interest.
        await asyncio.gather(*(desk.answer(one, "v-same", str(campaign_id), "click")
                               for _ in range(3)))  # fmt: skip
        assert await _count(sessions, OfferOutcome, OfferOutcome.customer_no == one) == 1
    finally:
        await engine.dispose()


def test_two_widget_loads_at_once_record_one_impression(db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("the row locks are PostgreSQL's; SQLite has one writer")
    seed_sync(db_url, 20)
    asyncio.run(_race(db_url))


async def _clicks_at_once(url: str) -> None:
    from kefu.conversations.models import Conversation
    from kefu.routing import intake
    from kefu.routing.models import RoutingTask

    campaign_id, _ = await _start(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    try:
        members = await _members(sessions, campaign_id)
        one = sorted(no for no, m in members.items() if m.state == "eligible")[0]
        desk = banner.Banners(sessions, POLICY)
        assert await desk.offer(one, "v-1") is not None
        leads: list[banner.Lead] = []

        async def hand_off(db, lead: banner.Lead) -> int:  # type: ignore[no-untyped-def]
            leads.append(lead)
            conversation, _ = await intake.open_conversation(
                db, channel="webchat", contact=f"c:{one}", text=lead.text, now=NOON,
                subject=lead.subject, customer_no=one, attributes=dict(lead.attributes))  # fmt: skip
            return conversation.id

        done = await asyncio.gather(*(desk.answer(one, "v-1", str(campaign_id), "click", hand_off)
                                      for _ in range(4)))  # fmt: skip
        assert done == [True] * 4 and len(leads) == 1
        assert leads[0].attributes["intent"] == banner.LEAD_INTENT  # INS-ACC: no sales queue
        assert await _count(sessions, Conversation, Conversation.contact == f"c:{one}") == 1
        assert await _count(sessions, RoutingTask) == 1
        assert await _count(sessions, OfferOutcome, OfferOutcome.customer_no == one,
                            OfferOutcome.conversation_id.is_not(None)) == 1  # fmt: skip
    finally:
        await engine.dispose()


def test_two_clicks_at_once_hand_over_once(db_url: str) -> None:
    seed_sync(db_url, 20)
    asyncio.run(_clicks_at_once(db_url))


def test_lead_routing_by_product_kind() -> None:
    assert [banner.lead_intent(c) for c in ("DEP1Y", "CD3Y", "WM-R2", "FUND-IDX", "INS-ACC")] == [
        "deposit", "deposit", "wealth", "fund", None]  # fmt: skip


def test_click_rate_is_per_customer_shown() -> None:
    figures = service.BannerFigures(impressions=10, shown_to=4, clicks=1, declines=0)
    assert figures.click_rate == pytest.approx(0.25)
    assert service.BannerFigures(0, 0, 0, 0).click_rate == 0.0


async def _demo(url: str) -> None:
    from kefu.crosssell.demo import DEMO_BANNER_CAMPAIGN, DEMO_BANNER_VISITOR
    from kefu.demo import ensure_demo_data

    await ensure_demo_data(url)
    await ensure_demo_data(url)  # a second start finds it: one campaign
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    try:
        async with sessions() as db:
            campaigns = (await db.scalars(select(Campaign).where(
                Campaign.name == DEMO_BANNER_CAMPAIGN))).all()  # fmt: skip
            assert len(campaigns) == 1 and campaigns[0].status == "running"
            report = await service.campaign_report(db, campaigns[0])
        assert report.banner is not None and report.result is not None
        assert report.banner.impressions > report.banner.shown_to > report.banner.clicks > 0
        assert report.result.treated_converted > 0
        # The simulated clicks and dismissals went through the real click's function: each is
        # an outcome in crosssell_outcomes (the table the models and reports read), once.
        async with sessions() as db:
            members = (await db.scalars(select(CampaignMember).where(
                CampaignMember.campaign_id == campaigns[0].id))).all()  # fmt: skip
            for reply in ("interested", "declined"):
                who = {m.customer_no for m in members if m.reply == reply}
                recorded = (await db.scalars(select(OfferOutcome.customer_no).where(
                    OfferOutcome.product_code == campaigns[0].product_code,
                    OfferOutcome.outcome == reply,
                    OfferOutcome.customer_no.in_([m.customer_no for m in members])))).all()  # fmt: skip
                assert who and sorted(recorded) == sorted(who), reply
        assert report.banner.clicks == sum(m.reply == "interested" for m in members)
        # The demo's web chat visitor is a treated member not shown it yet: they see it.
        offer = await _show(sessions, DEMO_BANNER_VISITOR, "demo-visit", now=None)
        assert offer is not None and "一年定期" in offer.text and offer.disclosure
    finally:
        await engine.dispose()


def test_demo_has_a_running_banner_campaign_its_web_chat_visitor_sees(db_url: str) -> None:
    seed_sync(db_url, 50)
    asyncio.run(_demo(db_url))


async def _approved_template(url: str) -> None:
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as db, db.begin():
            db.add(SmsTemplate(name="cs-web", kind="marketing", body=TEXT, status="approved",
                               created_by="a", updated_by="a"))  # fmt: skip
    finally:
        await engine.dispose()


def test_banner_campaign_pages(client, seeded_url: str) -> None:  # type: ignore[no-untyped-def]
    import re

    from tests.conftest import CSRF, login

    asyncio.run(_approved_template(seeded_url))
    login(client, "supervisor")
    page = client.get("/crosssell/campaigns")
    csrf = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
    made = client.post("/crosssell/campaigns", follow_redirects=False, data={
        "csrf": csrf, "name": "网页横幅测试", "product_code": "INS-ACC", "template_name": "cs-web",
        "sub_code": "8802", "channel": "webchat"})  # fmt: skip
    assert made.status_code == 303, made.text
    started = client.post(f"{made.headers['location']}/start", data={"csrf": csrf})
    assert started.status_code == 200, started.text
    assert re.search(r"待展示网页横幅 \d+ 人", started.text)
    # The template's markup is text on the page too.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in started.text
    assert "<script>alert(1)" not in started.text
    # The demo's running banner campaign: its report counts the banner's reach.
    listing = client.get("/crosssell/campaigns")
    demo = re.search(r'href="(/crosssell/campaigns/\d+)">一年定存网页横幅', listing.text)
    assert demo is not None
    report = client.get(demo.group(1)).text
    assert re.search(r"展示 [1-9]\d* 次（[1-9]\d* 位客户）；点击 \d+ 位", report)
    assert 'data-testid="campaign-uplift"' in report
