"""Binding a channel identity to a customer, and finding the customer behind one."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.audit.service import record
from kefu.bank.models import CustomerProfile
from kefu.identity.models import ChannelIdentity, Customer


async def customer_for(session: AsyncSession, *, kind: str, value: str) -> Customer | None:
    identity = await session.scalar(
        select(ChannelIdentity).where(ChannelIdentity.kind == kind, ChannelIdentity.value == value)
    )
    if identity is None:
        return None
    return await session.get(Customer, identity.customer_id)


async def ensure_customer(session: AsyncSession, profile: CustomerProfile) -> Customer:
    customer = await session.scalar(
        select(Customer).where(Customer.bank_customer_no == profile.customer_no)
    )
    if customer is None:
        customer = Customer(
            bank_customer_no=profile.customer_no, tier=profile.tier, region=profile.city
        )
        session.add(customer)
        await session.flush()
    return customer


async def bind(
    session: AsyncSession, *, kind: str, value: str, profile: CustomerProfile, actor: str
) -> Customer:
    """Binds ``value`` to the customer; an identity bound elsewhere moves (and is audited)."""
    customer = await ensure_customer(session, profile)
    identity = await session.scalar(
        select(ChannelIdentity).where(ChannelIdentity.kind == kind, ChannelIdentity.value == value)
    )
    previous = None
    if identity is None:
        session.add(ChannelIdentity(kind=kind, value=value, customer_id=customer.id))
    elif identity.customer_id != customer.id:
        previous = identity.customer_id
        identity.customer_id = customer.id
    await session.flush()
    await record(
        session,
        actor=actor,
        action="identity.bind",
        target=f"customer:{customer.id}",
        details={"kind": kind, "moved_from": previous},
    )
    return customer
