"""The send API's outbox rows, written with SQLAlchemy Core instead of the ORM.

The ORM inserted them one statement per row on SQLite (it cannot tie a multi-row RETURNING to
its rows there: "insertmanyvalues … batch not supported" in the SQL log), which was the largest
part of the group commit's SQL. Same rows, same rules as ``Outbox.enqueue_many`` (an
idempotency key already used answers the original row; the same key twice is one message);
the delivery side (``kefu.channels.sms.outbox``) is unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.channels.sms.models import SmsMessage
from kefu.channels.sms.outbox import OutboundSms, Outbox
from kefu.db.base import utcnow
from kefu.vocabulary import DeliveryState, Direction


class Stored(NamedTuple):
    """An outbox row as ``insert_many`` answers it: no ORM object behind it."""

    id: int
    state: str


async def insert_many(
    db: AsyncSession, outbox: Outbox, items: Sequence[OutboundSms]
) -> list[Stored]:
    """``Outbox.enqueue_many`` for the send API's group commit, without the ORM: one look-up of
    the idempotency keys and one executemany of a Core INSERT, answering (id, state) per
    item in order (an already used key, also one used earlier in ``items``, answers the
    original row). The ORM inserted these rows one statement each on SQLite (it cannot
    tie a multi-row RETURNING to its rows there), the largest part of the batch's SQL.

    On SQLite the ids come back from a multi-row ``RETURNING`` and are sorted: the first row
    takes the database's one write lock for the rest of the transaction, so no other insert
    can come between its rows, and each new rowid is above every other (max + 1), so ascending
    ids are parameter order. On PostgreSQL a RETURNING sorted by parameter order gives them."""
    keys = [f"out:{i.idempotency_key}" for i in items if i.idempotency_key]
    existing: dict[str, Stored] = {}
    for chunk in range(0, len(keys), 500):
        found = await db.execute(
            select(SmsMessage.dedupe_key, SmsMessage.id, SmsMessage.state).where(
                SmsMessage.dedupe_key.in_(keys[chunk : chunk + 500])
            )
        )
        existing.update({k: Stored(i, s) for k, i, s in found.all() if k})
    rows: list[dict[str, Any]] = []
    slots: list[Stored | int | str] = []  # a stored row, the index of a new row, or a key
    new_keys: dict[str, int] = {}
    now = utcnow()
    for item in items:
        key = f"out:{item.idempotency_key}" if item.idempotency_key else None
        if key and key in existing:
            slots.append(existing[key])
            continue
        if key and key in new_keys:  # the same key twice in one call is one message
            slots.append(key)
            continue
        link_name = item.link or next(iter(outbox.links), None)
        config = outbox.links.get(link_name) if link_name else None
        signed = outbox.signature and not item.text.startswith(outbox.signature)
        if key:
            new_keys[key] = len(rows)
        slots.append(len(rows))
        rows.append({
            "direction": Direction.OUTBOUND.value, "link": link_name, "phone": item.to,
            "service_number": item.service_number or (config.service_number if config else ""),
            "text": outbox.signature + item.text if signed else item.text, "kind": item.kind,
            "state": DeliveryState.ACCEPTED.value, "dedupe_key": key,
            "meta": dict(item.meta or {}), "attempts": 0, "parts": 1, "created_at": now,
        })  # fmt: skip
    ids: list[int] = []
    if rows:
        table = SmsMessage.__table__
        if db.bind.dialect.name == "sqlite":
            # Multi-row INSERT … RETURNING (SQLAlchemy's "insertmanyvalues", pages of up to
            # 1,000 rows): one statement instead of an executemany and a second SELECT of
            # last_insert_rowid(), three fewer trips to aiosqlite's thread a batch. SQLite
            # returns the rows in no promised order, so they are sorted: under the one write
            # lock each new rowid is above every other, so ascending ids are parameter order.
            result = await db.execute(insert(table).returning(table.c.id), rows)
            ids = sorted(result.scalars().all())
        elif db.bind.dialect.name == "mysql":
            # MariaDB: one multi-row INSERT … RETURNING (aiomysql's batched executemany cannot
            # carry RETURNING); a statement's rows take ascending AUTO_INCREMENT ids in VALUES
            # order, so ascending ids are parameter order here too.
            result = await db.execute(insert(table).values(rows).returning(table.c.id))
            ids = sorted(result.scalars().all())
        else:
            result = await db.execute(
                insert(table).returning(table.c.id, sort_by_parameter_order=True), rows
            )
            ids = list(result.scalars().all())
        if len(ids) != len(rows):  # never expected: refuse rather than misnumber
            raise RuntimeError(f"outbox: {len(rows)} rows inserted, {len(ids)} ids read")
    accepted = DeliveryState.ACCEPTED.value
    out: list[Stored] = []
    for slot in slots:
        if isinstance(slot, Stored):
            out.append(slot)
        else:
            index = new_keys[slot] if isinstance(slot, str) else slot
            out.append(Stored(ids[index], accepted))
    outbox.wake.set()
    return out
