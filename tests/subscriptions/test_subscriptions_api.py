"""GET/PUT /api/v1/customers/{customer_no}/subscriptions and the scheduler's page."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from kefu.app import create_app
from kefu.audit.models import AuditEntry
from kefu.db.engine import make_engine, make_sessionmaker, session_scope
from tests.conftest import login

pytestmark = pytest.mark.db
URL = "/api/v1/customers/{}/subscriptions"
CUSTOMER = "C0000000003"


def _key(client: TestClient, role: str) -> str:
    client.headers.pop("Authorization", None)
    login(client, "admin")
    key = client.post("/api/v1/api-keys", json={"name": f"core-{role}", "role": role}).json()
    client.cookies.clear()
    return key["key"]


@pytest.fixture
def api(app_settings):  # type: ignore[no-untyped-def]
    with TestClient(create_app(app_settings)) as client:
        client.headers["Authorization"] = f"Bearer {_key(client, 'supervisor')}"
        yield client


def test_put_then_get_and_audited(api, seeded_url: str) -> None:  # type: ignore[no-untyped-def]
    assert api.get(URL.format(CUSTOMER)).json() == {"customer_no": CUSTOMER, "subscriptions": []}
    body = {"subscriptions": [
        {"service": "bill_ready"},
        {"service": "repayment_reminder", "channel": "sms", "days_before": 5},
        {"service": "balance_alert", "threshold": "2500.50"},
        {"service": "bill_ready", "channel": "wechat"},
    ]}  # fmt: skip
    put = api.put(URL.format(CUSTOMER), json=body)
    assert put.status_code == 200, put.text
    got = api.get(URL.format(CUSTOMER)).json()["subscriptions"]
    assert got == put.json()["subscriptions"]
    by = {(s["service"], s["channel"]): s for s in got}
    assert set(by) == {("bill_ready", "sms"), ("bill_ready", "wechat"),
                       ("repayment_reminder", "sms"), ("balance_alert", "sms")}  # fmt: skip
    assert by[("repayment_reminder", "sms")]["days_before"] == 5
    assert by[("balance_alert", "sms")]["threshold"] == "2500.50"
    # PUT replaces the set: what is left out ends.
    api.put(URL.format(CUSTOMER), json={"subscriptions": [{"service": "balance_alert"}]})
    [only] = api.get(URL.format(CUSTOMER)).json()["subscriptions"]
    assert only["service"] == "balance_alert" and only["threshold"] == "1000.00"

    import asyncio

    async def audit() -> list[tuple[str, str]]:
        engine = make_engine(seeded_url)
        try:
            async with session_scope(make_sessionmaker(engine)) as db:
                rows = await db.execute(select(AuditEntry.action, AuditEntry.actor)
                                        .where(AuditEntry.action.like("subscription.%")))  # fmt: skip
                return [tuple(r) for r in rows]
        finally:
            await engine.dispose()

    entries = asyncio.run(audit())
    assert ("subscription.subscribe", "apikey:core-supervisor") in entries
    assert sum(a == "subscription.unsubscribe" for a, _ in entries) == 3
    assert ("subscription.change", "apikey:core-supervisor") in entries  # 2500.50 -> 1000


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"subscriptions": [{"service": "lottery"}]}, "subscriptions.0.service"),
        ({"subscriptions": [{"service": "repayment_reminder", "days_before": 11}]},
         "subscriptions.0.days_before"),
        ({"subscriptions": [{"service": "repayment_reminder", "days_before": 0}]},
         "subscriptions.0.days_before"),
        ({"subscriptions": [{"service": "balance_alert", "threshold": "0.5"}]},
         "subscriptions.0.threshold"),
        ({"subscriptions": [{"service": "balance_alert", "threshold": "10.001"}]},
         "subscriptions.0.threshold"),
        ({"subscriptions": [{"service": "balance_alert", "threshold": "NaN"}]},
         "subscriptions.0.threshold"),
        ({"subscriptions": [{"service": "bill_ready", "threshold": "100"}]},
         "subscriptions.0.threshold"),
        ({"subscriptions": [{"service": "bill_ready", "days_before": 3}]},
         "subscriptions.0.days_before"),
        ({"subscriptions": [{"service": "bill_ready", "channel": "fax"}]},
         "subscriptions.0.channel"),
        ({"subscriptions": [{"service": "bill_ready"}, {"service": "bill_ready"}]},
         "subscriptions.1"),
        ({"subscriptions": [{"service": "bill_ready", "colour": "red"}]},
         "subscriptions.0.colour"),
        ({"subs": []}, "subscriptions"),
    ],
)  # fmt: skip
def test_bad_input_is_a_422_naming_the_field_and_changes_nothing(api, body, field: str) -> None:  # type: ignore[no-untyped-def]
    api.put(URL.format(CUSTOMER), json={"subscriptions": [{"service": "bill_ready"}]})
    response = api.put(URL.format(CUSTOMER), json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in response.json()["detail"]
    [kept] = api.get(URL.format(CUSTOMER)).json()["subscriptions"]
    assert kept["service"] == "bill_ready"


def test_unknown_or_malformed_customer(api) -> None:  # type: ignore[no-untyped-def]
    assert api.get(URL.format("C9999999999")).status_code == 404
    put = api.put(URL.format("C9999999999"), json={"subscriptions": []})
    assert put.status_code == 404 and "C9999999999" in put.json()["detail"]
    bad = api.get(URL.format("C-1;drop"))
    assert bad.status_code == 422 and "customer_no" in bad.json()["detail"]
    malformed = api.put(URL.format(CUSTOMER), content=b"{not json", headers={"content-type": "application/json"})  # fmt: skip
    assert malformed.status_code == 422


def test_keys_and_roles(app_settings) -> None:  # type: ignore[no-untyped-def]
    with TestClient(create_app(app_settings)) as client:
        assert client.get(URL.format(CUSTOMER)).status_code == 401
        client.headers["Authorization"] = "Bearer not-a-key"
        assert client.get(URL.format(CUSTOMER)).status_code == 401
        client.headers["Authorization"] = f"Bearer {_key(client, 'agent')}"
        forbidden = client.put(URL.format(CUSTOMER), json={"subscriptions": []})
        assert forbidden.status_code == 403 and "subscriptions.manage" in forbidden.json()["detail"]
        client.headers["Authorization"] = f"Bearer {_key(client, 'admin')}"
        assert client.get(URL.format(CUSTOMER)).status_code == 200


def test_the_page_shows_services_and_runs(app_settings, seeded_url: str) -> None:  # type: ignore[no-untyped-def]
    import asyncio
    from datetime import date

    from kefu.bank.synthetic.adapter import SyntheticBank
    from kefu.subscriptions.scheduler import SubscriptionScheduler
    from tests.subscriptions.subscription_fixtures import offline_gateway

    async def one_run() -> None:
        engine = make_engine(seeded_url)
        factory = make_sessionmaker(engine)
        bank = SyntheticBank(engine)
        scheduler = SubscriptionScheduler(sessionmaker=factory, bank=bank,
                                          outbox=offline_gateway(factory, bank))  # fmt: skip
        await scheduler.run_once(date(2026, 11, 27))
        await engine.dispose()

    asyncio.run(one_run())
    with TestClient(create_app(app_settings)) as client:
        login(client, "supervisor")
        page = client.get("/subscriptions")
        assert page.status_code == 200
        assert 'data-testid="subscription-services"' in page.text
        assert 'data-testid="subscription-runs"' in page.text and "2026-11-27" in page.text
        assert "账单提醒" in page.text or "Bill ready" in page.text
        client.cookies.clear()
        login(client, "agent1")
        assert client.get("/subscriptions", follow_redirects=False).status_code == 403


def test_the_app_runs_the_scheduler_when_a_link_exists(app_settings, seeded_url: str) -> None:  # type: ignore[no-untyped-def]
    import time

    from kefu.config import load_settings
    from kefu.subscriptions.models import SubscriptionRun
    from tests.subscriptions.subscription_fixtures import offline_link

    settings = load_settings(database_url=seeded_url, secret_key="t",
                             sms_links=[offline_link().model_dump()],
                             subscriptions_hours=(0, 24))  # fmt: skip

    async def runs() -> list[str]:
        engine = make_engine(seeded_url)
        try:
            async with session_scope(make_sessionmaker(engine)) as db:
                return list((await db.scalars(select(SubscriptionRun.state))).all())
        finally:
            await engine.dispose()

    import asyncio

    with TestClient(create_app(settings)) as client:
        assert client.app.state.subscriptions is not None
        deadline = time.monotonic() + 30
        while "done" not in asyncio.run(runs()):
            assert time.monotonic() < deadline, "the scheduler did not run"
            time.sleep(0.1)
    off = load_settings(database_url=seeded_url, secret_key="t",
                        sms_links=[offline_link().model_dump()], subscriptions_scheduler=False)  # fmt: skip
    with TestClient(create_app(off)) as client:
        assert client.app.state.subscriptions is None
