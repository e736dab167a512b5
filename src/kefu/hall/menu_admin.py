"""The admin editor for official accounts' custom menus: a 3 × (1 + 5) grid of buttons per
account and region, each error shown beside its field, one click to sync to WeChat; and the
same as a JSON API (``/api/v1/wechat/{account}/menus``) for scripts and deployments."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.auth.permissions import Permission
from kefu.hall import menu as menus
from kefu.hall.regions import branch_points
from kefu.hall.wechat import AccountApi, OfficialAccount, WechatRefused, account_named
from kefu.web.deps import DB_SESSION, Principal, check_csrf, csrf_token, require
from kefu.web.errors import problem
from kefu.web.i18n import gettext_ as _
from kefu.web.templating import templates

router = APIRouter()
UI = "/admin/wechat"

FIELDS = ("name", "type", "value", "action", "appid", "pagepath")


def N_(msgid: str) -> str:
    """Marks a msgid for the catalogue (Babel's default keyword), translated where shown."""
    return msgid


# WeChat's button types as the editor names them (msgids; the code stays the option's value).
TYPE_WORDS = {
    "click": N_("Click (kefu answers)"),
    "view": N_("Open a web page"),
    "miniprogram": N_("Open a mini program"),
    "media_id": N_("Send a media item"),
    "article_id": N_("Send an article"),
    "article_view_limited": N_("Open an article"),
    "scancode_push": N_("Scan a code"),
    "scancode_waitmsg": N_("Scan a code and wait"),
    "pic_sysphoto": N_("Take a photo"),
    "pic_photo_or_album": N_("Photo or album"),
    "pic_weixin": N_("WeChat album"),
    "location_select": N_("Send a location"),
}
_PATH = re.compile(r"^button\[(\d+)\](?:\.sub_button\[(\d+)\])?(?:\.(\w+))?$")


def _account(request: Request, name: str) -> OfficialAccount:
    account = account_named(request.app.state.settings, name)
    if account is None:
        raise HTTPException(404, f"no WeChat official account {name!r}")
    return account


def _api(request: Request, account: OfficialAccount) -> AccountApi:
    """The WeChat channel's client for ``account`` (its access token is cached)."""
    api = request.app.state.hall.wechat_api(account.name)
    if api is None:
        raise HTTPException(503, "the WeChat channel is not running in this process")
    return api


def slot(i: int, j: int | None = None) -> str:
    """The form prefix of top-level button ``i`` or its sub-button ``j``."""
    return f"b{i}" if j is None else f"b{i}s{j}"


def _action_text(raw: Any) -> str:
    action = menus.parse_action(raw)
    if action is None:
        return ""
    return f"intent:{action.intent}" if action.intent else f"kb:{action.entry_id}"


def _parse_action(text: str) -> dict | str:
    """``intent:bill.query`` or ``kb:12`` → the stored action; anything else is kept as text
    so validation reports it."""
    text = text.strip()
    if text.startswith("intent:"):
        return {"intent": text[len("intent:") :]}
    if re.fullmatch(r"kb:\d{1,9}", text):
        return {"entry_id": int(text[3:])}
    return text


def _button(form: dict[str, str], prefix: str, *, top: bool) -> dict | None:
    values = {f: (form.get(f"{prefix}.{f}") or "").strip() for f in FIELDS}
    if not any(values.values()):
        return None
    button: dict[str, Any] = {"name": values["name"]}
    kind = values["type"]
    if kind:
        button["type"] = kind
        field = menus.TYPE_FIELD.get(kind, "key")
        button[field] = values["value"]
        if kind == "click":
            button["action"] = _parse_action(values["action"])
        if kind == "miniprogram":
            button["appid"], button["pagepath"] = values["appid"], values["pagepath"]
    elif not top:
        button["type"] = ""  # reported: a sub-button needs a type
    return button


def menu_from_form(form: dict[str, str]) -> tuple[dict, dict[str, str]]:
    """The menu typed into the grid (empty slots skipped), and where each menu path came
    from in the grid, so errors land beside the field that caused them."""
    buttons: list[dict] = []
    origin: dict[str, str] = {}
    for i in range(menus.MAX_BUTTONS):
        top = _button(form, slot(i), top=True)
        subs = []
        for j in range(menus.MAX_SUB_BUTTONS):
            sub = _button(form, slot(i, j), top=False)
            if sub is not None:
                origin[f"button[{len(buttons)}].sub_button[{len(subs)}]"] = slot(i, j)
                subs.append(sub)
        if top is None and not subs:
            continue
        top = top or {"name": ""}
        if subs:
            top = {"name": top["name"], "sub_button": subs}
        origin[f"button[{len(buttons)}]"] = slot(i)
        buttons.append(top)
    return {"button": buttons}, origin


def form_errors(errors: list[menus.MenuError], origin: dict[str, str]) -> dict[str, str]:
    """Menu paths → grid fields (``b1s2.value``); errors about the whole menu under ``menu``."""
    out: dict[str, str] = {}
    for error in errors:
        m = _PATH.match(error.field)
        if not m:
            out.setdefault("menu", error.message)
            continue
        i, j, attr = m.groups()
        base = f"button[{i}]" + (f".sub_button[{j}]" if j is not None else "")
        prefix = origin.get(base, "menu")
        field = {"key": "value", "url": "value", "media_id": "value", "article_id": "value",
                 "sub_button": "name", None: "name"}.get(attr, attr)  # fmt: skip
        out.setdefault(f"{prefix}.{field}" if prefix != "menu" else "menu", error.message)
    return out


def form_from_menu(menu: dict) -> dict[str, str]:
    form: dict[str, str] = {}

    def put(prefix: str, button: dict) -> None:
        form[f"{prefix}.name"] = button.get("name", "")
        if button.get("sub_button"):
            return
        kind = button.get("type", "")
        form[f"{prefix}.type"] = kind
        form[f"{prefix}.value"] = button.get(menus.TYPE_FIELD.get(kind, "key"), "") or ""
        form[f"{prefix}.action"] = _action_text(button.get("action"))
        form[f"{prefix}.appid"] = button.get("appid", "")
        form[f"{prefix}.pagepath"] = button.get("pagepath", "")

    for i, button in enumerate((menu or {}).get("button", [])[: menus.MAX_BUTTONS]):
        put(slot(i), button)
        for j, sub in enumerate((button.get("sub_button") or [])[: menus.MAX_SUB_BUTTONS]):
            put(slot(i, j), sub)
    return form


async def _regions(request: Request) -> list[str]:
    return [p.city for p in await branch_points(request.app.state.bank)]


@router.get(UI + "/menus", include_in_schema=False)
async def accounts_page(
    request: Request, _: Principal = Depends(require(Permission.WECHAT_MENUS))
) -> Response:
    accounts = request.app.state.settings.wechat_accounts
    if not accounts:
        raise HTTPException(404, "no WeChat official account is configured (wechat_accounts)")
    return RedirectResponse(f"/admin/wechat/{accounts[0].name}/menu", status_code=303)


async def _editor(request: Request, db: AsyncSession, acct: OfficialAccount, region: str,
                  principal: Principal, *, form: dict[str, str] | None = None,
                  errors: dict[str, str] | None = None, status: int = 200,
                  synced: list[menus.SyncOutcome] | None = None) -> Response:  # fmt: skip
    row = await menus.get_menu(db, acct.name, region)
    from_wechat = None
    if form is None and row is None and region == menus.DEFAULT_REGION:
        from_wechat = await _wechat_menu(request, acct)
    if form is None:
        form = form_from_menu(row.buttons if row else from_wechat or {})
        form["version"] = str(row.version if row else 0)  # what this page shows (see _stale)
    return templates.TemplateResponse(
        request,
        "hall/admin/menu.html",
        {
            "principal": principal,
            "csrf": csrf_token(request),
            "account": acct,
            "accounts": request.app.state.settings.wechat_accounts,
            "region": region,
            "regions": await _regions(request),
            "menus": await menus.list_menus(db, acct.name),
            "row": row,
            "form": form,
            "from_wechat": from_wechat is not None,
            "errors": errors or {},
            "types": menus.BUTTON_TYPES,
            "type_words": TYPE_WORDS,
            "intents": menus.click_intents(),
            "max_buttons": menus.MAX_BUTTONS,
            "max_subs": menus.MAX_SUB_BUTTONS,
            "slot": slot,
            "synced": synced,
        },
        status_code=status,
    )


async def _wechat_menu(request: Request, acct: OfficialAccount) -> dict | None:
    """The default menu WeChat shows the account's followers now, when kefu has none saved
    (a menu made in WeChat's own console, or before kefu): the editor opens on it instead of
    an empty grid an admin could save over it. None when WeChat has none or cannot be asked."""
    api = request.app.state.hall.wechat_api(acct.name)
    if api is None:
        return None
    try:
        current = await api.menu_get_all()
    except WechatRefused:
        return None  # no menu (46003) or WeChat unreachable (-1): the page says there is none
    menu = current.get("menu")
    return menu if isinstance(menu, dict) and menu.get("button") else None


def _leaves(menu: dict) -> list[str]:
    return [str(button.get("name") or "") for _path, button in menus.iter_buttons(menu)]


def _save_refusal(
    form: dict[str, str], menu: dict, current: menus.WechatMenu | None
) -> tuple[int, str, dict[str, str]] | None:
    """Why this save would lose what followers see, or None. The form carries the version the
    editor showed: a save over a version the admin never saw (an empty grid over a saved menu,
    or another admin's newer one) is refused; so is an empty menu, and removing menu items
    needs the box that confirms it. The typed grid is shown again either way: nothing lost."""
    shown = form.get("version", "")
    if not menu["button"]:
        return 422, _("The menu is empty: fill in at least one button. An empty menu would "
                      "take the menu away from followers; a regional menu is removed with "
                      "its own Delete button."), {}  # fmt: skip
    if current is None:
        return None
    if shown != str(current.version):
        form["version"] = str(current.version)  # saving again now is a decision, not a slip
        return 409, _("This menu was saved as version %(v)s by %(who)s after this page was "
                      "opened. Your grid is kept below; open the menu in a new tab to compare, "
                      "then save again to replace it.") % {"v": current.version,
                                                            "who": current.updated_by}, {}  # fmt: skip
    gone = [name for name in _leaves(current.buttons or {}) if name not in _leaves(menu)]
    if gone and form.get("confirm_remove") != "yes":
        return 422, _("Saving removes these menu items: %(items)s. Tick “Remove them” and "
                      "save again if that is what you want.") % {"items": "、".join(gone)}, {
            "confirm_remove": "、".join(gone)}  # fmt: skip
    return None


def _region(request: Request, region: str, known: list[str]) -> str:
    if region and region not in known:
        raise HTTPException(422, "region: one of the branch cities, or empty for the default menu")
    return region


@router.get(UI + "/{account}/menu", include_in_schema=False)
async def menu_page(
    request: Request,
    account: str,
    region: str = Query("", max_length=32),
    principal: Principal = Depends(require(Permission.WECHAT_MENUS)),
    db: AsyncSession = DB_SESSION,
) -> Response:
    acct = _account(request, account)
    region = _region(request, region, await _regions(request))
    return await _editor(request, db, acct, region, principal)


@router.post(UI + "/{account}/menu", include_in_schema=False)
async def menu_save(
    request: Request,
    account: str,
    principal: Principal = Depends(require(Permission.WECHAT_MENUS)),
    db: AsyncSession = DB_SESSION,
) -> Response:
    acct = _account(request, account)
    raw = await request.form()
    form = {k: v for k, v in raw.items() if isinstance(v, str) and len(v) <= 2048}
    check_csrf(request, form.get("csrf"))
    region = _region(request, form.get("region", ""), await _regions(request))
    menu, origin = menu_from_form(form)
    refused = _save_refusal(form, menu, await menus.get_menu(db, acct.name, region))
    if refused is not None:
        status, message, extra = refused
        return await _editor(request, db, acct, region, principal, form=form, status=status,
                             errors={"menu": message, **extra})  # fmt: skip
    try:
        await menus.save_menu(db, account=acct.name, region=region, menu=menu,
                              actor=principal.name)  # fmt: skip
    except menus.MenuInvalid as invalid:
        return await _editor(request, db, acct, region, principal, form=form, status=422,
                             errors=form_errors(invalid.errors, origin))  # fmt: skip
    return RedirectResponse(f"/admin/wechat/{acct.name}/menu?region={region}", status_code=303)


@router.post(UI + "/{account}/menu/delete", include_in_schema=False)
async def menu_delete(
    request: Request,
    account: str,
    region: str = Form(..., min_length=1, max_length=32),
    csrf: str = Form(""),
    principal: Principal = Depends(require(Permission.WECHAT_MENUS)),
    db: AsyncSession = DB_SESSION,
) -> Response:
    check_csrf(request, csrf)
    acct = _account(request, account)
    await menus.delete_menu(db, account=acct.name, region=region, actor=principal.name)
    return RedirectResponse(f"/admin/wechat/{acct.name}/menu", status_code=303)


@router.post(UI + "/{account}/menu/sync", include_in_schema=False)
async def menu_sync(
    request: Request,
    account: str,
    region: str = Form("", max_length=32),
    csrf: str = Form(""),
    principal: Principal = Depends(require(Permission.WECHAT_MENUS)),
    db: AsyncSession = DB_SESSION,
) -> Response:
    """Every menu of the account to WeChat; the page shows WeChat's answer for each."""
    check_csrf(request, csrf)
    acct = _account(request, account)
    # Commit what this request wrote (an API key's last use) first: the API client may store a
    # fresh access token in a transaction of its own, which SQLite would make wait behind ours.
    await db.commit()
    api = _api(request, acct)
    outcomes = await menus.sync_account(db, api, account=acct.name, actor=principal.name)
    region = region if region in await _regions(request) else ""
    return await _editor(request, db, acct, region, principal, synced=outcomes,
                         status=200 if all(o.ok for o in outcomes) else 502)  # fmt: skip


# --- the JSON API ----------------------------------------------------------------------

API = "/api/v1/wechat/{account}/menus"


class MenuOut(BaseModel):
    region: str = Field(description='"default", or a branch city for a conditional menu.')
    version: int
    menu: dict = Field(description='WeChat\'s menu JSON; CLICK buttons carry "action".')
    synced_version: int | None
    sync_result: str | None


class SyncResult(BaseModel):
    region: str
    result: str = Field(description='"ok" or WeChat\'s "errcode: errmsg".')


def _api_region(region: str, known: list[str]) -> str:
    if region == "default":
        return menus.DEFAULT_REGION
    if region not in known:
        raise HTTPException(422, 'region: "default" or one of the branch cities')
    return region


def _out(row: menus.WechatMenu) -> MenuOut:
    return MenuOut(region=row.region or "default", version=row.version, menu=row.buttons,
                   synced_version=row.synced_version, sync_result=row.sync_result)  # fmt: skip


@router.get(API, tags=["wechat"], summary="An official account's menus")
async def api_list(
    request: Request,
    account: str,
    _: Principal = Depends(require(Permission.WECHAT_MENUS)),
    db: AsyncSession = DB_SESSION,
) -> list[MenuOut]:
    acct = _account(request, account)
    return [_out(row) for row in await menus.list_menus(db, acct.name)]


@router.put(API + "/{region}", tags=["wechat"], summary="Replace one menu (validated)")
async def api_put(
    request: Request,
    account: str,
    region: str,
    principal: Principal = Depends(require(Permission.WECHAT_MENUS)),
    db: AsyncSession = DB_SESSION,
) -> Response:
    """The body is WeChat's menu JSON (``{"button": [...]}``) with an ``action`` on each CLICK
    (``{"intent": "bill.query"}`` or ``{"entry_id": 12}``). Every broken rule is listed in
    ``errors`` of the 422 problem, each with the JSON path of its field."""
    acct = _account(request, account)
    region = _api_region(region, await _regions(request))
    try:
        body = await request.json()
    except ValueError:
        return problem(422, "body: not JSON")
    try:
        row = await menus.save_menu(db, account=acct.name, region=region, menu=body,
                                    actor=principal.name)  # fmt: skip
    except menus.MenuInvalid as invalid:
        first = invalid.errors[0]
        return problem(422, f"{first.field}: {first.message}",
                       errors=[{"field": e.field, "message": e.message} for e in invalid.errors])  # fmt: skip
    return JSONResponse(_out(row).model_dump())


@router.post(API + "/sync", tags=["wechat"], summary="Send every menu of the account to WeChat")
async def api_sync(
    request: Request,
    account: str,
    principal: Principal = Depends(require(Permission.WECHAT_MENUS)),
    db: AsyncSession = DB_SESSION,
) -> Response:
    acct = _account(request, account)
    # Commit what this request wrote (an API key's last use) first: the API client may store a
    # fresh access token in a transaction of its own, which SQLite would make wait behind ours.
    await db.commit()
    api = _api(request, acct)
    outcomes = await menus.sync_account(db, api, account=acct.name, actor=principal.name)
    body = [SyncResult(region=o.region or "default", result=o.result).model_dump()
            for o in outcomes]  # fmt: skip
    return JSONResponse(body, status_code=200 if all(o.ok for o in outcomes) else 502)
