"""Polling the account's streams: posts that @ it, comments that @ it, comments on its posts
and replies to its comments.

Each stream of each account has a checkpoint row. A poll asks for what is newer than
``since_id``; when more came than one page holds it pages backwards with ``max_id`` until a
page comes back short. Every page's items are stored in the same transaction as the
checkpoint's progress (``catchup_top``/``catchup_max_id`` while paging, ``since_id`` at the
end), so a crash replays at most one page, and the received table's unique key drops the
doubles. Stored items are handed to the pipeline afterwards, oldest first.

Weibo's refusals decide the pause: a rate limit waits for the reset the platform announces
(``rate_limit_status.json``); an expired or invalid token waits for an admin to authorise
again (the admin page shows it, one log line says so); system errors, 5xx, timeouts and
malformed answers back off exponentially with jitter. Nothing stops the loop for good.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kefu.channels.weibo.api import STREAMS, WeiboApi, WeiboApiError
from kefu.channels.weibo.config import WeiboAccount
from kefu.channels.weibo.inbound import Intake, Item, Malformed, from_comment, from_status, store
from kefu.channels.weibo.models import ReceivedState, WeiboCheckpoint, WeiboReceived
from kefu.db.base import utcnow
from kefu.db.engine import dialect_insert
from kefu.logs import get_logger

log = get_logger(__name__)

MAX_PAGES = 50  # pages per stream per poll; a longer catch-up goes on at the next poll
BACKOFF_FIRST = 1.0
BACKOFF_MAX = 300.0
RATE_LIMIT_FALLBACK = 600.0  # when even the rate-limit status cannot be read
TOKEN_RECHECK = 5.0
# How long stored posts may wait for the older pages of an interrupted catch-up, so that they
# reach the desk oldest first; beyond it they go on (a late answer is worse than an odd order).
HOLD_FOR_ORDER = timedelta(
    minutes=5
)  # how often a poller without a usable token looks at the token row again


@dataclass
class StreamState:
    """What one account's poller knows between polls (also shown on the admin page)."""

    failures: int = 0
    status: str = "idle"
    detail: str = ""
    counts: dict[str, int] = field(default_factory=dict)


def stopping() -> bool:
    """Whether this task is being cancelled (the app is stopping). A ``finally`` that awaits
    runs after the one cancellation was delivered, so without this check it would run to its
    end (a hand-on of hundreds of posts held a shutdown for 11 s)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


class Poller:
    def __init__(
        self,
        accounts: Sequence[WeiboAccount],
        apis: Mapping[str, WeiboApi],
        sessionmaker: async_sessionmaker[AsyncSession],
        intake: Intake,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.accounts = list(accounts)
        self.apis = dict(apis)
        self.sessionmaker = sessionmaker
        self.intake = intake
        self.sleep = sleep
        self.jitter = jitter
        self.state = {a.name: StreamState() for a in self.accounts}
        self._tasks: list[asyncio.Task[None]] = []
        self._wake = {a.name: asyncio.Event() for a in self.accounts}

    def start(self) -> None:
        for account in self.accounts:
            self._tasks.append(
                asyncio.create_task(self.run(account), name=f"weibo-poll-{account.name}")
            )

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    def wake(self, account: str) -> None:
        """Poll now (a new token was stored, a test wants a poll)."""
        if account in self._wake:
            self._wake[account].set()

    async def _pause(self, account: str, seconds: float) -> None:
        event = self._wake[account]
        waiter = asyncio.ensure_future(event.wait())
        sleeper = asyncio.ensure_future(self.sleep(seconds))
        try:
            await asyncio.wait({waiter, sleeper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            sleeper.cancel()
            event.clear()

    async def run(self, account: WeiboAccount) -> None:
        while True:
            try:
                delay = await self.poll_once(account)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the loop outlives any one failure
                log.exception("weibo_poll_crashed", account=account.name)
                delay = self._backoff(account, "error", "unexpected error; see the log")
            await self._pause(account.name, delay)

    # ------------------------------------------------------------------ one poll
    async def poll_once(self, account: WeiboAccount) -> float:
        """Polls every stream once and hands on what is stored; returns the seconds to wait
        before the next poll."""
        state = self.state[account.name]
        try:
            for stream in STREAMS:
                await self.poll_stream(account, stream)
        except WeiboApiError as exc:
            return await self._refused(account, exc)
        finally:
            # What was stored is handed on even when a later page failed — unless a catch-up
            # is half done: its older pages come first, unless that keeps posts waiting long.
            # Not when stopping: the stored rows wait for the next start, and the shutdown does
            # not run a whole batch through the pipeline first.
            if not stopping() and await self._may_hand_on(account.name):
                await self.hand_on_all(account.name)
        if state.failures or state.status != "ok":
            log.info("weibo_poll_resumed", account=account.name, after=state.status)
        state.failures, state.status, state.detail = 0, "ok", ""
        return account.poll_interval

    async def poll_stream(self, account: WeiboAccount, stream: str) -> int:
        """Reads ``stream`` up to now; returns the number of new items stored."""
        api = self.apis[account.name]
        parse = from_status if stream == "mentions" else from_comment
        stored = 0
        for _ in range(MAX_PAGES):
            cp = await self._checkpoint(account.name, stream)
            since = int(cp.since_id or 0)
            max_id = int(cp.catchup_max_id) if cp.catchup_max_id else None
            page = await api.timeline(stream, since_id=since, max_id=max_id,
                                      count=account.page_size)  # fmt: skip
            items, broken = _parse(page, parse)
            ids = [i.sort_key for i in items] + [b for b, _ in broken]
            short = len(page) < account.page_size
            async with self.sessionmaker() as db:
                new = await store(db, account.name, [i for i in items if i.sort_key > since])
                for external_id, reason in broken:
                    await _store_broken(db, account.name, parse, external_id, reason, page)
                row = await db.get(WeiboCheckpoint, (account.name, stream))
                assert row is not None
                advance(row, since=since, ids=ids, caught_up=short or not ids)
                await db.commit()
            stored += len(new)
            if (short or not ids) and max_id is None:
                break
            # A finished catch-up (resumed or not) looks again for what came meanwhile.
        self.state[account.name].counts[stream] = (
            self.state[account.name].counts.get(stream, 0) + stored
        )
        return stored

    async def hand_on_all(self, account: str) -> None:
        """Hands on every stored item, a batch at a time (a catch-up may bring thousands)."""
        for _ in range(1000):
            pending = await self.intake.pending(account)
            if not pending:
                return
            await self.intake.hand_on(pending)
            if await self.intake.pending(account, limit=1) == pending[:1]:
                return  # the oldest could not be handed on: its retries wait for the next poll

    async def _may_hand_on(self, account: str) -> bool:
        async with self.sessionmaker() as db:
            catching_up = await db.scalar(
                select(func.count()).select_from(WeiboCheckpoint)
                .where(WeiboCheckpoint.account == account,
                       WeiboCheckpoint.stream.in_(list(STREAMS)),
                       WeiboCheckpoint.catchup_max_id.is_not(None))
            )  # fmt: skip
            if not catching_up:
                return True
            oldest = await db.scalar(
                select(func.min(WeiboReceived.received_at))
                .where(WeiboReceived.account == account,
                       WeiboReceived.state == ReceivedState.STORED)
            )  # fmt: skip
        return oldest is not None and utcnow() - oldest > HOLD_FOR_ORDER

    async def _checkpoint(self, account: str, stream: str) -> WeiboCheckpoint:
        async with self.sessionmaker() as db:
            await db.execute(
                dialect_insert(db, WeiboCheckpoint)
                .values(account=account, stream=stream, since_id="0", status="idle", detail="")
                .on_conflict_do_nothing()
            )  # fmt: skip
            await db.commit()
            row = await db.get(WeiboCheckpoint, (account, stream))
            assert row is not None
            return row

    # ------------------------------------------------------------------ refusals
    async def _refused(self, account: WeiboAccount, exc: WeiboApiError) -> float:
        state = self.state[account.name]
        if exc.rate_limited:
            wait = RATE_LIMIT_FALLBACK
            with contextlib.suppress(WeiboApiError):
                wait = max(1.0, (await self.apis[account.name].rate_limit()).reset_in_seconds + 1)
            detail = f"rate limit ({exc.code}): waiting {wait:.0f} s for the reset"
            if state.status != "rate_limited":
                log.warning("weibo_rate_limited", account=account.name, code=exc.code, wait=wait)
            await self._mark(account.name, "waiting", detail, wait)
            state.status, state.detail = "rate_limited", detail
            return wait
        if exc.token_problem:
            detail = f"token unusable ({exc.code}): an admin must authorise the account again"
            if state.status != "token":
                log.error("weibo_token_needed", account=account.name, code=exc.code,
                          detail=exc.message)  # fmt: skip
            await self._mark(account.name, "waiting", detail, None)
            state.status, state.detail = "token", detail
            return TOKEN_RECHECK
        return self._backoff(account, "error", f"Weibo {exc.code}: {exc.message}"[:200], exc)

    def _backoff(
        self, account: WeiboAccount, status: str, detail: str, exc: Exception | None = None
    ) -> float:
        state = self.state[account.name]
        state.failures += 1
        base = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (state.failures - 1))
        wait = base * (0.5 + self.jitter())  # jitter: processes do not retry in step
        log.warning("weibo_poll_backoff", account=account.name, failures=state.failures,
                    wait=round(wait, 2), detail=detail)  # fmt: skip
        state.status, state.detail = status, detail
        return wait

    async def _mark(self, account: str, status: str, detail: str, wait: float | None) -> None:
        resume = utcnow() + timedelta(seconds=wait) if wait else None
        async with self.sessionmaker() as db:
            for stream in STREAMS:
                row = await db.get(WeiboCheckpoint, (account, stream))
                if row is not None:
                    row.status, row.detail, row.resume_at = status, detail[:200], resume
            await db.commit()


def advance(row: WeiboCheckpoint, *, since: int, ids: list[int], caught_up: bool) -> None:
    """Moves a stream's checkpoint past a stored page: caught up, ``since_id`` becomes the
    newest id stored; else the catch-up goes on below the page's oldest id."""
    top = max([int(row.catchup_top or 0), *ids]) if ids else int(row.catchup_top or 0)
    if caught_up:  # everything up to the newest id is stored
        row.since_id = str(max(since, top))
        row.catchup_top = row.catchup_max_id = None
    else:
        row.catchup_top, row.catchup_max_id = str(top), str(min(ids) - 1)
    row.status, row.detail, row.polled_at, row.resume_at = "ok", "", utcnow(), None


def _parse(
    page: list[dict[str, Any]], parse: Callable[[dict[str, Any]], Item]
) -> tuple[list[Item], list[tuple[int, str]]]:
    """The page's items, and the ids of those that lack a field kefu needs (with why)."""
    items, broken = [], []
    for obj in page:
        try:
            items.append(parse(obj))
        except Malformed as exc:
            raw = obj.get("idstr") or obj.get("id")
            if raw is not None and str(raw).isdigit():
                broken.append((int(raw), str(exc)))
            else:
                log.warning("weibo_item_without_id", reason=str(exc))
    return items, broken


async def _store_broken(
    db: AsyncSession, account: str, parse: Callable[..., Item], external_id: int, reason: str,
    page: list[dict[str, Any]],
) -> None:  # fmt: skip
    """An item kefu cannot read is kept (state failed, with the reason and the raw object)
    rather than dropped, so that nobody loses it silently."""
    raw = next((o for o in page if str(o.get("idstr") or o.get("id")) == str(external_id)), {})
    kind = "mention" if parse is from_status else "comment"
    await db.execute(
        dialect_insert(db, WeiboReceived)
        .values(account=account, kind=kind, external_id=str(external_id), sender_uid="",
                sender_name="", text=str(raw.get("text") or ""), payload=raw, tries=0,
                deleted=False, received_at=utcnow(), state=ReceivedState.FAILED,
                error=f"malformed: {reason}"[:200])
        .on_conflict_do_nothing()
    )  # fmt: skip
    log.warning("weibo_item_malformed", account=account, id=external_id, reason=reason)
