"""Card binding as a service: the bank's checks, the SMS code in kefu's outbox, the shared rate
limit, codes that belong to another follower, unbinding, the audit trail."""

from __future__ import annotations

import asyncio
import re

import pytest
from sqlalchemy import select

from kefu.assistant.engine import Assistant
from kefu.audit.models import AuditEntry
from kefu.bank.synthetic.adapter import SyntheticBank
from kefu.channels.sms.config import SmsLink
from kefu.channels.sms.gateway import SmsGateway
from kefu.channels.sms.models import SmsMessage
from kefu.db.engine import make_engine, make_sessionmaker, session_scope
from kefu.hall import binding
from kefu.hall.binding import BindingRefused
from kefu.hall.regions import region_of, source_of
from kefu.identity import otp
from kefu.messaging.pipeline import Pipeline

pytestmark = pytest.mark.db


async def _refused(call) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    with pytest.raises(BindingRefused) as refused:
        await call
    return refused.value.field, refused.value.reason


async def _scenario(url: str) -> dict:
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    bank = SyntheticBank(engine)
    # The real outbox, not started: enqueue stores the message; nothing needs a carrier here.
    link = SmsLink(name="smsc", protocol="smpp", port=1, username="u", password="p")
    sms = SmsGateway(links=[link], sessionmaker=sessions, pipeline=Pipeline(Assistant(bank)))
    out: dict = {}
    try:
        profile = await bank.get_customer("C0000000006")
        card = (await bank.list_cards(profile.customer_no))[0]
        other = await bank.get_customer("C0000000007")
        lost = (await bank.list_cards(other.customer_no))[0]
        await bank.report_card_lost(lost.card_no, reason="test")
        async with session_scope(sessions) as db:
            start = dict(account="hall", openid="o-a", card_no=card.card_no, mobile=profile.mobile)

            out["format"] = await _refused(
                binding.start(db, bank, sms=sms, **{**start, "card_no": "1234"})
            )
            out["unknown"] = await _refused(
                binding.start(db, bank, sms=sms, **{**start, "card_no": "6222" + "0" * 15})
            )
            out["mismatch"] = await _refused(
                binding.start(db, bank, sms=sms, **{**start, "mobile": other.mobile})
            )
            out["no_sms"] = await _refused(binding.start(db, bank, sms=None, **start))
            spaced = " ".join(card.card_no[i : i + 4] for i in range(0, len(card.card_no), 4))
            pending = await binding.start(db, bank, sms=sms, **{**start, "card_no": spaced})
            out["tail"] = pending.card_tail == card.card_no[-4:]
            texts = (await db.scalars(select(SmsMessage.text).where(
                SmsMessage.phone == profile.mobile, SmsMessage.kind == "otp"))).all()  # fmt: skip
            out["sms"] = len(texts)
            code = re.search(r"验证码(\d{6})", texts[-1]).group(1)
            out["code_in_sms"] = card.card_no[-4:] in texts[-1] and card.card_no not in texts[-1]

            # Another follower cannot finish this follower's binding, even with the right code.
            out["thief"] = await _refused(binding.confirm(db, bank, account="hall", openid="o-b",
                                                          mobile=profile.mobile, code=code))  # fmt: skip
            # That try used the code up (single use): the owner needs a new one.
            out["used"] = await _refused(binding.confirm(db, bank, account="hall", openid="o-a",
                                                         mobile=profile.mobile, code=code))  # fmt: skip
            await binding.start(db, bank, sms=sms, **start)
            texts = (await db.scalars(select(SmsMessage.text).where(
                SmsMessage.phone == profile.mobile, SmsMessage.kind == "otp"))).all()  # fmt: skip
            code = re.search(r"验证码(\d{6})", texts[-1]).group(1)
            out["bad_code_format"] = await _refused(binding.confirm(
                db, bank, account="hall", openid="o-a", mobile=profile.mobile, code="12a"))  # fmt: skip
            customer = await binding.confirm(db, bank, account="hall", openid="o-a",
                                             mobile=profile.mobile, code=code)  # fmt: skip
            out["bound"] = customer.bank_customer_no == profile.customer_no
            out["bound_customer"] = (await binding.bound_customer(db, "o-a")).id == customer.id
            out["region"] = (await region_of(db, "hall", "o-a"), await source_of(db, "hall", "o-a"))
            out["city"] = profile.city
            # Three codes an hour per mobile (shared with the SMS hall): the fourth is refused.
            await binding.start(db, bank, sms=sms, **start)  # the third code this hour
            out["rate"] = await _refused(binding.start(db, bank, sms=sms, **start))
            out["unbind"] = await binding.unbind(db, account="hall", openid="o-a")
            out["unbind_again"] = await binding.unbind(db, account="hall", openid="o-a")
            out["after"] = await binding.bound_customer(db, "o-a")
            out["audit"] = sorted((await db.scalars(select(AuditEntry.action).where(
                AuditEntry.actor == "wechat:hall:o-a"))).all())  # fmt: skip

            # A lost card cannot be used to bind.
            # (reported lost before the session: the bank writes on its own connection)
            out["lost"] = await _refused(binding.start(db, bank, sms=sms, account="hall",
                                                       openid="o-c", card_no=lost.card_no,
                                                       mobile=other.mobile))  # fmt: skip
            out["max_per_hour"] = otp.MAX_PER_HOUR
    finally:
        await engine.dispose()
    return out


def test_binding_service(seeded_url: str) -> None:
    got = asyncio.run(_scenario(seeded_url))
    assert got["format"] == ("card_no", "format")
    assert got["unknown"] == ("card_no", "unknown_card")
    assert got["mismatch"] == ("mobile", "mobile_mismatch")
    assert got["no_sms"] == ("mobile", "sms_unavailable")
    assert got["tail"] and got["sms"] == 1 and got["code_in_sms"]
    assert got["thief"] == ("code", "no_code")
    assert got["used"] == ("code", "no_code")
    assert got["bad_code_format"] == ("code", "format")
    assert got["bound"] and got["bound_customer"]
    assert got["region"] == (got["city"], "card")
    assert got["max_per_hour"] == 3 and got["rate"] == ("mobile", "rate_limited")
    assert got["unbind"] is True and got["unbind_again"] is False and got["after"] is None
    assert got["audit"] == ["identity.bind", "wechat.bind", "wechat.unbind"]
    assert got["lost"] == ("card_no", "card_inactive")
