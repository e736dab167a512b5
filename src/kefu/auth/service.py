"""Users, logins with lock-out, and API keys. Every change here is audited."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, delete, literal, null, or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.agents.models import Agent
from kefu.audit.service import record
from kefu.auth.cache import MISSING, ReadCache
from kefu.auth.models import ApiKey, LoginThrottle, StaffTotp
from kefu.auth.passwords import (
    DUMMY_HASH,
    check_strength,
    hash_password_async,
    verify_password_async,
)
from kefu.auth.sessions import end_all
from kefu.db.base import UTCDateTime, utcnow
from kefu.db.engine import dialect_insert
from kefu.vocabulary import Presence, Role

API_KEY_PREFIX_LEN = 12
DIGEST_PREFIX = "sha256$"
LAST_USED_PRECISION = timedelta(seconds=60)


class UserError(ValueError):
    """A user or key request that cannot be honoured; the message says why."""


@dataclass(frozen=True)
class LoginResult:
    agent: Agent | None
    reason: str | None = None  # "invalid", "locked", "inactive"; "totp": a code is due
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
        password_hash=await hash_password_async(password),
    )
    session.add(agent)
    await session.flush()
    await record(session, actor=actor, action="user.create", target=f"agent:{agent.id}",
                 details={"username": username, "role": role})  # fmt: skip
    return agent


ACCOUNT_FAILURES_FACTOR = 10


@dataclass(frozen=True)
class _Claim:
    scope: str
    limit: int
    failures: int


async def _claim(
    session: AsyncSession, scope: str, limit: int, lockout: timedelta, now: datetime
) -> _Claim | None:
    """Claims one try under ``scope`` with a single conditional upsert, or None when the scope
    is locked or its tries are all taken. Parallel requests serialise on the row (PostgreSQL
    row lock, SQLite's write lock), so at most ``limit`` tries are ever claimed per window."""
    if session.get_bind().dialect.name == "mysql":
        return await _claim_locked(session, scope, limit, lockout, now)
    table = LoginThrottle
    at = literal(now, UTCDateTime())
    fresh = or_(
        table.window_started_at < now - lockout,
        and_(table.locked_until.is_not(None), table.locked_until <= now),
    )
    stmt = (
        dialect_insert(session, table)
        .values(scope=scope, failures=1, window_started_at=now, locked_until=None)
        .on_conflict_do_update(
            index_elements=["scope"],
            set_={
                "failures": case((fresh, 1), else_=table.failures + 1),
                "window_started_at": case((fresh, at), else_=table.window_started_at),
                "locked_until": case((fresh, null()), else_=table.locked_until),
            },
            where=and_(
                or_(table.locked_until.is_(None), table.locked_until <= now),
                or_(table.failures < limit, fresh),
            ),
        )
        .returning(table.failures)
    )
    failures = (await session.execute(stmt)).scalar_one_or_none()
    return None if failures is None else _Claim(scope, limit, failures)


async def _claim_locked(
    session: AsyncSession, scope: str, limit: int, lockout: timedelta, now: datetime
) -> _Claim | None:
    """``_claim`` on MySQL/MariaDB, whose upsert has neither WHERE nor RETURNING: the row is
    created if missing, then read under its row lock (parallel requests wait there) and the
    same rule applied."""
    table = LoginThrottle
    # Made with no failure yet by an upsert, which locks the row (INSERT IGNORE's duplicate
    # left a shared lock that parallel requests all upgraded below: InnoDB deadlocked and
    # rolled them back, a 500); the rule below then counts this try as on any row.
    made = dialect_insert(session, table).values(
        scope=scope, failures=0, window_started_at=now, locked_until=None
    )
    await session.execute(
        made.on_conflict_do_update(index_elements=["scope"], set_={"scope": made.excluded.scope})
    )
    row = (
        await session.execute(
            select(table).where(table.scope == scope).with_for_update(),
            execution_options={"populate_existing": True},
        )
    ).scalar_one()
    fresh = row.window_started_at < now - lockout or (
        row.locked_until is not None and row.locked_until <= now
    )
    if row.locked_until is not None and row.locked_until > now:
        return None
    if row.failures >= limit and not fresh:
        return None
    if fresh:
        row.failures, row.window_started_at, row.locked_until = 1, now, None
    else:
        row.failures += 1
    await session.flush()
    return _Claim(scope, limit, row.failures)


async def claim_try(
    session: AsyncSession, scope: str, limit: int, lockout_seconds: int, now: datetime
) -> _Claim | None:
    """One try under ``scope`` (e.g. ``totp:<agent id>``), committed at once; None when the
    scope's tries are taken or it is locked. The try that reaches ``limit`` locks the scope
    for ``lockout_seconds`` (a later success should delete the scope's row)."""
    lockout = timedelta(seconds=lockout_seconds)

    async def work() -> _Claim | None:
        claim = await _claim(session, scope, limit, lockout, now)
        if claim is not None and claim.failures >= limit:
            await session.execute(
                update(LoginThrottle)
                .where(LoginThrottle.scope == scope)
                .values(locked_until=now + lockout, failures=0)
            )
        return claim

    return await _with_retry(session, work)


async def _with_retry(session: AsyncSession, work: Any) -> Any:
    """Runs ``work`` and commits, again after a rollback when SQLite answers "database is
    locked": a failed login's audit record must not be lost to contention (finding 3)."""
    for attempt in range(6):
        try:
            result = await work()
            await session.commit()
            return result
        except OperationalError as exc:
            await session.rollback()
            if "locked" not in str(exc).lower() or attempt == 5:
                raise
            await asyncio.sleep(0.05 * 2**attempt)
    raise AssertionError("unreachable")


def throttle_scopes(username: str, ip: str | None) -> tuple[str, str, str]:
    """The three counters a login try is claimed against: this address on this account, this
    address on any account, this account from any address."""
    name = username.strip().lower()[:64]
    where = (ip or "unknown")[:64]
    return f"u:{name}|{where}", f"ip:{where}", f"u:{name}"


async def authenticate(
    session: AsyncSession,
    *,
    username: str,
    password: str,
    max_failures: int,
    lockout_seconds: int,
    ip: str | None = None,
    ip_max_failures: int | None = None,
    totp_roles: Sequence[str] = (),
) -> LoginResult:
    """Checks a login; commits its own short transactions (the claimed try, then the outcome
    and its audit record), so nothing is held while the password is hashed.

    A try is claimed before the password is checked, against three counters (see
    docs/security.md, "Staff sign-in"): ``max_failures`` per account and address (the user's
    own lock-out: a stranger elsewhere cannot trigger it), ``ip_max_failures`` per address
    over every account, and ten times ``max_failures`` per account over every address (a
    distributed guess). Unknown and existing usernames are counted, answered and timed alike.

    A role in ``totp_roles``, or anyone with an authenticator, gets ``reason="totp"`` with the
    agent: the password was right, the second factor is still due (``kefu.auth.views``).
    """
    name = username.strip()
    now = utcnow()
    lockout = timedelta(seconds=lockout_seconds)
    ip_limit = ip_max_failures or 4 * max_failures
    pair, address, account = throttle_scopes(name, ip)
    limits = ((address, ip_limit), (pair, max_failures),
              (account, max_failures * ACCOUNT_FAILURES_FACTOR))  # fmt: skip

    async def claim_all() -> list[_Claim] | None:
        """Claims a try on every counter, or none: a refused counter gives back the tries
        already claimed and audits the refusal, in the same (one) transaction."""
        claims: list[_Claim] = []
        for scope, limit in limits:
            claim = await _claim(session, scope, limit, lockout, now)
            if claim is None:
                if claims:
                    await session.execute(
                        update(LoginThrottle)
                        .where(LoginThrottle.scope.in_([c.scope for c in claims]))
                        .values(failures=LoginThrottle.failures - 1)
                    )
                await record(session, actor=name[:80], action="login.refused_locked", ip=ip)
                return None
            claims.append(claim)
        return claims

    claims = await _with_retry(session, claim_all)
    if claims is None:
        return LoginResult(None, "locked")
    agent = await session.scalar(select(Agent).where(Agent.username == name))
    # Unknown users are checked against a dummy hash: the same work, time and answer.
    ok = await verify_password_async(agent.password_hash if agent else DUMMY_HASH, password)
    ok = ok and agent is not None

    async def settle() -> LoginResult:
        if ok and agent is not None:
            await session.execute(
                delete(LoginThrottle).where(LoginThrottle.scope.in_([pair, account]))
            )
            await session.execute(  # the address's try is given back
                update(LoginThrottle)
                .where(LoginThrottle.scope == address, LoginThrottle.failures > 0)
                .values(failures=LoginThrottle.failures - 1)
            )
            if not agent.is_active:
                await record(session, actor=agent.username, action="login.refused_inactive", ip=ip)
                return LoginResult(None, "inactive")
            agent.failed_logins = 0
            agent.locked_until = None
            enrolled = await session.get(StaffTotp, agent.id)
            if agent.role in totp_roles or (enrolled is not None and enrolled.enabled_at):
                # Half-way: signed in only when the authenticator's code follows.
                await record(session, actor=agent.username, action="login.password_ok", ip=ip)
                return LoginResult(agent, "totp")
            await signed_in(session, agent, ip=ip, now=now)
            return LoginResult(agent)
        full = [c for c in claims if c.failures >= c.limit]
        until = now + lockout
        if full:
            await session.execute(
                update(LoginThrottle)
                .where(LoginThrottle.scope.in_([c.scope for c in full]))
                .values(locked_until=until, failures=0)
            )
        details = {"failures": claims[1].failures}
        if agent is None:
            details["why"] = "unknown"
        elif any(c.scope == account for c in full):
            # Locked for every address: shown on the users page, an administrator can unlock.
            await session.execute(
                update(Agent).where(Agent.id == agent.id).values(locked_until=until)
            )
        if full:
            details["locked"] = [c.scope.split(":", 1)[0] if c.scope != pair else "account+ip"
                                 for c in full]  # fmt: skip
            await record(session, actor=name[:80], action="login.locked_out", ip=ip,
                         target=f"agent:{agent.id}" if agent else "", details=details)  # fmt: skip
            return LoginResult(None, "locked", until)
        await record(session, actor=name[:80], action="login.failed", ip=ip, details=details)
        return LoginResult(None, "invalid")

    return await _with_retry(session, settle)


async def signed_in(
    session: AsyncSession, agent: Agent, *, ip: str | None, now: datetime | None = None
) -> None:
    """A completed sign-in: presence, last login, the audit record."""
    agent.last_login_at = now or utcnow()
    agent.presence = Presence.ONLINE.value
    await record(session, actor=agent.username, action="login.success", ip=ip)


async def unlock_user(session: AsyncSession, *, username: str, actor: str) -> Agent:
    agent = await session.scalar(select(Agent).where(Agent.username == username))
    if agent is None:
        raise UserError(f"username: {username!r} does not exist")
    agent.locked_until = None
    agent.failed_logins = 0
    _pair, _address, account = throttle_scopes(username, None)
    await session.execute(
        delete(LoginThrottle).where(
            or_(LoginThrottle.scope == account, LoginThrottle.scope.like(account + "|%"))
        )
    )
    await record(session, actor=actor, action="user.unlock", target=f"agent:{agent.id}")
    return agent


async def reset_totp(session: AsyncSession, *, username: str, actor: str) -> bool:
    """Removes a user's authenticator (lost phone): they enrol a new one at their next login,
    and every session they have ends. Audited ``totp.reset``; returns whether one was set."""
    agent = await session.scalar(select(Agent).where(Agent.username == username))
    if agent is None:
        raise UserError(f"username: {username!r} does not exist")
    row = await session.get(StaffTotp, agent.id)
    if row is not None:
        await session.delete(row)
    await end_all(session, agent.id)
    await record(session, actor=actor, action="totp.reset", target=f"agent:{agent.id}",
                 details={"had_authenticator": row is not None})  # fmt: skip
    return row is not None


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
    elif await verify_password_async(key.key_hash, clear):
        key.key_hash = api_key_digest(clear)  # a key stored with argon2 by an older version
    else:
        return None
    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_PRECISION:
        key.last_used_at = now  # not on every call: a write per request serialises them all
    return key


@dataclass(frozen=True)
class KeyHolder:
    """What a verified API key says about its caller (cached; never the clear key)."""

    id: int
    name: str
    role: str


# Verified keys by their digest, for 2 s: a revocation in this process (any write to
# api_keys) empties it at once, one by another process is honoured within the 2 s.
_verified: ReadCache[str, KeyHolder] = ReadCache(ApiKey)
# Keys being read now: by digest, (the cache's generation then, the read's answer).
_reading: dict[str, tuple[int, asyncio.Future[KeyHolder | None]]] = {}


async def api_key_holder(session: AsyncSession, clear: str) -> KeyHolder | None:
    """``verify_api_key`` through the per-process cache: the key row is read at most once per
    2 s per key, not on every call (a wrong key is never cached: it is refused each time)."""
    if not clear.startswith("kefu_") or len(clear) < API_KEY_PREFIX_LEN + 8:
        return None
    digest = api_key_digest(clear)
    holder = _verified.get(digest)
    if holder is not MISSING:
        return holder
    generation = _verified.generation
    leader = _reading.get(digest)
    if leader is not None and leader[0] == generation:
        # Another request is reading this key now (the entry ran out under 50 callers in
        # flight: all of them missed at once and each read the row). Its answer is as fresh
        # as ours would be: no write to api_keys came since it started.
        return await asyncio.shield(leader[1])
    answer: asyncio.Future[KeyHolder | None] = asyncio.get_running_loop().create_future()
    _reading[digest] = (generation, answer)
    try:
        key = await verify_api_key(session, clear)
        holder = KeyHolder(key.id, key.name, key.role) if key is not None else None
    except BaseException as exc:
        answer.set_exception(exc if isinstance(exc, Exception) else RuntimeError("cancelled"))
        answer.exception()  # retrieved: no "never retrieved" warning when nobody waited
        raise
    finally:
        if _reading.get(digest, (None, None))[1] is answer:
            del _reading[digest]
    answer.set_result(holder)
    if holder is not None:
        _verified.put(digest, holder, generation)
    return holder


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
