"""Errors as RFC 9457 problem+json for the API and as a readable page for the UI."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from kefu.logs import get_logger

log = get_logger(__name__)

PROBLEM_JSON = "application/problem+json"


def wants_json(request: Request) -> bool:
    path = request.url.path
    if path.startswith(("/api/", "/healthz", "/readyz", "/bank/")):
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

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled_error", path=request.url.path)
        if wants_json(request):
            return problem(500, "internal error; see the server log")
        return _page(request, 500, "internal error; see the server log")
