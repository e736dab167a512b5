"""Every row of a seeded bank, not a sample: ID numbers, card numbers, bills, balances."""

from __future__ import annotations

import asyncio
from collections import defaultdict

import pytest
from sqlalchemy import select

from kefu.bank.synthetic import schema as s
from kefu.bank.synthetic.checksums import is_luhn_valid, is_valid_id_number
from kefu.bank.synthetic.seeder import AlreadySeeded
from kefu.db.engine import make_engine
from tests.conftest import AS_OF, seed_sync

pytestmark = pytest.mark.db

CUSTOMERS = 1500


async def _all(url: str, table):  # type: ignore[no-untyped-def]
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(select(table))).mappings().all()
    finally:
        await engine.dispose()


def test_every_row_of_a_seeded_bank_is_consistent(db_url: str) -> None:
    seed_sync(db_url, CUSTOMERS)
    customers = asyncio.run(_all(db_url, s.customers))
    assert len(customers) == CUSTOMERS
    bad_ids = [c["id_number"] for c in customers if not is_valid_id_number(c["id_number"])]
    assert bad_ids == []
    # The birth date inside each ID number is the customer's birth date.
    assert all(c["id_number"][6:14] == f"{c['birth_date']:%Y%m%d}" for c in customers)
    # The sequence digit is odd for men and even for women.
    assert all(int(c["id_number"][16]) % 2 == (1 if c["gender"] == "M" else 0) for c in customers)
    assert all(len(c["mobile"]) == 11 and c["mobile"][0] == "1" for c in customers)
    assert len({c["mobile"] for c in customers}) == CUSTOMERS

    cards = asyncio.run(_all(db_url, s.cards))
    assert [c["card_no"] for c in cards if not is_luhn_valid(c["card_no"])] == []
    assert {c["card_no"][:6] for c in cards} <= {
        "621483",
        "623126",
        "622575",
        "439225",
        "518710",
        "356885",
    }

    bills = asyncio.run(_all(db_url, s.bills))
    lines = asyncio.run(_all(db_url, s.bill_lines))
    line_sums: dict[int, int] = defaultdict(int)
    for line in lines:
        line_sums[line["bill_id"]] += line["amount_fen"]
    assert bills and [b["id"] for b in bills if b["total_fen"] != line_sums[b["id"]]] == []
    assert all(0 <= b["minimum_due_fen"] <= b["total_fen"] for b in bills)
    assert all(b["paid_fen"] <= b["total_fen"] for b in bills)

    accounts = {a["id"]: a for a in asyncio.run(_all(db_url, s.accounts))}
    by_account: dict[int, list] = defaultdict(list)
    for tx in asyncio.run(_all(db_url, s.transactions)):
        by_account[tx["account_id"]].append(tx)
    assert set(by_account) == set(accounts)
    for account_id, txs in by_account.items():
        txs.sort(key=lambda t: (t["posted_at"], t["id"]))
        for previous, current in zip(txs, txs[1:], strict=False):
            assert (
                current["balance_after_fen"]
                == previous["balance_after_fen"] + current["amount_fen"]
            )
        assert txs[-1]["balance_after_fen"] == accounts[account_id]["balance_fen"]
        assert all(t["balance_after_fen"] >= 0 for t in txs)

    branches = asyncio.run(_all(db_url, s.branches))
    assert len(branches) == 34 and len({b["city"] for b in branches}) == 34
    assert all(18 < b["latitude"] < 54 and 73 < b["longitude"] < 135 for b in branches)
    categories = {p["category"] for p in asyncio.run(_all(db_url, s.products))}
    assert {"deposit", "wealth", "fund", "insurance"} <= categories
    assert any("车险" in p["name"] for p in asyncio.run(_all(db_url, s.products)))


def test_seeding_twice_is_refused_without_reset(db_url: str) -> None:
    seed_sync(db_url, 5)
    with pytest.raises(AlreadySeeded, match="--reset"):
        seed_sync(db_url, 5)


def test_seed_is_reproducible(db_url: str, tmp_path) -> None:
    other = f"sqlite:///{tmp_path / 'other.db'}"
    seed_sync(db_url, 30, seed=11)
    seed_sync(other, 30, seed=11)
    first = asyncio.run(_all(db_url, s.bill_lines))
    second = asyncio.run(_all(other, s.bill_lines))
    assert [dict(r) for r in first] == [dict(r) for r in second]
    assert AS_OF.year == 2026
