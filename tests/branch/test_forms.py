"""Paperless forms: definitions and validators, encryption at rest and key rotation, the fill →
retrieve → complete flow with each refusal (bad fields, expired, wrong ID + ticket with tries
left, locked, missing signature), and wrong tries racing on separate connections."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.bank.models import FormReceipt, FormSubmission
from kefu.bank.port import BankError
from kefu.bank.synthetic.checksums import gb11643_check_digit, luhn_check_digit
from kefu.branch import queue
from kefu.branch.forms import service
from kefu.branch.forms.crypto import FormCipher, FormCipherError, new_key
from kefu.branch.forms.definitions import definitions
from kefu.branch.forms.service import FormError
from kefu.branch.forms.validation import check_card, check_id_number, check_mobile, validate
from kefu.branch.models import BranchForm, BranchFormTry
from kefu.branch.settings import BranchSettings
from kefu.db.engine import make_engine, make_sessionmaker
from tests.branch.conftest import NOW

pytestmark = pytest.mark.db
ID = "44030519900307123" + gb11643_check_digit("44030519900307123")
OTHER_ID = "11010519851120002" + gb11643_check_digit("11010519851120002")
CARD = "621483000012345" + luhn_check_digit("621483000012345")
PNG = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 32).decode()
CIPHER = FormCipher([new_key().encode()])
ACCOUNT = {"name": "张三", "id_number": ID, "mobile": "13800138000", "account_type": "savings",
           "address": "深圳市福田区深南大道1号"}  # fmt: skip


class Bank:
    def __init__(self) -> None:
        self.filed: list[FormSubmission] = []

    async def submit_form(self, submission: FormSubmission) -> FormReceipt:
        self.filed.append(submission)
        return FormReceipt(reference="FM1", status="accepted", received_at=NOW)


def test_every_definition_loads_and_asks_for_an_id_number() -> None:
    forms = definitions()
    assert set(forms) == {"account_opening", "transfer", "card_application"}
    assert all(f.field("id_number") and f.field("mobile") for f in forms.values())


def test_validators() -> None:
    assert check_id_number(ID.lower()) == ID.upper()
    with pytest.raises(ValueError, match="校验位"):
        check_id_number(ID[:17] + ("0" if ID[17] != "0" else "1"))
    bad_date = "44030519901307123"  # month 13
    with pytest.raises(ValueError, match="出生日期"):
        check_id_number(bad_date + gb11643_check_digit(bad_date))
    assert check_card(" ".join([CARD[:4], CARD[4:8], CARD[8:]])) == CARD
    with pytest.raises(ValueError, match="卡号"):
        check_card(CARD[:-1] + str((int(CARD[-1]) + 1) % 10))
    assert check_mobile("+86 138-0013-8000") == "13800138000"
    with pytest.raises(ValueError):
        check_mobile("12800138000")
    values, errors = validate(definitions()["transfer"], {
        "name": "李四", "id_number": ID, "mobile": "１３８００１３８０００", "from_card": CARD,
        "payee_name": "王五", "to_card": "6214830000000000", "amount": "-5"})  # fmt: skip
    assert values["mobile"] == "13800138000"
    assert set(errors) == {"to_card", "amount"}


def test_encryption_at_rest_and_key_rotation(tmp_path: Path) -> None:
    old, new = new_key(), new_key()
    token = FormCipher([old.encode()]).encrypt(ID)
    assert ID not in token
    rotated = FormCipher([new.encode(), old.encode()])
    assert rotated.decrypt(token) == ID
    moved = rotated.rotate(token)
    assert FormCipher([new.encode()]).decrypt(moved) == ID
    with pytest.raises(FormCipherError):
        FormCipher([new.encode()]).decrypt(token)  # the old key dropped before rotating
    # Unconfigured: one key per secret, or one key file shared by every process.
    a = FormCipher.from_settings(BranchSettings(), "s1")
    assert FormCipher.from_settings(BranchSettings(), "s1").decrypt(a.encrypt("x")) == "x"
    file = tmp_path / "k.key"
    b = FormCipher.from_settings(BranchSettings(), "", key_file=file)
    assert (
        FormCipher.from_settings(BranchSettings(), "", key_file=file).decrypt(b.encrypt("y")) == "y"
    )


async def _open_branch(db: AsyncSession) -> None:
    counter = await queue.add_counter(db, branch_code="SZ001", number=1,
                                      services=["account", "card", "cash"])  # fmt: skip
    await queue.set_counter_state(db, counter_id=counter.id, state="open", teller="t1")


async def test_fill_retrieve_correct_sign_and_file(session: AsyncSession) -> None:
    await _open_branch(session)
    with pytest.raises(FormError) as bad:
        await service.fill(session, CIPHER, kind="account_opening", raw={**ACCOUNT, "mobile": "1"},
                           branch_code="SZ001", ticket_label=None, ttl_hours=72, now=NOW)  # fmt: skip
    assert bad.value.code == "invalid" and set(bad.value.errors) == {"mobile"}
    form, ticket = await service.fill(session, CIPHER, kind="account_opening", raw=ACCOUNT,
                                      branch_code="SZ001", ticket_label=None, ttl_hours=72, now=NOW)  # fmt: skip
    assert ticket.service == "account" and ticket.source == "web" and ticket.label == "C001"
    stored = await session.scalar(select(BranchForm.payload).where(BranchForm.id == form.id))
    assert ID not in stored and "张三" not in stored and "13800138000" not in stored
    with pytest.raises(FormError) as dup:  # one open form per ticket
        await service.fill(session, CIPHER, kind="card_application",
                           raw={**ACCOUNT, "card_type": "debit"}, branch_code="SZ001",
                           ticket_label="c001", ttl_hours=72, now=NOW)  # fmt: skip
    assert dup.value.code == "duplicate"

    with pytest.raises(FormError) as wrong:
        await service.retrieve(session, CIPHER, branch_code="SZ001", ticket_label="C001",
                               id_number=OTHER_ID, teller="t1", max_tries=5, now=NOW)  # fmt: skip
    assert wrong.value.code == "mismatch" and wrong.value.tries_left == 4
    assert "还可尝试4次" in wrong.value.message
    opened = await service.retrieve(session, CIPHER, branch_code="SZ001", ticket_label="C001",
                                    id_number=ID, teller="t1", max_tries=5, now=NOW)  # fmt: skip
    assert opened.values["name"] == "张三"
    with pytest.raises(FormError) as unsigned:
        await service.complete(session, CIPHER, Bank(), reference=form.reference, teller="t1",
                               corrections={}, signature="", now=NOW)  # fmt: skip
    assert unsigned.value.code == "no_signature"
    with pytest.raises(FormError) as not_mine:
        await service.complete(session, CIPHER, Bank(), reference=form.reference, teller="t2",
                               corrections={}, signature=PNG, now=NOW)  # fmt: skip
    assert not_mine.value.code == "not_retrieved"
    bank = Bank()
    done, receipt, changed = await service.complete(
        session, CIPHER, bank, reference=form.reference, teller="t1",
        corrections={"address": "深圳市南山区科技园2号", "name": ""}, signature=PNG, now=NOW,
    )  # fmt: skip
    assert changed == ["address"] and receipt.reference == "FM1"
    assert done.state == "completed" and done.bank_reference == "FM1"
    assert bank.filed[0].fields["address"] == "深圳市南山区科技园2号"
    assert bank.filed[0].fields["name"] == "张三" and bank.filed[0].signature_png == PNG[22:]
    assert PNG not in (done.signature or "")
    assert json.loads(CIPHER.decrypt(done.payload))["address"] == "深圳市南山区科技园2号"


async def test_expired_form_and_bank_refusal(session: AsyncSession) -> None:
    await _open_branch(session)
    ticket = await queue.take_ticket(session, branch_code="SZ001", service_code="card", now=NOW)
    raw = {**ACCOUNT, "card_type": "credit"}
    form, _ = await service.fill(session, CIPHER, kind="card_application", raw=raw,
                                 branch_code="SZ001", ticket_label=ticket.label, ttl_hours=1,
                                 now=NOW)  # fmt: skip
    with pytest.raises(FormError) as late:
        await service.retrieve(session, CIPHER, branch_code="SZ001", ticket_label=ticket.label,
                               id_number=ID, teller="t1", max_tries=5,
                               now=NOW + timedelta(hours=1, seconds=1))  # fmt: skip
    assert late.value.code == "expired" and "过期" in late.value.message
    await service.retrieve(session, CIPHER, branch_code="SZ001", ticket_label=ticket.label,
                           id_number=ID, teller="t1", max_tries=5, now=NOW)  # fmt: skip

    class Refusing:
        async def submit_form(self, submission: FormSubmission) -> FormReceipt:
            raise BankError("form refused: the ID number is missing or invalid")

    with pytest.raises(FormError) as refused:
        await service.complete(session, CIPHER, Refusing(), reference=form.reference,  # type: ignore[arg-type]
                               teller="t1", corrections={}, signature=PNG, now=NOW)  # fmt: skip
    assert refused.value.code == "bank" and "未受理" in refused.value.message
    assert form.state == "retrieved" and form.signature is None  # nothing recorded as done


async def _wrong_try(url: str, label: str) -> str:
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as db:
            async with db.begin():
                try:
                    await service.retrieve(db, CIPHER, branch_code="SZ001", ticket_label=label,
                                           id_number=OTHER_ID, teller="t", max_tries=5, now=NOW)  # fmt: skip
                except FormError as exc:
                    return f"{exc.code}:{exc.tries_left}"
            return "opened"
    finally:
        await engine.dispose()


async def test_racing_wrong_tries_never_pass_the_limit(empty_queues: str) -> None:
    engine = make_engine(empty_queues)
    try:
        async with make_sessionmaker(engine)() as db, db.begin():
            await _open_branch(db)
            _, ticket = await service.fill(db, CIPHER, kind="account_opening", raw=ACCOUNT,
                                           branch_code="SZ001", ticket_label=None, ttl_hours=72,
                                           now=NOW)  # fmt: skip
            label = ticket.label
    finally:
        await engine.dispose()
    results = await asyncio.gather(*(_wrong_try(empty_queues, label) for _ in range(12)))
    mismatches = sorted(r for r in results if r.startswith("mismatch"))
    assert mismatches == [f"mismatch:{n}" for n in range(5)]  # each try counted exactly once
    assert results.count("locked:0") == 7
    engine = make_engine(empty_queues)
    try:
        async with make_sessionmaker(engine)() as db, db.begin():
            assert await db.scalar(select(BranchFormTry.failures)) == 5
            with pytest.raises(FormError) as locked:  # locked even for the right ID now
                await service.retrieve(db, CIPHER, branch_code="SZ001", ticket_label=label,
                                       id_number=ID, teller="t", max_tries=5, now=NOW)  # fmt: skip
            assert locked.value.code == "locked"
    finally:
        await engine.dispose()


async def test_rotating_keys_re_encrypts_every_stored_form(session: AsyncSession) -> None:
    old_key = new_key().encode()
    old = FormCipher([old_key])
    await _open_branch(session)
    form, _ = await service.fill(session, old, kind="account_opening", raw=ACCOUNT,
                                 branch_code="SZ001", ticket_label=None, ttl_hours=72, now=NOW)  # fmt: skip
    key = new_key()  # what `kefu branch new-form-key` prints
    both = FormCipher([key.encode(), old_key])
    assert await service.rotate_keys(session, both) == 1
    assert json.loads(FormCipher([key.encode()]).decrypt(form.payload))["id_number"] == ID
