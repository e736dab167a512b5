"""What the branch's page modules share (the counter/kiosk views, appointments, forms)."""

from __future__ import annotations

from fastapi import HTTPException, Request

from kefu.bank.port import BankError, BankPort, Branch
from kefu.bus import limits
from kefu.web.deps import client_ip


def templates():  # type: ignore[no-untyped-def]
    from kefu.web.templating import templates

    return templates


async def bank_branches(bank: BankPort, city: str | None = None) -> list[Branch]:
    try:
        return await bank.list_branches(city)
    except BankError as exc:
        raise HTTPException(502, f"the bank's systems did not answer: {exc}") from None


async def over_address_limit(
    request: Request, name: str, *, tries: int, per_seconds: float
) -> bool:
    """One more try of ``name`` from this address goes over the limit (kefu.bus.limits: shared
    by every worker when the bus is on Redis)."""
    key = f"{name}:{client_ip(request) or '?'}"
    return await limits.over(limits.of_app(request.app.state), key, tries=tries,
                             per_seconds=per_seconds)  # fmt: skip
