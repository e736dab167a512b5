"""User and API-key management, and the audit log (admin only)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.agents.models import Agent
from kefu.audit.models import AuditEntry
from kefu.auth.passwords import MIN_PASSWORD_LENGTH
from kefu.auth.permissions import Permission
from kefu.auth.service import UserError, create_api_key, create_user, revoke_api_key, unlock_user
from kefu.vocabulary import Role
from kefu.web.deps import DB_SESSION, Principal, check_csrf, csrf_token, require

router = APIRouter()
admin_only = require(Permission.USERS_MANAGE)


class UserIn(BaseModel):
    # The rules kefu.auth.service.create_user applies, stated in the schema so that a client
    # generated from it knows them (issue 21): letters, digits, "_" or "."; a password of at
    # least MIN_PASSWORD_LENGTH that is not only letters or only digits (check_strength).
    username: str = Field(
        min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.]*[A-Za-z0-9][A-Za-z0-9_.]*$"
    )
    password: str = Field(
        min_length=MIN_PASSWORD_LENGTH,
        max_length=256,
        json_schema_extra={"pattern": r"^(?![0-9]+$)(?![^\W\d_]+$)[\s\S]+$"},
        description="Not only letters and not only digits.",
    )
    role: Literal["agent", "supervisor", "admin", "analyst", "teller"]  # partners: API keys
    display_name: str | None = Field(default=None, max_length=64)


class UserOut(BaseModel):
    id: int
    username: str
    display_name: str
    role: str
    is_active: bool
    locked_until: datetime | None


def _user_out(a: Agent) -> UserOut:
    return UserOut(
        id=a.id,
        username=a.username,
        display_name=a.display_name,
        role=a.role,
        is_active=a.is_active,
        locked_until=a.locked_until,
    )


@router.get("/admin/users", include_in_schema=False)
async def users_page(
    request: Request,
    principal: Principal = Depends(admin_only),
    db: AsyncSession = DB_SESSION,
    error: str | None = None,
) -> Response:
    from kefu.web.templating import templates

    users = (await db.scalars(select(Agent).order_by(Agent.username))).all()
    return templates.TemplateResponse(
        request,
        "admin/users.html",
        {
            "principal": principal,
            "users": users,
            "roles": [r.value for r in Role],
            "csrf": csrf_token(request),
            "error": error,
        },
    )


@router.post("/admin/users", include_in_schema=False)
async def users_form(
    request: Request,
    username: str = Form(..., max_length=64),
    password: str = Form(..., max_length=256),
    role: str = Form(...),
    display_name: str = Form("", max_length=64),
    csrf: str = Form(""),
    principal: Principal = Depends(admin_only),
    db: AsyncSession = DB_SESSION,
) -> Response:
    check_csrf(request, csrf)
    try:
        await create_user(db, username=username, password=password, role=role,
                          display_name=display_name or None, actor=principal.name)  # fmt: skip
    except UserError as exc:
        await db.rollback()
        return await users_page(request, principal, db, error=str(exc))
    return RedirectResponse("/admin/users", status_code=303)


@router.get("/api/v1/users", tags=["admin"], summary="All users")
async def list_users(
    _: Principal = Depends(admin_only), db: AsyncSession = DB_SESSION
) -> list[UserOut]:
    return [_user_out(a) for a in (await db.scalars(select(Agent).order_by(Agent.id))).all()]


@router.post("/api/v1/users", tags=["admin"], status_code=201, summary="Create a user")
async def add_user(
    body: UserIn,
    principal: Principal = Depends(admin_only),
    db: AsyncSession = DB_SESSION,
) -> UserOut:
    try:
        agent = await create_user(db, username=body.username, password=body.password,
                                  role=body.role, display_name=body.display_name,
                                  actor=principal.name)  # fmt: skip
    except UserError as exc:
        raise HTTPException(409 if "already exists" in str(exc) else 422, str(exc)) from None
    return _user_out(agent)


@router.post("/api/v1/users/{username}/unlock", tags=["admin"], summary="Lift a login lock-out")
async def unlock(
    username: str,
    principal: Principal = Depends(admin_only),
    db: AsyncSession = DB_SESSION,
) -> UserOut:
    try:
        return _user_out(await unlock_user(db, username=username, actor=principal.name))
    except UserError as exc:
        raise HTTPException(404, str(exc)) from None


class ApiKeyIn(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    role: Role


class ApiKeyCreated(BaseModel):
    name: str
    role: str
    key: str = Field(description="Shown once; only a hash is stored.")


@router.post("/api/v1/api-keys", tags=["admin"], status_code=201, summary="Create an API key")
async def add_api_key(
    body: ApiKeyIn,
    principal: Principal = Depends(admin_only),
    db: AsyncSession = DB_SESSION,
) -> ApiKeyCreated:
    try:
        key, clear = await create_api_key(
            db, name=body.name, role=body.role.value, actor=principal.name,
            created_by_id=principal.id if principal.kind == "user" else None,
        )  # fmt: skip
    except UserError as exc:
        raise HTTPException(409, str(exc)) from None
    return ApiKeyCreated(name=key.name, role=key.role, key=clear)


@router.delete("/api/v1/api-keys/{name}", tags=["admin"], status_code=204, summary="Revoke a key")
async def delete_api_key(
    name: str,
    principal: Principal = Depends(admin_only),
    db: AsyncSession = DB_SESSION,
) -> Response:
    try:
        await revoke_api_key(db, name=name, actor=principal.name)
    except UserError as exc:
        raise HTTPException(404, str(exc)) from None
    return Response(status_code=204)


class AuditOut(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    details: dict
    ip: str | None


@router.get("/api/v1/audit", tags=["admin"], summary="The audit log, newest first")
async def audit_log(
    action: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    _: Principal = Depends(require(Permission.AUDIT_READ)),
    db: AsyncSession = DB_SESSION,
) -> list[AuditOut]:
    statement = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if action:
        statement = statement.where(AuditEntry.action == action)
    return [
        AuditOut(
            id=e.id,
            at=e.at,
            actor=e.actor,
            action=e.action,
            target=e.target,
            details=e.details,
            ip=e.ip,
        )  # fmt: skip
        for e in (await db.scalars(statement)).all()
    ]
