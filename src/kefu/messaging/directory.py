"""What a channel may ask about a customer without knowing the bank or marketing: the
registered mobile (a WeChat answer that can only go by SMS), and whether they subscribed to a
notice on a channel (template notifications). The composition root (``kefu.runtime``)
implements it on the bank port and the subscriptions."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession


class CustomerDirectory(Protocol):
    async def mobile(self, bank_customer_no: str) -> str | None:
        """The customer's mobile number as the bank has it; None if unknown."""
        ...

    async def subscribed(
        self, db: AsyncSession, *, customer_id: int, service: str, channel: str
    ) -> bool:
        """Whether the customer subscribed to ``service`` notices on ``channel``."""
        ...
