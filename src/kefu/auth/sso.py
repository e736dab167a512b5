"""Who a single sign-on is: the verified ID-token claims → a kefu user, or a refusal.

The identity is the provider's (``iss``, ``sub``), stored in ``staff_sso_identities``; the
username claim only names a user created at the first sign-in. The role comes from the claims
at every sign-in (the directory is the source of truth: a user moved out of the admins' group
is no longer an admin at their next sign-in). Every outcome is audited.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.agents.models import Agent
from kefu.audit.service import record
from kefu.auth.models import StaffSsoIdentity
from kefu.auth.oidc import SsoError, claim_values, mapped_role
from kefu.auth.oidc_settings import OidcSettings
from kefu.db.base import utcnow

# Not an argon2 hash: verify_password answers False for it, so a user made by single sign-on
# has no password to guess.
NO_PASSWORD = "!sso"
USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
MFA_METHODS = {"mfa", "otp", "hwk", "swk", "sc"}


async def sign_in(
    db: AsyncSession, settings: OidcSettings, claims: dict[str, Any], *, ip: str | None
) -> Agent:
    """The kefu user these claims are (audited ``login.sso``; the caller completes the sign-in,
    after kefu's own second factor when it is due), or :class:`SsoError` (audited
    ``login.sso_refused``). The caller commits."""
    issuer, subject = str(claims["iss"]), str(claims["sub"])
    username = next(iter(claim_values(claims, settings.username_claim)), "")
    details: dict[str, Any] = {"issuer": issuer, "sub": subject[:80]}
    try:
        role = mapped_role(settings, claims)
        if role is None:
            # The values are the directory's group names, not secrets: they say why.
            groups = claim_values(claims, settings.roles_claim)[:10]
            raise SsoError("no_role", f"{settings.roles_claim}={groups}")
        link = await db.get(StaffSsoIdentity, (issuer, subject))
        agent = await db.get(Agent, link.agent_id) if link is not None else None
        if agent is None:
            agent = await _first_sign_in(db, settings, issuer, subject, username, claims, role)
        if not agent.is_active:
            raise SsoError("inactive", agent.username)
    except SsoError as exc:
        await record(db, actor=(username or subject)[:80], action="login.sso_refused", ip=ip,
                     details=details | {"reason": exc.reason, "detail": exc.detail})  # fmt: skip
        exc.audited = True
        raise
    if agent.role != role:
        await record(db, actor="sso", action="user.role_changed", target=f"agent:{agent.id}",
                     details={"from": agent.role, "to": role, "by": "claims"})  # fmt: skip
        agent.role = role
    identity = await db.get(StaffSsoIdentity, (issuer, subject))
    if identity is not None:
        identity.last_login_at = utcnow()
    await record(db, actor=agent.username, action="login.sso", ip=ip,
                 details=details | {"role": role, "mfa": provider_mfa(claims)})  # fmt: skip
    return agent


def provider_mfa(claims: dict[str, Any]) -> bool:
    """Whether the provider says it used a second factor (``amr``, RFC 8176: a one-time code,
    a hardware or software key, a smart card, or plainly "mfa"). When it does not, kefu asks
    for its own authenticator code from the roles in ``totp_required_roles``."""
    amr = claims.get("amr")
    return isinstance(amr, list) and bool(MFA_METHODS & {str(m) for m in amr})


async def _first_sign_in(
    db: AsyncSession,
    settings: OidcSettings,
    issuer: str,
    subject: str,
    username: str,
    claims: dict[str, Any],
    role: str,
) -> Agent:
    """Links this identity to a kefu user: an existing one of the same name only when the
    settings allow it, else a new one when they allow that."""
    if not USERNAME.match(username):
        raise SsoError("bad_username", f"{settings.username_claim} unusable")
    agent = await db.scalar(select(Agent).where(Agent.username == username))
    if agent is not None:
        linked = await db.scalar(
            select(StaffSsoIdentity.issuer).where(StaffSsoIdentity.agent_id == agent.id)
        )
        if linked is not None or not settings.link_existing_users:
            # A directory account must not become a local user (say, the local admin) by
            # carrying its name: that is an administrator's decision (link_existing_users).
            raise SsoError("name_taken", username)
        action = "sso.linked"
    elif settings.create_users:
        display = claims.get("name") if isinstance(claims.get("name"), str) else None
        agent = Agent(username=username, display_name=(display or username)[:64], role=role,
                      password_hash=NO_PASSWORD)  # fmt: skip
        db.add(agent)
        await db.flush()
        await record(db, actor="sso", action="user.create", target=f"agent:{agent.id}",
                     details={"username": username, "role": role, "by": "sso"})  # fmt: skip
        action = "sso.linked"
    else:
        raise SsoError("not_provisioned", username)
    db.add(StaffSsoIdentity(issuer=issuer, subject=subject, agent_id=agent.id,
                            created_at=utcnow()))  # fmt: skip
    await db.flush()
    await record(db, actor="sso", action=action, target=f"agent:{agent.id}",
                 details={"issuer": issuer, "sub": subject[:80]})  # fmt: skip
    return agent
