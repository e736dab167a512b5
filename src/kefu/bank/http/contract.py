"""The bank REST contract, served over any :class:`BankPort` (the synthetic bank by default).

A real bank implements this contract in front of its core systems; kefu's HTTP adapter is
tested against this server, so both sides of the contract are exercised by the suite.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

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
from kefu.bank.port import MAX_BATCH, BankError, BankPort, NotFound

CONTRACT_VERSION = "1.0.0"
PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")

CustomerNo = Annotated[str, Path(pattern=r"^[A-Za-z0-9]{1,32}$")]
CardNo = Annotated[str, Path(pattern=r"^\d{12,19}$")]
AccountNo = Annotated[str, Path(pattern=r"^\d{8,32}$")]


class CustomerCount(BaseModel):
    customers: int


CustomerNos = Annotated[
    list[Annotated[str, Field(pattern=r"^[A-Za-z0-9]{1,32}$")]],
    Field(min_length=1, max_length=MAX_BATCH),
]


class StatementSearch(BaseModel):
    customer_nos: CustomerNos
    date_field: Literal["statement_date", "due_date"]
    start: date
    end: date


class MovementSearch(BaseModel):
    customer_nos: CustomerNos
    start: date = Field(description="First business day (bank local time).")
    end: date = Field(description="Last business day, inclusive.")
    min_amount: Decimal = Field(ge=0, description="Smallest absolute amount, yuan.")


class LossReportIn(BaseModel):
    reason: str = Field(min_length=1, max_length=200)


def _port(request: Request) -> BankPort:
    return request.app.state.port


def _check_token(request: Request) -> None:
    expected = request.app.state.token
    if expected is None:
        return
    header = request.headers.get("authorization", "")
    if not (
        header.startswith("Bearer ")
        and secrets.compare_digest(header[7:].encode(), expected.encode())
    ):
        raise HTTPException(401, "missing or wrong bearer token")


router = APIRouter(prefix="/v1", dependencies=[Depends(_check_token)])


@router.get("/customers/count", response_model=CustomerCount)
async def count_customers(port: BankPort = Depends(_port)) -> CustomerCount:
    return CustomerCount(customers=await port.count_customers())


@router.get("/customers", response_model=CustomerProfile, summary="Find a customer by mobile")
async def find_by_mobile(
    mobile: Annotated[str, Query(pattern=r"^1\d{10}$")], port: BankPort = Depends(_port)
) -> CustomerProfile:
    found = await port.find_customer_by_mobile(mobile)
    if found is None:
        raise NotFound(f"no customer with mobile {mobile[:3]}****{mobile[-4:]}")
    return found


@router.get("/customers/{customer_no}", response_model=CustomerProfile)
async def get_customer(customer_no: CustomerNo, port: BankPort = Depends(_port)) -> CustomerProfile:
    return await port.get_customer(customer_no)


@router.get("/customers/{customer_no}/accounts", response_model=list[Account])
async def accounts(customer_no: CustomerNo, port: BankPort = Depends(_port)) -> list[Account]:
    return await port.list_accounts(customer_no)


@router.get("/customers/{customer_no}/cards", response_model=list[Card])
async def cards(customer_no: CustomerNo, port: BankPort = Depends(_port)) -> list[Card]:
    return await port.list_cards(customer_no)


@router.get("/customers/{customer_no}/holdings", response_model=list[Holding])
async def holdings(customer_no: CustomerNo, port: BankPort = Depends(_port)) -> list[Holding]:
    return await port.list_holdings(customer_no)


@router.get("/cards/{card_no}", response_model=Card)
async def card(card_no: CardNo, port: BankPort = Depends(_port)) -> Card:
    return await port.get_card(card_no)


@router.get("/cards/{card_no}/bills", response_model=list[str], summary="Statement months")
async def bill_periods(card_no: CardNo, port: BankPort = Depends(_port)) -> list[str]:
    return await port.list_bill_periods(card_no)


@router.get("/cards/{card_no}/bills/{period}", response_model=Bill)
async def bill(
    card_no: CardNo,
    period: Annotated[str, Path(pattern=PERIOD.pattern)],
    port: BankPort = Depends(_port),
) -> Bill:
    return await port.get_bill(card_no, period)


@router.get("/cards/{card_no}/repayment", response_model=RepaymentDue)
async def repayment(card_no: CardNo, port: BankPort = Depends(_port)) -> RepaymentDue:
    return await port.get_repayment_due(card_no)


@router.post("/cards/{card_no}/loss-report", response_model=LossReport, status_code=201)
async def loss_report(
    card_no: CardNo, body: LossReportIn, port: BankPort = Depends(_port)
) -> LossReport:
    return await port.report_card_lost(card_no, reason=body.reason)


@router.post("/forms", response_model=FormReceipt, status_code=201)
async def submit_form(body: FormSubmission, port: BankPort = Depends(_port)) -> FormReceipt:
    """A paperless form signed at a branch counter (account opening, transfer, card)."""
    return await port.submit_form(body)


@router.get("/accounts/{account_no}/transactions", response_model=list[Transaction])
async def transactions(
    account_no: AccountNo,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    port: BankPort = Depends(_port),
) -> list[Transaction]:
    return await port.list_transactions(account_no, limit)


@router.post(
    "/statements/search",
    response_model=list[Statement],
    summary="Statements of many customers issued or due in a date range",
)
async def search_statements(
    body: StatementSearch, port: BankPort = Depends(_port)
) -> list[Statement]:
    return await port.list_statements(
        body.customer_nos, date_field=body.date_field, start=body.start, end=body.end
    )


@router.post(
    "/movements/search",
    response_model=list[Movement],
    summary="Transactions of many customers in a date range, from an amount",
)
async def search_movements(body: MovementSearch, port: BankPort = Depends(_port)) -> list[Movement]:
    return await port.list_movements(
        body.customer_nos, start=body.start, end=body.end, min_amount=body.min_amount
    )


@router.get("/products", response_model=list[Product])
async def products(port: BankPort = Depends(_port)) -> list[Product]:
    return await port.list_products()


@router.get("/branches", response_model=list[Branch])
async def branches(
    city: Annotated[str | None, Query(max_length=16)] = None, port: BankPort = Depends(_port)
) -> list[Branch]:
    return await port.list_branches(city)


def create_contract_app(port: BankPort, *, token: str | None = None, lifespan=None) -> FastAPI:  # type: ignore[no-untyped-def]
    app = FastAPI(
        title="kefu bank contract",
        version=CONTRACT_VERSION,
        description="The REST contract through which kefu reads the bank's systems of record. "
        "Amounts are decimal strings in yuan; errors are application/problem+json.",
        lifespan=lifespan,
    )
    app.state.port = port
    app.state.token = token
    app.include_router(router)

    @app.exception_handler(NotFound)
    async def not_found(_request: Request, exc: NotFound) -> JSONResponse:
        return _problem(404, str(exc))

    @app.exception_handler(BankError)
    async def bank_error(_request: Request, exc: BankError) -> JSONResponse:
        return _problem(502, str(exc))

    return app


def _problem(status: int, detail: str) -> JSONResponse:
    return JSONResponse(
        {"type": "about:blank", "title": "Not Found" if status == 404 else "Bad Gateway",
         "status": status, "detail": detail},
        status_code=status,
        media_type="application/problem+json",
    )  # fmt: skip


def create_contract_app_for_database(database_url: str, *, token: str | None = None) -> FastAPI:
    """The contract served from a seeded synthetic bank (``kefu bank serve``)."""
    from kefu.bank.synthetic.adapter import SyntheticBank
    from kefu.db.engine import make_engine

    engine = make_engine(database_url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await engine.dispose()

    return create_contract_app(SyntheticBank(engine), token=token, lifespan=lifespan)


def contract_openapi_json() -> str:
    class _NoPort:
        pass

    app = create_contract_app(_NoPort())  # type: ignore[arg-type]
    return json.dumps(app.openapi(), ensure_ascii=False, indent=2, sort_keys=True) + "\n"
