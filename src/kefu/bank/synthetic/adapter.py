"""The bank port served from the synthetic bank's tables."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Literal

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from kefu.bank.models import (
    Account,
    Bill,
    BillLine,
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
from kefu.bank.synthetic import schema as s
from kefu.bank.synthetic.checksums import is_valid_id_number


def yuan(fen: int | None) -> Decimal | None:
    return None if fen is None else (Decimal(fen) / 100).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class CustomerBundle:
    """One customer as ``SyntheticBank.read_many`` reads it for a batch job."""

    profile: CustomerProfile
    holdings: tuple[str, ...]  # product codes held
    cards: tuple[tuple[str, str], ...]  # (kind, status) of each card
    recent: tuple[tuple[str, Decimal], ...]  # (description, amount) of each account's latest


class SyntheticBank:
    """Implements :class:`kefu.bank.port.BankPort` over the ``bank_*`` tables."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def _rows(self, statement):  # type: ignore[no-untyped-def]
        async with self._engine.connect() as conn:
            return (await conn.execute(statement)).mappings().all()

    async def _one(self, statement, what: str):  # type: ignore[no-untyped-def]
        rows = await self._rows(statement)
        if not rows:
            raise NotFound(what)
        return rows[0]

    async def count_customers(self) -> int:
        from sqlalchemy import func

        rows = await self._rows(select(func.count().label("n")).select_from(s.customers))
        return int(rows[0]["n"])

    @staticmethod
    def _profile(row) -> CustomerProfile:  # type: ignore[no-untyped-def]
        return CustomerProfile(
            customer_no=row["customer_no"],
            name=row["name"],
            gender=row["gender"],
            birth_date=row["birth_date"],
            id_number=row["id_number"],
            mobile=row["mobile"],
            city=row["city"],
            tier=row["tier"],
            since=row["since"],
        )

    async def get_customer(self, customer_no: str) -> CustomerProfile:
        row = await self._one(
            select(s.customers).where(s.customers.c.customer_no == customer_no),
            f"customer {customer_no}",
        )
        return self._profile(row)

    async def find_customer_by_mobile(self, mobile: str) -> CustomerProfile | None:
        rows = await self._rows(select(s.customers).where(s.customers.c.mobile == mobile))
        return self._profile(rows[0]) if rows else None

    async def _customer_id(self, customer_no: str) -> int:
        row = await self._one(
            select(s.customers.c.id).where(s.customers.c.customer_no == customer_no),
            f"customer {customer_no}",
        )
        return int(row["id"])

    async def list_accounts(self, customer_no: str) -> list[Account]:
        cid = await self._customer_id(customer_no)
        rows = await self._rows(
            select(s.accounts).where(s.accounts.c.customer_id == cid).order_by(s.accounts.c.id)
        )
        return [
            Account(
                account_no=r["account_no"],
                customer_no=customer_no,
                kind=r["kind"],
                currency=r["currency"],
                balance=yuan(r["balance_fen"]),
                opened=r["opened"],
            )
            for r in rows
        ]

    async def _card_from_row(self, r, customer_no: str) -> Card:  # type: ignore[no-untyped-def]
        account_no = None
        available = None
        if r["account_id"] is not None:
            acct = await self._one(
                select(s.accounts.c.account_no).where(s.accounts.c.id == r["account_id"]),
                "account",
            )
            account_no = acct["account_no"]
        if r["kind"] == "credit":
            latest = await self._rows(
                select(s.bills.c.total_fen, s.bills.c.paid_fen)
                .where(s.bills.c.card_id == r["id"])
                .order_by(s.bills.c.period.desc())
                .limit(1)
            )
            owed = latest[0]["total_fen"] - latest[0]["paid_fen"] if latest else 0
            available = yuan(max(r["credit_limit_fen"] - owed, 0))
        return Card(
            card_no=r["card_no"],
            customer_no=customer_no,
            kind=r["kind"],
            product=r["product"],
            status=r["status"],
            expiry=r["expiry"],
            account_no=account_no,
            credit_limit=yuan(r["credit_limit_fen"]),
            available_credit=available,
            points=r["points"],
            statement_day=r["statement_day"],
        )

    async def list_cards(self, customer_no: str) -> list[Card]:
        cid = await self._customer_id(customer_no)
        rows = await self._rows(
            select(s.cards).where(s.cards.c.customer_id == cid).order_by(s.cards.c.id)
        )
        return [await self._card_from_row(r, customer_no) for r in rows]

    async def _card_row(self, card_no: str):  # type: ignore[no-untyped-def]
        return await self._one(
            select(s.cards, s.customers.c.customer_no)
            .join(s.customers, s.customers.c.id == s.cards.c.customer_id)
            .where(s.cards.c.card_no == card_no),
            f"card {card_no}",
        )

    async def get_card(self, card_no: str) -> Card:
        row = await self._card_row(card_no)
        return await self._card_from_row(row, row["customer_no"])

    async def list_bill_periods(self, card_no: str) -> list[str]:
        card = await self._card_row(card_no)
        rows = await self._rows(
            select(s.bills.c.period)
            .where(s.bills.c.card_id == card["id"])
            .order_by(s.bills.c.period.desc())
        )
        return [r["period"] for r in rows]

    async def get_bill(self, card_no: str, period: str) -> Bill:
        card = await self._card_row(card_no)
        bill = await self._one(
            select(s.bills).where(s.bills.c.card_id == card["id"], s.bills.c.period == period),
            f"bill {period} of card {card_no}",
        )
        lines = await self._rows(
            select(s.bill_lines)
            .where(s.bill_lines.c.bill_id == bill["id"])
            .order_by(s.bill_lines.c.id)
        )
        return Bill(
            card_no=card_no,
            period=bill["period"],
            statement_date=bill["statement_date"],
            due_date=bill["due_date"],
            total=yuan(bill["total_fen"]),
            minimum_due=yuan(bill["minimum_due_fen"]),
            paid=yuan(bill["paid_fen"]),
            lines=[
                BillLine(
                    posted_on=line["posted_on"],
                    description=line["description"],
                    amount=yuan(line["amount_fen"]),
                )
                for line in lines
            ],
        )

    async def get_repayment_due(self, card_no: str) -> RepaymentDue:
        card = await self._card_row(card_no)
        bill = await self._one(
            select(s.bills)
            .where(s.bills.c.card_id == card["id"])
            .order_by(s.bills.c.period.desc())
            .limit(1),
            f"bills of card {card_no}",
        )
        return RepaymentDue(
            card_no=card_no,
            period=bill["period"],
            due_date=bill["due_date"],
            total=yuan(bill["total_fen"]),
            minimum_due=yuan(bill["minimum_due_fen"]),
            paid=yuan(bill["paid_fen"]),
            outstanding=yuan(max(bill["total_fen"] - bill["paid_fen"], 0)),
        )

    async def list_transactions(self, account_no: str, limit: int = 10) -> list[Transaction]:
        acct = await self._one(
            select(s.accounts.c.id).where(s.accounts.c.account_no == account_no),
            f"account {account_no}",
        )
        rows = await self._rows(
            select(s.transactions)
            .where(s.transactions.c.account_id == acct["id"])
            .order_by(s.transactions.c.posted_at.desc(), s.transactions.c.id.desc())
            .limit(max(1, min(limit, 100)))
        )
        return [
            Transaction(
                account_no=account_no,
                posted_at=r["posted_at"],
                description=r["description"],
                amount=yuan(r["amount_fen"]),
                balance_after=yuan(r["balance_after_fen"]),
                channel=r["channel"],
            )
            for r in rows
        ]

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
        on = s.bills.c[date_field]
        rows = await self._rows(
            select(s.bills, s.cards.c.card_no, s.customers.c.customer_no)
            .join(s.cards, s.cards.c.id == s.bills.c.card_id)
            .join(s.customers, s.customers.c.id == s.cards.c.customer_id)
            .where(s.customers.c.customer_no.in_(list(customer_nos)),
                   s.cards.c.kind == "credit", s.cards.c.status == "active",
                   on >= start, on <= end)
            .order_by(s.customers.c.customer_no, s.cards.c.id, s.bills.c.period)
        )  # fmt: skip
        return [
            Statement(
                customer_no=r["customer_no"],
                card_no=r["card_no"],
                period=r["period"],
                statement_date=r["statement_date"],
                due_date=r["due_date"],
                total=yuan(r["total_fen"]),
                minimum_due=yuan(r["minimum_due_fen"]),
                paid=yuan(r["paid_fen"]),
                outstanding=yuan(max(r["total_fen"] - r["paid_fen"], 0)),
            )  # fmt: skip
            for r in rows
        ]

    async def list_movements(
        self, customer_nos: Sequence[str], *, start: date, end: date, min_amount: Decimal
    ) -> list[Movement]:
        if not customer_nos:
            return []
        t = s.transactions
        # Bounds to the microsecond on both sides: SQLite compares the seeder's text
        # "2026-11-27 00:00:00" with a bound "…00:00:00.000000" as strings, so ">= midnight"
        # would miss a transaction posted at midnight exactly.
        first = datetime.combine(start, time()) - timedelta(microseconds=1)
        last = datetime.combine(end, time.max)
        rows = await self._rows(
            select(t, s.accounts.c.account_no, s.customers.c.customer_no)
            .join(s.accounts, s.accounts.c.id == t.c.account_id)
            .join(s.customers, s.customers.c.id == s.accounts.c.customer_id)
            .where(s.customers.c.customer_no.in_(list(customer_nos)),
                   t.c.posted_at > first, t.c.posted_at <= last,
                   func.abs(t.c.amount_fen) >= int(min_amount * 100))
            .order_by(t.c.posted_at, t.c.id)
        )  # fmt: skip
        return [
            Movement(
                customer_no=r["customer_no"],
                account_no=r["account_no"],
                posted_at=r["posted_at"],
                description=r["description"],
                amount=yuan(r["amount_fen"]),
                balance_after=yuan(r["balance_after_fen"]),
                channel=r["channel"],
            )  # fmt: skip
            for r in rows
        ]

    async def list_holdings(self, customer_no: str) -> list[Holding]:
        cid = await self._customer_id(customer_no)
        rows = await self._rows(
            select(s.holdings, s.products.c.name, s.products.c.category)
            .join(s.products, s.products.c.code == s.holdings.c.product_code)
            .where(s.holdings.c.customer_id == cid)
            .order_by(s.holdings.c.id)
        )
        return [
            Holding(
                customer_no=customer_no,
                product_code=r["product_code"],
                product_name=r["name"],
                category=r["category"],
                amount=yuan(r["amount_fen"]),
                since=r["since"],
            )
            for r in rows
        ]

    async def read_many(
        self, customer_nos: Sequence[str], *, recent: int = 10
    ) -> dict[str, CustomerBundle]:
        """Many customers' profile, held product codes, cards' (kind, status) and each
        account's ``recent`` latest transactions, in four queries — what a batch job (the
        cross-selling score-all) would otherwise ask ~10 calls a customer for. Not on the
        port yet (an HTTP bank has no bulk read): callers fall back to the per-customer calls.
        Customers unknown to the bank are absent from the answer."""
        customers = await self._rows(
            select(s.customers).where(s.customers.c.customer_no.in_(list(customer_nos)))
        )
        if not customers:
            return {}
        by_id = {r["id"]: r["customer_no"] for r in customers}
        ids = list(by_id)
        holdings: dict[int, list[str]] = {i: [] for i in ids}
        for r in await self._rows(select(s.holdings.c.customer_id, s.holdings.c.product_code)
                                  .where(s.holdings.c.customer_id.in_(ids))
                                  .order_by(s.holdings.c.id)):  # fmt: skip
            holdings[r["customer_id"]].append(r["product_code"])
        cards: dict[int, list[tuple[str, str]]] = {i: [] for i in ids}
        for r in await self._rows(select(s.cards.c.customer_id, s.cards.c.kind, s.cards.c.status)
                                  .where(s.cards.c.customer_id.in_(ids))
                                  .order_by(s.cards.c.id)):  # fmt: skip
            cards[r["customer_id"]].append((r["kind"], r["status"]))
        t = s.transactions
        ranked = (
            select(t.c.account_id, t.c.description, t.c.amount_fen,
                   func.row_number().over(partition_by=t.c.account_id,
                                          order_by=(t.c.posted_at.desc(), t.c.id.desc()))
                   .label("n"))
            .where(t.c.account_id.in_(select(s.accounts.c.id)
                                      .where(s.accounts.c.customer_id.in_(ids))))
            .subquery()
        )  # fmt: skip
        moves: dict[int, list[tuple[str, Decimal]]] = {i: [] for i in ids}
        for r in await self._rows(
            select(s.accounts.c.customer_id, ranked.c.description, ranked.c.amount_fen)
            .join(ranked, ranked.c.account_id == s.accounts.c.id)
            .where(ranked.c.n <= max(1, min(recent, 100)))
        ):
            moves[r["customer_id"]].append((r["description"], yuan(r["amount_fen"]) or Decimal(0)))
        return {
            r["customer_no"]: CustomerBundle(
                profile=self._profile(r),
                holdings=tuple(holdings[r["id"]]),
                cards=tuple(cards[r["id"]]),
                recent=tuple(moves[r["id"]]),
            )  # fmt: skip
            for r in customers
        }

    async def list_products(self) -> list[Product]:
        rows = await self._rows(select(s.products).order_by(s.products.c.code))
        return [Product(**dict(r)) for r in rows]

    async def list_branches(self, city: str | None = None) -> list[Branch]:
        statement = select(s.branches).order_by(s.branches.c.code)
        if city:
            statement = statement.where(s.branches.c.city == city)
        return [Branch(**dict(r)) for r in await self._rows(statement)]

    async def report_card_lost(self, card_no: str, *, reason: str) -> LossReport:
        await self._card_row(card_no)
        now = datetime.now().replace(microsecond=0)
        async with self._engine.begin() as conn:
            await conn.execute(
                update(s.cards)
                .where(s.cards.c.card_no == card_no)
                .values(status="lost", lost_at=now)
            )
        return LossReport(
            card_no=card_no,
            status="lost",
            reported_at=now,
            reference=f"GS{now:%Y%m%d}{secrets.token_hex(3).upper()}",
        )

    async def submit_form(self, submission: FormSubmission) -> FormReceipt:
        """Checks what a core system would (a valid ID number, a PNG signature) and answers
        with a reference; the synthetic bank keeps no copy of the form."""
        if not is_valid_id_number(submission.fields.get("id_number", "")):
            raise BankError("form refused: the ID number is missing or invalid")
        try:
            png = base64.b64decode(submission.signature_png, validate=True)
        except ValueError:
            raise BankError("form refused: the signature is not base64") from None
        if not png.startswith(b"\x89PNG\r\n\x1a\n"):
            raise BankError("form refused: the signature is not a PNG image")
        now = datetime.now().replace(microsecond=0)
        return FormReceipt(
            reference=f"FM{now:%Y%m%d}{secrets.token_hex(4).upper()}",
            status="accepted",
            received_at=now,
        )

    async def close(self) -> None:
        """The engine belongs to the caller."""
