"""The paperless form's life: a customer fills it before arriving, tied to a ticket; a teller
retrieves it by ID number + ticket number (a few tries per ticket), corrects it, and completes
it with the customer's one signature, which files it with the bank.

Every value is stored encrypted (``crypto.FormCipher``); callers audit every access. Each
refusal is a ``FormError`` with words for the person in front of the screen, and changes
nothing except the failed-try count, which must survive the refusal (the caller commits).
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.bank.models import FormReceipt, FormSubmission
from kefu.bank.port import BankError, BankPort
from kefu.branch import queue
from kefu.branch.forms.crypto import FormCipher
from kefu.branch.forms.definitions import FormDefinition, definition
from kefu.branch.forms.validation import check_id_number, validate
from kefu.branch.models import BranchForm, BranchFormTry, BranchTicket
from kefu.db.base import utcnow
from kefu.db.engine import dialect_insert

PNG_PREFIX = "data:image/png;base64,"
MAX_SIGNATURE_BYTES = 300_000
OPEN_FORM = ("filled", "retrieved")


class FormError(Exception):
    def __init__(
        self, code: str, message: str, *, errors: dict[str, str] | None = None,
        tries_left: int | None = None,
    ) -> None:  # fmt: skip
        super().__init__(message)
        self.code = code
        self.message = message
        self.errors = errors or {}
        self.tries_left = tries_left


@dataclass
class OpenedForm:
    form: BranchForm
    definition: FormDefinition
    values: dict[str, str] = field(default_factory=dict)


def _aware(moment: datetime, now: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=now.tzinfo)


def expired(form: BranchForm, now: datetime) -> bool:
    return form.state != "completed" and _aware(form.expires_at, now) <= now


async def _ticket_by_label(
    db: AsyncSession, branch_code: str, label: str, now: datetime
) -> BranchTicket | None:
    return await db.scalar(
        select(BranchTicket).where(
            BranchTicket.branch_code == branch_code,
            BranchTicket.day == queue.business_day(now),
            BranchTicket.label == label.strip().upper(),
        )
    )


async def _open_form_of(db: AsyncSession, ticket_id: int) -> BranchForm | None:
    return await db.scalar(
        select(BranchForm)
        .where(BranchForm.ticket_id == ticket_id, BranchForm.state.in_(OPEN_FORM))
        .order_by(BranchForm.id.desc())
        .limit(1)
    )


async def fill(
    db: AsyncSession,
    cipher: FormCipher,
    *,
    kind: str,
    raw: dict[str, str],
    branch_code: str,
    ticket_label: str | None,
    ttl_hours: int,
    now: datetime | None = None,
) -> tuple[BranchForm, BranchTicket]:
    """A filled form tied to the ticket the customer holds (``ticket_label``, taken today at
    this branch) or to a new remote ticket for the form's service (keyed by the mobile)."""
    now = now or utcnow()
    await queue.write_lock_on_sqlite(db)  # before its reads (see there)
    form_def = definition(kind)
    values, errors = validate(form_def, raw)
    if errors:
        raise FormError("invalid", "请更正标出的内容", errors=errors)
    if ticket_label:
        ticket = await _ticket_by_label(db, branch_code, ticket_label, now)
        if ticket is None or ticket.state not in queue.OPEN_TICKET:
            raise FormError("no_ticket", f"本网点今天没有未办结的号票 {ticket_label[:8]}")
    else:
        try:
            async with db.begin_nested():
                ticket = await queue.take_ticket(
                    db, branch_code=branch_code, service_code=form_def.service, source="web",
                    customer_key=f"phone:{values['mobile']}", now=now,
                )  # fmt: skip
        except queue.QueueError as exc:
            raise FormError(exc.code, exc.message) from None
    if await _open_form_of(db, ticket.id) is not None:
        raise FormError("duplicate", f"号票 {ticket.label} 已有一份预填表单")
    form = BranchForm(
        reference=secrets.token_hex(5).upper(), kind=kind, branch_code=branch_code,
        ticket_id=ticket.id, state="filled",
        payload=cipher.encrypt(json.dumps(values, ensure_ascii=False)),
        created_at=now, expires_at=now + timedelta(hours=ttl_hours),
    )  # fmt: skip
    db.add(form)
    await db.flush()
    return form, ticket


# --- the counter: ID number + ticket ----------------------------------------------------------


def _scope(branch_code: str, day: str, label: str) -> str:
    return f"{branch_code}/{day}/{label.strip().upper()[:8]}"


async def _failures(db: AsyncSession, scope: str) -> int:
    return int(
        await db.scalar(select(BranchFormTry.failures).where(BranchFormTry.scope == scope)) or 0
    )


async def _count_failure(db: AsyncSession, scope: str, max_tries: int, now: datetime) -> int | None:
    """One more failure, atomically: the guarded UPDATE counts only while under the limit, so
    parallel wrong tries cannot pass it (the row lock serialises them and each re-reads the
    count). Returns the tries left, or None when the limit was already reached."""
    # The row made when missing by an upsert, which locks it, not by an insert in a
    # savepoint: on InnoDB a duplicate insert leaves a shared lock that two racers then both
    # upgrade for the UPDATE below — a deadlock that rolls back the whole transaction
    # (MariaDB; PostgreSQL failed only the savepoint).
    add = dialect_insert(db, BranchFormTry).values(scope=scope, failures=0, updated_at=now)
    await db.execute(
        add.on_conflict_do_update(
            index_elements=[BranchFormTry.scope], set_={"scope": add.excluded.scope}
        )
    )
    counted = await db.scalar(
        update(BranchFormTry)
        .where(BranchFormTry.scope == scope, BranchFormTry.failures < max_tries)
        .values(failures=BranchFormTry.failures + 1, updated_at=now)
        .returning(BranchFormTry.failures)
    )
    return None if counted is None else max_tries - int(counted)


def _locked() -> FormError:
    return FormError(
        "locked", "该号票的核对次数已用完，表单已锁定；请客户在柜台重新填写或联系网点主管",
        tries_left=0,
    )  # fmt: skip


async def retrieve(
    db: AsyncSession,
    cipher: FormCipher,
    *,
    branch_code: str,
    ticket_label: str,
    id_number: str,
    teller: str,
    max_tries: int,
    now: datetime | None = None,
) -> OpenedForm:
    """The form of a ticket taken today at this branch whose ID number matches. A wrong pair
    (no such ticket, no form, another ID) costs one try of that ticket; at the limit the
    ticket's form is locked, even for the right ID."""
    now = now or utcnow()
    scope = _scope(branch_code, queue.business_day(now), ticket_label)
    if await _failures(db, scope) >= max_tries:
        raise _locked()
    try:
        wanted = check_id_number(id_number)
    except ValueError as exc:  # a typing slip, not a guess: costs no try
        raise FormError("bad_id", str(exc)) from None
    ticket = await _ticket_by_label(db, branch_code, ticket_label, now)
    form = await _open_form_of(db, ticket.id) if ticket is not None else None
    if form is not None and expired(form, now):
        raise FormError(
            "expired",
            f"该表单已过期（{_aware(form.expires_at, now):%Y-%m-%d %H:%M} UTC 到期），"
            "请客户重新填写",
        )
    values = json.loads(cipher.decrypt(form.payload)) if form is not None else {}
    if form is None or values.get("id_number") != wanted:
        left = await _count_failure(db, scope, max_tries, now)
        if left is None:
            raise _locked()
        raise FormError(
            "mismatch", f"身份证号码与号票不符，或该号票没有预填表单；还可尝试{left}次",
            tries_left=left,
        )  # fmt: skip
    form.state, form.retrieved_by = "retrieved", teller
    await db.flush()
    return OpenedForm(form, definition(form.kind), values)


async def open_retrieved(
    db: AsyncSession,
    cipher: FormCipher,
    *,
    reference: str,
    teller: str,
    now: datetime | None = None,
) -> OpenedForm:
    """A form this teller has retrieved (the completion page reads it again)."""
    now = now or utcnow()
    form = await db.scalar(select(BranchForm).where(BranchForm.reference == reference))
    if form is None or form.state != "retrieved" or form.retrieved_by != teller:
        raise FormError("not_retrieved", "请先用身份证号码和号票调取表单")
    if expired(form, now):
        raise FormError("expired", "该表单已过期，请客户重新填写")
    return OpenedForm(form, definition(form.kind), json.loads(cipher.decrypt(form.payload)))


def check_signature(data_url: str) -> str:
    """The signature pad's PNG (a data URL) → base64 PNG; refused when absent or not a PNG."""
    if not data_url or not data_url.startswith(PNG_PREFIX):
        raise FormError("no_signature", "请客户在签名板上签名后再提交")
    encoded = data_url[len(PNG_PREFIX) :]
    try:
        png = base64.b64decode(encoded, validate=True)
    except ValueError:
        raise FormError("no_signature", "签名图像无法读取，请重新签名") from None
    if not png.startswith(b"\x89PNG\r\n\x1a\n") or len(png) > MAX_SIGNATURE_BYTES:
        raise FormError("no_signature", "签名图像无法读取，请重新签名")
    return encoded


async def complete(
    db: AsyncSession,
    cipher: FormCipher,
    bank: BankPort,
    *,
    reference: str,
    teller: str,
    corrections: dict[str, str],
    signature: str,
    now: datetime | None = None,
) -> tuple[BranchForm, FormReceipt, list[str]]:
    """Apply the teller's corrections (blank = keep), require the signature, file the form
    with the bank. Returns the form, the bank's receipt and the corrected field names."""
    now = now or utcnow()
    opened = await open_retrieved(db, cipher, reference=reference, teller=teller, now=now)
    changed = [k for k, v in corrections.items() if v.strip() and opened.definition.field(k)]
    merged = {**opened.values, **{k: corrections[k] for k in changed}}
    values, errors = validate(opened.definition, merged)
    if errors:
        raise FormError("invalid", "请更正标出的内容", errors=errors)
    png = check_signature(signature)
    form = opened.form
    submission = FormSubmission(
        kind=form.kind, branch_code=form.branch_code, reference=form.reference, fields=values,
        signature_png=png, signed_at=now, teller=teller[:80],
    )  # fmt: skip
    try:
        receipt = await bank.submit_form(submission)
    except BankError as exc:
        raise FormError("bank", f"银行系统未受理：{exc}") from None
    form.payload = cipher.encrypt(json.dumps(values, ensure_ascii=False))
    form.signature = cipher.encrypt(signature)
    form.state, form.completed_at, form.bank_reference = "completed", now, receipt.reference
    await db.flush()
    return form, receipt, changed


async def rotate_keys(db: AsyncSession, cipher: FormCipher) -> int:
    """Every stored form under the first key (after a new key was put first)."""
    done = 0
    for form in await db.scalars(select(BranchForm)):
        form.payload = cipher.rotate(form.payload)
        if form.signature:
            form.signature = cipher.rotate(form.signature)
        done += 1
    await db.flush()
    return done
