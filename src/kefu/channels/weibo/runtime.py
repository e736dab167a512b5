"""Starting the Weibo channel inside the web process: the API clients (one per account, the
token in its row) and the 私信 receiver's background hand-on; its relay (the poller, the
listening search, the outbound worker) runs where the process's role says
(``kefu.channels.manifest.Relay``: one copy under the workers' lease when scaled out, so the
API quota is spent once, not once per web process)."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kefu.channels.manifest import ChannelContext, Relay, Started, start_relay
from kefu.channels.weibo.api import TokenStore, WeiboApi
from kefu.channels.weibo.config import WeiboAccount
from kefu.channels.weibo.inbound import Intake
from kefu.channels.weibo.listening import Listener, TermsSource
from kefu.channels.weibo.outbound import Outbound
from kefu.channels.weibo.poller import Poller
from kefu.logs import get_logger
from kefu.messaging.pipeline import Pipeline

log = get_logger(__name__)


@dataclass
class WeiboRuntime:
    accounts: dict[str, WeiboAccount]
    apis: dict[str, WeiboApi]
    sessionmaker: async_sessionmaker[AsyncSession]
    intake: Intake
    poller: Poller
    outbound: Outbound
    http: httpx.AsyncClient
    listener: Listener | None = None  # search polling for listening (when terms are offered)
    stats: Counter[str] = field(default_factory=Counter)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def hand_on_later(self, row_ids: Sequence[int]) -> None:
        """Runs the pipeline for pushed items after the push has been answered."""
        task = asyncio.create_task(self._hand_on(list(row_ids)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _hand_on(self, row_ids: list[int]) -> None:
        await self.intake.hand_on(row_ids)
        self.outbound.kick()

    async def token_stored(self, account: str) -> None:
        """A new token: poll and send now instead of at the next recheck."""
        self.poller.wake(account)
        if self.listener is not None:
            self.listener.wake(account)
        self.outbound.kick()

    @property
    def relay(self) -> Relay:
        return Relay(start=self._start_loops, stop=self._stop_loops)

    async def _start_loops(self) -> None:
        self.poller.start()
        if self.listener is not None:
            self.listener.start()
        self.outbound.start()

    async def _stop_loops(self) -> None:
        await self.poller.stop()
        if self.listener is not None:
            await self.listener.stop()
        await self.outbound.stop()

    async def stop(self) -> None:
        await self._stop_loops()
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.http.aclose()


def build(
    accounts: Sequence[WeiboAccount],
    sessionmaker: async_sessionmaker[AsyncSession],
    pipeline: Pipeline,
    *,
    timeout: float = 10.0,
    http: httpx.AsyncClient | None = None,
    listening_terms: TermsSource | None = None,
    **poller_options: Any,
) -> WeiboRuntime:
    """The channel's parts, not started (tests drive them directly); the listening search
    only when ``listening_terms`` says what to search for."""
    http = http or httpx.AsyncClient(limits=httpx.Limits(max_connections=50))
    apis = {a.name: WeiboApi(a, http=http, tokens=TokenStore(sessionmaker, a.name),
                             timeout=timeout) for a in accounts}  # fmt: skip
    intake = Intake(sessionmaker, pipeline)
    poller = Poller(accounts, apis, sessionmaker, intake, **poller_options)
    outbound = Outbound(accounts={a.name: a for a in accounts}, apis=apis,
                        sessionmaker=sessionmaker)  # fmt: skip
    listener = (
        Listener(accounts, apis, sessionmaker, intake, terms=listening_terms, **poller_options)
        if listening_terms is not None
        else None
    )
    return WeiboRuntime({a.name: a for a in accounts}, apis, sessionmaker, intake, poller,
                        outbound, http, listener)  # fmt: skip


async def start(ctx: ChannelContext) -> Started | None:
    """The registry's start: the demo's simulator first (when the demo runs it), then the
    channel and, where the role says, its relay (the poller and the outbound worker)."""
    demo = ctx.demo
    if demo is not None:
        await demo.start()
    runtime, offered = None, {}
    if ctx.settings.weibo_accounts:
        # The listening rules' terms come through the composition root (the channel does not
        # know kefu.social); absent → no search polling.
        runtime = build(ctx.settings.weibo_accounts, ctx.sessionmaker, ctx.pipeline,
                        timeout=ctx.settings.weibo_http_timeout,
                        listening_terms=ctx.services.get("listening_terms"))  # fmt: skip
        if demo is not None:
            try:
                await demo.authorise(runtime)
            except Exception:  # noqa: BLE001 - the demo still starts; /admin/weibo can authorise
                log.exception("weibo_demo_authorise_failed")
        offered = await start_relay(ctx, "weibo", runtime.relay)

    async def stop() -> None:
        if runtime is not None:
            await runtime.stop()
        if demo is not None:
            await demo.stop()

    return Started(stop=stop, state={"weibo_runtime": runtime, "demo_weibo": demo},
                   services=offered)  # fmt: skip
