"""A request's database session opened only when something uses it.

``get_db`` opens a session for every request that declares it. For the SMS send API that is
most of the time wasted: with the API key, template and partner in their caches a bank
system's notification reads nothing through the request's session (its writes go through the
group commit's own). An untouched session still cost ~0.1 CPU-ms per request (creating it,
two commits that each begin and end an empty transaction, closing it), and ``get_db`` as a
``yield`` dependency cost FastAPI's exit stack on top (issue #24).

``lazy_session(request)`` stands in for the session: the first attribute anyone reads on it
(``db.execute``, ``db.add``, ``db.bind`` …) opens the real one, from the factory ``get_db``
uses for a request that writes (the primary). Leaving the ``async with`` does what ``session_scope`` does: commit on
success, roll back on an error, close; for a session never opened it does nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession


class LazySession:
    """Forwards every attribute to a session it opens on first use (see the module)."""

    __slots__ = ("_request", "_session")

    def __init__(self, request: Request) -> None:
        self._request = request
        self._session: AsyncSession | None = None

    @property
    def is_open(self) -> bool:
        return self._session is not None

    def _open(self) -> AsyncSession:
        if self._session is None:
            # get_db's factory for a request that writes (never a read that tolerates lag):
            # the primary, through the read routing when a replica is configured.
            state = self._request.app.state
            reads = getattr(state, "reads", None)
            self._session = state.sessionmaker() if reads is None else reads.write_session()
        return self._session

    def __getattr__(self, name: str) -> Any:  # only for names not defined on this class
        return getattr(self._open(), name)

    async def commit(self) -> None:
        """Commits what the session holds; nothing to do for one never opened."""
        if self._session is not None:
            await self._session.commit()

    async def finish(self, error: BaseException | None) -> None:
        """``session_scope``'s exit: commit, or roll back after ``error``; then close."""
        if self._session is None:
            return
        try:
            if error is None:
                await self._session.commit()
            else:
                await self._session.rollback()
        finally:
            await self._session.__aexit__(None, None, None)  # its close, shielded from a cancel


@asynccontextmanager
async def lazy_session(request: Request) -> AsyncIterator[AsyncSession]:
    """``session_scope`` on ``get_db``'s factory, opening the session only if it is used."""
    db = LazySession(request)
    try:
        yield cast(AsyncSession, db)
    except BaseException as exc:
        await db.finish(exc)
        raise
    await db.finish(None)
