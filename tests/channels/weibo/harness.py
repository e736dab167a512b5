"""The Weibo channel's parts against the Weibo simulator on a loopback socket, for the tests:
the channel built (not started) over the test database, so each test drives the poller and
the outbound worker itself."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from kefu.assistant.engine import Assistant
from kefu.bank.synthetic.adapter import SyntheticBank
from kefu.channels.wechat.simulator.serve import Served, serve
from kefu.channels.weibo import oauth
from kefu.channels.weibo.config import WeiboAccount
from kefu.channels.weibo.models import WeiboReceived
from kefu.channels.weibo.runtime import WeiboRuntime, build
from kefu.channels.weibo.simulator.server import build_app
from kefu.channels.weibo.simulator.state import DirectMessage, Status, User, WeiboState
from kefu.db.engine import make_engine, make_sessionmaker
from kefu.messaging.pipeline import Pipeline

REDIRECT = "http://kefu.test/admin/weibo/bank/oauth"


def account_for(state: WeiboState, url: str, **extra: Any) -> WeiboAccount:
    values: dict[str, Any] = dict(
        name="bank", uid=str(state.official.id), screen_name=state.official_name,
        app_key=state.app_key, app_secret=state.app_secret, api_base=url, dm_api_base=url,
        search_api_base=url, poll_interval=3600, page_size=20, redirect_uri=REDIRECT,
    )  # fmt: skip
    values.update(extra)
    return WeiboAccount(**values)


@dataclass
class Rig:
    state: WeiboState
    sim: Served
    account: WeiboAccount
    runtime: WeiboRuntime
    sessionmaker: Any
    slept: list[float]

    async def authorise(self) -> None:
        await oauth.authorise_automatically(self.runtime.apis["bank"], REDIRECT, actor="test")

    def user(self, name: str = "网友甲", **profile: Any) -> User:
        profile.setdefault("followers_count", 321)
        return self.state.add_user(name, **profile)

    def mention(self, user: User, text: str = "信用卡被盗刷了怎么办") -> Status:
        return self.state.add_status(user.id, f"@{self.state.official_name} {text}")

    def dm_from(self, user: User, text: str, *, ago: float = 0.0) -> DirectMessage:
        """A 私信 the user sent (opens the 48-hour reply window from its time)."""
        message = DirectMessage(len(self.state.dms) + 1, user.id, self.state.official.id, "text",
                                text, {}, self.state.now() - ago, inbound=True)  # fmt: skip
        self.state.dms.append(message)
        return message

    async def poll(self) -> float:
        return await self.runtime.poller.poll_once(self.account)

    async def received(self, **where: Any) -> list[WeiboReceived]:
        async with self.sessionmaker() as db:
            query = select(WeiboReceived).order_by(WeiboReceived.id)
            for key, value in where.items():
                query = query.where(getattr(WeiboReceived, key) == value)
            return list((await db.scalars(query)).all())

    async def count(self, model: Any, *where: Any) -> int:
        async with self.sessionmaker() as db:
            return int(await db.scalar(select(func.count()).select_from(model).where(*where)) or 0)

    def sent(self) -> dict[str, list[Any]]:
        """What the bank sent, as the simulator's /_sim/sent lists it."""
        official = self.state.official.id
        return {
            "comments": [c for c in self.state.comments.values() if c.user_id == official],
            "dms": [m for m in self.state.dms if not m.inbound],
        }


@contextlib.asynccontextmanager
async def rig(db_url: str, *, timeout: float = 5.0, **account: Any) -> AsyncIterator[Rig]:
    state = WeiboState()
    sim = await serve(build_app(state))
    engine = make_engine(db_url)
    sessionmaker = make_sessionmaker(engine)
    pipeline = Pipeline(Assistant(SyntheticBank(engine)))
    slept: list[float] = []

    async def no_sleep(seconds: float) -> None:
        slept.append(seconds)

    acct = account_for(state, sim.url, **account)
    runtime = build([acct], sessionmaker, pipeline, timeout=timeout, sleep=no_sleep,
                    jitter=lambda: 0.5)  # fmt: skip
    try:
        yield Rig(state, sim, acct, runtime, sessionmaker, slept)
    finally:
        await runtime.stop()
        await sim.stop()
        await engine.dispose()


def monotonic_deadline(seconds: float) -> float:
    return time.monotonic() + seconds


@dataclass
class Running:
    """kefu (the whole app, its Weibo channel started) and the simulator, both on sockets."""

    kefu: Served
    sim: Served
    state: WeiboState
    app: Any
    account: WeiboAccount

    @property
    def push_url(self) -> str:
        return f"{self.kefu.url}/weibo/bank/push"

    @property
    def runtime(self) -> WeiboRuntime:
        return self.app.state.weibo_runtime

    async def authorise(self) -> None:
        await oauth.authorise_automatically(self.runtime.apis["bank"], REDIRECT, actor="test")


@contextlib.asynccontextmanager
async def running(db_url: str, **account: Any) -> AsyncIterator[Running]:
    from kefu.app import create_app
    from kefu.config import load_settings

    state = WeiboState()
    sim = await serve(build_app(state))
    acct = account_for(state, sim.url, **account)
    app = create_app(load_settings(database_url=db_url, secret_key="test-secret",
                                   weibo_accounts=[acct]))  # fmt: skip
    kefu = await serve(app)
    state.callback_url = f"{kefu.url}/weibo/bank/push"
    try:
        yield Running(kefu, sim, state, app, acct)
    finally:
        await kefu.stop()
        await sim.stop()


async def login(http: Any, base: str, username: str) -> None:
    """Signs ``username`` in on an async client (the demo password)."""
    import re

    from kefu.demo import DEMO_PASSWORD

    page = await http.get(f"{base}/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    answer = await http.post(f"{base}/login", data={"username": username, "password": DEMO_PASSWORD,
                                                   "csrf": token, "next": "/"})  # fmt: skip
    assert answer.status_code == 303, answer.text
