"""kefu and the WeChat simulator on real loopback sockets, for the channel's tests."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from kefu.app import create_app
from kefu.channels.wechat.config import WechatAccount
from kefu.channels.wechat.simulator import SimApp, SimulatorState, build_app
from kefu.channels.wechat.simulator.follower import CallbackTarget
from kefu.channels.wechat.simulator.serve import Served, serve
from kefu.config import load_settings
from tests.conftest import session_on

AES_KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"
TOKEN = "kefu-test-token"
APP_ID = "wxkefutest000001"
SECRET = "test-secret-0001"
TEMPLATES = {"bill_ready": "TPL-BILL", "repayment_reminder": "TPL-REPAY",
             "card_transaction": "TPL-CARD", "service_reply": "TPL-REPLY"}  # fmt: skip


def account(
    name: str = "bank", mode: str = "safe", app_id: str = APP_ID, **extra: Any
) -> WechatAccount:
    return WechatAccount(
        name=name, app_id=app_id, app_secret=SECRET, token=TOKEN, encoding_aes_key=AES_KEY,
        mode=mode, display_name="kefu银行", templates=TEMPLATES, **extra,
    )  # fmt: skip


@dataclass
class Running:
    kefu: Served
    simulator: Served
    sim: SimulatorState
    app: Any
    accounts: list[WechatAccount]

    def target(self, name: str = "bank", mode: str | None = None) -> CallbackTarget:
        a = next(a for a in self.accounts if a.name == name)
        return CallbackTarget(f"{self.kefu.url}/channels/wechat/{name}", a.token, a.app_id,
                              a.encoding_aes_key, mode or a.mode)  # fmt: skip

    def follow(self, openid: str, name: str = "bank") -> None:
        """The follower wrote recently (WeChat's 48-hour window is open)."""
        a = next(a for a in self.accounts if a.name == name)
        self.sim.interacted(a.app_id, openid, subscribed=True)


@contextlib.asynccontextmanager
async def running(
    db_url: str, accounts: list[WechatAccount] | None = None, **settings: Any
) -> AsyncIterator[Running]:
    accounts = accounts or [account()]
    state = SimulatorState()
    for a in accounts:
        state.add_app(SimApp(a.app_id, a.app_secret, a.token, a.encoding_aes_key, a.mode,
                             templates=set(a.templates.values())))  # fmt: skip
    simulator = await serve(build_app(state))
    app = create_app(
        load_settings(
            database_url=db_url,
            secret_key="test-secret",
            wechat_accounts=accounts,
            wechat_api_base_url=simulator.url,
            **settings,
        )  # fmt: skip
    )
    kefu = await serve(app)
    for a in accounts:
        state.apps[a.app_id].callback_url = f"{kefu.url}/channels/wechat/{a.name}"
    try:
        yield Running(kefu, simulator, state, app, accounts)
    finally:
        await kefu.stop()
        await simulator.stop()


def client() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=10)


database = session_on  # a session on the test database (committed by the caller)


async def bind_openid(db_url: str, openid: str, customer_no: str = "C0000000001") -> int:
    """Binds ``openid`` to a synthetic-bank customer (as the H5 binding page does)."""
    from sqlalchemy import select

    from kefu.identity.models import ChannelIdentity, Customer

    async with database(db_url) as db:
        customer = await db.scalar(select(Customer).where(Customer.bank_customer_no == customer_no))
        if customer is None:
            customer = Customer(bank_customer_no=customer_no)
            db.add(customer)
            await db.flush()
        db.add(ChannelIdentity(kind="wechat_openid", value=openid, customer_id=customer.id))
        await db.commit()
        return customer.id
