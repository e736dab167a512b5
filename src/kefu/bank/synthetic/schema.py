"""Tables of the synthetic bank. Not part of the platform's schema or migrations: they model
an external system, and are created by ``kefu seed``. Amounts are integer fen (分) so sums are
exact on every engine."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)

metadata = MetaData()

customers = Table(
    "bank_customers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("customer_no", String(16), nullable=False, unique=True),
    Column("name", String(16), nullable=False),
    Column("gender", String(1), nullable=False),
    Column("birth_date", Date, nullable=False),
    Column("id_number", String(18), nullable=False),
    Column("mobile", String(11), nullable=False, unique=True),
    Column("city", String(16), nullable=False),
    Column("tier", String(16), nullable=False),
    Column("since", Date, nullable=False),
)

accounts = Table(
    "bank_accounts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("account_no", String(19), nullable=False, unique=True),
    Column("customer_id", Integer, nullable=False, index=True),
    Column("kind", String(8), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("balance_fen", BigInteger, nullable=False),
    Column("opened", Date, nullable=False),
)

cards = Table(
    "bank_cards",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("card_no", String(19), nullable=False, unique=True),
    Column("customer_id", Integer, nullable=False, index=True),
    Column("kind", String(6), nullable=False),
    Column("product", String(32), nullable=False),
    Column("status", String(8), nullable=False),
    Column("expiry", String(5), nullable=False),
    Column("account_id", Integer),
    Column("credit_limit_fen", BigInteger),
    Column("points", Integer),
    Column("statement_day", Integer),
    Column("lost_at", DateTime),
)

bills = Table(
    "bank_bills",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("card_id", Integer, nullable=False),
    Column("period", String(7), nullable=False),
    Column("statement_date", Date, nullable=False),
    Column("due_date", Date, nullable=False),
    Column("total_fen", BigInteger, nullable=False),
    Column("minimum_due_fen", BigInteger, nullable=False),
    Column("paid_fen", BigInteger, nullable=False),
    UniqueConstraint("card_id", "period", name="uq_bank_bills_card_period"),
)

bill_lines = Table(
    "bank_bill_lines",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("bill_id", Integer, nullable=False, index=True),
    Column("posted_on", Date, nullable=False),
    Column("description", String(32), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
)

transactions = Table(
    "bank_transactions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("account_id", Integer, nullable=False, index=True),
    Column("posted_at", DateTime, nullable=False),
    Column("description", String(32), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("balance_after_fen", BigInteger, nullable=False),
    Column("channel", String(8), nullable=False),
)

products = Table(
    "bank_products",
    metadata,
    Column("code", String(16), primary_key=True),
    Column("name", String(32), nullable=False),
    Column("category", String(16), nullable=False),
    Column("risk_level", Integer, nullable=False),
    Column("description", String(200), nullable=False),
)

holdings = Table(
    "bank_holdings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("customer_id", Integer, nullable=False, index=True),
    Column("product_code", String(16), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("since", Date, nullable=False),
)

branches = Table(
    "bank_branches",
    metadata,
    Column("code", String(8), primary_key=True),
    Column("name", String(32), nullable=False),
    Column("city", String(16), nullable=False),
    Column("address", String(64), nullable=False),
    Column("latitude", Float, nullable=False),
    Column("longitude", Float, nullable=False),
    Column("counters", Integer, nullable=False),
    Column("opening_hours", String(32), nullable=False),
)

meta = Table(
    "bank_meta",
    metadata,
    Column("key", String(32), primary_key=True),
    Column("value", String(64), nullable=False),
)
