"""``/demo/webchat``: the bank's online-banking page with the widget (only while `kefu demo`
runs it). Public like the bank's own site: it signs in the demo customer by minting the token
the bank's site would."""

from __future__ import annotations

import time

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from kefu.channels.webchat.tokens import issue_customer_token
from kefu.privacy import mask_name
from kefu.web.errors import problem

router = APIRouter(include_in_schema=False)


@router.get("/demo/webchat")
async def demo_bank_page(
    request: Request,
    anonymous: bool = Query(False),
    lang: str = Query("zh_CN", pattern=r"^(zh_CN|en)$"),
) -> Response:
    from kefu.web.templating import templates  # the template environment reads the registry

    demo = getattr(request.app.state, "demos", {}).get("webchat")
    if demo is None:
        return problem(404, "the web chat demo page runs only in the demo (kefu demo)")
    token = name = ""
    if not anonymous and demo.customer_no:
        token = issue_customer_token(demo.site, demo.customer_no, now=int(time.time()))
        profile = await request.app.state.bank.get_customer(demo.customer_no)
        name = mask_name(profile.name)
    return templates.TemplateResponse(
        request,
        "webchat/demo_bank.html",
        {
            "site": demo.site.name,
            "customer_token": token,
            "customer_name": name,
            "locale": lang,
            "widget_url": "/channels/webchat/static/widget.js",
            "anonymous_url": "/demo/webchat?anonymous=1" + ("&lang=en" if lang == "en" else ""),
        },
    )
