"""The demo's official account ``demo``: the WeChat API simulator runs in the web process, the
account's callback is ``/channels/wechat/demo`` (token ``kefu-demo-token``; safe mode, with
plaintext accepted too), and openids demo-openid-1/-2/-3 are bound to the demo's three customers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from kefu.channels.manifest import DemoPrepared, DemoSetup
from kefu.channels.wechat.config import WechatAccount
from kefu.channels.wechat.models import WechatFollower
from kefu.channels.wechat.simulator import DEFAULT_ROUTERS, SimApp, SimulatorState, build_app
from kefu.channels.wechat.simulator.serve import Served, serve
from kefu.config import Settings
from kefu.db.base import utcnow
from kefu.db.engine import make_engine, make_sessionmaker, session_scope
from kefu.identity.models import ChannelIdentity
from kefu.vocabulary import IdentityKind

DEMO_ACCOUNT = "demo"
DEMO_TOKEN = "kefu-demo-token"
DEMO_AES_KEY = "kefuDemoEncodingAesKey0123456789abcdefGHIJK"
DEMO_APP_ID = "wxkefudemo000001"
DEMO_SECRET = "kefu-demo-app-secret"
DEMO_OPENIDS = ("demo-openid-1", "demo-openid-2", "demo-openid-3")
DEMO_TEMPLATES = {"bill_ready": "demo-tpl-bill", "repayment_reminder": "demo-tpl-repay",
                  "card_transaction": "demo-tpl-card", "service_reply": "demo-tpl-reply"}  # fmt: skip


def demo_account() -> WechatAccount:
    return WechatAccount(
        name=DEMO_ACCOUNT, app_id=DEMO_APP_ID, app_secret=DEMO_SECRET, token=DEMO_TOKEN,
        encoding_aes_key=DEMO_AES_KEY, mode="safe", accept_plaintext=True,
        display_name="kefu银行", templates=DEMO_TEMPLATES, window_fallback="template",
    )  # fmt: skip


@dataclass
class DemoWechat:
    """The WeChat API simulator (with the OAuth2 pages) on ``port``, calling kefu at
    ``kefu_url``."""

    kefu_url: str = "http://127.0.0.1:8000"
    port: int = 8100
    state: SimulatorState = field(default_factory=SimulatorState)
    served: Served | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def configure(self, settings: Settings) -> Settings:
        """The settings with the demo account and the simulator's URLs."""
        accounts = [a for a in settings.wechat_accounts if a.name != DEMO_ACCOUNT]
        return settings.model_copy(
            update={"wechat_accounts": [*accounts, demo_account()],
                    "wechat_api_base_url": self.url, "wechat_oauth_base_url": self.url}
        )  # fmt: skip

    async def start(self) -> None:
        app = self.state.add_app(
            SimApp(
                DEMO_APP_ID,
                DEMO_SECRET,
                DEMO_TOKEN,
                DEMO_AES_KEY,
                "safe",
                callback_url=f"{self.kefu_url}/channels/wechat/{DEMO_ACCOUNT}",
                templates=set(DEMO_TEMPLATES.values()),
            )  # fmt: skip
        )
        for openid in DEMO_OPENIDS:
            self.state.follower(app.app_id, openid)  # followers; the window opens when they write
        routers = list(DEFAULT_ROUTERS)
        try:
            from kefu.channels.wechat.simulator.oauth import router as oauth_router
        except ImportError:  # the H5 pages' OAuth2 endpoints are optional
            pass
        else:
            routers.append(oauth_router)
        self.served = await serve(build_app(self.state, routers), port=self.port)

    async def stop(self) -> None:
        if self.served is not None:
            await self.served.stop()


async def ensure_wechat_demo(database_url: str, phones: list[str]) -> list[tuple[str, str]]:
    """Binds demo-openid-N to the customer behind the N-th demo phone and records them as
    followers of ``demo``; returns (openid, phone) pairs. Idempotent."""
    engine = make_engine(database_url)
    pairs = []
    try:
        async with session_scope(make_sessionmaker(engine)) as db:
            for openid, phone in zip(DEMO_OPENIDS, phones, strict=False):
                customer_id = await db.scalar(
                    select(ChannelIdentity.customer_id).where(
                        ChannelIdentity.kind == IdentityKind.PHONE.value,
                        ChannelIdentity.value == phone,
                    )
                )
                if customer_id is None:
                    continue
                bound = await db.scalar(
                    select(ChannelIdentity).where(
                        ChannelIdentity.kind == IdentityKind.WECHAT_OPENID.value,
                        ChannelIdentity.value == openid,
                    )
                )
                if bound is None:
                    db.add(ChannelIdentity(kind=IdentityKind.WECHAT_OPENID.value, value=openid,
                                           customer_id=customer_id))  # fmt: skip
                follower = await db.scalar(
                    select(WechatFollower).where(
                        WechatFollower.account == DEMO_ACCOUNT, WechatFollower.openid == openid
                    )
                )
                if follower is None:
                    db.add(WechatFollower(account=DEMO_ACCOUNT, openid=openid, subscribed=True,
                                          subscribed_at=utcnow()))  # fmt: skip
                pairs.append((openid, phone))
    finally:
        await engine.dispose()
    return pairs


async def prepare(setup: DemoSetup) -> DemoPrepared:
    """`kefu demo`: the account ``demo``, its followers bound to the demo customers, and the
    WeChat API simulator in the web process."""
    wechat = DemoWechat(kefu_url=f"http://127.0.0.1:{setup.port}", port=setup.ports["wechat_port"])
    openids = await ensure_wechat_demo(setup.settings.database_url, setup.phones)
    lines = [
        f"WeChat: account demo (callback http://{setup.host}:{setup.port}/channels/wechat/demo, "
        f"token {DEMO_TOKEN}), API simulator {wechat.url}; followers:"
    ]
    lines += [f"  {openid} (bound to {phone})   kefu wechat send {openid} 查账单 "
              f"--appid {DEMO_APP_ID} --simulator-url {wechat.url}"
              for openid, phone in openids]  # fmt: skip
    return DemoPrepared(wechat.configure(setup.settings), wechat, lines)
