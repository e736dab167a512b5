"""The bank's characteristics of signed-in visitors (``/analytics/customers``, reports.read):
age band, customer tier, products held — joined on the server through the keyed hash
(kefu.analytics.bank_segments), never showing a customer number or the key."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.analytics import bank_segments
from kefu.analytics.analyses import Period
from kefu.analytics.service import analytics_of, hash_key
from kefu.auth.permissions import Permission
from kefu.web.deps import DB_SESSION, Principal, csrf_token, require
from kefu.web.i18n import gettext_ as _

router = APIRouter()
Days = Annotated[int, Query(ge=1, le=400)]


def value_label(dim: str, value: str) -> str:
    if dim == "tier":
        return {"standard": _("Standard"), "gold": _("Gold"), "platinum": _("Platinum"),
                "private": _("Private banking")}.get(value, value)  # fmt: skip
    if dim == "products":
        return {"deposit": _("Deposits"), "wealth": _("Wealth management"), "fund": _("Funds"),
                "insurance": _("Insurance"), "loan": _("Loans"), "card": _("Card instalments"),
                "credit_card": _("Credit card"), "debit_card": _("Debit card"),
                "none": _("None")}.get(value, value)  # fmt: skip
    return value


async def customers_data(
    request: Request, db: AsyncSession, site: str | None, days: int
) -> dict[str, Any]:
    app = request.app
    sites = [s.key for s in app.state.settings.analytics.sites]
    chosen = site if site in sites else (sites[0] if sites else "")
    today = datetime.now(UTC).date()
    period = Period.last(chosen, days, today)
    out = await bank_segments.segments(db, app.state.bank, analytics_of(app).store, period,
                                       hash_key(app.state.settings), today)  # fmt: skip
    return {"period": {"site": chosen, "since": period.since.isoformat(),
                       "until": period.until.isoformat()}, **out}  # fmt: skip


@router.get("/api/v1/analytics/customers", tags=["analytics"],
            summary="Signed-in visitors by age band, tier and products held (bank data)")  # fmt: skip
async def customers_api(
    request: Request, site: Annotated[str | None, Query(max_length=64)] = None, days: Days = 30,
    db: AsyncSession = DB_SESSION, _: Principal = Depends(require(Permission.REPORTS_READ)),
) -> dict[str, Any]:  # fmt: skip
    return await customers_data(request, db, site, days)


@router.get("/analytics/customers", include_in_schema=False)
async def customers_page(
    request: Request, site: Annotated[str | None, Query(max_length=64)] = None, days: Days = 30,
    db: AsyncSession = DB_SESSION,
    principal: Principal = Depends(require(Permission.REPORTS_READ)),
) -> Response:  # fmt: skip
    from kefu.web.templating import templates

    data = await customers_data(request, db, site, days)
    titles = {"age_band": _("Age band"), "tier": _("Customer tier"),
              "products": _("Products held")}  # fmt: skip
    charts = {
        dim: {
            "title": {"text": titles[dim], "textStyle": {"fontSize": 14}},
            "tooltip": {},
            "grid": {"left": 110, "right": 20},
            "xAxis": {"type": "value", "minInterval": 1},
            "yAxis": {
                "type": "category",
                "inverse": True,
                "data": [value_label(dim, r["value"]) for r in data[dim]],
            },
            "series": [
                {"name": _("Sessions"), "type": "bar", "data": [r["sessions"] for r in data[dim]]}
            ],
        }  # fmt: skip
        for dim in titles
    }
    for dim in titles:
        for row in data[dim]:
            row["label"] = value_label(dim, row["value"])
    return templates.TemplateResponse(request, "analytics/customers.html", {
        "principal": principal, "csrf": csrf_token(request), "page": "customers",
        "days": days, "titles": titles, "charts": charts, **data})  # fmt: skip
