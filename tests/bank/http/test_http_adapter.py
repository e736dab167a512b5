"""The HTTP adapter against the contract server on a real loopback socket."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn

from kefu.bank.http.adapter import HttpBank
from kefu.bank.http.contract import contract_openapi_json, create_contract_app_for_database
from kefu.bank.port import BankError, NotFound
from kefu.bank.synthetic.adapter import SyntheticBank
from kefu.db.engine import make_engine
from tests.conftest import REPO_ROOT, seed_sync
from tests.ports import free_port

pytestmark = pytest.mark.db
TOKEN = "contract-token"


@pytest.fixture
def contract_server(db_url: str):  # type: ignore[no-untyped-def]
    seed_sync(db_url, 25)
    port = free_port()
    config = uvicorn.Config(
        create_contract_app_for_database(db_url, token=TOKEN),
        host="127.0.0.1",
        port=port,
        log_level="warning",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 10
    while not server.started:
        assert time.time() < deadline, "contract server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", db_url
    server.should_exit = True
    thread.join(timeout=10)


def test_http_adapter_matches_the_synthetic_bank(contract_server) -> None:  # type: ignore[no-untyped-def]
    base_url, db_url = contract_server

    async def go() -> None:
        engine = make_engine(db_url)
        direct = SyntheticBank(engine)
        remote = HttpBank(base_url, token=TOKEN)
        try:
            assert await remote.count_customers() == 25
            for n in (1, 7, 25):
                no = f"C{n:010d}"
                assert await remote.get_customer(no) == await direct.get_customer(no)
                assert await remote.list_accounts(no) == await direct.list_accounts(no)
                assert await remote.list_cards(no) == await direct.list_cards(no)
                assert await remote.list_holdings(no) == await direct.list_holdings(no)
            profile = await direct.get_customer("C0000000003")
            assert await remote.find_customer_by_mobile(profile.mobile) == profile
            assert await remote.find_customer_by_mobile("19900000001") is None
            credit = None
            for n in range(1, 26):
                cards = [c for c in await direct.list_cards(f"C{n:010d}") if c.kind == "credit"]
                if cards:
                    credit = cards[0]
                    break
            assert credit is not None
            periods = await remote.list_bill_periods(credit.card_no)
            assert periods == await direct.list_bill_periods(credit.card_no)
            assert await remote.get_bill(credit.card_no, periods[3]) == await direct.get_bill(
                credit.card_no, periods[3]
            )
            assert await remote.get_repayment_due(credit.card_no) == await direct.get_repayment_due(
                credit.card_no
            )
            account = (await direct.list_accounts(profile.customer_no))[0]
            assert await remote.list_transactions(
                account.account_no, 5
            ) == await direct.list_transactions(account.account_no, 5)
            assert await remote.list_branches("上海") == await direct.list_branches("上海")
            assert await remote.list_products() == await direct.list_products()
            with pytest.raises(NotFound):
                await remote.get_customer("C0000099999")
            with pytest.raises(NotFound):
                await remote.get_bill(credit.card_no, "2001-01")
            report = await remote.report_card_lost(credit.card_no, reason="customer called")
            assert report.status == "lost"
            assert (await direct.get_card(credit.card_no)).status == "lost"
        finally:
            await remote.close()
            await engine.dispose()

    asyncio.run(go())


def test_wrong_token_and_bad_input_are_errors(contract_server) -> None:  # type: ignore[no-untyped-def]
    base_url, _ = contract_server

    async def go() -> None:
        wrong = HttpBank(base_url, token="nope")
        try:
            with pytest.raises(BankError, match="401"):
                await wrong.count_customers()
        finally:
            await wrong.close()
        remote = HttpBank(base_url, token=TOKEN)
        try:
            # The contract validates its input: a malformed period is a 422, not a crash.
            with pytest.raises(BankError, match="422"):
                await remote.get_bill("6225750000000000", "2026-13")
        finally:
            await remote.close()

    asyncio.run(go())


def test_unreachable_bank_and_malformed_answers_raise_bank_error() -> None:
    async def go() -> None:
        unreachable = HttpBank(f"http://127.0.0.1:{free_port()}", timeout=1)
        try:
            with pytest.raises(BankError, match="unreachable"):
                await unreachable.count_customers()
        finally:
            await unreachable.close()

        def handler(request: httpx.Request) -> httpx.Response:
            return httpx.Response(200, json={"customer_no": "C1", "name": 5})

        malformed = HttpBank("http://bank.test", transport=httpx.MockTransport(handler))
        try:
            with pytest.raises(BankError, match="malformed"):
                await malformed.get_customer("C1")
        finally:
            await malformed.close()

    asyncio.run(go())


def test_published_openapi_document_is_current() -> None:
    published = Path(REPO_ROOT / "docs" / "bank-api.openapi.json").read_text(encoding="utf-8")
    assert json.loads(published) == json.loads(contract_openapi_json()), (
        "docs/bank-api.openapi.json is stale: run `kefu bank openapi > docs/bank-api.openapi.json`"
    )


def test_statements_and_movements_for_many_customers(contract_server) -> None:  # type: ignore[no-untyped-def]
    """The batch look-ups the subscription scheduler uses: the same answers over HTTP, and
    the same as asking card by card and account by account."""
    from datetime import date
    from decimal import Decimal

    base_url, db_url = contract_server
    customers = [f"C{n:010d}" for n in range(1, 26)]
    start, end = date(2026, 11, 1), date(2026, 11, 30)

    async def go() -> None:
        engine = make_engine(db_url)
        direct = SyntheticBank(engine)
        remote = HttpBank(base_url, token=TOKEN)
        try:
            for field in ("statement_date", "due_date"):
                found = await direct.list_statements(customers, date_field=field, start=start,
                                                     end=end)  # fmt: skip
                assert found and found == await remote.list_statements(
                    customers, date_field=field, start=start, end=end
                )
                for s in found:
                    assert start <= getattr(s, field) <= end
                    bill = await direct.get_bill(s.card_no, s.period)
                    assert (s.total, s.due_date, s.statement_date) == (
                        bill.total, bill.due_date, bill.statement_date)  # fmt: skip
            moved = await direct.list_movements(customers, start=start, end=end,
                                                min_amount=Decimal("200"))  # fmt: skip
            assert moved and moved == await remote.list_movements(
                customers, start=start, end=end, min_amount=Decimal("200")
            )
            assert all(abs(m.amount) >= 200 and m.posted_at.month == 11 for m in moved)
            # The same as account by account (a transaction at midnight exactly included).
            expected = sorted([
                (a.account_no, t.posted_at, t.amount)
                for no in customers for a in await direct.list_accounts(no)
                for t in await direct.list_transactions(a.account_no, 100)
                if abs(t.amount) >= 200 and start <= t.posted_at.date() <= end
            ])  # fmt: skip
            assert sorted((m.account_no, m.posted_at, m.amount) for m in moved) == expected
            assert (
                await remote.list_statements([], date_field="due_date", start=start, end=end) == []
            )
            with pytest.raises(BankError, match="422"):  # more customers than one call takes
                await remote.list_movements([f"C{n:010d}" for n in range(1001)], start=start,
                                            end=end, min_amount=Decimal("1"))  # fmt: skip
        finally:
            await remote.close()
            await engine.dispose()

    asyncio.run(go())


def test_a_signed_form_goes_through_the_contract_and_a_bad_one_is_refused(contract_server) -> None:  # type: ignore[no-untyped-def]
    import base64
    from datetime import datetime

    from kefu.bank.models import FormSubmission
    from kefu.bank.synthetic.checksums import gb11643_check_digit

    base_url, _ = contract_server
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 16).decode()
    id_number = "44030519900101123" + gb11643_check_digit("44030519900101123")
    form = FormSubmission(kind="account_opening", branch_code="B001", reference="F1A2B3C4",
                          fields={"name": "张三", "id_number": id_number}, signature_png=png,
                          signed_at=datetime(2026, 12, 6, 10, 0), teller="柜员1")  # fmt: skip

    async def go() -> None:
        bank = HttpBank(base_url, token=TOKEN)
        try:
            receipt = await bank.submit_form(form)
            assert receipt.status == "accepted" and receipt.reference.startswith("FM")
            wrong_id = form.model_copy(update={"fields": {"id_number": id_number[:17] + "0"
                                                          if id_number[17] != "0" else id_number[:17] + "1"}})  # fmt: skip
            with pytest.raises(BankError, match="ID number"):
                await bank.submit_form(wrong_id)
            not_png = form.model_copy(
                update={"signature_png": base64.b64encode(b"GIF89a").decode()}
            )
            with pytest.raises(BankError, match="PNG"):
                await bank.submit_form(not_png)
        finally:
            await bank.close()

    asyncio.run(go())
