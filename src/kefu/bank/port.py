"""The interface kefu uses to read (and, for loss reports and signed branch forms, write) the
bank's systems."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Literal, Protocol, runtime_checkable

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
    Money,
    Movement,
    Product,
    RepaymentDue,
    Statement,
    Transaction,
)

MAX_BATCH = 1000  # customers per call of the list_statements / list_movements kind


class BankError(RuntimeError):
    """The bank's systems could not answer (unreachable, timed out, malformed answer)."""


class NotFound(BankError):
    """The customer, card, account or bill asked for does not exist."""


@runtime_checkable
class BankPort(Protocol):
    async def count_customers(self) -> int: ...

    async def get_customer(self, customer_no: str) -> CustomerProfile:
        """Raises NotFound."""
        ...

    async def find_customer_by_mobile(self, mobile: str) -> CustomerProfile | None: ...

    async def list_accounts(self, customer_no: str) -> list[Account]: ...

    async def list_cards(self, customer_no: str) -> list[Card]: ...

    async def get_card(self, card_no: str) -> Card:
        """Raises NotFound."""
        ...

    async def list_bill_periods(self, card_no: str) -> list[str]:
        """Statement months with a bill, newest first (YYYY-MM)."""
        ...

    async def get_bill(self, card_no: str, period: str) -> Bill:
        """The bill of one statement month with its lines. Raises NotFound."""
        ...

    async def get_repayment_due(self, card_no: str) -> RepaymentDue:
        """What is owed on the latest bill. Raises NotFound."""
        ...

    async def list_transactions(self, account_no: str, limit: int = 10) -> list[Transaction]:
        """Newest first."""
        ...

    async def list_statements(
        self,
        customer_nos: Sequence[str],
        *,
        date_field: Literal["statement_date", "due_date"],
        start: date,
        end: date,
    ) -> list[Statement]:
        """Statements of these customers' active credit cards whose ``date_field`` falls in
        [start, end] (at most MAX_BATCH customers a call)."""
        ...

    async def list_movements(
        self, customer_nos: Sequence[str], *, start: date, end: date, min_amount: Money
    ) -> list[Movement]:
        """These customers' account transactions posted on the bank's business days
        [start, end] of at least ``min_amount`` either way, oldest first."""
        ...

    async def list_holdings(self, customer_no: str) -> list[Holding]: ...

    async def list_products(self) -> list[Product]: ...

    async def list_branches(self, city: str | None = None) -> list[Branch]: ...

    async def report_card_lost(self, card_no: str, *, reason: str) -> LossReport:
        """Marks the card lost in the bank's systems. Raises NotFound."""
        ...

    async def submit_form(self, submission: FormSubmission) -> FormReceipt:
        """Files a signed paperless form (account opening, transfer, card application) with
        the bank; returns the bank's reference. Raises BankError when the bank refuses it."""
        ...

    async def close(self) -> None: ...
