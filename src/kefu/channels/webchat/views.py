"""The web chat API (stable names, see docs/channels/webchat.md), the widget's script and the
demo's bank page.

These routes face the bank's customers, not staff: no kefu login. A session is opened by
anyone on an allowed origin (a signed-in customer proves who they are with the bank's token)
and every later call carries the session's own token. Errors are RFC 9457 problem+json.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import random
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.channels.webchat.config import WebchatSite
from kefu.channels.webchat.models import WebchatSession
from kefu.channels.webchat.offers import Lead, Offer, offer_json
from kefu.channels.webchat.service import PAGE, Flooding, WebchatChannel, message_json
from kefu.channels.webchat.tokens import SessionTokens, TokenError, verify_customer_token
from kefu.logs import get_logger
from kefu.web.errors import problem

log = get_logger(__name__)


class WebchatRoute(APIRoute):
    """Every answer of these routes is JSON with CORS headers for an allowed origin: refusals
    raised anywhere in a handler (and bad query parameters) become problem+json here rather
    than through the staff app's error pages."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def route_handler(request: Request) -> Response:
            try:
                response = await handle(request)
            except _Refused as refused:
                response = refused.response
            except Flooding as exc:
                response = problem(429, str(exc))
                response.headers["Retry-After"] = str(exc.retry_after)
            except RequestValidationError as exc:
                errors = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
                          for e in exc.errors()]  # fmt: skip
                response = problem(422, "invalid request", title="Invalid request", errors=errors)
            except Exception as exc:
                # The app's own answer (503 + Retry-After while the database restarts, 500
                # for a bug, logged), with the CORS headers, so that the widget on the bank's
                # site reads it instead of seeing a network error.
                response = await _app_answer(request, exc)
            return _cors(request, response)

        return route_handler


async def _app_answer(request: Request, exc: Exception) -> Response:
    """What the app's exception handlers answer for ``exc`` (the most specific first; one that
    passes the error on hands it to the next); re-raises when none answers."""
    handlers = request.app.exception_handlers
    for kind in type(exc).__mro__:
        handler = handlers.get(kind)
        if handler is None:
            continue
        try:
            answer = handler(request, exc)
            return await answer if inspect.isawaitable(answer) else answer
        except Exception as again:
            if again is not exc:
                raise
    raise exc


router = APIRouter(tags=["web chat"], route_class=WebchatRoute)
BASE = "/channels/webchat/{site}"
WIDGET = Path(__file__).parent / "static" / "dist" / "widget.js"
MAX_TEXT = 2000
PING_EVERY = 15.0  # seconds between SSE keep-alive comments (proxies close idle streams)
RECHECK_EVERY = 4  # pings between reads of an idle stream's session (another process's changes)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SessionRequest(_Strict):
    customer_token: str | None = Field(default=None, max_length=8192)
    locale: Literal["zh_CN", "en"] = "zh_CN"


class MessageRequest(_Strict):
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    client_id: str | None = Field(default=None, min_length=1, max_length=64,
                                  pattern=r"^[A-Za-z0-9_.:-]+$")  # fmt: skip

    @field_validator("text")
    @classmethod
    def _text(cls, value: str) -> str:
        # Control characters other than line breaks and tabs carry nothing a customer means.
        cleaned = "".join(c for c in value if c in "\n\t" or c.isprintable() or c == " ")
        if not cleaned.strip():
            raise ValueError("the message is empty")
        return cleaned.strip()


class RatingRequest(_Strict):
    score: int = Field(ge=1, le=5)
    comment: str = Field(default="", max_length=500)


class OfferAnswer(_Strict):
    action: Literal["click", "dismiss"]


class _Refused(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


def _channel(request: Request) -> WebchatChannel:
    channel = getattr(request.app.state, "webchat", None)
    if channel is None:
        raise _Refused(problem(404, "web chat is not configured (KEFU_WEBCHAT_SITES)"))
    return channel


def _site(request: Request, channel: WebchatChannel, name: str) -> WebchatSite:
    site = channel.sites.get(name)
    if site is None:
        raise _Refused(problem(404, f"no web chat site {name!r}"))
    if not site.allows(request.headers.get("origin")):
        raise _Refused(problem(403, "this page's origin may not use the site's chat"))
    return site


def _tokens(request: Request) -> SessionTokens:
    return SessionTokens(request.app.state.settings.session_secret)


def _documented(model: type[BaseModel], *, required: bool = True) -> dict[str, Any]:
    """The OpenAPI request body of a route that reads ``model`` itself (``_body``): the
    document states what is validated (issue 21)."""
    schema = {"schema": model.model_json_schema()}
    return {"requestBody": {"required": required, "content": {"application/json": schema}}}


async def _body(request: Request, model: type[BaseModel]) -> Any:
    raw = await request.body()
    if len(raw) > 16_384:
        raise _Refused(problem(413, "the request body is larger than 16 KiB"))
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        errors = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
                  for e in exc.errors()]  # fmt: skip
        too_long = any(
            e["type"] == "string_too_long" and e["loc"] == ("text",) for e in exc.errors()
        )
        status = 413 if too_long else 422
        detail = f"text: at most {MAX_TEXT} characters" if too_long else "invalid request"
        raise _Refused(problem(status, detail, title="Invalid request", errors=errors)) from None


def _cors(request: Request, response: Response) -> Response:
    """Lets the bank's pages on an allowed origin read the answer (the widget may be served
    from the bank's domain, calling kefu's)."""
    origin = request.headers.get("origin")
    if origin:
        # Also on refusals (403 for an origin not listed): the widget can then say why. The
        # origin check is the server's, so letting a page read the refusal gives it nothing.
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = "Retry-After"
        response.headers["Vary"] = "Origin"
    return response


async def _session(
    request: Request, channel: WebchatChannel, site: WebchatSite, session_id: str, token: str | None
) -> WebchatSession:
    if not token:
        raise _Refused(problem(401, "a session token is required (Authorization: Bearer …)"))
    try:
        claim = _tokens(request).verify(token, site=site)
    except TokenError as exc:
        raise _Refused(problem(401, str(exc))) from None
    if claim.session != session_id:
        raise _Refused(problem(401, "the session token is for another session"))
    async with channel.sessionmaker() as db:
        session = await channel.session(db, session_id, site.name)
    if session is None:
        raise _Refused(problem(401, "the session has ended; start a new one"))
    return session


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


@router.post(
    BASE + "/sessions", status_code=201, openapi_extra=_documented(SessionRequest, required=False)
)
async def open_session(request: Request, site: str) -> Response:
    """Opens a chat session: ``{"session", "token", "expires_in", "signed_in", "greeting",
    "quick_replies"}``. With ``customer_token`` (a JWT from the bank's site) the customer is
    signed in and self-service reads their accounts."""
    channel = _channel(request)
    config = _site(request, channel, site)
    body: SessionRequest = await _body(request, SessionRequest)
    address = request.client.host if request.client else "unknown"
    channel.limiter.take(f"open:{address}", config.sessions_per_minute)
    customer_no = None
    if body.customer_token:
        try:
            customer_no = verify_customer_token(body.customer_token, config)
        except TokenError as exc:
            raise _Refused(problem(401, str(exc))) from None
    session, hello = await channel.open_session(
        config, customer_no=customer_no, locale=body.locale, origin=request.headers.get("origin")
    )
    return JSONResponse(
        {
            "session": session.id,
            "token": _tokens(request).issue(session.id, config.name),
            "expires_in": int(config.session_hours * 3600),
            "signed_in": customer_no is not None,
            "greeting": hello.text,
            "quick_replies": hello.quick_replies,
        },
        status_code=201,
    )


@router.post(
    BASE + "/sessions/{session_id}/messages",
    status_code=202,
    openapi_extra=_documented(MessageRequest),
)
async def post_message(request: Request, site: str, session_id: str) -> Response:
    """Accepts one visitor message (stored before this answers 202); the answer arrives on
    the events stream and the messages list. The same ``client_id`` twice is one message."""
    channel = _channel(request)
    config = _site(request, channel, site)
    session = await _session(request, channel, config, session_id, _bearer(request))
    body: MessageRequest = await _body(request, MessageRequest)
    seq, duplicate = await channel.receive(config, session, body.text, body.client_id)
    return JSONResponse({"seq": seq, "duplicate": duplicate}, status_code=202)


@router.get(BASE + "/sessions/{session_id}/messages")
async def list_messages(
    request: Request, site: str, session_id: str, after: Annotated[int, Query(ge=0)] = 0
) -> Response:
    """The session's messages after ``seq`` (history on reload; polling when SSE is not
    available) and the conversation's state."""
    channel = _channel(request)
    config = _site(request, channel, site)
    session = await _session(request, channel, config, session_id, _bearer(request))
    async with channel.sessionmaker() as db:
        messages = await channel.messages_after(db, session.id, after)
        # The state from the same read as the messages: the row checked above may predate
        # an answer committed since (the bot's reply and its read mark are one commit).
        fresh = await db.get(WebchatSession, session.id)
        state = await channel.state(db, fresh or session)
    return JSONResponse({"messages": [message_json(m) for m in messages], "state": state})


@router.get(BASE + "/sessions/{session_id}/events")
async def events(
    request: Request,
    site: str,
    session_id: str,
    token: Annotated[str | None, Query(max_length=1024)] = None,
    after: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    """Server-Sent Events: ``message`` (id = seq), ``state``, and ``: ping`` comments. A
    reconnecting EventSource sends Last-Event-ID and gets what it missed."""
    channel = _channel(request)
    config = _site(request, channel, site)
    session = await _session(request, channel, config, session_id, token or _bearer(request))
    last = request.headers.get("last-event-id", "")
    start = int(last) if last.isdigit() else (after or 0)
    return StreamingResponse(
        _stream(request, channel, session, start),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},  # nginx: no buffer
    )


async def _stream(
    request: Request, channel: WebchatChannel, session: WebchatSession, after: int
) -> AsyncIterator[str]:
    """Reads the database when the session was woken (a message or a state change in this
    process), and otherwise only every RECHECK_EVERY pings (changes made by another process);
    the pings are jittered so that thousands of idle streams do not wake, and read, at once."""
    wake = channel.watchers.watch(session.id)
    sent_state: dict[str, Any] | None = None
    pings = 0
    look = True
    try:
        yield "retry: 2000\n\n"
        while True:
            if look:
                wake.clear()
                async with channel.sessionmaker() as db:
                    messages = await channel.messages_after(db, session.id, after)
                    fresh = await db.get(WebchatSession, session.id)
                    state = await channel.state(db, fresh) if fresh is not None else None
                for message in messages:
                    after = message.seq
                    yield f"id: {message.seq}\nevent: message\ndata: {_json(message_json(message))}\n\n"
                if state is not None and state != sent_state:
                    sent_state = state
                    yield f"event: state\ndata: {_json(state)}\n\n"
                if len(messages) >= PAGE:  # more to read at once
                    continue
            try:
                await asyncio.wait_for(wake.wait(), PING_EVERY * random.uniform(0.8, 1.2))
                look = True
            except TimeoutError:
                pings += 1
                look = pings % RECHECK_EVERY == 0
                yield ": ping\n\n"
            if await request.is_disconnected():
                return
    finally:
        channel.watchers.unwatch(session.id, wake)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@router.post(
    BASE + "/sessions/{session_id}/csat", status_code=204, openapi_extra=_documented(RatingRequest)
)
async def rate(request: Request, site: str, session_id: str) -> Response:
    """The visitor's satisfaction (1-5 and a comment), once, after an agent closed the chat."""
    channel = _channel(request)
    config = _site(request, channel, site)
    session = await _session(request, channel, config, session_id, _bearer(request))
    body: RatingRequest = await _body(request, RatingRequest)
    async with channel.sessionmaker() as db:
        fresh = await db.get(WebchatSession, session.id)
        assert fresh is not None
        if not await channel.rate(db, fresh, body.score, body.comment.strip()):
            raise _Refused(problem(409, "no rating is asked for in this session, or it was given"))
    return Response(status_code=204)


@router.post(BASE + "/sessions/{session_id}/offer")
async def show_offer(request: Request, site: str, session_id: str) -> Response:
    """The offer banner to show in this visit: ``{"offer": {"id", "text", "disclosure"}}`` or
    ``{"offer": null}``. A POST: showing it is recorded (an impression, once per visit).
    Only a signed-in customer can be shown one; the decision is the app's (``offers.py``)."""
    channel = _channel(request)
    config = _site(request, channel, site)
    session = await _session(request, channel, config, session_id, _bearer(request))
    offer: Offer | None = None
    if channel.offers is not None and session.customer_no:
        try:
            offer = await channel.offers.offer(session.customer_no, session.id)
        except Exception:  # noqa: BLE001 - a banner that fails must never cost the chat
            log.exception("webchat_offer_failed", site=site)
    return JSONResponse({"offer": offer_json(offer) if offer is not None else None})


@router.post(
    BASE + "/sessions/{session_id}/offer/{offer_id}",
    status_code=204,
    openapi_extra=_documented(OfferAnswer),
)
async def answer_offer(request: Request, site: str, session_id: str, offer_id: str) -> Response:
    """The visitor clicked the banner (``{"action": "click"}``: interest) or dismissed it
    (``"dismiss"``: 不感兴趣). 404 when no such banner was shown in this visit. The first click
    of interest hands the visitor to an agent (``WebchatChannel.hand_over``); the line saying
    so arrives as a message."""
    channel = _channel(request)
    config = _site(request, channel, site)
    session = await _session(request, channel, config, session_id, _bearer(request))
    body: OfferAnswer = await _body(request, OfferAnswer)
    if len(offer_id) > 32 or channel.offers is None or not session.customer_no:
        raise _Refused(problem(404, "no such offer was shown in this session"))

    async def hand_off(db: AsyncSession, lead: Lead) -> int:  # the first click of interest
        return await channel.hand_over(db, session, lead)

    if not await channel.offers.answer(
        session.customer_no, session.id, offer_id, body.action, hand_off
    ):
        raise _Refused(problem(404, "no such offer was shown in this session"))
    channel.watchers.wake(session.id)  # the hand-off's line, at once on the stream
    return Response(status_code=204)


@router.options(BASE + "/{rest:path}", include_in_schema=False)
async def preflight(request: Request, site: str, rest: str) -> Response:
    """CORS preflight. Answered for any origin of a known site: the request itself is then
    refused (403, readable by the widget) when the origin is not the site's."""
    channel = getattr(request.app.state, "webchat", None)
    config = channel.sites.get(site) if channel is not None else None
    origin = request.headers.get("origin")
    if config is None or origin is None:
        return Response(status_code=404 if config is None else 400)
    return Response(
        status_code=204,
        headers={
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": "GET, POST",
            "Access-Control-Allow-Headers": "Authorization, Content-Type, Last-Event-ID",
            "Access-Control-Max-Age": "600",
            "Vary": "Origin",
        },
    )


@router.get("/channels/webchat/static/widget.js", include_in_schema=False)
async def widget_script() -> Response:
    """The widget, one script the bank's pages load (bundled by `make assets`)."""
    if not WIDGET.is_file():
        return problem(503, "the widget is not built; run `make assets`")
    return FileResponse(
        WIDGET,
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"},
    )
