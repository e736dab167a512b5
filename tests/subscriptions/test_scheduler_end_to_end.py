"""A subscription notice reaches a handset through the SMPP carrier simulator on loopback,
and the scheduler run from the command line (two processes at once send once)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from kefu.assistant.engine import Assistant
from kefu.channels.sms.config import SmsLink
from kefu.channels.sms.gateway import SmsGateway
from kefu.channels.sms.models import SmsMessage
from kefu.db.engine import session_scope
from kefu.messaging.pipeline import Pipeline
from kefu.protocols.factory import make_simulator
from kefu.protocols.simulator import SimulatorConfig
from kefu.subscriptions.models import SubscriptionNotice
from kefu.subscriptions.scheduler import SubscriptionScheduler, overview
from kefu.subscriptions.service import Service
from tests.channels.sms.test_gateway import eventually
from tests.subscriptions import subscription_fixtures as fixtures
from tests.subscriptions.subscription_fixtures import SIGNATURE, offline_link

pytestmark = pytest.mark.db
bank_url, world = fixtures.bank_url, fixtures.world


async def test_a_balance_alert_reaches_the_handset_over_smpp(world) -> None:  # type: ignore[no-untyped-def]
    sim = make_simulator("smpp", SimulatorConfig("kefu", "secret", report_delay=0.05, seed=3))
    await sim.start()
    link = SmsLink(name="carrier", protocol="smpp", port=sim.port, username="kefu",
                   password="secret")  # fmt: skip
    gateway = SmsGateway(links=[link], sessionmaker=world.factory,
                         pipeline=Pipeline(Assistant(world.bank)), signature=SIGNATURE)  # fmt: skip
    await gateway.start()
    try:
        profile = world.profiles[0]
        await world.subscribe(await world.bind(profile), Service.BALANCE_ALERT,
                              threshold=Decimal("1"))  # fmt: skip
        scheduler = SubscriptionScheduler(sessionmaker=world.factory, bank=world.bank,
                                          outbox=gateway)  # fmt: skip
        result = await scheduler.run_once(await world.latest_movement_day(profile))
        assert result.queued >= 1
        received = await eventually(
            lambda: len(sim.mt_for(profile.mobile)) >= result.queued and sim.mt_for(profile.mobile)
        )
        for message in received:
            assert message.text.startswith(SIGNATURE) and "余额" in message.text
            assert "TD YE退订" in message.text

        async def delivered() -> bool:
            async with session_scope(world.factory) as db:
                seen = await overview(db)
            return seen.notices.get("balance_alert", {}).get("delivered") == result.queued

        await eventually(delivered)
    finally:
        await gateway.stop()
        await sim.stop()


def _kefu(db_url: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "KEFU_SMS_LINKS": json.dumps([offline_link().model_dump()]),
           "KEFU_DATABASE_URL": db_url}  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-m", "kefu.cli", *args], env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


async def test_two_run_once_processes_at_the_same_time_send_once(world, bank_url: str) -> None:  # type: ignore[no-untyped-def]
    for profile in world.profiles[:15]:
        customer_id = await world.bind(profile)
        await world.subscribe(customer_id, Service.BALANCE_ALERT, threshold=Decimal("50"))
        await world.subscribe(customer_id, Service.REPAYMENT_REMINDER, days_before=10)
    day = "2026-11-28"
    processes = [_kefu(bank_url, "subscriptions", "run-once", "--today", day) for _ in range(2)]
    outputs = [await asyncio.to_thread(p.communicate, timeout=120) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    queued = [int(re.search(r"(\d+) notices queued", out).group(1)) for out, _ in outputs]
    assert sum(queued) >= 5
    async with session_scope(world.factory) as db:
        sms = await db.scalar(select(func.count()).select_from(SmsMessage))
        notices = await db.scalar(select(func.count()).select_from(SubscriptionNotice))
    assert sms == notices == sum(queued)


def test_run_once_refuses_bad_input(db_url: str) -> None:
    bad_day = _kefu(db_url, "subscriptions", "run-once", "--today", "2026-02-30")
    _, err = bad_day.communicate(timeout=60)
    assert bad_day.returncode == 2 and "YYYY-MM-DD" in err
    env = {**os.environ, "KEFU_DATABASE_URL": db_url, "KEFU_SMS_LINKS": "[]"}
    no_link = subprocess.run([sys.executable, "-m", "kefu.cli", "subscriptions", "run-once"],
                             env=env, text=True, capture_output=True, timeout=60)  # fmt: skip
    assert no_link.returncode == 2 and "KEFU_SMS_LINKS" in no_link.stderr
