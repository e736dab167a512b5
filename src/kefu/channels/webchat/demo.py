"""`kefu demo`'s web chat: a site ``demo`` on kefu's own origin, and ``/demo/webchat``, a page
that looks like the bank's online banking with the widget, signed in as a bound demo customer
(the page mints the customer token the bank's site would) or anonymous (``?anonymous=1``)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from kefu.channels.manifest import DemoPrepared, DemoSetup
from kefu.channels.webchat.config import WebchatSite

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


async def prepare(setup: DemoSetup) -> DemoPrepared:
    origins = sorted({f"http://127.0.0.1:{setup.port}", f"http://localhost:{setup.port}",
                      f"http://{setup.host}:{setup.port}"})  # fmt: skip
    # A new key each start: the page mints a token per visit, nothing outlives the process.
    site = demo_site(origins, secrets.token_urlsafe(36))
    customer_no = setup.customers.get(setup.phones[0]) if setup.phones else None
    sites = [s for s in setup.settings.webchat_sites if s.name != DEMO_SITE]
    settings = setup.settings.model_copy(update={"webchat_sites": [*sites, site]})
    base = f"http://{setup.host}:{setup.port}"
    lines = [
        f"web chat: the bank's page with the widget {base}/demo/webchat (signed in as "
        f"{customer_no or 'nobody'}), anonymous {base}/demo/webchat?anonymous=1"
    ]
    return DemoPrepared(settings, DemoWebchat(site, customer_no), lines)
