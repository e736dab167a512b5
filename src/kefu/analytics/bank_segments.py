"""User characteristics from the bank (age band, customer tier, products held), joined to
behaviour through the customer number's keyed hash.

Events carry only ``customer_hash`` = HMAC(key, customer number) (kefu.analytics.enrich); the
key never leaves the server. To join, the server computes the same HMAC of the customer
numbers it may ask the bank about — the customers kefu knows (``customers``, bound through
any channel) and, on the synthetic bank of the demo, all of its customers — keeps those whose
hash occurs in the period's events, and reads their profile and holdings through the bank port.
Numbers and profiles stay in memory for one answer (profiles are cached ten minutes, by hash);
only counts per band leave this module.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.analytics.analyses.period import Period
from kefu.analytics.enrich import customer_hash
from kefu.analytics.store.base import EventStore
from kefu.bank.port import BankError, BankPort
from kefu.identity.models import Customer

AGE_BANDS = ((25, "18–24"), (35, "25–34"), (45, "35–44"), (55, "45–54"), (65, "55–64"),
             (200, "65+"))  # fmt: skip
MAX_CUSTOMERS = 2000  # profiles read per answer; the bands are counted over these
TTL = 600.0


@dataclass(frozen=True)
class Segment:
    age_band: str
    tier: str
    products: tuple[str, ...]  # holdings' categories and card kinds, e.g. ("credit_card", "fund")


def age_band(birth: date, today: date) -> str:
    age = today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))
    return next(label for top, label in AGE_BANDS if age < top)


async def candidates(db: AsyncSession, bank: BankPort) -> list[str]:
    """Customer numbers the server may hash: kefu's customers, and the demo bank's."""
    numbers = set((await db.scalars(select(Customer.bank_customer_no))).all())
    from kefu.bank.synthetic.adapter import SyntheticBank

    if isinstance(bank, SyntheticBank):
        from kefu.bank.synthetic.generator import customer_no

        numbers.update(customer_no(i) for i in range(await bank.count_customers()))
    return sorted(numbers)


def _period_hashes(store: EventStore, period: Period) -> dict[str, tuple[int, int]]:
    """customer hash → (sessions, sessions that submitted a form) in the period."""
    rows = store.query(
        f"""SELECT customer_hash, count(DISTINCT session_id),
                   count(DISTINCT session_id) FILTER (WHERE type = 'form_submit')
            FROM events WHERE {period.where()} AND customer_hash <> ''
            GROUP BY customer_hash""",
        period.params(),
    )
    return {h: (int(n), int(done)) for h, n, done in rows}


_cache: dict[str, tuple[float, Segment | None]] = {}


async def _profile(bank: BankPort, number: str, today: date) -> Segment | None:
    try:
        profile = await bank.get_customer(number)
        holdings = await bank.list_holdings(number)
        cards = await bank.list_cards(number)
    except BankError:
        return None
    products = {h.category for h in holdings} | {f"{c.kind}_card" for c in cards}
    return Segment(age_band(profile.birth_date, today), profile.tier, tuple(sorted(products)))


async def segments(
    db: AsyncSession, bank: BankPort, store: EventStore, period: Period, key: bytes,
    today: date,
) -> dict[str, Any]:  # fmt: skip
    """Signed-in sessions by age band, tier and product held, with the share that submitted a
    form (an application or a transfer) — the bank's view of who does what online."""
    from fastapi.concurrency import run_in_threadpool

    seen = await run_in_threadpool(_period_hashes, store, period)
    numbers = await candidates(db, bank)
    by_hash = {h: n for n in numbers if (h := customer_hash(key, n)) in seen}
    chosen = sorted(by_hash, key=lambda h: -seen[h][0])[:MAX_CUSTOMERS]
    now = time.monotonic()
    missing = [h for h in chosen if h not in _cache or _cache[h][0] < now - TTL]
    for start in range(0, len(missing), 20):  # a few at a time: the bank is someone's system
        part = missing[start : start + 20]
        found = await asyncio.gather(*(_profile(bank, by_hash[h], today) for h in part))
        for h, seg in zip(part, found, strict=True):
            _cache[h] = (now, seg)
    tables: dict[str, dict[str, list[int]]] = {d: defaultdict(lambda: [0, 0, 0])
                                               for d in ("age_band", "tier", "products")}  # fmt: skip
    for h in chosen:
        seg = _cache[h][1]
        if seg is None:
            continue
        sessions, done = seen[h]
        for dim, values in (("age_band", [seg.age_band]), ("tier", [seg.tier]),
                            ("products", list(seg.products) or ["none"])):  # fmt: skip
            for value in values:
                row = tables[dim][value]
                row[0] += 1
                row[1] += sessions
                row[2] += done
    order = {label: i for i, (_, label) in enumerate(AGE_BANDS)}
    out: dict[str, Any] = {
        "signed_in_customers": len(seen),
        "joined": sum(1 for h in chosen if _cache[h][1] is not None),
        "unknown": len(seen) - sum(1 for h in chosen if _cache[h][1] is not None),
    }
    for dim, table in tables.items():
        rows = [{"value": v, "customers": c, "sessions": s, "submitted": d,
                 "submit_rate": d / s if s else 0.0} for v, (c, s, d) in table.items()]  # fmt: skip
        key_of = (lambda r: order.get(r["value"], 99)) if dim == "age_band" else (
            lambda r: -r["sessions"])  # fmt: skip
        out[dim] = sorted(rows, key=key_of)
    return out
