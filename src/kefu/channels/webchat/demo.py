"""`kefu demo`'s web chat: a site ``demo`` on kefu's own origin, and ``/demo/webchat``, a page
that looks like the bank's online banking with the widget, signed in as a bound demo customer
(the page mints the customer token the bank's site would) or anonymous (``?anonymous=1``)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import select

from kefu.channels.manifest import DemoPrepared, DemoSetup
from kefu.channels.webchat.config import WebchatSite
from kefu.db.engine import make_engine, make_sessionmaker
from kefu.identity.models import ChannelIdentity, Customer
from kefu.vocabulary import IdentityKind

DEMO_SITE = "demo"


@dataclass
class DemoWebchat:
    """What the demo page needs: the site (with the key it mints customer tokens with) and
    the demo customer it signs in."""

    site: WebchatSite
    customer_no: str | None

    async def start(self) -> None:
        """Nothing runs beside the channel: the page is served by kefu itself."""

    async def stop(self) -> None:
        """Nothing to stop."""


def demo_site(origins: list[str], key: str) -> WebchatSite:
    return WebchatSite(name=DEMO_SITE, display_name="kefu银行", origins=origins,
                       customer_token_key=key, customer_token_issuer="kefu-demo-bank")  # fmt: skip


async def _customer_of(database_url: str, phone: str) -> str | None:
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as db:
            return await db.scalar(
                select(Customer.bank_customer_no)
                .join(ChannelIdentity, ChannelIdentity.customer_id == Customer.id)
                .where(ChannelIdentity.kind == IdentityKind.PHONE.value,
                       ChannelIdentity.value == phone)
            )  # fmt: skip
    finally:
        await engine.dispose()


async def prepare(setup: DemoSetup) -> DemoPrepared:
    origins = sorted({f"http://127.0.0.1:{setup.port}", f"http://localhost:{setup.port}",
                      f"http://{setup.host}:{setup.port}"})  # fmt: skip
    site = demo_site(
        origins, secrets.token_urlsafe(36)
    )  # a new key each start: tokens are minted per page
    customer_no = (
        await _customer_of(setup.settings.database_url, setup.phones[0]) if setup.phones else None
    )
    sites = [s for s in setup.settings.webchat_sites if s.name != DEMO_SITE]
    settings = setup.settings.model_copy(update={"webchat_sites": [*sites, site]})
    base = f"http://{setup.host}:{setup.port}"
    lines = [
        f"web chat: the bank's page with the widget {base}/demo/webchat (signed in as "
        f"{customer_no or 'nobody'}), anonymous {base}/demo/webchat?anonymous=1"
    ]
    return DemoPrepared(settings, DemoWebchat(site, customer_no), lines)
