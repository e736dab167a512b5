"""The offer banner in a real browser (Debian's Chromium through Playwright) against a real
`kefu demo`: the demo's web chat visitor, a treated member of the demo's running banner
campaign, opens the widget, sees the offer — its text with hostile markup shown as text — and
its disclosure, clicks 我感兴趣, and the interest is recorded in the outcome table the agents'
panel uses; the click hands the visitor to an agent (the hand-off's line in the chat)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator

import pytest
from sqlalchemy import update

from kefu.crosssell.demo import DEMO_BANNER_CAMPAIGN, DEMO_BANNER_VISITOR
from kefu.crosssell.models import Campaign
from kefu.db.engine import make_engine, make_sessionmaker
from tests.channels.webchat.test_widget_browser import (  # noqa: F401 - fixtures
    KefuDemo,
    chromium,
    in_browser,
    page,
    widget,
)

HOSTILE = "<script>alert(3)</script><img src=x onerror=alert(4)>"
WAIT = 30_000


async def _db(url: str, work):  # type: ignore[no-untyped-def]
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as db, db.begin():
            return await work(db)
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def kefu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KefuDemo]:
    demo = KefuDemo(tmp_path_factory.mktemp("webchat-offer"))
    url = f"sqlite:///{demo.tmp / 'kefu.db'}"

    async def hostile(db):  # type: ignore[no-untyped-def]
        # A template whose approved text carries markup: it must reach the page as text.
        await db.execute(update(Campaign).where(Campaign.name == DEMO_BANNER_CAMPAIGN)
                         .values(content=HOSTILE + Campaign.content))  # fmt: skip

    asyncio.run(_db(url, hostile))
    demo.start()
    yield demo
    demo.stop()


@in_browser
def test_bound_customer_sees_the_banner_and_clicks_it(kefu: KefuDemo, page) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    from playwright.sync_api import expect

    w = widget(page)
    page.goto(kefu.base + "/demo/webchat")
    w("launcher").click()
    expect(w("offer")).to_be_visible(timeout=WAIT)
    text = w("offer-text").text_content() or ""
    assert text.startswith(HOSTILE) and "一年定期存款" in text  # the markup as text
    expect(w("offer-disclosure")).not_to_be_empty()
    assert (
        page.evaluate(
            """() => document.querySelector('.kefu-wc-host').shadowRoot
               .querySelectorAll('.kefu-wc-offer script, .kefu-wc-offer img').length"""
        )
        == 0
    )
    w("offer-yes").click()
    expect(w("offer-thanks")).to_contain_text("已记录您的意向", timeout=WAIT)  # a ceiling
    # The click asked for an agent: the hand-off's line in the chat, and the queue banner.
    handed = page.locator("[data-testid=kefu-wc-message][data-sender=bot]").filter(
        has_text="已为您转接理财顾问")  # fmt: skip
    expect(handed).to_have_count(1, timeout=WAIT)
    expect(w("banner")).to_be_visible(timeout=WAIT)

    # Read with the standard library: Playwright's sync API holds this thread's event loop.
    with sqlite3.connect(kefu.tmp / "kefu.db") as db:
        outcomes = db.execute(
            "SELECT outcome FROM crosssell_outcomes WHERE customer_no = ? AND product_code = ?",
            (DEMO_BANNER_VISITOR, "DEP1Y"),
        ).fetchall()
        member = db.execute(
            "SELECT m.state, m.shown_at IS NOT NULL FROM crosssell_campaign_members m "
            "JOIN crosssell_campaigns c ON c.id = m.campaign_id "
            "WHERE c.name = ? AND m.customer_no = ?",
            (DEMO_BANNER_CAMPAIGN, DEMO_BANNER_VISITOR),
        ).fetchone()
        handed_over = db.execute(
            "SELECT count(*) FROM conversations WHERE channel = 'webchat' AND contact = ?",
            (f"c:{DEMO_BANNER_VISITOR}",),
        ).fetchone()
    assert outcomes == [("interested",)] and member == ("clicked", 1)
    assert handed_over == (1,)

    # The same visit reloaded: the banner is not shown again once answered.
    page.reload()
    expect(w("window")).to_be_visible()
    page.wait_for_timeout(1000)
    expect(w("offer")).to_be_hidden()
