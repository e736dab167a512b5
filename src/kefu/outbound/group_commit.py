"""Group commit: the writes of concurrent requests in one transaction.

Every SMS send request used to commit its own transaction; on SQLite (one writer) fifty
requests in flight then waited ~0.6 s each for the lock, and on both databases a commit per
request was most of a request's cost (docs/channels/sms.md, "Where the time goes"). Here a
request hands its writes over as a *job* and awaits its own future; one drain task takes every
job waiting, runs them in order in one session (``handler``) and commits once, then answers
each. Jobs that arrive while a batch commits form the next batch, so an idle server answers a
lone request at once and a busy one commits once per round trip instead of once per request.

Guarantees:
- a job's future is resolved only after the commit that holds its writes (an answered request
  is durable), or with the exception that kept it out;
- a job the handler refuses (an expected answer such as a conflict or a quota) gets its own
  exception and the batch goes on: the handler must refuse before it writes for that job;
- when the batch as a whole fails (a database error, the commit), it is rolled back and every
  job is run again alone, so one bad job fails only itself and none is dropped;
- jobs of one batch are handled in the order they arrived, in one transaction: the handler can
  count what the batch's earlier jobs took (frequency caps, quotas) without a race inside this
  process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kefu.logs import get_logger

log = get_logger(__name__)

J = TypeVar("J")
R = TypeVar("R")

# A handler answers, per job in order, its result or the exception that refuses it.
Handler = Callable[[AsyncSession, Sequence[J]], Awaitable[list[R | BaseException]]]

MAX_JOBS = 200  # per transaction: a bigger batch only makes its first request wait longer


class GroupCommit(Generic[J, R]):
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        handler: Handler[J, R],
        *,
        max_jobs: int = MAX_JOBS,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.handler = handler
        self.max_jobs = max_jobs
        self._waiting: list[tuple[J, asyncio.Future[R]]] = []
        self._drain: asyncio.Task[None] | None = None
        self.batches = 0  # transactions committed (for tests and benchmarks)

    async def submit(self, job: J) -> R:
        """Returns the job's result once it is committed, or raises what kept it out."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((job, future))
        if self._drain is None or self._drain.done():
            # A task of its own, not the caller's: a caller that goes away (a client that
            # hangs up) must not cancel the batch it leads.
            self._drain = asyncio.create_task(self._run())
        return await asyncio.shield(future)

    async def _run(self) -> None:
        """Drains the waiting jobs batch after batch; ends when none is left (no task
        lingers past the last request)."""
        while self._waiting:
            batch, self._waiting = (
                self._waiting[: self.max_jobs],
                self._waiting[self.max_jobs :],
            )
            try:
                await self._commit(batch)
            except BaseException as exc:  # cancelled (shutdown): nobody is left unanswered
                for _, future in batch + self._waiting:
                    if not future.done():
                        future.set_exception(exc if isinstance(exc, Exception) else
                                             RuntimeError("the server is stopping"))  # fmt: skip
                self._waiting = []
                raise

    async def _commit(self, batch: list[tuple[J, asyncio.Future[R]]]) -> None:
        try:
            results = await self._transaction([job for job, _ in batch])
        except Exception as exc:  # noqa: BLE001 - retried job by job below
            if len(batch) == 1:
                self._answer(batch, [exc])
                return
            log.warning("group_commit_batch_failed", jobs=len(batch), error=repr(exc)[:200])
            for item in batch:  # alone, so that a bad job fails only itself
                try:
                    results = await self._transaction([item[0]])
                except Exception as alone:  # noqa: BLE001 - this job's answer
                    results = [alone]
                self._answer([item], results)
            return
        self._answer(batch, results)

    async def _transaction(self, jobs: list[J]) -> list[R | BaseException]:
        async with self.sessionmaker() as db:
            try:
                results = await self.handler(db, jobs)
                if len(results) != len(jobs):
                    raise RuntimeError(
                        "group commit: the handler answered the wrong number of jobs"
                    )
                await db.commit()
            except BaseException:
                await db.rollback()
                raise
        self.batches += 1
        return results

    @staticmethod
    def _answer(
        batch: list[tuple[J, asyncio.Future[R]]], results: Sequence[R | BaseException]
    ) -> None:
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():  # cancelled by its caller: the rows stay committed all the same
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)
