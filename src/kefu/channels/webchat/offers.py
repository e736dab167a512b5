"""The offer banner a signed-in visitor may be shown when the widget opens: the port web chat
asks through, never the decision itself.

Whether a customer is shown a marketing offer (a running web chat banner campaign they are a
treated member of, the contact policy, the caps) is banking logic: it lives in
``kefu.crosssell.campaigns.banner``, which the composition root (``kefu.runtime``) offers as
``services["webchat_offers"]``. Web chat only carries the customer number its session was
signed in with and the visit (the session id), and shows the text it gets back as text."""

from __future__ import annotations

from typing import Literal, Protocol

Action = Literal["click", "dismiss"]


class Offer(Protocol):
    @property
    def id(self) -> str: ...  # opaque to web chat: what the click or dismissal names

    @property
    def text(self) -> str: ...  # the approved template's text, customer-facing (shown as text)

    @property
    def disclosure(self) -> str: ...  # what must be disclosed with it (shown beside it)


def offer_json(offer: Offer) -> dict[str, str]:
    return {"id": offer.id, "text": offer.text, "disclosure": offer.disclosure}


class OfferSource(Protocol):
    """What web chat asks of the app; both calls record what happened (impression, click)."""

    async def offer(self, customer_no: str, visit: str) -> Offer | None:
        """The banner to show in this visit now (recorded as shown), or None."""
        ...

    async def answer(self, customer_no: str, visit: str, offer_id: str, action: Action) -> bool:
        """The visitor clicked or dismissed the banner shown in this visit; False when no such
        banner was shown in it."""
        ...
