from __future__ import annotations

import random
from datetime import date

from kefu.bank.synthetic.checksums import is_luhn_valid
from kefu.bank.synthetic.generator import (
    BLOCK,
    DEMO_MOBILE,
    card_number,
    generate_block,
    latest_statement,
    mobile_for,
)

AS_OF = date(2026, 11, 29)


def test_same_seed_same_bank_different_seed_different_bank() -> None:
    a = generate_block(1, 0, 50, AS_OF)
    b = generate_block(1, 0, 50, AS_OF)
    c = generate_block(2, 0, 50, AS_OF)
    assert a == b
    assert a.customers != c.customers


def test_blocks_do_not_depend_on_the_total() -> None:
    # The second block of a 1,500-customer bank equals that of a 2,000-customer bank, so
    # seeding in any batch size gives the same customers.
    assert (
        generate_block(5, 1, 1500, AS_OF).customers[:500]
        == generate_block(5, 1, 2000, AS_OF).customers[:500]
    )


def test_ids_are_unique_across_blocks() -> None:
    blocks = [generate_block(3, n, 3 * BLOCK, AS_OF) for n in range(3)]
    for attr in (
        "customers",
        "accounts",
        "cards",
        "bills",
        "bill_lines",
        "transactions",
        "holdings",
    ):
        ids = [row["id"] for block in blocks for row in getattr(block, attr)]
        assert len(ids) == len(set(ids)), attr
    mobiles = [c["mobile"] for block in blocks for c in block.customers]
    cards = [c["card_no"] for block in blocks for c in block.cards]
    assert len(set(mobiles)) == len(mobiles)
    assert len(set(cards)) == len(cards)


def test_twelve_bills_per_credit_card_ending_at_the_latest_statement() -> None:
    block = generate_block(9, 0, 200, AS_OF)
    credit = [c for c in block.cards if c["kind"] == "credit"]
    assert credit
    for card in credit:
        periods = sorted(b["period"] for b in block.bills if b["card_id"] == card["id"])
        assert len(periods) == 12
        latest = latest_statement(AS_OF, card["statement_day"])
        assert periods[-1] == f"{latest:%Y-%m}"


def test_latest_statement() -> None:
    assert latest_statement(date(2026, 11, 29), 10) == date(2026, 11, 10)
    assert latest_statement(date(2026, 1, 5), 10) == date(2025, 12, 10)


def test_account_and_card_numbers_look_real_and_stay_unique() -> None:
    """Issue 23, finding 10: balances read 尾号0001 (account 62 + a zero-padded counter).
    Numbers are now scattered, Luhn-valid, unique, and the demo's card tails are kept."""
    blocks = [generate_block(42, n, 3 * BLOCK, AS_OF) for n in range(3)]
    accounts = [a["account_no"] for block in blocks for a in block.accounts]
    cards = [c["card_no"] for block in blocks for c in block.cards]
    assert len(set(accounts)) == len(accounts) and len(set(cards)) == len(cards)
    assert all(len(a) == 19 and is_luhn_valid(a) for a in accounts)
    assert all(is_luhn_valid(c) for c in cards)
    # No counter showing through: runs of zeros as rare as chance makes them (the old numbers
    # all had one), the first tails all different.
    numbers = accounts + cards
    assert len([n for n in numbers if "000000" in n]) <= len(numbers) // 1000
    first = [a[-4:] for a in accounts[:20]]
    assert len(set(first)) == len(first) and "0001" not in first
    # The savings account's number starts with the area code of the customer's district.
    customer = blocks[0].customers[0]
    assert accounts[0][:4] == customer["id_number"][:4]
    # C0000000001's debit card keeps the tail the agent-script tests and guides name.
    debit = next(c for c in blocks[0].cards if c["customer_id"] == 1 and c["kind"] == "debit")
    assert debit["card_no"].startswith(("621483", "623126")) and debit["card_no"][-4:] == "6488"


def test_card_numbers_stay_unique_far_beyond_the_demo() -> None:
    numbers = {card_number("622575", 16, card_id) for card_id in range(1, 200_001)}
    assert len(numbers) == 200_000


def test_the_first_customer_has_the_number_the_readme_texts_from() -> None:
    """Issue 23, finding 10: `kefu phone 13800138000` (README) reached no bound customer."""
    block = generate_block(42, 0, 50, AS_OF)
    assert block.customers[0]["customer_no"] == "C0000000001"
    assert block.customers[0]["mobile"] == DEMO_MOBILE == "13800138000"
    # The index that would have had the demo number's body takes the first customer's.
    index = (138000 - 12345679) * pow(48271, -1, 10**8) % 10**8
    assert mobile_for(index, random.Random(0)).endswith("12345679")
