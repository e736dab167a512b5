"""The bank port over HTTP, for a real bank that implements docs/bank-api.openapi.json."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any, Literal, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from kefu.bank.models import (
    Account,
    Bill,
    Branch,
    Card,
    CustomerProfile,
    FormReceipt,
    FormSubmission,
    Holding,
    LossReport,
    Movement,
    Product,
    RepaymentDue,
    Statement,
    Transaction,
)
from kefu.bank.port import BankError, NotFound

T = TypeVar("T")


class HttpBank:
    """Implements :class:`kefu.bank.port.BankPort` against the bank REST contract."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/v1/",
            headers=headers,
            timeout=timeout,
            transport=transport,
        )

    async def _call(self, method: str, path: str, kind: Any, **kwargs: Any) -> Any:
        try:
            response = await self._client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise BankError(f"bank API unreachable: {type(exc).__name__}: {exc}") from exc
        if response.status_code == 404:
            raise NotFound(_detail(response))
        if response.status_code >= 400:
            raise BankError(f"bank API answered {response.status_code}: {_detail(response)}")
        try:
            return TypeAdapter(kind).validate_json(response.content)
        except ValidationError as exc:
            raise BankError(
                f"bank API sent a malformed {getattr(kind, '__name__', kind)}: {exc}"
            ) from exc

    async def count_customers(self) -> int:
        class _Count(BaseModel):
            customers: int

        return (await self._call("GET", "customers/count", _Count)).customers

    async def get_customer(self, customer_no: str) -> CustomerProfile:
        return await self._call("GET", f"customers/{quote(customer_no, safe='')}", CustomerProfile)

    async def find_customer_by_mobile(self, mobile: str) -> CustomerProfile | None:
        try:
            return await self._call("GET", "customers", CustomerProfile, params={"mobile": mobile})
        except NotFound:
            return None

    async def list_accounts(self, customer_no: str) -> list[Account]:
        return await self._call(
            "GET", f"customers/{quote(customer_no, safe='')}/accounts", list[Account]
        )

    async def list_cards(self, customer_no: str) -> list[Card]:
        return await self._call("GET", f"customers/{quote(customer_no, safe='')}/cards", list[Card])

    async def get_card(self, card_no: str) -> Card:
        return await self._call("GET", f"cards/{quote(card_no, safe='')}", Card)

    async def list_bill_periods(self, card_no: str) -> list[str]:
        return await self._call("GET", f"cards/{quote(card_no, safe='')}/bills", list[str])

    async def get_bill(self, card_no: str, period: str) -> Bill:
        return await self._call(
            "GET", f"cards/{quote(card_no, safe='')}/bills/{quote(period, safe='')}", Bill
        )

    async def get_repayment_due(self, card_no: str) -> RepaymentDue:
        return await self._call("GET", f"cards/{quote(card_no, safe='')}/repayment", RepaymentDue)

    async def list_transactions(self, account_no: str, limit: int = 10) -> list[Transaction]:
        return await self._call(
            "GET",
            f"accounts/{quote(account_no, safe='')}/transactions",
            list[Transaction],
            params={"limit": max(1, min(limit, 100))},
        )

    async def list_statements(
        self,
        customer_nos: Sequence[str],
        *,
        date_field: Literal["statement_date", "due_date"],
        start: date,
        end: date,
    ) -> list[Statement]:
        if not customer_nos:
            return []
        body = {"customer_nos": list(customer_nos), "date_field": date_field,
                "start": start.isoformat(), "end": end.isoformat()}  # fmt: skip
        return await self._call("POST", "statements/search", list[Statement], json=body)

    async def list_movements(
        self, customer_nos: Sequence[str], *, start: date, end: date, min_amount: Decimal
    ) -> list[Movement]:
        if not customer_nos:
            return []
        body = {"customer_nos": list(customer_nos), "start": start.isoformat(),
                "end": end.isoformat(), "min_amount": str(min_amount)}  # fmt: skip
        return await self._call("POST", "movements/search", list[Movement], json=body)

    async def list_holdings(self, customer_no: str) -> list[Holding]:
        return await self._call(
            "GET", f"customers/{quote(customer_no, safe='')}/holdings", list[Holding]
        )

    async def list_products(self) -> list[Product]:
        return await self._call("GET", "products", list[Product])

    async def list_branches(self, city: str | None = None) -> list[Branch]:
        params = {"city": city} if city else None
        return await self._call("GET", "branches", list[Branch], params=params)

    async def report_card_lost(self, card_no: str, *, reason: str) -> LossReport:
        return await self._call(
            "POST",
            f"cards/{quote(card_no, safe='')}/loss-report",
            LossReport,
            json={"reason": reason},
        )

    async def submit_form(self, submission: FormSubmission) -> FormReceipt:
        return await self._call(
            "POST", "forms", FormReceipt, json=submission.model_dump(mode="json")
        )

    async def close(self) -> None:
        await self._client.aclose()


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    return str(body.get("detail", body))[:200] if isinstance(body, dict) else str(body)[:200]
