"""Binding a follower's openid to a bank customer from the H5 page: card number + the mobile
registered with the bank → a one-time code by SMS → bound. Unbinding is one step.

The code is kefu.identity.otp's (five minutes, single use, three per mobile an hour across
SMS and WeChat, dead after five wrong tries), sent through kefu's SMS channel; the binding is
kefu.identity.binding's, so a customer bound here is the same one the SMS hall knows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.audit.service import record
from kefu.bank.models import Card, CustomerProfile
from kefu.bank.port import BankPort, NotFound
from kefu.hall import regions
from kefu.identity import otp
from kefu.identity.binding import bind, customer_for
from kefu.identity.models import ChannelIdentity, Customer
from kefu.vocabulary import IdentityKind

PURPOSE = "wechat_bind"
OPENID_KIND = IdentityKind.WECHAT_OPENID.value
_CARD = re.compile(r"^\d{16,19}$")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")  # a mainland mobile as the bank records it: 11 digits


class TextSender(Protocol):
    """The SMS channel's outbox (``app.state.sms``): a text stored in the caller's transaction
    and sent after it commits."""

    async def enqueue(self, db: AsyncSession, *, to: str, text: str, kind: str) -> Any: ...


class BindingRefused(Exception):
    """Why a binding step was refused: ``field`` names the form field, ``reason`` the rule
    (the page words it for the follower)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


@dataclass(frozen=True)
class PendingBinding:
    """A code was sent: where to, and for which card (its last four digits, for the page)."""

    mobile: str
    card_tail: str


def normalise_card(raw: str) -> str:
    return re.sub(r"[\s-]", "", raw or "")


async def start(
    db: AsyncSession,
    bank: BankPort,
    *,
    sms: TextSender | None,
    account: str,
    openid: str,
    card_no: str,
    mobile: str,
) -> PendingBinding:
    """Checks the card and the mobile with the bank, then sends a code to that mobile."""
    card_no, mobile = normalise_card(card_no), (mobile or "").strip()
    if not _CARD.match(card_no):
        raise BindingRefused("card_no", "format")
    if not _MOBILE.match(mobile):
        raise BindingRefused("mobile", "format")
    try:
        card: Card = await bank.get_card(card_no)
    except NotFound:
        raise BindingRefused("card_no", "unknown_card") from None
    if card.status != "active":
        raise BindingRefused("card_no", "card_inactive")
    profile = await bank.get_customer(card.customer_no)
    if profile.mobile != mobile:
        raise BindingRefused("mobile", "mobile_mismatch")
    if sms is None:
        raise BindingRefused("mobile", "sms_unavailable")
    try:
        code = await otp.issue(
            db,
            purpose=PURPOSE,
            address=mobile,
            payload={"customer_no": profile.customer_no, "card_tail": card_no[-4:],
                     "account": account, "openid": openid},
        )  # fmt: skip
    except otp.OtpRateLimited:
        raise BindingRefused("mobile", "rate_limited") from None
    text = (
        f"验证码{code}，用于绑定微信公众号与尾号{card_no[-4:]}的银行卡，5分钟内有效，勿告诉他人。"
    )
    await sms.enqueue(db, to=mobile, text=text, kind="otp")
    return PendingBinding(mobile=mobile, card_tail=card_no[-4:])


# otp's reasons → ours: a wrong code may be tried again; the others need a new code.
_REFUSED_CODE = {"wrong": "wrong_code", "locked": "locked", "expired": "expired", "none": "no_code"}


async def confirm(
    db: AsyncSession,
    bank: BankPort,
    *,
    account: str,
    openid: str,
    mobile: str,
    code: str,
) -> Customer:
    """Checks the code and binds the openid; the follower's region follows the card's branch.
    On BindingRefused the caller must still commit: a wrong try counts towards the lock-out."""
    code = (code or "").strip()
    if not re.fullmatch(r"\d{6}", code):
        raise BindingRefused("code", "format")
    check = await otp.verify(db, purpose=PURPOSE, address=mobile, code=code)
    if not check.ok:
        raise BindingRefused("code", _REFUSED_CODE[check.reason or "wrong"])
    payload = check.payload or {}
    if payload.get("account") != account or payload.get("openid") != openid:
        # A code sent for another follower's binding (same mobile): never binds this one.
        raise BindingRefused("code", "no_code")
    profile: CustomerProfile = await bank.get_customer(payload["customer_no"])
    customer = await bind(
        db, kind=OPENID_KIND, value=openid, profile=profile, actor=f"wechat:{account}:{openid}"
    )
    await record(
        db,
        actor=f"wechat:{account}:{openid}",
        action="wechat.bind",
        target=f"customer:{customer.id}",
        details={"account": account, "card_tail": payload.get("card_tail")},
    )
    # The synthetic bank (like many) opens a card at the customer's home branch: its city is
    # the card's branch. This corrects a region guessed from LOCATION events.
    await regions.set_region(db, account, openid, profile.city, "card")
    return customer


async def unbind(db: AsyncSession, *, account: str, openid: str) -> bool:
    """Removes the binding; False when the follower was not bound."""
    identity = await db.scalar(
        select(ChannelIdentity).where(
            ChannelIdentity.kind == OPENID_KIND, ChannelIdentity.value == openid
        )
    )
    if identity is None:
        return False
    customer_id = identity.customer_id
    await db.delete(identity)
    await db.flush()
    await record(
        db,
        actor=f"wechat:{account}:{openid}",
        action="wechat.unbind",
        target=f"customer:{customer_id}",
        details={"account": account},
    )
    return True


async def bound_customer(db: AsyncSession, openid: str) -> Customer | None:
    return await customer_for(db, kind=OPENID_KIND, value=openid)
