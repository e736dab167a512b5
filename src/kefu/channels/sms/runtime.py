"""Starting the SMS gateway inside a process (``kefu serve``, ``kefu run sms``)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kefu.assistant.engine import Assistant
from kefu.bank.port import BankPort
from kefu.channels.sms.config import SmsLink
from kefu.channels.sms.gateway import SmsGateway
from kefu.config import Settings


async def start_gateway(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    bank: BankPort,
    extra_links: list[SmsLink] | None = None,
) -> SmsGateway | None:
    links = [*settings.sms_links, *(extra_links or [])]
    if not links:
        return None
    gateway = SmsGateway(
        links=links,
        sessionmaker=sessionmaker,
        assistant=Assistant(bank),
        signature=settings.sms_signature,
        routes=settings.sms_routes,
        lease_seconds=settings.sms_send_lease_seconds,
        unknown_resend_after=settings.sms_unknown_resend_seconds,
    )
    await gateway.start()
    return gateway
