"""WeChat template campaigns against the WeChat API simulator on real loopback sockets, through
the WeChat channel's own outbound (the running app's): a member without a bound openid is
counted as not reachable, a WeChat opt-out (TD in WeChat) and the marketing caps hold, the
hold-out gets nothing, two senders at once send each member exactly once, and WeChat's errors
(43004 unsubscribed, 40001 token) are recorded on the member."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from kefu.bank.synthetic.adapter import SyntheticBank
from kefu.crosssell.campaigns import arms, service, wechat
from kefu.crosssell.campaigns.segment import Segment
from kefu.crosssell.models import Campaign, CampaignMember
from kefu.db.engine import make_engine, make_sessionmaker
from kefu.identity.models import ChannelIdentity, Customer
from kefu.outbound import consent
from kefu.outbound.models import OptOut, SmsTemplate
from kefu.outbound.settings import Caps, SmsPolicySettings
from tests.channels.wechat.harness import APP_ID, TEMPLATES, account, running
from tests.crosssell.test_campaigns import _bind

pytestmark = pytest.mark.db

SEED, HOLDOUT = 5, 0.25
BOUND = 12  # customers 1..12 follow the account with a bound openid; 13..20 do not
UNFOLLOWED = 12  # customer 12 unsubscribed from the account since binding: WeChat says 43004
OPTED_OUT = 3  # customer 3 replied TD in WeChat


def _no(i: int) -> str:
    return f"C{i:010d}"


async def _prepare(url: str) -> None:
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as db, db.begin():
            bound = await _bind(db, SyntheticBank(engine))
            for _, phone in bound:
                await consent.give(db, phone=phone, source="branch", actor="test")
            for i in range(1, BOUND + 1):
                customer = await db.scalar(select(Customer).where(
                    Customer.bank_customer_no == _no(i)))  # fmt: skip
                assert customer is not None
                db.add(ChannelIdentity(kind="wechat_openid", value=f"o-c{i}",
                                       customer_id=customer.id))  # fmt: skip
            db.add(OptOut(kind="wechat_openid", value=f"o-c{OPTED_OUT}", source="wechat"))
            db.add(SmsTemplate(name="cs-wx", kind="marketing", body="{product}限时优惠，详询客服",
                               status="approved", created_by="a", updated_by="a"))  # fmt: skip
            for n, code in enumerate(("INS-ACC", "DEP3M", "LOAN-CAR")):
                await service.create(db, name=f"wx-{code}", product_code=code, channel="wechat",
                                     template_name="cs-wx", sub_code=f"6{n}", segment=Segment(),
                                     actor="t", holdout_share=HOLDOUT, seed=SEED)  # fmt: skip
    finally:
        await engine.dispose()


async def _scenario(url: str) -> None:
    wx = account().model_copy(update={"templates": TEMPLATES | {"marketing": "TPL-MKT"}})
    async with running(url, accounts=[wx]) as kefu:
        for i in range(1, BOUND + 1):
            kefu.sim.interacted(APP_ID, f"o-c{i}", subscribed=i != UNFOLLOWED)
        sender = kefu.app.state.wechat_runtime.outbound
        sessions = kefu.app.state.sessionmaker
        bank = kefu.app.state.bank
        policy = SmsPolicySettings(send_hours={})  # no quiet hours: the real clock is used
        sending = service.Sending(outbox=None, policy=policy, wechat=sender)
        ids = {c.product_code: c.id for c in await _campaigns(sessions)}

        async def start(code: str, how: service.Sending = sending) -> service.Started:
            async with sessions() as db, db.begin():
                return await service.start(db, bank, ids[code], how, actor="t")

        # Without the WeChat channel (or its marketing template) a start is refused, not queued.
        with pytest.raises(service.CampaignRefused, match="公众号"):
            await start("INS-ACC", service.Sending(outbox=None, policy=policy))

        first = await start("INS-ACC")
        members = await _members(sessions, ids["INS-ACC"])
        drawn = {int(no[1:]): m for no, m in members.items()}  # the audience: non-holders
        treated = {i for i, m in drawn.items() if m.arm == arms.TREATED}
        assert all(m.arm == arms.arm(SEED, m.customer_no, HOLDOUT)[0] for m in drawn.values())
        assert 0 < len(treated) < len(drawn)  # both arms drawn
        reachable = {i for i in treated if i <= BOUND and i != OPTED_OUT}
        assert first.unreachable == len({i for i in treated if i > BOUND}) > 0
        assert first.queued == len(reachable)
        assert first.refused == ({"opt_out": 1} if OPTED_OUT in treated else {})

        # Two senders at once (two workers; the start's own and the scheduler's): once each.
        runs = await asyncio.gather(*(wechat.send_queued(sessions, sender, policy)
                                      for _ in range(2)))  # fmt: skip
        sent = [m.touser for m in kefu.sim.messages(app_id=APP_ID)
                if m.body.get("template_id") == "TPL-MKT"]  # fmt: skip
        expected = sorted(f"o-c{i}" for i in reachable if i != UNFOLLOWED)
        assert sorted(sent) == expected  # exactly once each; never the hold-out
        assert sum(r["sent"] for r in runs) == len(expected)
        members = await _members(sessions, ids["INS-ACC"])
        for i in drawn:
            m = members[_no(i)]
            if i not in treated:
                assert (m.arm, m.state) == (arms.HOLDOUT, "held_out")
            elif i > BOUND:
                assert m.state == "unreachable" and "微信" in (m.refusal or "")
            elif i == OPTED_OUT:
                assert m.state == "refused" and (m.refusal or "").startswith("opt_out")
            elif i == UNFOLLOWED:
                assert m.state == "failed" and (m.refusal or "").startswith("43004")
            else:
                assert m.state == "sent" and m.address == f"bank:o-c{i}"
        body = next(m.body for m in kefu.sim.messages(app_id=APP_ID)
                    if m.body.get("template_id") == "TPL-MKT")  # fmt: skip
        assert (
            "限时优惠" in body["data"]["first"]["value"] and "TD" in body["data"]["remark"]["value"]
        )
        async with sessions() as db:
            report = await service.campaign_report(db, await db.get(Campaign, ids["INS-ACC"]))
        assert report.states.get("unreachable") == first.unreachable
        assert report.result is not None and report.result.treated_n == len(treated)

        # The marketing cap (one a day by default) counts WeChat campaign messages: a second
        # campaign today reaches nobody already sent to (a failed send took no slot).
        second = await start("DEP3M")
        again = {int(no[1:]): m for no, m in (await _members(sessions, ids["DEP3M"])).items()}
        capped = {i for i in reachable if i != UNFOLLOWED and again[i].arm == arms.TREATED}
        assert second.refused.get("cap_day") == len(capped) > 0
        assert {i for i, m in again.items() if m.state == "refused" and
                (m.refusal or "").startswith("cap_day")} == capped  # fmt: skip
        await wechat.send_queued(sessions, sender, policy)
        assert len([m for m in kefu.sim.messages(app_id=APP_ID)
                    if m.body.get("template_id") == "TPL-MKT"]) == len(expected)  # fmt: skip

        # A token WeChat keeps refusing (40001 after the one refetch) is recorded, not lost.
        loose = service.Sending(outbox=None, wechat=sender,
                                policy=SmsPolicySettings(send_hours={}, caps={
                                    "marketing": Caps(per_day=9, per_week=9)}))  # fmt: skip
        third = await start("LOAN-CAR", loose)
        assert third.queued > 0
        # A sender that died after its claim: its member is claimed again once abandoned; one
        # claimed a moment ago is another sender's, left alone.
        waiting = sorted((await _members(sessions, ids["LOAN-CAR"])).items())
        queued = [m.id for _, m in waiting if m.state == "queued"]
        assert len(queued) >= 3
        async with sessions() as db:
            now = datetime.now(UTC)
            for member_id, at in ((queued[-1], now - wechat.ABANDONED - timedelta(minutes=1)),
                                  (queued[-2], now)):  # fmt: skip
                await db.execute(update(CampaignMember).where(CampaignMember.id == member_id)
                                 .values(state="sending", sent_at=at))  # fmt: skip
            await db.commit()
        kefu.sim.faults["/cgi-bin/message/template/send"] = [40001, 40001]
        result = await wechat.send_queued(sessions, sender, loose.policy)
        members = await _members(sessions, ids["LOAN-CAR"])
        failed = {no: m.refusal for no, m in members.items() if m.state == "failed"}
        unfollowed = members.get(_no(UNFOLLOWED))
        expect = ["40001"] + (["43004"] if unfollowed and unfollowed.state == "failed" else [])
        assert result["failed"] == len(failed) == len(expect)
        assert sorted((r or "")[:5] for r in failed.values()) == expect
        assert all(m.state != "queued" for m in members.values())
        by_id = {m.id: m for m in members.values()}
        assert by_id[queued[-1]].state in ("sent", "failed")  # abandoned: sent after all
        assert by_id[queued[-2]].state == "sending"  # another sender's: not touched


async def _campaigns(sessions):  # type: ignore[no-untyped-def]
    async with sessions() as db:
        return (await db.scalars(select(Campaign))).all()


async def _members(sessions, campaign_id: int) -> dict[str, CampaignMember]:  # type: ignore[no-untyped-def]
    async with sessions() as db:
        rows = await db.scalars(select(CampaignMember).where(
            CampaignMember.campaign_id == campaign_id))  # fmt: skip
        return {m.customer_no: m for m in rows}


def test_wechat_campaign_sends_once_and_records_errors(seeded_url: str) -> None:
    asyncio.run(_prepare(seeded_url))
    asyncio.run(_scenario(seeded_url))
