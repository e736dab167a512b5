"""The demo's risk assessments: the first demo customers have one (levels C1–C5 in turn,
assessed a month ago), so the demo's next best offers include wealth and fund products where
suitable — and show them refused where not."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from kefu.bank.synthetic.generator import customer_no
from kefu.crosssell.models import RiskAssessment

DEMO_ASSESSED = 20  # customers C0000000001..C0000000020; the rest have none (no wealth offer)


async def ensure_demo_assessments(session: AsyncSession, today: date | None = None) -> None:
    assessed_on = (today or date.today()) - timedelta(days=30)
    for index in range(DEMO_ASSESSED):
        no = customer_no(index)
        if await session.get(RiskAssessment, no) is None:
            session.add(
                RiskAssessment(customer_no=no, level=index % 5 + 1, assessed_on=assessed_on)
            )
