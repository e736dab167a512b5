"""``POST /social/hooks/{source}``: signed JSON from a social platform (or a review feed).

Refusals are problem+json: 404 unknown source, 413 over the source's size limit, 401 a
missing or wrong signature or a timestamp more than ``max_skew_seconds`` away (a replay),
400 a body that is not JSON or does not match the mapping (naming the field and its path).
A repeated post answers 200 and is stored once (``duplicate`` true in the answer).
"""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from kefu.channels.social.mapping import MappingError
from kefu.channels.social.service import SocialHooks
from kefu.web.errors import problem
from kefu.webhooks.service import verify

router = APIRouter(tags=["social webhooks"])
SIGNATURE = "x-kefu-signature"  # sha256=<hex HMAC of "<timestamp>.<body>">, as kefu.webhooks
TIMESTAMP = "x-kefu-timestamp"  # Unix seconds


class _BodyTooLarge(Exception):
    pass


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _BodyTooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _signed(headers: Any, secret: str, body: bytes, max_skew: int) -> str | None:
    """None when the request is signed by the source's secret within the allowed skew; else
    what is wrong."""
    stamp, signature = headers.get(TIMESTAMP, ""), headers.get(SIGNATURE, "")
    if not stamp or not signature:
        return f"missing {TIMESTAMP} or {SIGNATURE}"
    if not stamp.isdigit() or len(stamp) > 12:
        return f"{TIMESTAMP} is not Unix seconds"
    if abs(time.time() - int(stamp)) > max_skew:
        return f"{TIMESTAMP} more than {max_skew} s from now: refused as a replay"
    if not verify(secret, int(stamp), body, signature):
        return "signature does not match"
    return None


@router.post(
    "/social/hooks/{source}",
    summary="Posts from a social platform, signed (docs/channels/social.md)",
    responses={200: {"description": "Stored (or already stored): what became of each post"}},
)
async def social_hook(source: str, request: Request) -> Response:
    hooks: SocialHooks | None = getattr(request.app.state, "social_hooks", None)
    config = hooks.sources.get(source) if hooks is not None else None
    if hooks is None or config is None:
        return problem(404, f"no social source {source[:40]!r}")
    try:
        body = await _body(request, config.max_body_bytes)
    except _BodyTooLarge:
        return problem(413, f"request body over {config.max_body_bytes} bytes")
    refused = _signed(request.headers, config.secret, body, config.max_skew_seconds)
    if refused is not None:
        return problem(401, refused, title="Unauthorized")
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # nested past the parser's depth
        return problem(400, "the body is not JSON")
    try:
        messages = hooks.mapped(config, document)
    except MappingError as exc:
        return problem(400, str(exc), title="The request does not match the mapping")
    try:
        results = await hooks.take(messages)
    except ValueError as exc:  # kefu.social's BadPost: a mapped value it cannot store
        return problem(400, f"mapping {config.name!r}: {exc}")
    return JSONResponse({"source": config.name, "posts": results})
