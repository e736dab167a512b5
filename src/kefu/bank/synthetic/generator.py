"""Deterministic generation of the synthetic bank.

Customers are generated in blocks of ``BLOCK`` with one random generator per block, seeded
from ``(seed, block)``; every row id is derived from the customer's index. So the same seed
and reference date always give the same bank, whatever the batch size, and memory stays
bounded by one block whatever the number of customers.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import accumulate

from kefu.bank.synthetic import affinities
from kefu.bank.synthetic import reference as ref
from kefu.bank.synthetic.checksums import gb11643_check_digit, luhn_check_digit, luhn_total

BLOCK = 1000
MAX_ACCOUNTS = 4  # per customer: id = customer_index * MAX_ACCOUNTS + k
MAX_CARDS = 4
BILL_MONTHS = 12
MAX_LINES = 8
TX_PER_ACCOUNT = 8
MAX_HOLDINGS = 8

_CUM_CITY = list(accumulate(ref.CITY_WEIGHTS))
_TIERS = ["standard", "gold", "platinum", "private"]
_TIER_WEIGHTS = list(accumulate([70, 20, 8, 2]))


@dataclass
class Block:
    customers: list[dict] = field(default_factory=list)
    accounts: list[dict] = field(default_factory=list)
    cards: list[dict] = field(default_factory=list)
    bills: list[dict] = field(default_factory=list)
    bill_lines: list[dict] = field(default_factory=list)
    transactions: list[dict] = field(default_factory=list)
    holdings: list[dict] = field(default_factory=list)

    def row_count(self) -> int:
        return sum(len(rows) for rows in self.__dict__.values())


def month_add(year: int, month: int, delta: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + delta
    return index // 12, index % 12 + 1


def customer_no(index: int) -> str:
    return f"C{index + 1:010d}"


# The first customer's mobile: the number the README and the SMS guide text the demo from
# (``kefu phone 13800138000``), so it reaches a bound customer with a whole profile.
DEMO_MOBILE = "13800138000"
_DEMO_BODY = int(DEMO_MOBILE[3:])
_FIRST_BODY = 12345679  # what index 0 would get: handed to the index that would get _DEMO_BODY


def mobile_for(index: int, rng: random.Random) -> str:
    # 48271 is prime and coprime with 10**8, so index -> body is a bijection below 10**8:
    # numbers never collide, yet look scattered. The prefix is drawn for every index, the
    # first customer's too, so the rest of the bank is the same as before DEMO_MOBILE.
    prefix = rng.choice(ref.MOBILE_PREFIXES)
    if index == 0:
        return DEMO_MOBILE
    body = (index * 48271 + _FIRST_BODY) % 100_000_000
    if body == _DEMO_BODY:  # swapped with index 0's: still one body per customer
        body = _FIRST_BODY
    return prefix + f"{body:08d}"


# Odd and not a multiple of 5, so a unit modulo every power of ten: x → x·SCATTER mod 10ⁿ is
# one-to-one, and ids 1, 2, 3 land far apart (numbers that do not read as a counter).
SCATTER = 6_180_339_887_498_948_482_045_868_343_656_381_177_203_091
TAIL = 4  # the digits a number is known by (尾号)


def scatter(value: int, digits: int) -> int:
    """``value`` (below 10**digits) mapped one-to-one onto a scattered ``digits``-digit number."""
    return (value * SCATTER + 104_729) % 10**digits


def card_number(bin_: str, length: int, card_id: int) -> str:
    """A Luhn-valid card number: the product's BIN, a scattered middle, a digit that makes
    Luhn hold, and the tail (尾号) this generator has always given ``card_id`` — the demo's
    cards keep the tails tests and guides name (e.g. C0000000001's debit card …6488)."""
    body_len = length - len(bin_) - 1
    body = (card_id * 7919 + 104729) % (10**body_len)  # the original numbering, kept for tails
    first = f"{bin_}{body:0{body_len}d}"
    tail = (first + luhn_check_digit(first))[-TAIL:]
    # The tail carries the body's last TAIL-1 digits; the middle carries the rest (scattered),
    # so the number still determines card_id below 10**(middle + TAIL - 1).
    middle_len = length - len(bin_) - 1 - TAIL
    middle = scatter((body // 10 ** (TAIL - 1)) % 10**middle_len, middle_len)
    head = f"{bin_}{middle:0{middle_len}d}"
    # The fixing digit sits an even number of places from the right: Luhn does not double it.
    fix = (10 - luhn_total(f"{head}0{tail}") % 10) % 10
    return f"{head}{fix}{tail}"


def account_number(district: str, kind: str, account_id: int) -> str:
    """A 19-digit account number as Chinese banks write them: the opening branch's area code
    (the first four digits of the customer's district), the product (01 savings, 02 current),
    a scattered serial and a Luhn check digit."""
    product = "01" if kind == "savings" else "02"
    partial = f"{district[:4]}{product}{scatter(account_id, 12):012d}"
    return partial + luhn_check_digit(partial)


def id_number(district: str, birth: date, index: int, male: bool) -> str:
    seq = (index * 37) % 500 * 2 + (1 if male else 0)  # odd for men, even for women
    first17 = f"{district}{birth:%Y%m%d}{seq:03d}"
    return first17 + gb11643_check_digit(first17)


def _name(rng: random.Random, male: bool) -> str:
    surname = rng.choice(ref.COMPOUND_SURNAMES) if rng.random() < 0.01 else rng.choice(ref.SURNAMES)
    pool = (ref.MALE_GIVEN if male else ref.FEMALE_GIVEN) + ref.SHARED_GIVEN
    given = rng.choice(pool) + (rng.choice(pool) if rng.random() < 0.7 else "")
    return surname + given


def _fen(rng: random.Random, low_yuan: int, high_yuan: int) -> int:
    return rng.randint(low_yuan * 100, high_yuan * 100)


def latest_statement(as_of: date, statement_day: int) -> date:
    if as_of.day >= statement_day:
        return as_of.replace(day=statement_day)
    y, m = month_add(as_of.year, as_of.month, -1)
    return date(y, m, statement_day)


def generate_block(seed: int, block: int, total: int, as_of: date) -> Block:
    rng = random.Random(f"kefu-synthetic:{seed}:{block}")
    out = Block()
    first = block * BLOCK
    for index in range(first, min(first + BLOCK, total)):
        _customer(rng, index, as_of, out, seed)
    return out


def iter_blocks(seed: int, total: int, as_of: date) -> Iterator[Block]:
    for block in range((total + BLOCK - 1) // BLOCK):
        yield generate_block(seed, block, total, as_of)


def _customer(rng: random.Random, index: int, as_of: date, out: Block, seed: int = 0) -> None:
    cid = index + 1
    male = rng.random() < 0.5
    city_idx = rng.choices(range(len(ref.CITIES)), cum_weights=_CUM_CITY)[0]
    city, district, *_ = ref.CITIES[city_idx]
    birth = date(as_of.year - rng.randint(20, 70), rng.randint(1, 12), rng.randint(1, 28))
    since = as_of - timedelta(days=rng.randint(60, 5000))
    tier = _TIERS[rng.choices(range(4), cum_weights=_TIER_WEIGHTS)[0]]
    out.customers.append(
        {
            "id": cid,
            "customer_no": customer_no(index),
            "name": _name(rng, male),
            "gender": "M" if male else "F",
            "birth_date": birth,
            "id_number": id_number(district, birth, index, male),
            "mobile": mobile_for(index, rng),
            "city": city,
            "tier": tier,
            "since": since,
        }
    )
    n_accounts = 1 if rng.random() < 0.6 else 2
    account_ids = []
    for k in range(n_accounts):
        account_id = index * MAX_ACCOUNTS + k + 1
        account_ids.append(account_id)
        balance = _account_with_transactions(rng, account_id, as_of, out)
        out.accounts.append(
            {
                "id": account_id,
                "account_no": account_number(
                    district, "savings" if k == 0 else "current", account_id
                ),
                "customer_id": cid,
                "kind": "savings" if k == 0 else "current",
                "currency": "CNY",
                "balance_fen": balance,
                "opened": since,
            }
        )
    # One debit card on the first account; 0-2 credit cards.
    card_slot = 0
    bin_, length, product = rng.choice(ref.DEBIT_BINS)
    card_id = index * MAX_CARDS + card_slot + 1
    out.cards.append(
        _card_row(card_id, cid, "debit", card_number(bin_, length, card_id), product, rng, as_of)
        | {"account_id": account_ids[0]}
    )
    roll = rng.random()
    n_credit = 0 if roll < 0.35 else (1 if roll < 0.85 else 2)
    for _ in range(n_credit):
        card_slot += 1
        card_id = index * MAX_CARDS + card_slot + 1
        bin_, length, product = rng.choice(ref.CREDIT_BINS)
        limit = rng.randint(10, 100) * 1000 * 100
        statement_day = rng.randint(1, 28)
        row = _card_row(
            card_id, cid, "credit", card_number(bin_, length, card_id), product, rng, as_of
        )
        row |= {
            "credit_limit_fen": limit,
            "points": rng.randint(0, 80000),
            "statement_day": statement_day,
        }
        out.cards.append(row)
        _bills(rng, card_id, statement_day, limit, as_of, out)
    # The block's generator draws what it always drew for holdings (so everything after is
    # unchanged); the planted affinities add products from the customer's own generator.
    drawn = []
    for _ in range(rng.choices([0, 1, 2, 3], weights=[40, 35, 18, 7])[0]):
        code = ref.PRODUCTS[rng.randrange(len(ref.PRODUCTS))][0]
        drawn.append((code, rng.randint(10, 2000), rng.randint(1, 1500)))
    salary = any(
        t["description"] == "工资" and t["account_id"] in account_ids for t in out.transactions
    )
    context = {"age": as_of.year - birth.year, "salary": salary, "credit_cards": n_credit}
    codes = affinities.planted(seed, index, [code for code, *_ in drawn], context)
    extra = random.Random(f"kefu-holdings:{seed}:{index}")
    terms = {code: (amount, days) for code, amount, days in reversed(drawn)}
    for k, code in enumerate(codes[:MAX_HOLDINGS]):
        amount, days = terms.get(code) or (extra.randint(10, 2000), extra.randint(1, 1500))
        out.holdings.append(
            {
                "id": index * MAX_HOLDINGS + k + 1,
                "customer_id": cid,
                "product_code": code,
                "amount_fen": amount * 100 * 100,
                "since": as_of - timedelta(days=days),
            }
        )


def _card_row(card_id, cid, kind, number, product, rng, as_of) -> dict:  # type: ignore[no-untyped-def]
    return {
        "id": card_id,
        "card_no": number,
        "customer_id": cid,
        "kind": kind,
        "product": product,
        "status": "active",
        "expiry": f"{rng.randint(1, 12):02d}/{(as_of.year + rng.randint(1, 5)) % 100:02d}",
        "account_id": None,
        "credit_limit_fen": None,
        "points": None,
        "statement_day": None,
        "lost_at": None,
    }


def _account_with_transactions(rng: random.Random, account_id: int, as_of: date, out: Block) -> int:
    """Writes the account's recent transactions and returns the balance they end on, so the
    balance always equals the last running balance."""
    balance = _fen(rng, 0, 50000)
    start = datetime(as_of.year, as_of.month, as_of.day, 9, 0) - timedelta(days=60)
    moments = sorted(
        start + timedelta(minutes=rng.randint(0, 60 * 24 * 59)) for _ in range(TX_PER_ACCOUNT)
    )
    for j, moment in enumerate(moments):
        if rng.random() < 0.35:
            desc, low, high = rng.choice(ref.DEBIT_CREDITS)
            amount = _fen(rng, low, high)
        else:
            desc, low, high = rng.choice(ref.DEBIT_DEBITS)
            amount = -min(_fen(rng, low, high), balance)  # savings never go below zero
        balance += amount
        out.transactions.append(
            {
                "id": account_id * 16 + j,
                "account_id": account_id,
                "posted_at": moment,
                "description": desc,
                "amount_fen": amount,
                "balance_after_fen": balance,
                "channel": rng.choice(ref.TX_CHANNELS),
            }
        )
    return balance


def _bills(
    rng: random.Random, card_id: int, statement_day: int, limit: int, as_of: date, out: Block
) -> None:
    latest = latest_statement(as_of, statement_day)
    for k in range(BILL_MONTHS):
        y, m = month_add(latest.year, latest.month, -(BILL_MONTHS - 1 - k))
        statement = date(y, m, statement_day)
        py, pm = month_add(y, m, -1)
        period_start = date(py, pm, statement_day) + timedelta(days=1)
        span = (statement - period_start).days
        bill_id = card_id * 16 + k
        lines = []
        for _ in range(rng.randint(1, 6)):
            merchant, low, high = rng.choice(ref.MERCHANTS)
            lines.append(
                [merchant, _fen(rng, low, high), period_start + timedelta(rng.randint(0, span))]
            )
        if rng.random() < 0.1:  # a refund of part of one purchase
            refunded = lines[0]
            lines.append([f"退款-{refunded[0]}", -rng.randint(1, refunded[1]), refunded[2]])
        lines.sort(key=lambda item: item[2])
        total = 0
        for j, (desc, amount, posted) in enumerate(lines):
            total += amount
            out.bill_lines.append(
                {
                    "id": bill_id * MAX_LINES + j,
                    "bill_id": bill_id,
                    "posted_on": posted,
                    "description": desc,
                    "amount_fen": amount,
                }
            )
        due = statement + timedelta(days=20)
        minimum = (total // 10 // 100) * 100 if total >= 10000 else total
        paid = (total if rng.random() < 0.9 else minimum) if due < as_of else 0
        out.bills.append(
            {
                "id": bill_id,
                "card_id": card_id,
                "period": f"{y:04d}-{m:02d}",
                "statement_date": statement,
                "due_date": due,
                "total_fen": total,
                "minimum_due_fen": minimum,
                "paid_fen": paid,
            }
        )


def branch_rows() -> list[dict]:
    rows = []
    for i, (city, _district, lat, lon, address) in enumerate(ref.CITIES):
        rows.append(
            {
                "code": f"B{i + 1:03d}",
                "name": f"{city}分行营业部",
                "city": city,
                "address": f"{city}市{address}",
                "latitude": lat,
                "longitude": lon,
                "counters": 4 + (i * 7) % 9,
                "opening_hours": "周一至周五 9:00-17:00",
            }
        )
    return rows


def product_rows() -> list[dict]:
    return [
        {"code": c, "name": n, "category": cat, "risk_level": r, "description": d}
        for c, n, cat, r, d in ref.PRODUCTS
    ]
