"""The one way to write the audit log."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kefu.audit.models import AuditEntry


async def record(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    target: str = "",
    details: dict[str, Any] | None = None,
    ip: str | None = None,
) -> AuditEntry:
    """Add an entry to the caller's transaction: it commits with the change it describes."""
    entry = AuditEntry(actor=actor, action=action, target=target, details=details or {}, ip=ip)
    session.add(entry)
    await session.flush()
    return entry
