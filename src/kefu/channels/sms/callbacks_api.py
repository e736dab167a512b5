"""``/api/v1/sms/callbacks``: a key registers where the status of the SMS it sends is posted."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.audit.service import record
from kefu.auth.permissions import Permission
from kefu.channels.sms.callbacks import EVENT, MO_EVENT
from kefu.net.guard import SafeHttpUrl
from kefu.web.deps import DB_SESSION, Principal, require
from kefu.webhooks.models import WebhookSubscription

router = APIRouter(prefix="/api/v1/sms/callbacks", tags=["sms"])
MAX_PER_OWNER = 5


def owner_of(principal: Principal) -> str:
    """The sender recorded on each SMS and the owner of its callbacks (an API key's name
    already reads ``apikey:<name>``, so it cannot be taken for a user's)."""
    return principal.name[:64]


class CallbackIn(BaseModel):
    url: SafeHttpUrl = Field(description="Where each status change is POSTed (https).")
    name: str = Field(default="sms status", min_length=1, max_length=64)


class CallbackOut(BaseModel):
    id: int
    name: str
    url: str
    secret: str | None = Field(default=None, description="Signing secret: shown once.")


@router.post("", status_code=201, response_model=CallbackOut,
             summary="Register a signed status callback for the SMS this key sends")  # fmt: skip
async def create(
    body: CallbackIn,
    principal: Principal = Depends(require(Permission.SMS_SEND)),
    db: AsyncSession = DB_SESSION,
) -> CallbackOut:
    owner = owner_of(principal)
    active = (
        await db.scalars(
            select(WebhookSubscription.id).where(
                WebhookSubscription.owner == owner, WebhookSubscription.is_active.is_(True)
            )
        )
    ).all()
    if len(active) >= MAX_PER_OWNER:
        raise HTTPException(422, f"url: at most {MAX_PER_OWNER} callbacks per key")
    secret = secrets.token_urlsafe(32)
    # Status of what the key sends; for a partner's key also texts to its sub-code.
    sub = WebhookSubscription(name=body.name, url=str(body.url), secret=secret,
                              events=[EVENT, MO_EVENT], owner=owner)  # fmt: skip
    db.add(sub)
    await db.flush()
    await record(db, actor=principal.name, action="sms.callback.create", target=str(sub.id),
                 details={"url": str(body.url)})  # fmt: skip
    return CallbackOut(id=sub.id, name=sub.name, url=sub.url, secret=secret)


@router.get("", response_model=list[CallbackOut], summary="This key's status callbacks")
async def listing(
    principal: Principal = Depends(require(Permission.SMS_SEND)),
    db: AsyncSession = DB_SESSION,
) -> list[CallbackOut]:
    subs = await db.scalars(
        select(WebhookSubscription)
        .where(WebhookSubscription.owner == owner_of(principal),
               WebhookSubscription.is_active.is_(True))
        .order_by(WebhookSubscription.id)
    )  # fmt: skip
    return [CallbackOut(id=s.id, name=s.name, url=s.url) for s in subs]


@router.delete("/{callback_id}", status_code=204, summary="Remove one of this key's callbacks")
async def delete(
    callback_id: Annotated[int, Path(ge=1)],
    principal: Principal = Depends(require(Permission.SMS_SEND)),
    db: AsyncSession = DB_SESSION,
) -> Response:
    sub = await db.get(WebhookSubscription, callback_id)
    if sub is None or sub.owner != owner_of(principal) or not sub.is_active:
        raise HTTPException(404, f"no callback {callback_id} for this key")
    sub.is_active = False
    await record(db, actor=principal.name, action="sms.callback.delete", target=str(sub.id))
    return Response(status_code=204)
