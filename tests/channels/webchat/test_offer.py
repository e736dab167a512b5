"""The widget's offer banner over the web chat API: a signed-in member of the demo's running
banner campaign is shown it (once per visit), an anonymous visitor and a hold-out member never
are, a click and a dismissal answer 204 and an offer not shown in the visit 404; bad input is a
problem+json refusal. The decision itself is crosssell's (tests/crosssell/test_campaign_banner.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from kefu.crosssell.demo import DEMO_BANNER_CAMPAIGN, DEMO_BANNER_VISITOR
from kefu.crosssell.models import BannerImpression, Campaign, CampaignMember, OfferOutcome
from kefu.db.engine import make_engine, make_sessionmaker
from tests.channels.webchat.conftest import API, auth, customer_token, open_session, run

pytestmark = pytest.mark.db


async def _scalar(url: str, query):  # type: ignore[no-untyped-def]
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as db:
            return await db.scalar(query)
    finally:
        await engine.dispose()


def test_offer_banner_over_the_api(chat, seeded_url: str) -> None:  # type: ignore[no-untyped-def]
    visitor = open_session(chat, customer_token=customer_token(DEMO_BANNER_VISITOR))
    url = f"{API}/sessions/{visitor['session']}/offer"
    assert chat.post(url).status_code == 401  # the session's token is required
    shown = chat.post(url, headers=auth(visitor))
    assert shown.status_code == 200, shown.text
    offer = shown.json()["offer"]
    assert offer["text"].startswith("一年定期存款") and offer["disclosure"] and offer["id"]
    assert chat.post(url, headers=auth(visitor)).json()["offer"] == offer  # a reload: the same
    campaign_id = int(offer["id"])
    impressions = select(func.count()).select_from(BannerImpression).where(
        BannerImpression.customer_no == DEMO_BANNER_VISITOR, BannerImpression.visit == visitor["session"])  # fmt: skip
    assert run(_scalar(seeded_url, impressions)) == 1

    # An anonymous visitor: no identity, no offer (and nothing to click).
    guest = open_session(chat)
    assert chat.post(f"{API}/sessions/{guest['session']}/offer", headers=auth(guest)).json() == {
        "offer": None}  # fmt: skip
    refused = chat.post(f"{API}/sessions/{guest['session']}/offer/{campaign_id}",
                        json={"action": "click"}, headers=auth(guest))  # fmt: skip
    assert refused.status_code == 404

    # A hold-out member of the same campaign signs in: nothing.
    held_out = run(_scalar(seeded_url, select(CampaignMember.customer_no).join(Campaign).where(
        Campaign.name == DEMO_BANNER_CAMPAIGN, CampaignMember.arm == "holdout").limit(1)))  # fmt: skip
    assert held_out
    other = open_session(chat, customer_token=customer_token(held_out))
    assert chat.post(f"{API}/sessions/{other['session']}/offer", headers=auth(other)).json() == {
        "offer": None}  # fmt: skip

    answer = f"{url}/{campaign_id}"
    for bad in ({"action": "buy"}, {}, {"action": "click", "extra": 1}):
        response = chat.post(answer, json=bad, headers=auth(visitor))
        assert response.status_code == 422
        assert response.headers["content-type"].startswith("application/problem+json")
    assert (
        chat.post(f"{url}/999999", json={"action": "click"}, headers=auth(visitor)).status_code
        == 404
    )
    assert (
        chat.post(f"{url}/{'9' * 40}", json={"action": "click"}, headers=auth(visitor)).status_code
        == 404
    )
    for _ in range(2):  # clicked twice: one interest
        assert chat.post(answer, json={"action": "click"}, headers=auth(visitor)).status_code == 204
    interested = select(func.count()).select_from(OfferOutcome).where(
        OfferOutcome.customer_no == DEMO_BANNER_VISITOR, OfferOutcome.outcome == "interested")  # fmt: skip
    assert run(_scalar(seeded_url, interested)) == 1
    # Once clicked it is not shown again.
    assert chat.post(url, headers=auth(visitor)).json() == {"offer": None}
