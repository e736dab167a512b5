"""What the SMS outbox, its reports and the conversations share in the database: the
carrier ids of sent messages, and conversation messages that follow their SMS's state."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.channels.sms.models import SmsCarrierId
from kefu.conversations.models import Message
from kefu.db.engine import dialect_insert
from kefu.vocabulary import Channel

SENDING = "sending"
UNKNOWN = "unknown"  # written to the carrier, no answer: wait for its report, then resend
ANSWERED = "answered"  # an MO whose replies are in the outbox


async def insert_carrier_ids(
    db: AsyncSession, rows: dict[tuple[str, str], tuple[int, bool]]
) -> None:
    """Stores (link, id) → (message, exact). An exact id replaces what was stored under it
    (a variant of another message's id, or an id the carrier has since reused); a variant
    never replaces anything."""
    insert = dialect_insert(db, SmsCarrierId)
    upsert = insert.on_conflict_do_update(
        index_elements=["link", "carrier_id"],
        set_={"message_id": insert.excluded.message_id, "exact": insert.excluded.exact},
        where=insert.excluded.exact,
    )
    await db.execute(
        upsert,
        [{"link": link, "carrier_id": cid, "message_id": mid, "exact": exact}
         for (link, cid), (mid, exact) in rows.items()],
    )  # fmt: skip


async def mirror(db: AsyncSession, sms_id: int, state: str, error: str | None = None) -> None:
    await db.execute(
        update(Message)
        .where(Message.external_id == f"sms:{sms_id}", Message.channel == Channel.SMS.value)
        .values(delivery_state=state, delivery_error=error)
    )


async def mirror_many(db: AsyncSession, sms_ids: list[int], state: str) -> None:
    await db.execute(
        update(Message)
        .where(
            Message.external_id.in_([f"sms:{i}" for i in sms_ids]),
            Message.channel == Channel.SMS.value,
        )
        .values(delivery_state=state)
    )
