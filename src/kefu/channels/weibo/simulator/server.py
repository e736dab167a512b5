"""The Weibo open API simulator as one FastAPI app (docs/channels/weibo-simulator.md):
``build_app(state)`` serves the open API (``api.py``), the OAuth2 pages (``oauth.py``) and the
``/_sim`` control API (``control.py``) over one ``WeiboState``; queued faults and the per-path
call counts sit in front of them all.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from kefu.channels.weibo.simulator import api, control, oauth
from kefu.channels.weibo.simulator.api import sim
from kefu.channels.weibo.simulator.state import SimError, WeiboState


def error_response(request: Request, exc: SimError) -> JSONResponse:
    return JSONResponse(
        {"error": exc.message, "error_code": exc.code, "request": request.url.path},
        status_code=exc.http_status,
    )


async def _faults_and_counts(request: Request, call_next):  # type: ignore[no-untyped-def]
    """Counts every platform call per path and plays a queued fault instead of (or, for a
    delay, before) the real answer. The control API is neither counted nor faulted."""
    path = request.url.path
    if path.startswith("/_sim"):
        return await call_next(request)
    state = sim(request)
    state.calls[path] += 1
    fault = state.take_fault(path)
    if fault is None:
        return await call_next(request)
    if fault.delay:
        await asyncio.sleep(fault.delay)
    if fault.error_code:
        return error_response(request, SimError(fault.error_code, "", fault.http_status))
    if fault.http_status:
        return HTMLResponse(
            f"<html><body><h1>{fault.http_status}</h1>nginx</body></html>",
            status_code=fault.http_status,
        )
    if fault.malformed:
        return Response('{"statuses": [{"id": 50000000', media_type="application/json")
    return await call_next(request)


def build_app(state: WeiboState | None = None) -> FastAPI:
    """The simulator over ``state``: the open API, OAuth2 and the ``/_sim`` control API."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = app.state.sim
        if state.traffic_per_minute:
            control.start_traffic(app, state.traffic_per_minute)
        if state.crisis_in is not None:
            control.plant_crisis(app, state.crisis_kind, state.now() + state.crisis_in)
        yield
        await control.stop_background(app)
        await app.state.push_http.aclose()

    app = FastAPI(title="Weibo API simulator", docs_url=None, redoc_url=None, lifespan=lifespan)
    app.state.sim = state or WeiboState()
    app.state.push_http = httpx.AsyncClient()
    app.state.tasks = {}
    app.middleware("http")(_faults_and_counts)
    app.exception_handler(SimError)(error_response)
    for r in (oauth.router, api.router, control.router):
        app.include_router(r)
    return app
