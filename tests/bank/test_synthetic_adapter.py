from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from kefu.bank.port import BankPort, NotFound
from kefu.bank.synthetic.adapter import SyntheticBank
from kefu.db.engine import make_engine
from tests.conftest import seed_sync

pytestmark = pytest.mark.db


def _with_bank(url: str, fn):  # type: ignore[no-untyped-def]
    async def go():  # type: ignore[no-untyped-def]
        engine = make_engine(url)
        try:
            return await fn(SyntheticBank(engine))
        finally:
            await engine.dispose()

    return asyncio.run(go())


def test_port_reads_a_customer_end_to_end(db_url: str) -> None:
    seed_sync(db_url, 40)

    async def scenario(bank: SyntheticBank) -> None:
        assert isinstance(bank, BankPort)
        assert await bank.count_customers() == 40
        customers = [await bank.get_customer(f"C{i:010d}") for i in range(1, 41)]
        found = await bank.find_customer_by_mobile(customers[3].mobile)
        assert found == customers[3]
        assert await bank.find_customer_by_mobile("19900000000") is None
        holder = None
        for customer in customers:
            cards = await bank.list_cards(customer.customer_no)
            credit = [c for c in cards if c.kind == "credit"]
            if credit:
                holder, card = customer, credit[0]
                break
        assert holder is not None
        periods = await bank.list_bill_periods(card.card_no)
        assert len(periods) == 12 and periods == sorted(periods, reverse=True)
        bill = await bank.get_bill(card.card_no, periods[0])
        assert bill.total == sum((line.amount for line in bill.lines), Decimal("0"))
        due = await bank.get_repayment_due(card.card_no)
        assert due.period == periods[0]
        assert due.outstanding == bill.total - bill.paid
        assert card.available_credit == card.credit_limit - due.outstanding
        accounts = await bank.list_accounts(holder.customer_no)
        txs = await bank.list_transactions(accounts[0].account_no, limit=3)
        assert len(txs) == 3 and txs[0].balance_after == accounts[0].balance
        assert txs[0].posted_at >= txs[1].posted_at
        assert len(await bank.list_branches()) == 34
        assert [b.city for b in await bank.list_branches("深圳")] == ["深圳"]
        assert len(await bank.list_products()) >= 10
        with pytest.raises(NotFound):
            await bank.get_customer("C9999999999")
        with pytest.raises(NotFound):
            await bank.get_bill(card.card_no, "1999-01")
        report = await bank.report_card_lost(card.card_no, reason="test")
        assert report.status == "lost" and report.reference.startswith("GS")
        assert (await bank.get_card(card.card_no)).status == "lost"

    _with_bank(db_url, scenario)
