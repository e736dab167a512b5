"""Branch list (everyone) and the teller's counter page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response

from kefu.auth.permissions import Permission
from kefu.bank.models import Branch
from kefu.bank.port import BankError, BankPort
from kefu.web.deps import Principal, csrf_token, get_bank, require

router = APIRouter()


async def _branches(bank: BankPort, city: str | None) -> list[Branch]:
    try:
        return await bank.list_branches(city)
    except BankError as exc:
        raise HTTPException(502, f"the bank's systems did not answer: {exc}") from None


@router.get("/api/v1/branches", tags=["branches"], summary="Branches, optionally of one city")
async def branches_api(
    city: Annotated[str | None, Query(max_length=16)] = None,
    _: Principal = Depends(require(Permission.BRANCHES_READ)),
    bank: BankPort = Depends(get_bank),
) -> list[Branch]:
    return await _branches(bank, city)


@router.get("/branch/counter", include_in_schema=False)
async def counter_page(
    request: Request,
    principal: Principal = Depends(require(Permission.BRANCH_COUNTER)),
    bank: BankPort = Depends(get_bank),
) -> Response:
    from kefu.web.templating import templates

    return templates.TemplateResponse(
        request,
        "branch/counter.html",
        {
            "principal": principal,
            "branches": await _branches(bank, None),
            "csrf": csrf_token(request),
        },
    )
