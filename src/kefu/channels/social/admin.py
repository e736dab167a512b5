"""The sources page for admins: what each configured source is (its hook URL, mapping, limits;
never its secret) and a sample request tried on its mapping, as ``kefu social check-mapping``
does, before the platform is pointed at kefu."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from kefu.auth.permissions import Permission
from kefu.channels.social.mapping import MappingError, load_mapping
from kefu.web.deps import Principal, check_csrf, csrf_token, require

router = APIRouter()
channels_admin = require(Permission.SOCIAL_CHANNELS)
MAX_SAMPLE = 262_144


def _page(request: Request, principal: Principal, **extra: Any) -> Response:
    from kefu.web.templating import templates

    hooks = getattr(request.app.state, "social_hooks", None)
    sources = list(hooks.sources.values()) if hooks is not None else []
    context = {"principal": principal, "csrf": csrf_token(request), "sources": sources,
               "tried": None, "error": None, "sample": "", "source": ""}  # fmt: skip
    context.update(extra)
    return templates.TemplateResponse(request, "social/sources.html", context,
                                      status_code=400 if context["error"] else 200)  # fmt: skip


@router.get("/social/sources", include_in_schema=False)
async def sources_page(
    request: Request, principal: Principal = Depends(channels_admin)
) -> Response:
    return _page(request, principal)


@router.post("/social/sources/check", include_in_schema=False)
async def check_sample(
    request: Request,
    source: str = Form("", max_length=32),
    sample: str = Form("", max_length=MAX_SAMPLE),
    csrf: str = Form(""),
    principal: Principal = Depends(channels_admin),
) -> Response:
    check_csrf(request, csrf)
    hooks = getattr(request.app.state, "social_hooks", None)
    config = hooks.sources.get(source) if hooks is not None else None
    if config is None:
        return _page(request, principal, error=f"没有名为「{source}」的来源", sample=sample)
    try:
        posts = load_mapping(config.mapping).posts(json.loads(sample))
    except ValueError as exc:  # not JSON, or MappingError naming the field
        detail = str(exc) if isinstance(exc, MappingError) else f"样例不是 JSON：{exc}"
        return _page(request, principal, error=detail, sample=sample, source=source)
    shown = json.dumps(posts, ensure_ascii=False, indent=2, sort_keys=True)
    return _page(request, principal, tried=shown, sample=sample, source=source)
