"""Idempotency keys bound to the request they were first used with (issue 21, finding 11).

A key repeated with the same request is a retry and gets the original answer; a key repeated
with a *different* request is a client bug, and silently answering with the original (so the
new text is dropped without a word) hides it. ``claim`` records the request's fingerprint under
the key the first time, and raises :class:`IdempotencyConflict` (409, problem+json) when a
later request under the same key differs.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from fastapi import HTTPException
from pydantic import BaseModel
from sqlalchemy import String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from kefu.db.base import Base, UTCDateTime, utcnow
from kefu.db.engine import dialect_insert


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"

    scope: Mapped[str] = mapped_column(String(200), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class IdempotencyConflict(HTTPException):
    def __init__(self, key: str) -> None:
        super().__init__(
            409,
            f"idempotency_key: {key!r} was already used with a different request; "
            "use a new key for a new request",
        )


def fingerprint(body: BaseModel | dict[str, Any], *, exclude: set[str] | None = None) -> str:
    data = body.model_dump(mode="json") if isinstance(body, BaseModel) else dict(body)
    for name in exclude or ():
        data.pop(name, None)
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _scope(scope: str) -> str:
    return scope if len(scope) <= 200 else "h:" + hashlib.sha256(scope.encode()).hexdigest()


async def check(
    db: AsyncSession,
    *,
    scope: str,
    key: str | None,
    body: BaseModel | dict[str, Any],
    ignore: frozenset[str] = frozenset({"to"}),
) -> None:
    """Raises 409 when ``scope`` is already bound to another body, writing nothing: a caller
    that claims later (the SMS API claims in its group commit) still answers a reused key
    before it judges the new body's content (a reused key is a conflict whatever the new body
    says). :func:`claim` stays the guarantee against parallel first uses."""
    if not key:
        return
    mine = fingerprint(body, exclude={"idempotency_key", *ignore})
    theirs = await db.scalar(
        select(IdempotencyKey.fingerprint).where(IdempotencyKey.scope == _scope(scope))
    )
    if theirs is not None and theirs != mine:
        raise IdempotencyConflict(key)


async def claim(
    db: AsyncSession,
    *,
    scope: str,
    key: str | None,
    body: BaseModel | dict[str, Any],
    ignore: frozenset[str] = frozenset({"to"}),
) -> None:
    """Binds ``scope`` (who + key) to ``body``; raises 409 when it is bound to another body.
    No key: nothing to do. Fields in ``ignore`` may change between uses: the SMS API's key is
    per recipient, so a retry may add numbers (only those are queued), but the same key may
    not carry another text, template, variables, kind or link. The row is written in the
    caller's transaction (one conditional insert, so two parallel first uses cannot both
    win)."""
    if not key:
        return
    stored = _scope(scope)
    mine = fingerprint(body, exclude={"idempotency_key", *ignore})
    await db.execute(
        dialect_insert(db, IdempotencyKey)
        .values(scope=stored, fingerprint=mine, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["scope"])
    )
    theirs = await db.scalar(
        select(IdempotencyKey.fingerprint).where(IdempotencyKey.scope == stored)
    )
    if theirs is not None and theirs != mine:
        raise IdempotencyConflict(key)
