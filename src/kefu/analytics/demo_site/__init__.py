"""The demo bank's web site at ``/demo/bank/`` (home, login, accounts, a three-step transfer,
card application and activation, wealth, help), instrumented with the tracker, so the demo
shows real events arriving. Public and stateless: nothing typed is kept (the forms post to
the next step and the values are dropped).

The card application page asks ``/demo/bank/api/card-apply/rates``, which answers 500 to
Chrome 122 — the demo's page that breaks on one browser version, for the failure analysis to
find from real events too.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

router = APIRouter()

# path under /demo/bank → (template, title)
PAGES = {
    "": ("home", "首页"),
    "login": ("login", "登录"),
    "accounts": ("accounts", "我的账户"),
    "transfer": ("transfer", "转账 · 填写收款人"),
    "transfer/confirm": ("transfer_confirm", "转账 · 确认"),
    "transfer/verify": ("transfer_verify", "转账 · 短信验证"),
    "transfer/done": ("done", "转账成功"),
    "cards/apply": ("card_apply", "信用卡申请"),
    "cards/apply/done": ("done", "申请已提交"),
    "cards/activate": ("card_activate", "卡片激活"),
    "cards/activate/done": ("done", "卡片已激活"),
    "wealth": ("wealth", "理财产品"),
    "help": ("help", "帮助中心"),
}
SIGNED_IN = {"accounts", "transfer", "transfer/confirm", "transfer/verify", "transfer/done",
             "cards/activate", "cards/activate/done"}  # fmt: skip
DEMO_CUSTOMER = "6200000001"
_BROKEN_UA = re.compile(r"Chrome/122\.")


@router.get("/demo/bank", include_in_schema=False)
async def demo_bank_root() -> Response:
    return RedirectResponse("/demo/bank/", status_code=307)


@router.api_route("/demo/bank/{page:path}", methods=["GET", "POST"], include_in_schema=False)
async def demo_bank(page: str, request: Request) -> Response:
    from kefu.web.templating import templates

    if page == "api/card-apply/rates":
        if _BROKEN_UA.search(request.headers.get("user-agent", "")):
            return JSONResponse({"error": "rate service unavailable"}, status_code=500)
        return JSONResponse({"rate": "0.05%", "annual_fee": 0})
    key = page.strip("/")
    if key not in PAGES:
        raise HTTPException(404, "no such page on the demo bank site")
    template, title = PAGES[key]
    return templates.TemplateResponse(
        request,
        f"demo_bank/{template}.html",
        {"title": title, "page": key,
         "customer": DEMO_CUSTOMER if key in SIGNED_IN else ""},
    )  # fmt: skip
