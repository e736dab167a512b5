"""The outbound rules, each refusing on its own, on a migrated database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kefu.channels.sms.models import SmsMessage
from kefu.outbound import consent, policy
from kefu.outbound.models import OptOut, SmsTemplate
from kefu.outbound.settings import Caps, SmsPolicySettings
from tests.outbound.test_api import in_session as run

pytestmark = pytest.mark.db

SIGN = "【测试银行】"
NOON_CHINA = datetime(2026, 11, 29, 4, 0, tzinfo=UTC)  # 12:00 in Asia/Shanghai
A, B, C = "13800000001", "13800000002", "13800000003"


def approved(kind: str = "marketing", status: str = "approved") -> SmsTemplate:
    return SmsTemplate(name="t", kind=kind, body="x", status=status, created_by="a",
                       updated_by="a")  # fmt: skip


async def decide(session, recipients, kind="marketing", text="理财新品上线", **kw):  # type: ignore[no-untyped-def]
    kw.setdefault("policy", SmsPolicySettings())
    kw.setdefault("template", approved(kind) if kind == "marketing" else None)
    kw.setdefault("now", NOON_CHINA)
    return await policy.decide(session, recipients=recipients, kind=kind, text=text,
                               signature=SIGN, **kw)  # fmt: skip


def test_marketing_text_is_signed_and_carries_the_opt_out_hint() -> None:
    settings = SmsPolicySettings()
    assert policy.compose("新品上线", kind="marketing", policy=settings, signature=SIGN) == (
        "【测试银行】新品上线。拒收请回复R"
    )
    assert policy.compose("新品上线！", kind="marketing", policy=settings, signature=SIGN) == (
        "【测试银行】新品上线！拒收请回复R"
    )
    # Notifications carry no hint; a text already signed is not signed twice.
    assert policy.compose(SIGN + "账单", kind="notification", policy=settings, signature=SIGN) == (
        "【测试银行】账单"
    )


@pytest.mark.parametrize(
    ("kwargs", "rule"),
    [
        ({"template": approved(status="pending")}, "template_approval"),
        ({"template": approved(status="rejected")}, "template_approval"),
        ({"template": approved(kind="notification")}, "template_kind"),
        ({"template": None}, "free_text"),  # marketing is never free text by default
        ({"now": datetime(2026, 11, 29, 15, 0, tzinfo=UTC)}, "quiet_hours"),  # 23:00 China
        ({"now": datetime(2026, 11, 29, 23, 30, tzinfo=UTC)}, "quiet_hours"),  # 07:30 China
        ({"text": "长" * 400}, "length"),
    ],
)
def test_request_level_rules_refuse_the_whole_request(db_url: str, kwargs, rule) -> None:  # type: ignore[no-untyped-def]
    result = run(db_url, lambda s: decide(s, [A], **kwargs))
    assert isinstance(result, policy.Refusal) and result.rule == rule, result
    assert result.reason  # a human sentence, shown to the caller


def test_free_text_allowed_for_notifications_but_not_for_partners(db_url: str) -> None:
    ok = run(db_url, lambda s: decide(s, [A], kind="notification", text="您的账单已出"))
    assert isinstance(ok, policy.Decision) and ok.accepted == [A]
    assert ok.text == "【测试银行】您的账单已出"
    refused = run(db_url, lambda s: decide(s, [A], kind="notification", free_text=False))
    assert isinstance(refused, policy.Refusal) and refused.rule == "free_text"


def test_quiet_hours_are_configurable_and_reckoned_in_china(db_url: str) -> None:
    settings = SmsPolicySettings(send_hours={"marketing": "09:00-18:00"}, consent_kinds=[])
    at_8_30 = datetime(2026, 11, 29, 0, 30, tzinfo=UTC)
    result = run(db_url, lambda s: decide(s, [A], policy=settings, now=at_8_30))
    assert isinstance(result, policy.Refusal) and "09:00 and 18:00" in result.reason
    open_all_day = SmsPolicySettings(send_hours={}, consent_kinds=[])
    assert isinstance(
        run(db_url, lambda s: decide(s, [A], policy=open_all_day, now=at_8_30)), policy.Decision
    )


def test_opt_out_and_consent_refuse_one_recipient_each(db_url: str) -> None:
    async def scenario(session):  # type: ignore[no-untyped-def]
        session.add(OptOut(kind="phone", value=A, source="sms"))
        for number in (A, B):
            await consent.give(session, phone=number, source="branch", actor="t")
        return await decide(session, [A, B, C])

    result = run(db_url, scenario)
    assert isinstance(result, policy.Decision)
    assert result.accepted == [B]
    # TD wins over a recorded consent; no consent at all is refused by its own rule.
    assert result.refused[A].rule == "opt_out" and result.refused[C].rule == "consent"
    assert result.text.endswith("拒收请回复R")


def test_a_withdrawn_consent_no_longer_counts(db_url: str) -> None:
    async def scenario(session):  # type: ignore[no-untyped-def]
        await consent.give(session, phone=A, source="web", actor="t")
        await consent.withdraw(session, phone=A, source="call", actor="t")
        return await policy.check(session, phone=A, kind="marketing", text="新品",
                                  policy=SmsPolicySettings(), signature=SIGN,
                                  template=approved(), now=NOON_CHINA)  # fmt: skip

    result = run(db_url, scenario)
    assert isinstance(result, policy.Refusal) and result.rule == "consent"


def _sent(phone: str, kind: str, at: datetime, state: str = "delivered") -> SmsMessage:
    return SmsMessage(direction="out", phone=phone, service_number="95511", text="x", kind=kind,
                      state=state, created_at=at, meta={})  # fmt: skip


def test_frequency_caps_per_day_and_week_counted_from_the_outbox(db_url: str) -> None:
    settings = SmsPolicySettings(consent_kinds=[], caps={"marketing": Caps(per_day=1, per_week=2)})

    async def scenario(session):  # type: ignore[no-untyped-def]
        session.add_all([
            _sent(A, "marketing", NOON_CHINA - timedelta(hours=1)),  # today: day cap reached
            _sent(B, "marketing", NOON_CHINA - timedelta(days=2)),
            _sent(B, "marketing", NOON_CHINA - timedelta(days=3)),  # two this week
            _sent(C, "marketing", NOON_CHINA - timedelta(hours=1), state="failed"),  # not counted
            _sent(C, "notification", NOON_CHINA - timedelta(hours=1)),  # another kind
            _sent(C, "marketing", NOON_CHINA - timedelta(days=8)),  # outside the week
        ])  # fmt: skip
        await session.flush()
        return await decide(session, [A, B, C], policy=settings)

    result = run(db_url, scenario)
    assert isinstance(result, policy.Decision)
    assert result.refused[A].rule == "cap_day" and result.refused[B].rule == "cap_week"
    assert result.accepted == [C]


def test_the_day_of_a_cap_is_the_china_day(db_url: str) -> None:
    settings = SmsPolicySettings(consent_kinds=[], caps={"marketing": Caps(per_day=1)})
    # 23:30 UTC on the 28th is 07:30 on the 29th in China: yesterday in UTC, today in China.
    early = datetime(2026, 11, 28, 23, 30, tzinfo=UTC)

    async def scenario(session):  # type: ignore[no-untyped-def]
        session.add(_sent(A, "marketing", early))
        session.add(_sent(B, "marketing", datetime(2026, 11, 28, 15, 30, tzinfo=UTC)))  # 23:30 28th
        await session.flush()
        return await decide(session, [A, B], policy=settings)

    result = run(db_url, scenario)
    assert isinstance(result, policy.Decision)
    assert set(result.refused) == {A} and result.accepted == [B]
