"""Users, logins with lock-out, and API keys. Every change here is audited."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.agents.models import Agent
from kefu.audit.service import record
from kefu.auth.models import ApiKey
from kefu.auth.passwords import DUMMY_HASH, check_strength, hash_password, verify_password
from kefu.db.base import utcnow
from kefu.vocabulary import Presence, Role

API_KEY_PREFIX_LEN = 12
DIGEST_PREFIX = "sha256$"
LAST_USED_PRECISION = timedelta(seconds=60)


class UserError(ValueError):
    """A user or key request that cannot be honoured; the message says why."""


@dataclass(frozen=True)
class LoginResult:
    agent: Agent | None
    reason: str | None = None  # "invalid", "locked", "inactive"
    locked_until: datetime | None = None


async def create_user(
    session: AsyncSession,
    *,
    username: str,
    password: str,
    role: str,
    display_name: str | None = None,
    actor: str = "system",
) -> Agent:
    username = username.strip()
    if (
        not username
        or len(username) > 64
        or not username.replace("_", "").replace(".", "").isalnum()
    ):
        raise UserError("username: 1-64 letters, digits, '_' or '.'")
    try:
        Role(role)
    except ValueError:
        raise UserError(f"role: must be one of {', '.join(r.value for r in Role)}") from None
    if role == Role.PARTNER:
        raise UserError("role: partner is for partners' API keys (kefu partner key), not logins")
    try:
        check_strength(password)
    except ValueError as exc:
        raise UserError(f"password: {exc}") from None
    if await session.scalar(select(Agent.id).where(Agent.username == username)):
        raise UserError(f"username: {username!r} already exists")
    agent = Agent(
        username=username,
        display_name=(display_name or username)[:64],
        role=role,
        password_hash=hash_password(password),
    )
    session.add(agent)
    await session.flush()
    await record(session, actor=actor, action="user.create", target=f"agent:{agent.id}",
                 details={"username": username, "role": role})  # fmt: skip
    return agent


async def authenticate(
    session: AsyncSession,
    *,
    username: str,
    password: str,
    max_failures: int,
    lockout_seconds: int,
    ip: str | None = None,
) -> LoginResult:
    agent = await session.scalar(select(Agent).where(Agent.username == username.strip()))
    now = utcnow()
    if agent is None:
        verify_password(DUMMY_HASH, password)
        await record(
            session, actor=username[:80], action="login.failed", details={"why": "unknown"}, ip=ip
        )
        return LoginResult(None, "invalid")
    if agent.locked_until and agent.locked_until > now:
        await record(session, actor=agent.username, action="login.refused_locked", ip=ip)
        return LoginResult(None, "locked", agent.locked_until)
    if not verify_password(agent.password_hash, password):
        agent.failed_logins += 1
        details = {"failures": agent.failed_logins}
        if agent.failed_logins >= max_failures:
            agent.locked_until = now + timedelta(seconds=lockout_seconds)
            agent.failed_logins = 0
            await record(session, actor=agent.username, action="login.locked_out", ip=ip,
                         target=f"agent:{agent.id}", details=details)  # fmt: skip
            return LoginResult(None, "locked", agent.locked_until)
        await record(session, actor=agent.username, action="login.failed", ip=ip, details=details)
        return LoginResult(None, "invalid")
    if not agent.is_active:
        await record(session, actor=agent.username, action="login.refused_inactive", ip=ip)
        return LoginResult(None, "inactive")
    agent.failed_logins = 0
    agent.locked_until = None
    agent.last_login_at = now
    agent.presence = Presence.ONLINE.value
    await record(session, actor=agent.username, action="login.success", ip=ip)
    return LoginResult(agent)


async def unlock_user(session: AsyncSession, *, username: str, actor: str) -> Agent:
    agent = await session.scalar(select(Agent).where(Agent.username == username))
    if agent is None:
        raise UserError(f"username: {username!r} does not exist")
    agent.locked_until = None
    agent.failed_logins = 0
    await record(session, actor=actor, action="user.unlock", target=f"agent:{agent.id}")
    return agent


async def create_api_key(
    session: AsyncSession, *, name: str, role: str, actor: str, created_by_id: int | None = None
) -> tuple[ApiKey, str]:
    """Returns the stored key and the clear key, which is shown once and never stored."""
    try:
        Role(role)
    except ValueError:
        raise UserError(f"role: must be one of {', '.join(r.value for r in Role)}") from None
    if not name.strip() or len(name) > 64:
        raise UserError("name: 1-64 characters")
    if await session.scalar(select(ApiKey.id).where(ApiKey.name == name)):
        raise UserError(f"name: an API key called {name!r} already exists")
    clear = "kefu_" + secrets.token_urlsafe(32)
    key = ApiKey(
        name=name,
        prefix=clear[:API_KEY_PREFIX_LEN],
        key_hash=api_key_digest(clear),
        role=role,
        created_by_id=created_by_id,
    )
    session.add(key)
    await session.flush()
    await record(session, actor=actor, action="apikey.create", target=f"apikey:{key.id}",
                 details={"name": name, "role": role})  # fmt: skip
    return key, clear


async def verify_api_key(session: AsyncSession, clear: str) -> ApiKey | None:
    if not clear.startswith("kefu_") or len(clear) < API_KEY_PREFIX_LEN + 8:
        return None
    key = await session.scalar(select(ApiKey).where(ApiKey.prefix == clear[:API_KEY_PREFIX_LEN]))
    if key is None or key.revoked_at is not None:
        return None
    if key.key_hash.startswith(DIGEST_PREFIX):
        if not hmac.compare_digest(key.key_hash, api_key_digest(clear)):
            return None
    elif verify_password(key.key_hash, clear):
        key.key_hash = api_key_digest(clear)  # a key stored with argon2 by an older version
    else:
        return None
    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_PRECISION:
        key.last_used_at = now  # not on every call: a write per request serialises them all
    return key


def api_key_digest(clear: str) -> str:
    """How an API key is stored. A key carries 256 random bits, so nothing can be guessed from
    a fast digest; argon2 (right for passwords) cost ~0.2 s of CPU per API request."""
    return DIGEST_PREFIX + hashlib.sha256(clear.encode()).hexdigest()


async def revoke_api_key(session: AsyncSession, *, name: str, actor: str) -> ApiKey:
    key = await session.scalar(select(ApiKey).where(ApiKey.name == name))
    if key is None:
        raise UserError(f"name: no API key called {name!r}")
    key.revoked_at = utcnow()
    await record(session, actor=actor, action="apikey.revoke", target=f"apikey:{key.id}")
    return key
