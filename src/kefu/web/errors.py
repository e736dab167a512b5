"""Errors as RFC 9457 problem+json for the API and as a readable page for the UI."""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

from asyncpg.exceptions import PostgresError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from kefu.db.unavailable import RETRY_AFTER_SECONDS, is_unavailable
from kefu.logs import get_logger

log = get_logger(__name__)

PROBLEM_JSON = "application/problem+json"


def wants_json(request: Request) -> bool:
    path = request.url.path
    if path.startswith(("/api/", "/healthz", "/readyz", "/bank/")):
        return True
    # An operation of the OpenAPI document (the web chat API, …) refuses in problem+json as
    # the document says, whatever the client accepts; pages are left out of the document.
    route = request.scope.get("route")
    if isinstance(route, APIRoute) and route.include_in_schema:
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def problem(status: int, detail: str, *, title: str | None = None, **extra: Any) -> JSONResponse:
    body = {
        "type": "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def _page(request: Request, status: int, detail: str) -> Response:
    from kefu.web.templating import templates

    return templates.TemplateResponse(
        request,
        "error.html",
        {"status": status, "title": HTTPStatus(status).phrase, "detail": detail},
        status_code=status,
    )


def _field_path(loc: tuple[Any, ...] | list[Any]) -> list[Any]:
    return list(loc[1:]) if loc and loc[0] == "body" else list(loc)


def allowed_methods(request: Request) -> list[str]:
    """The methods of the most specific routes matching the path. Starlette's 405 names only
    the first route that matched (``GET /api/v1/users`` answered ``Allow: GET`` although POST
    is there too); a literal segment is more specific than a parameter (``POST …/menus/sync``
    is not ``PUT …/menus/{region}``)."""
    table = getattr(request.app.state, "method_table", None)
    if table is None:
        table = []
        for context in iter_route_contexts(request.app.routes):
            methods = getattr(context, "methods", None)
            path = getattr(context, "path_format", None) or getattr(context, "path", None)
            if methods and path:
                regex, _, convertors = compile_path(path)
                table.append((regex, len(convertors), set(methods)))
        request.app.state.method_table = table
    path = request.url.path
    matches = [(params, methods) for regex, params, methods in table if regex.match(path)]
    if not matches:
        return []
    fewest = min(params for params, _ in matches)
    return sorted(set().union(*(methods for params, methods in matches if params == fewest)))


_OUT_OF_RANGE = re.compile(
    r"out of (?:\w+ )?range|too large to convert|value too long for type|invalid byte sequence"
)


def _out_of_range(exc: Exception) -> bool:
    return bool(_OUT_OF_RANGE.search(str(getattr(exc, "orig", exc)).lower()))


def unavailable(request: Request, exc: BaseException) -> Response:
    """503 with Retry-After: the database restarts or fails over (kefu.db.unavailable); the
    next request after it is back gets a fresh connection (pool_pre_ping). Logged with the
    error's class and code only: a statement's text and parameters may hold customer data."""
    orig = getattr(exc, "orig", None)
    code = getattr(orig, "sqlstate", None) or (getattr(orig, "args", None) or [None])[0]
    log.warning("database_unavailable", path=request.url.path, error=type(orig or exc).__name__,
                code=code if isinstance(code, (str, int)) else None)  # fmt: skip
    detail = "the database is not reachable now; try again in a few seconds"
    if wants_json(request):
        response = problem(503, detail, title="Service Unavailable", rule="database_unavailable")
    else:
        response = _page(
            request, 503, f"数据库暂时无法连接，请稍后重试。{detail[0].upper()}{detail[1:]}."
        )
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 401 and not wants_json(request) and request.method == "GET":
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        if wants_json(request):
            response = problem(exc.status_code, detail)
        else:
            response = _page(request, exc.status_code, detail)
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        if exc.status_code == 405:
            response.headers["Allow"] = ", ".join(allowed_methods(request))
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        # Drop only the leading "body" of the location: a field may itself be called "body".
        errors = [
            {"field": ".".join(str(p) for p in _field_path(err["loc"])), "message": err["msg"]}
            for err in exc.errors()
        ]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        if wants_json(request):
            return problem(422, detail, title="Invalid request", errors=errors)
        return _page(request, 422, detail)

    @app.exception_handler(OverflowError)
    @app.exception_handler(DBAPIError)
    async def out_of_range(request: Request, exc: Exception) -> Response:
        # A number too large for its column (an id of 20 digits in a path), a text longer
        # than its column, a NUL character (PostgreSQL stores none: "a%00b" as a partner's
        # name): SQLite's driver raises OverflowError, PostgreSQL's a DataError. Such a value
        # names nothing and stores nothing: the request is wrong (422), not the server (500).
        # Schemas should state the limit; this is the net under them.
        if is_unavailable(exc):
            return unavailable(request, exc)
        if isinstance(exc, OverflowError) or _out_of_range(exc):
            detail = "a value in the request cannot be stored (too large, too long, or NUL)"
            if wants_json(request):
                return problem(422, detail, title="Invalid request")
            return _page(request, 422, detail)
        raise exc  # any other database error: a 500, logged, as before (``unexpected``)

    # On connect the drivers' own errors arrive unwrapped (asyncpg's ConnectionRefusedError,
    # CannotConnectNowError, a TimeoutError; the pool's TimeoutError): answered here, inside
    # the app, so the server does not log them again as a crash; anything else re-raised.
    @app.exception_handler(OSError)
    @app.exception_handler(PoolTimeout)
    @app.exception_handler(PostgresError)
    async def maybe_unavailable(request: Request, exc: Exception) -> Response:
        if is_unavailable(exc):
            return unavailable(request, exc)
        raise exc

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        # The database's own errors raised outside a route (a middleware reading the session,
        # a connection refused on connect, which is an OSError) arrive here, not above.
        if is_unavailable(exc):
            return unavailable(request, exc)
        log.exception("unhandled_error", path=request.url.path)
        if wants_json(request):
            return problem(500, "internal error; see the server log")
        return _page(request, 500, "internal error; see the server log")
