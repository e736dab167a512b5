"""``/demo/weibo``: while ``kefu demo`` runs, the visitor acts as a Weibo user (an @mention,
a comment on the account's post, a 私信) and sees it reach the desk. Absent outside the demo
(404). Public, like the demo's other customer-side pages: it only drives the local simulator."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from kefu.web.deps import check_csrf, csrf_token
from kefu.web.templating import templates

router = APIRouter()
KINDS = ("mention", "comment", "dm")


def _demo(request: Request):  # type: ignore[no-untyped-def]
    demo = getattr(request.app.state, "demo_weibo", None)
    if demo is None:
        raise HTTPException(404, "the Weibo demo is not running")
    return demo


@router.get("/demo/weibo", include_in_schema=False)
async def page(request: Request) -> Response:
    demo = _demo(request)
    official = demo.state.official.id
    recent = sorted((s for s in demo.state.statuses.values() if not s.deleted),
                    key=lambda s: s.id, reverse=True)[:15]  # fmt: skip
    replies = [c for c in demo.state.comments.values() if c.user_id == official][-10:]
    dms = [m for m in demo.state.dms if not m.inbound][-10:]
    return templates.TemplateResponse(request, "weibo/demo.html", {
        "demo": demo, "recent": recent, "users": demo.state.users, "replies": replies,
        "dms": dms, "csrf": csrf_token(request), "notice": request.query_params.get("notice"),
    })  # fmt: skip


@router.post("/demo/weibo", include_in_schema=False)
async def act(
    request: Request,
    kind: Annotated[str, Form()],
    screen_name: Annotated[str, Form(min_length=1, max_length=30)],
    text: Annotated[str, Form(min_length=1, max_length=2000)],
    csrf: Annotated[str, Form()] = "",
) -> Response:
    demo = _demo(request)
    check_csrf(request, csrf)
    if kind not in KINDS:
        raise HTTPException(422, f"kind: one of {', '.join(KINDS)}")
    outcome = await demo.act(kind, screen_name.strip(), text.strip())
    from urllib.parse import quote

    return RedirectResponse(f"/demo/weibo?notice={quote(outcome)}", status_code=303)
