"""Listening (舆情监测) on Weibo: asking the commercial search for the listening rules' terms.

Per account, one task asks ``/2/search/statuses/limited.json`` (``search_api_base``) for each
term the composition root offers (``services["listening_terms"]``: the include terms of the
active listening rules; the channel knows nothing of the rules themselves). Each term is a
stream of its own with a checkpoint row in ``weibo_checkpoints`` (``search:<term>``), read and
paged exactly as the poller reads the mentions (since_id, then max_id backwards, each page
stored in the transaction that moves the checkpoint), and refusals are met as the poller meets
them (it is a :class:`~kefu.channels.weibo.poller.Poller` with another round).

A found post is stored once in ``weibo_received`` with kind ``listening`` — a post found by two
terms meets the row the first one stored — and handed to ``pipeline.route`` with
``metadata["social"]["kind"] == "listening"`` and ``public`` True: the social desk's route keeps
it when an active rule matches and drops it otherwise. Posts that are not listening's business
are never stored as listening: the account's own posts, and posts that @ the account (the
mentions stream brings those into the service queue; a listening row first would make the
mention a repeat on the social desk).

Search shares the token's hourly read quota with polling. A round makes at most
``search_reads_per_hour`` calls, and the next round waits at least ``search_interval`` and at
least as long as those calls are worth at ``search_reads_per_hour`` an hour, so listening never
spends more than that share however many terms there are: more terms only stretch the rounds.
A round cut short (the budget, a refusal) goes on at the next round with the term it stopped at.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.channels.weibo.api import WeiboApiError
from kefu.channels.weibo.config import WeiboAccount
from kefu.channels.weibo.inbound import Item, from_status, store
from kefu.channels.weibo.models import ReceivedState, WeiboCheckpoint, WeiboReceived
from kefu.channels.weibo.poller import Poller, _parse, advance, stopping
from kefu.db.base import utcnow
from kefu.db.engine import dialect_insert
from kefu.logs import get_logger

log = get_logger(__name__)

PLATFORM = "weibo"
KIND = "listening"
STREAM_PREFIX = "search:"
STREAM_MAX = 32  # weibo_checkpoints.stream
# Pages per term per round: one busy term must not spend the round's whole budget; a longer
# catch-up goes on at the next round from its stored max_id.
MAX_SEARCH_PAGES = 5

# ``async (platform) -> [term, …]``: what the composition root offers as
# ``services["listening_terms"]``.
TermsSource = Callable[[str], Awaitable[list[str]]]


def stream_name(term: str) -> str:
    """The checkpoint's stream for ``term``: ``search:<term>``, or a digest of a term too long
    for the column (terms may have 40 characters)."""
    name = STREAM_PREFIX + term
    if len(name) <= STREAM_MAX:
        return name
    digest = hashlib.sha256(term.encode()).hexdigest()
    return f"{STREAM_PREFIX}#{digest[: STREAM_MAX - len(STREAM_PREFIX) - 1]}"


def round_pause(account: WeiboAccount, reads: int) -> float:
    """Seconds before the next round: the interval, or longer when the round's calls would
    otherwise exceed the hourly share."""
    return max(account.search_interval, reads * 3600.0 / account.search_reads_per_hour)


class Listener(Poller):
    """The search rounds of every account (started beside the poller)."""

    def __init__(self, *args: Any, terms: TermsSource, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.terms = terms
        self._start_at = {a.name: 0 for a in self.accounts}  # next round's first term
        self.reads = {a.name: 0 for a in self.accounts}  # search calls made (stats, tests)

    def start(self) -> None:
        for account in self.accounts:
            self._tasks.append(
                asyncio.create_task(self.run(account), name=f"weibo-listen-{account.name}")
            )

    async def poll_once(self, account: WeiboAccount) -> float:
        """One round over the terms; returns the seconds to wait before the next."""
        state = self.state[account.name]
        try:
            terms = list(await self.terms(PLATFORM))
        except Exception:  # noqa: BLE001 - the desk's database may be away for a moment
            log.exception("weibo_listening_terms_failed", account=account.name)
            return self._backoff(account, "error", "the listening terms could not be read")
        if not terms:
            state.status, state.detail = "ok", "no listening terms"
            return account.search_interval
        first = self._start_at[account.name] % len(terms)
        order = terms[first:] + terms[:first]
        reads = 0
        try:
            for done, term in enumerate(order):
                if reads >= account.search_reads_per_hour:
                    self._start_at[account.name] = (first + done) % len(terms)
                    break
                self._start_at[account.name] = (first + done) % len(terms)
                reads += await self.search_term(account, term)
            else:
                self._start_at[account.name] = 0
        except WeiboApiError as exc:
            return await self._refused(account, exc)
        finally:
            if not stopping():  # stopping: the stored posts wait for the next start
                await self.hand_on_listening(account.name)
        if state.failures or state.status != "ok":
            log.info("weibo_listening_resumed", account=account.name, after=state.status)
        state.failures, state.status, state.detail = 0, "ok", ""
        return round_pause(account, reads)

    async def search_term(self, account: WeiboAccount, term: str) -> int:
        """Reads the search for ``term`` up to now (at most MAX_SEARCH_PAGES pages); returns
        the number of calls made."""
        api = self.apis[account.name]
        stream = stream_name(term)
        calls = stored = 0
        for _ in range(MAX_SEARCH_PAGES):
            cp = await self._checkpoint(account.name, stream)
            since = int(cp.since_id or 0)
            max_id = int(cp.catchup_max_id) if cp.catchup_max_id else None
            calls += 1
            self.reads[account.name] += 1
            page = await api.search(term, since_id=since, max_id=max_id, count=account.page_size)
            items, broken = _parse(page, from_status)
            ids = [i.sort_key for i in items] + [b for b, _ in broken]
            short = len(page) < account.page_size
            async with self.sessionmaker() as db:
                keep = await _listening_items(db, account, [i for i in items if i.sort_key > since])
                new = await store(db, account.name, keep)
                for external_id, reason in broken:
                    await _store_broken(db, account.name, external_id, reason, page)
                row = await db.get(WeiboCheckpoint, (account.name, stream))
                assert row is not None
                advance(row, since=since, ids=ids, caught_up=short or not ids)
                await db.commit()
            stored += len(new)
            if (short or not ids) and max_id is None:
                break
        counts = self.state[account.name].counts
        counts[KIND] = counts.get(KIND, 0) + stored
        return calls

    async def hand_on_listening(self, account: str) -> None:
        """Hands the stored listening posts to the pipeline, a batch at a time (the poller's
        hand-on keeps its own order rules for the account's mentions and comments)."""
        for _ in range(1000):
            pending = await self.intake.pending(account, kinds=(KIND,))
            if not pending:
                return
            await self.intake.hand_on(pending)
            if await self.intake.pending(account, limit=1, kinds=(KIND,)) == pending[:1]:
                return  # the oldest could not be handed on: its retries wait for a round

    async def _mark(self, account: str, status: str, detail: str, wait: float | None) -> None:
        """Marks the account's search checkpoints (the admin page shows why they wait)."""
        resume = utcnow() + timedelta(seconds=wait) if wait else None
        async with self.sessionmaker() as db:
            await db.execute(
                update(WeiboCheckpoint)
                .where(WeiboCheckpoint.account == account,
                       WeiboCheckpoint.stream.startswith(STREAM_PREFIX, autoescape=True))
                .values(status=status, detail=detail[:200], resume_at=resume)
            )  # fmt: skip
            await db.commit()


async def _listening_items(
    db: AsyncSession, account: WeiboAccount, items: Sequence[Item]
) -> list[Item]:
    """The found posts that are listening's business, as listening items: not the account's
    own, not addressed to it (by text, and any the mentions stream already stored)."""
    mention = f"@{account.screen_name}"
    found = [i for i in items if i.sender_uid != account.uid and mention not in i.text]
    if not found:
        return []
    known = set(
        (
            await db.scalars(
                select(WeiboReceived.external_id).where(
                    WeiboReceived.account == account.name,
                    WeiboReceived.kind == "mention",
                    WeiboReceived.external_id.in_([i.external_id for i in found]),
                )
            )
        ).all()
    )
    return [replace(i, kind=KIND) for i in found if i.external_id not in known]


async def _store_broken(
    db: AsyncSession, account: str, external_id: int, reason: str, page: list[dict[str, Any]]
) -> None:
    """A found post kefu cannot read is kept (failed, with the reason and the raw object)."""
    raw = next((o for o in page if str(o.get("idstr") or o.get("id")) == str(external_id)), {})
    await db.execute(
        dialect_insert(db, WeiboReceived)
        .values(account=account, kind=KIND, external_id=str(external_id), sender_uid="",
                sender_name="", text=str(raw.get("text") or ""), payload=raw, tries=0,
                deleted=False, received_at=utcnow(), state=ReceivedState.FAILED,
                error=f"malformed: {reason}"[:200])
        .on_conflict_do_nothing()
    )  # fmt: skip
    log.warning("weibo_listening_malformed", account=account, id=external_id, reason=reason)
