"""FastAPI dependencies: database session, the bank port, the caller and permission checks."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from functools import partial
from typing import Any

from fastapi import Depends, HTTPException, Request
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.agents.models import Agent
from kefu.auth import sessions
from kefu.auth.permissions import Permission, allowed
from kefu.auth.service import api_key_holder
from kefu.bank.port import BankPort
from kefu.db.engine import session_scope


async def get_db(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's session: on the primary, or on the streaming replica for reads that
    tolerate lag when one is configured (kefu.db.replica says which). Routes take it as
    ``DB_SESSION``, never as ``Depends(get_db)``."""
    reads = getattr(request.app.state, "reads", None)
    factory = request.app.state.sessionmaker
    if reads is not None:
        factory = partial(
            reads.session, reads.lagging_read(request.method, request.url.path, request.cookies)
        )
    async with session_scope(factory) as session:
        yield session


# A route's session: ``db: AsyncSession = DB_SESSION`` (tests/web/test_commit_before_answer.py
# checks every route). Function scope: the session commits *before* the answer is sent. With
# FastAPI's default scope the commit ran after it, so a client could be told 201 for a write
# whose commit then failed, and a client's next request could miss the write it had just been
# told of (schemathesis met the second as a 500: a key name counted before the previous key's
# commit). A session of a server-sent-event stream's caller also stays open no longer than the
# checks that use it.
DB_SESSION: Any = Depends(get_db, scope="function")


def get_bank(request: Request) -> BankPort:
    return request.app.state.bank


@dataclass(frozen=True)
class Principal:
    """Who is calling: a logged-in person or a system holding an API key."""

    kind: str  # "user" or "apikey"
    id: int
    name: str
    display_name: str
    role: str

    def can(self, permission: Permission) -> bool:
        return allowed(self.role, permission)


async def current_principal(request: Request, db: AsyncSession = DB_SESSION) -> Principal | None:
    header = request.headers.get("authorization", "")
    clear = header[7:].strip() if header.lower().startswith("bearer ") else None
    clear = clear or request.headers.get("x-api-key")
    if clear:
        key = await api_key_holder(db, clear)  # cached 2 s; a revocation here empties it
        if key is None:
            raise HTTPException(401, "invalid or revoked API key", {"WWW-Authenticate": "Bearer"})
        return Principal("apikey", key.id, f"apikey:{key.name}", key.name, key.role)
    uid = request.session.get("uid")
    if uid is None:
        return None
    agent = await db.get(Agent, uid)
    settings = request.app.state.settings
    if (
        agent is None
        or not agent.is_active
        or not await sessions.check(
            db,
            request.session.get("sid"),
            agent_id=agent.id,
            idle_seconds=settings.session_idle_seconds,
        )  # fmt: skip
    ):
        request.session.clear()
        return None
    return Principal("user", agent.id, agent.username, agent.display_name, agent.role)


def require(permission: Permission) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """Dependency: the caller must be authenticated and its role must hold ``permission``."""

    async def dependency(
        request: Request, principal: Principal | None = Depends(current_principal)
    ) -> Principal:
        if principal is None:
            raise HTTPException(401, "login required", {"WWW-Authenticate": "Bearer"})
        if not principal.can(permission):
            raise HTTPException(403, f"role '{principal.role}' may not use this ({permission})")
        request.state.principal = principal
        return principal

    dependency.__name__ = f"require_{permission.value.replace('.', '_')}"
    return dependency


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(24)
        request.session["csrf"] = token
    return token


def check_csrf(request: Request, submitted: str | None) -> None:
    expected = request.session.get("csrf")
    if (
        not expected
        or not submitted
        or not secrets.compare_digest(expected.encode(), submitted.encode())
    ):
        raise HTTPException(400, "the form expired; reload the page and try again")


def client_ip(request: Request) -> str | None:
    """The peer's address as the server saw it (not X-Forwarded-For: anyone can send that)."""
    return request.client.host if request.client else None
