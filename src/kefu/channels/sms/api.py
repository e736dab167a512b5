"""The SMS API for the bank's own systems: send texts, read their status.

``POST /api/v1/sms/messages`` stores every accepted message in the outbox before it answers;
a refused recipient is named with the rule that refused it and nothing is queued for it.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.auth.permissions import Permission
from kefu.channels.sms.gateway import SmsGateway
from kefu.channels.sms.models import SmsMessage
from kefu.channels.sms.numbers import is_mobile, national
from kefu.marketing.models import OptOut
from kefu.protocols import text as textcodec
from kefu.web.deps import Principal, get_db, require

router = APIRouter(prefix="/api/v1/sms", tags=["sms"])

MAX_SEGMENTS = 5
CHINA = ZoneInfo("Asia/Shanghai")
# Marketing may only reach handsets in the daytime (the study's "no over-marketing").
MARKETING_HOURS = (time(8, 0), time(22, 0))


class SendIn(BaseModel):
    to: list[str] = Field(min_length=1, max_length=1000, description="Mainland mobile numbers.")
    text: str = Field(min_length=1, max_length=1000)
    kind: Literal["notification", "otp", "marketing"] = "notification"
    idempotency_key: str | None = Field(
        default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$"
    )
    link: str | None = Field(default=None, max_length=32)

    @field_validator("to")
    @classmethod
    def _numbers(cls, numbers: list[str]) -> list[str]:
        cleaned = []
        for number in numbers:
            n = national(number)
            if not is_mobile(n):
                raise ValueError(f"{number!r} is not an 11-digit mainland mobile number")
            cleaned.append(n)
        if len(set(cleaned)) != len(cleaned):
            raise ValueError("a number is listed twice")
        return cleaned


class Accepted(BaseModel):
    id: int
    to: str
    state: str


class Refused(BaseModel):
    to: str
    rule: str


class SendOut(BaseModel):
    accepted: list[Accepted]
    refused: list[Refused]


class StatusOut(BaseModel):
    id: int
    to: str
    kind: str
    state: str
    error: str | None
    report: str | None
    parts: int
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None


def _gateway(request: Request) -> SmsGateway:
    gateway = getattr(request.app.state, "sms", None)
    if gateway is None:
        raise HTTPException(503, "no carrier link is configured (KEFU_SMS_LINKS)")
    return gateway


def segments_needed(text: str) -> int:
    encoding = textcodec.choose_encoding(text, (textcodec.GSM7, textcodec.UCS2))
    return len(textcodec.split(text, encoding))


def now_in_china() -> datetime:
    return datetime.now(CHINA)


@router.post("/messages", status_code=202, response_model=SendOut, summary="Send SMS")
async def send(
    body: SendIn,
    request: Request,
    principal: Principal = Depends(require(Permission.SMS_SEND)),
    db: AsyncSession = Depends(get_db),
) -> SendOut:
    gateway = _gateway(request)
    if body.link is not None and body.link not in gateway.links:
        raise HTTPException(422, f"link: no carrier link named {body.link!r}")
    signed = gateway.signature + body.text if gateway.signature else body.text
    if segments_needed(signed) > MAX_SEGMENTS:
        raise HTTPException(
            422, f"text: longer than {MAX_SEGMENTS} SMS segments with the signature"
        )
    refused: list[Refused] = []
    recipients = list(body.to)
    if body.kind == "marketing":
        local = now_in_china().time()
        if not MARKETING_HOURS[0] <= local < MARKETING_HOURS[1]:
            raise HTTPException(
                422, "kind: marketing is only sent between 08:00 and 22:00 (quiet hours)"
            )
        opted_out = set(
            (
                await db.scalars(
                    select(OptOut.value).where(OptOut.kind == "phone", OptOut.value.in_(recipients))
                )
            ).all()
        )
        refused = [
            Refused(to=n, rule="opt-out: the customer replied TD")
            for n in recipients
            if n in opted_out
        ]
        recipients = [n for n in recipients if n not in opted_out]
    accepted = []
    for number in recipients:
        key = (
            f"api:{principal.name}:{body.idempotency_key}:{number}"
            if body.idempotency_key
            else None
        )
        message = await gateway.enqueue(db, to=number, text=body.text, kind=body.kind, link=body.link,
                                        idempotency_key=key)  # fmt: skip
        accepted.append(Accepted(id=message.id, to=number, state=message.state))
    return SendOut(accepted=accepted, refused=refused)


@router.get("/messages/{message_id}", response_model=StatusOut, summary="Status of one SMS")
async def status(
    message_id: Annotated[int, Path(ge=1)],
    _: Principal = Depends(require(Permission.SMS_SEND)),
    db: AsyncSession = Depends(get_db),
) -> StatusOut:
    message = await db.get(SmsMessage, message_id)
    if message is None or message.direction != "out":
        raise HTTPException(404, f"no outbound SMS {message_id}")
    return StatusOut(
        id=message.id, to=message.phone, kind=message.kind, state=message.state,
        error=message.error, report=(message.meta or {}).get("report"), parts=message.parts,
        created_at=message.created_at, sent_at=message.sent_at, delivered_at=message.delivered_at,
    )  # fmt: skip
