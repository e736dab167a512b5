"""The OpenAPI document, made to tell the truth (issue 21): every status code an operation can
answer and the content type it answers with, so that a bank can generate its client from it.

FastAPI documents the success answer and, for operations with parameters, a 422 in its own
shape. What kefu really sends besides is found here, from the route itself, in one place:

- the caller's checks (``kefu.web.deps``): a route that reads the caller answers 401 (no or a
  revoked key, an expired session); one that declares ``require(...)`` answers 403 too;
- the platform's middleware: a body over ``max_request_bytes`` answers 413, a cookie-
  authenticated write to ``/api/`` from another site 403 (``kefu.web.security``);
- path parameters name something that may not exist: 404;
- the refusals the handler and the helpers it calls raise (``HTTPException(409, …)``,
  ``problem(429, …)``…), read from their source, so a new refusal is documented by being
  written;
- :data:`EXTRA` for refusals raised deeper, in services (each with why).

Every refusal is RFC 9457 problem+json (:mod:`kefu.web.errors`), documented as such; 422
carries the list of fields. ``tests/security/test_openapi_contract.py`` runs schemathesis
against a live server over this document and fails on any answer it does not describe.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator
from functools import cache
from http import HTTPStatus
from types import FunctionType, ModuleType
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.utils import get_flat_params
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts

from kefu.web.errors import PROBLEM_JSON
from kefu.web.inputs import MAX_ID

PROBLEM = {
    "title": "Problem",
    "description": "RFC 9457 problem details: what was refused and why.",
    "type": "object",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
    },
    "required": ["type", "title", "status", "detail"],
}
VALIDATION_PROBLEM = {
    "title": "ValidationProblem",
    "description": "A request that did not validate: each field and what is wrong with it.",
    "allOf": [
        {"$ref": "#/components/schemas/Problem"},
        {
            "type": "object",
            "properties": {
                "errors": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "field": {"type": "string"},
                            "message": {"type": "string"},
                        },
                        "required": ["field", "message"],
                    },
                }
            },
        },
    ],
}

WHY = {
    400: "the request cannot be read",
    401: "no credentials, or an API key that is unknown or revoked, or an expired session",
    403: "the caller's role may not do this, or a cross-site write riding on a session cookie",
    404: "no such thing (or not visible to the caller)",
    409: "conflicts with the current state (a duplicate, a reused idempotency key, a wrong state)",
    413: "the request body is over the server's limit",
    422: "the request does not validate: each field and why",
    423: "the account is locked",
    429: "too many requests; Retry-After says when to try again",
    502: "the bank's system or a carrier answered with an error",
    503: "a part this needs is not running or not configured",
}

# Refusals raised below the handler, in services whose errors carry their own status (the
# templates' and consents' ``status``, partners' duplicates), by operation.
_TEMPLATE_STATE = 409  # a duplicate name, or a template not in the state the action needs
EXTRA: dict[tuple[str, str], tuple[int, ...]] = {
    ("POST", "/api/v1/partners"): (409,),  # a partner of that name exists
    ("POST", "/api/v1/partners/{name}/keys"): (409,),  # the key's name is taken
    # the template belongs to another partner (schemathesis found the DELETE's 409 in CI)
    ("PUT", "/api/v1/partners/{name}/templates/{template}"): (409,),
    ("DELETE", "/api/v1/partners/{name}/templates/{template}"): (409,),
    ("POST", "/api/v1/sms/templates"): (_TEMPLATE_STATE,),
    ("PUT", "/api/v1/sms/templates/{name}"): (_TEMPLATE_STATE,),
    ("POST", "/api/v1/sms/templates/{name}/submit"): (_TEMPLATE_STATE,),
    ("POST", "/api/v1/sms/templates/{name}/{decision}"): (_TEMPLATE_STATE,),
    ("POST", "/api/v1/marketing/consents/withdraw"): (404,),  # no open consent for the number
}

_RAISES = re.compile(
    r"(?:HTTPException|problem|Refuse|_refuse|JSONResponse|Response)\(\s*(?:[^()]*?,\s*)?"
    r"(?:status_code\s*=\s*)?([45]\d\d)\b"
)
_STATUS_KW = re.compile(r"status_code\s*=\s*([45]\d\d)\b")
_CALLS = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\s*\(")
_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def install_openapi(app: FastAPI) -> None:
    """Replaces ``app.openapi`` with the documented one (built once, on first use)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def document(app: FastAPI) -> dict[str, Any]:
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM
    schemas["ValidationProblem"] = VALIDATION_PROBLEM
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    for route in _api_routes(app):
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            operation = schema["paths"].get(route.path_format, {}).get(method.lower())
            if operation is not None:
                _describe(operation, method, route)
    return schema


def _api_routes(app: FastAPI) -> Iterator[Any]:
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute) and context.include_in_schema:
            yield context


def refusals(method: str, route: Any) -> set[int]:
    """Every 4xx/5xx status ``method`` on ``route`` can answer, by the rules above."""
    codes: set[int] = set()
    calls = {d.call for d in _dependants(route.dependant) if d.call is not None}
    names = {getattr(call, "__name__", "") for call in calls}
    if "current_principal" in names:
        codes.add(401)
    if any(name.startswith("require_") for name in names):
        codes |= {401, 403}
    if route.dependant.path_params or "{" in route.path_format:
        codes.add(404)
    if route.body_field is not None:
        codes.add(400)  # a body that is not UTF-8 JSON ("There was an error parsing the body")
    if route.body_field is not None or method in _UNSAFE:
        codes.add(413)  # kefu.web.middleware.BodySizeLimit
    if route.path_format.startswith("/api/") and method in _UNSAFE:
        codes.add(403)  # kefu.web.security.CrossSiteApiGuard
    if route.body_field or get_flat_params(route.dependant):  # what FastAPI validates
        codes.add(422)
    for call in {route.endpoint, *calls}:
        codes |= _raised(call)
    handler = type(route.original_route).get_route_handler
    if handler is not APIRoute.get_route_handler:  # a route class that answers refusals itself
        codes |= _raised(handler)
    codes |= set(EXTRA.get((method, route.path_format), ()))
    return codes


def _dependants(dependant: Any) -> Iterator[Any]:
    for sub in dependant.dependencies:
        yield sub
        yield from _dependants(sub)


def _raised(function: Callable[..., Any]) -> frozenset[int]:
    return _raised_in(getattr(function, "__wrapped__", function), depth=3)


@cache
def _raised_in(function: Callable[..., Any], depth: int) -> frozenset[int]:
    """The 4xx/5xx codes ``function`` raises or answers, and those of the functions of its
    own module that it calls (``depth`` levels down): helpers such as "load or 404"."""
    if not isinstance(function, FunctionType):
        return frozenset()
    try:
        source = inspect.getsource(function)
    except (OSError, TypeError):
        return frozenset()
    codes = {int(c) for c in _RAISES.findall(source)} | {int(c) for c in _STATUS_KW.findall(source)}
    module = inspect.getmodule(function)
    if depth > 0 and isinstance(module, ModuleType):
        for name in set(_CALLS.findall(source)):
            helper = getattr(module, name, None)
            if (
                isinstance(helper, FunctionType)
                and helper is not function
                and helper.__module__ == module.__name__
            ):
                codes |= _raised_in(helper, depth - 1)
    return frozenset(codes)


def _describe(operation: dict[str, Any], method: str, route: Any) -> None:
    for parameter in operation.get("parameters", []):
        schema = parameter.get("schema", {})
        if parameter.get("in") == "path" and schema.get("type") == "integer":
            # An id names a row of a 32-bit INTEGER column; a larger one names nothing and
            # is refused (kefu.web.errors: 422 where the driver cannot even send it).
            schema.setdefault("maximum", MAX_ID)
    responses = operation.setdefault("responses", {})
    for code in sorted(refusals(method, route)):
        ref = "ValidationProblem" if code == 422 else "Problem"
        existing = responses.get(str(code), {})
        responses[str(code)] = {
            "description": existing.get("description")
            if existing.get("description") not in (None, "Validation Error")
            else WHY.get(code, HTTPStatus(code).phrase),
            "content": {PROBLEM_JSON: {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
        }
