"""The offer banner a signed-in visitor may be shown when the widget opens: the port web chat
asks through, never the decision itself.

Whether a customer is shown a marketing offer (a running web chat banner campaign they are a
treated member of, the contact policy, the caps) is banking logic: it lives in
``kefu.crosssell.campaigns.banner``, which the composition root (``kefu.runtime``) offers as
``services["webchat_offers"]``. Web chat only carries the customer number its session was
signed in with and the visit (the session id), and shows the text it gets back as text.

A click of interest asks for an agent: the app says *what* the agent is to follow up (a
``Lead``: the words of the conversation, the routing hints), web chat *how* — the session's
own hand-off (``WebchatChannel.hand_over``), handed to ``answer`` as ``hand_off`` and run in
the app's transaction, so the click, its outcome and the conversation commit together."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

Action = Literal["click", "dismiss"]


class Offer(Protocol):
    @property
    def id(self) -> str: ...  # opaque to web chat: what the click or dismissal names

    @property
    def text(self) -> str: ...  # the approved template's text, customer-facing (shown as text)

    @property
    def disclosure(self) -> str: ...  # what must be disclosed with it (shown beside it)


class Lead(Protocol):
    """What a click of interest asks an agent to follow up."""

    @property
    def text(self) -> str: ...  # the customer's message in the conversation (what they did)

    @property
    def subject(self) -> str: ...  # the conversation's subject in the agents' inbox

    @property
    def reply(self) -> str: ...  # what the visitor is told (the queue place follows)

    @property
    def attributes(self) -> Mapping[str, Any]: ...  # what routing reads (intent, product)


# Web chat's hand-off for a lead, in the caller's transaction: the conversation's id.
HandOff = Callable[[AsyncSession, Lead], Awaitable[int]]


def offer_json(offer: Offer) -> dict[str, str]:
    return {"id": offer.id, "text": offer.text, "disclosure": offer.disclosure}


class OfferSource(Protocol):
    """What web chat asks of the app; both calls record what happened (impression, click)."""

    async def offer(self, customer_no: str, visit: str) -> Offer | None:
        """The banner to show in this visit now (recorded as shown), or None."""
        ...

    async def answer(
        self,
        customer_no: str,
        visit: str,
        offer_id: str,
        action: Action,
        hand_off: HandOff | None = None,
    ) -> bool:
        """The visitor clicked or dismissed the banner shown in this visit; False when no such
        banner was shown in it. The first click of interest calls ``hand_off`` (once however
        often clicked) in the same transaction."""
        ...
