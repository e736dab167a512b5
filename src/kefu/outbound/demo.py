"""Demo data for governed outbound SMS: approved templates, consents for the bound demo phones,
and a partner on loopback, so the template, partner and API pages have something to show."""

from __future__ import annotations

from sqlalchemy import select

from kefu.db.engine import make_engine, make_sessionmaker, session_scope
from kefu.outbound import consent, templates
from kefu.partners import service as partners
from kefu.partners.models import Partner

# (name, kind, body) — written by the demo admin, approved by the demo supervisor.
TEMPLATES = [
    ("bill-ready", "notification", "您尾号{tail}的信用卡{month}月账单已出，应还{amount}元，到期还款日{due}。"),
    ("wealth-offer", "marketing", "{name}您好，稳盈理财新品上线，业绩比较基准{rate}，详询网点。"),
    ("policy-live", "notification", "您的保单{policy}已生效，感谢您的信任。"),
]  # fmt: skip
PARTNER = "demo-insurer"
PARTNER_SUB_CODE = "8001"


async def ensure_governance_demo(database_url: str, phones: list[str]) -> None:
    """Idempotent: what exists already is left as it is."""
    engine = make_engine(database_url)
    try:
        async with session_scope(make_sessionmaker(engine)) as db:
            for name, kind, body in TEMPLATES:
                if await templates.by_name(db, name) is None:
                    template = await templates.create(db, name=name, kind=kind, body=body,
                                                      actor="admin")  # fmt: skip
                    await templates.submit(db, template, actor="admin")
                    await templates.review(db, template, actor="supervisor", approve=True,
                                           note="demo")  # fmt: skip
            for phone in phones:
                await consent.give(db, phone=phone, source="branch", actor="demo",
                                   evidence="demo data")  # fmt: skip
            partner = await db.scalar(select(Partner).where(Partner.name == PARTNER))
            if partner is None:
                terms = partners.PartnerTerms("演示保险公司", ["127.0.0.1/32", "::1/128"],
                                              daily_quota=1000, rate_per_second=5, burst=20)  # fmt: skip
                partner = await partners.create_partner(db, name=PARTNER, actor="demo",
                                                        sub_code=PARTNER_SUB_CODE, terms=terms)  # fmt: skip
                template = await templates.by_name(db, "policy-live")
                assert template is not None
                await partners.allow_template(db, partner, template, allow=True, actor="demo")
    finally:
        await engine.dispose()
