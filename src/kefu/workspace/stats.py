"""Live counts for the home page."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.bank.port import BankError, BankPort
from kefu.conversations.models import Conversation
from kefu.identity.models import Customer
from kefu.vocabulary import ConversationStatus
from kefu.workspace.presence import agents_online


@dataclass(frozen=True)
class HomeCounts:
    bank_customers: int | None  # None when the bank's systems do not answer
    bound_customers: int
    open_conversations: int
    agents_online: int

    def to_dict(self) -> dict[str, int | None]:
        return asdict(self)


async def home_counts(db: AsyncSession, bank: BankPort) -> HomeCounts:
    try:
        bank_customers: int | None = await bank.count_customers()
    except (BankError, OSError):
        bank_customers = None
    except Exception:  # noqa: BLE001 - e.g. the synthetic bank's tables are not seeded yet
        bank_customers = None
    bound = await db.scalar(select(func.count()).select_from(Customer)) or 0
    open_ = await db.scalar(
        select(func.count())
        .select_from(Conversation)
        .where(Conversation.status != ConversationStatus.CLOSED.value)
    )
    # Only the roles that handle conversations are agents; admins, analysts and tellers who are
    # logged in are not (issue 23, finding 6).
    online = await agents_online(db)
    return HomeCounts(bank_customers, bound, open_ or 0, online)
