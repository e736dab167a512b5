"""The demo's official Weibo account ``demo``: the Weibo API simulator runs in the web process
on ``--weibo-port`` (8090) with background traffic about banking and a card-fraud rumour
planted a few minutes in; kefu authorises itself against it (the simulator's ``auto=1``), polls
it every few seconds and takes its 私信 pushes at ``/weibo/demo/push``. ``/demo/weibo`` lets
the visitor post, comment or write a 私信 as a Weibo user."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import Any

import httpx

from kefu.channels.manifest import DemoPrepared, DemoSetup
from kefu.channels.weibo import oauth
from kefu.channels.weibo.config import WeiboAccount
from kefu.channels.weibo.simulator.serve import start as start_simulator
from kefu.channels.weibo.simulator.state import WeiboState
from kefu.logs import get_logger

log = get_logger(__name__)

DEMO_ACCOUNT = "demo"
TRAFFIC_PER_MINUTE = 6.0
CRISIS_IN = 180.0  # seconds after start: the rumour bursts while the visitor looks around
# The account has been talking for half an hour when the demo starts: the listening and posts
# pages have believable content, and the crisis detector a baseline (it raises nothing in a
# stream's first 15 minutes), so the rumour three minutes in is caught. Not more: each post is
# analysed on arrival (the encoder), and the catch-up costs CPU while the visitor starts.
HISTORY_MINUTES = 30.0
POLL_INTERVAL = 5.0
SEARCH_INTERVAL = 15.0  # listening's search: the rumour reaches the crisis desk within a minute
# The demo polls three streams every few seconds: more reads than Weibo's default 150 an hour.
DEMO_READ_LIMIT = 10_000


@dataclass
class DemoWeibo:
    kefu_url: str = "http://127.0.0.1:8000"
    port: int = 8090
    state: WeiboState = field(default_factory=WeiboState)
    served: Any = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def account(self) -> WeiboAccount:
        return WeiboAccount(
            name=DEMO_ACCOUNT, uid=str(self.state.official.id),
            screen_name=self.state.official_name, app_key=self.state.app_key,
            app_secret=self.state.app_secret, api_base=self.url, dm_api_base=self.url,
            search_api_base=self.url, poll_interval=POLL_INTERVAL,
            search_interval=SEARCH_INTERVAL, search_reads_per_hour=DEMO_READ_LIMIT // 2,
            redirect_uri=f"{self.kefu_url}/admin/weibo/{DEMO_ACCOUNT}/oauth",
        )  # fmt: skip

    def configure(self, settings: Any) -> Any:
        accounts = [a for a in settings.weibo_accounts if a.name != DEMO_ACCOUNT]
        return settings.model_copy(update={"weibo_accounts": [*accounts, self.account()]})

    async def start(self) -> None:
        self.state.callback_url = f"{self.kefu_url}/weibo/{DEMO_ACCOUNT}/push"
        self.state.limits["read"] = DEMO_READ_LIMIT
        self.served = await start_simulator(self.state, port=self.port)
        async with httpx.AsyncClient(base_url=self.url, timeout=5) as http:
            for path, body in (("/_sim/traffic", {"per_minute": TRAFFIC_PER_MINUTE,
                                                  "history_minutes": HISTORY_MINUTES}),
                               ("/_sim/crisis", {"kind": "card_fraud_rumour",
                                                 "start_in": CRISIS_IN})):  # fmt: skip
                answer = await http.post(path, json=body)
                if answer.status_code != 200:
                    log.warning("weibo_demo_control_refused", path=path, status=answer.status_code)

    async def authorise(self, runtime: Any) -> None:
        """kefu authorises itself (the admin's consent, done by the simulator's auto=1)."""
        api = runtime.apis[DEMO_ACCOUNT]
        await oauth.authorise_automatically(api, api.account.redirect_uri, actor="demo")

    async def stop(self) -> None:
        if self.served is not None:
            await self.served.stop()

    # ------------------------------------------------------------------ the demo page
    def user(self, screen_name: str) -> int:
        uid = self.state.by_name.get(screen_name)
        if uid is None:
            uid = self.state.add_user(screen_name, followers_count=850, location="上海").id
        return uid

    async def act(self, kind: str, screen_name: str, text: str) -> str:
        """Posts as ``screen_name``: an @mention, a comment on the account's latest post, or a
        私信 (pushed to kefu); returns what happened, in words."""
        uid = self.user(screen_name)
        async with httpx.AsyncClient(base_url=self.url, timeout=10) as http:
            if kind == "dm":
                answer = await http.post("/_sim/dms", json={"uid": uid, "text": text})
                ok = answer.status_code == 200 and answer.json().get("delivered")
                return "私信已推送给 kefu" if ok else f"私信推送失败：{answer.text[:200]}"
            if kind == "comment":
                own = [s for s in self.state.statuses.values()
                       if s.user_id == self.state.official.id and not s.deleted]  # fmt: skip
                if not own:
                    own = [
                        self.state.add_status(self.state.official.id, "欢迎关注某某银行官方微博")
                    ]
                answer = await http.post("/_sim/comments", json={
                    "uid": uid, "status_id": max(own, key=lambda s: s.id).id, "text": text})  # fmt: skip
                return "评论已发布" if answer.status_code == 200 else answer.text[:200]
            answer = await http.post(
                "/_sim/posts", json={"uid": uid, "text": text, "mention": True}
            )
            return "微博已发布（@官方账号）" if answer.status_code == 200 else answer.text[:200]


def _port(wanted: int) -> int:
    """``wanted`` when it is free, else one the system picks: a second demo (or a test run
    beside one) must not fail on the simulator's default port."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", wanted))
            return wanted
        except OSError:
            probe.bind(("127.0.0.1", 0))
            return int(probe.getsockname()[1])


async def prepare(setup: DemoSetup) -> DemoPrepared:
    weibo = DemoWeibo(kefu_url=f"http://127.0.0.1:{setup.port}",
                      port=_port(setup.ports.get("weibo_port", 8090)))  # fmt: skip
    lines = [
        f"Weibo: account demo ({weibo.state.official_name}), API simulator {weibo.url} with "
        f"{TRAFFIC_PER_MINUTE:g} posts a minute and a card-fraud rumour {CRISIS_IN / 60:g} minutes "
        f"in; post as a user on http://{setup.host}:{setup.port}/demo/weibo",
    ]
    return DemoPrepared(weibo.configure(setup.settings), weibo, lines)
