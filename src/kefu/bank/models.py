"""What the bank port returns. These models are also the HTTP contract's JSON bodies
(docs/bank-api.openapi.json), so the HTTP adapter and the contract server share them."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Money = Decimal  # yuan, two decimal places


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class CustomerProfile(_Model):
    customer_no: str
    name: str
    gender: Literal["M", "F"]
    birth_date: date
    id_number: str = Field(description="18-digit resident ID number (GB 11643).")
    mobile: str
    city: str
    tier: Literal["standard", "gold", "platinum", "private"]
    since: date


class Account(_Model):
    account_no: str
    customer_no: str
    kind: Literal["savings", "current"]
    currency: str = "CNY"
    balance: Money
    opened: date


class Card(_Model):
    card_no: str
    customer_no: str
    kind: Literal["debit", "credit"]
    product: str
    status: Literal["active", "lost", "frozen"]
    expiry: str = Field(description="MM/YY")
    account_no: str | None = Field(default=None, description="Linked account (debit cards).")
    credit_limit: Money | None = None
    available_credit: Money | None = None
    points: int | None = None
    statement_day: int | None = None


class BillLine(_Model):
    posted_on: date
    description: str
    amount: Money = Field(description="Positive for spending, negative for refunds.")


class Bill(_Model):
    card_no: str
    period: str = Field(description="Statement month, YYYY-MM.")
    statement_date: date
    due_date: date
    total: Money = Field(description="Always the sum of the lines.")
    minimum_due: Money
    paid: Money
    lines: list[BillLine] = Field(default_factory=list)


class Transaction(_Model):
    account_no: str
    posted_at: datetime
    description: str
    amount: Money = Field(description="Signed: positive credits, negative debits.")
    balance_after: Money
    channel: str


class RepaymentDue(_Model):
    card_no: str
    period: str
    due_date: date
    total: Money
    minimum_due: Money
    paid: Money
    outstanding: Money


class Statement(_Model):
    """A credit-card statement without its lines: what a notice about a bill needs. Listed
    for many customers at once (the subscription scheduler asks per page of customers)."""

    customer_no: str
    card_no: str
    period: str = Field(description="Statement month, YYYY-MM.")
    statement_date: date
    due_date: date
    total: Money
    minimum_due: Money
    paid: Money
    outstanding: Money


class Movement(Transaction):
    """A transaction with the customer it belongs to (listed for many customers at once)."""

    customer_no: str


class Product(_Model):
    code: str
    name: str
    category: Literal["deposit", "wealth", "fund", "insurance", "loan", "card"]
    risk_level: int = Field(ge=1, le=5)
    description: str


class Holding(_Model):
    customer_no: str
    product_code: str
    product_name: str
    category: str
    amount: Money
    since: date


class Branch(_Model):
    code: str
    name: str
    city: str
    address: str
    latitude: float
    longitude: float
    counters: int
    opening_hours: str


class LossReport(_Model):
    card_no: str
    status: Literal["lost"]
    reported_at: datetime
    reference: str


class FormSubmission(_Model):
    """A paperless form completed at a branch counter: the customer's values as checked and
    corrected by the teller, and the customer's one signature."""

    kind: str = Field(pattern=r"^[a-z_]{1,32}$", description="account_opening, transfer, …")
    branch_code: str = Field(pattern=r"^[A-Za-z0-9]{1,16}$")
    reference: str = Field(pattern=r"^[A-Za-z0-9]{1,16}$", description="kefu's form reference.")
    fields: dict[str, str] = Field(description="Field name → value (ID numbers, cards in full).")
    signature_png: str = Field(min_length=1, description="The signature, base64 PNG.")
    signed_at: datetime
    teller: str = Field(max_length=80)


class FormReceipt(_Model):
    reference: str = Field(description="The bank's reference for the submitted form.")
    status: Literal["accepted"]
    received_at: datetime
