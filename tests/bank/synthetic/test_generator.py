from __future__ import annotations

from datetime import date

from kefu.bank.synthetic.generator import BLOCK, generate_block, latest_statement

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
