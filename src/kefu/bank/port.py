"""The interface kefu uses to read (and, for loss reports, write) the bank's systems."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from kefu.bank.models import (
    Account,
    Bill,
    Branch,
    Card,
    CustomerProfile,
    Holding,
    LossReport,
    Product,
    RepaymentDue,
    Transaction,
)


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

    async def list_holdings(self, customer_no: str) -> list[Holding]: ...

    async def list_products(self) -> list[Product]: ...

    async def list_branches(self, city: str | None = None) -> list[Branch]: ...

    async def report_card_lost(self, card_no: str, *, reason: str) -> LossReport:
        """Marks the card lost in the bank's systems. Raises NotFound."""
        ...

    async def close(self) -> None: ...
