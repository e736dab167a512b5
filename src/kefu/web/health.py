"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from kefu import __version__
from kefu.web.favicon import router as favicon_router

router = APIRouter(tags=["health"])
# The site icon rides with the probes: like them it is public and answered by every process.
router.include_router(favicon_router)


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok", "version": __version__}


@router.get("/readyz", summary="Readiness: the database is reachable and migrated")
async def readyz(request: Request) -> JSONResponse:
    try:
        async with request.app.state.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
        return JSONResponse(
            {"status": "unavailable", "database": "unreachable", "error": type(exc).__name__},
            status_code=503,
        )
    try:
        async with request.app.state.engine.connect() as conn:
            revisions = sorted(
                (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars()
            )
    except Exception:  # noqa: BLE001 - the table is missing until the first migration
        revisions = []
    if not revisions:
        return JSONResponse(
            {"status": "unavailable", "database": "not migrated; run kefu db upgrade"},
            status_code=503,
        )
    return JSONResponse(
        {"status": "ready", "database": "ok", "schema_revision": ",".join(revisions)}
    )
