"""The H5 pages under ``/h5/{account}/``: every page but the article needs the follower (OAuth2
snsapi_base → session cookie); personal pages also need a bound card."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.bank.models import Branch, Card
from kefu.bank.port import BankError, BankPort, NotFound
from kefu.db.base import utcnow
from kefu.db.engine import session_scope
from kefu.hall import binding, regions
from kefu.hall.h5 import auth
from kefu.hall.h5.branchmap import branch_map
from kefu.hall.h5.signing import BadSignature, sign, unsign
from kefu.hall.wechat import OfficialAccount, WechatRefused, account_named
from kefu.knowledge import richtext
from kefu.knowledge.models import KnowledgeEntry, KnowledgeVersion
from kefu.knowledge.service import get_version
from kefu.logs import get_logger
from kefu.web.i18n import N_
from kefu.web.i18n import gettext_ as _
from kefu.web.templating import templates

router = APIRouter(prefix="/h5/{account}", include_in_schema=False)
log = get_logger(__name__)

PROMOTION_CATEGORY = "优惠活动"
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
PENDING_TTL = 10 * 60

BANK_DOWN = N_("The bank's systems are not answering; please try again later.")
PAGE_EXPIRED = N_("This page has expired; open it again from the account's menu.")
PENDING_INVALID = N_("Enter the card number again to get a new code.")
FORM_EXPIRED = N_("The form has expired; reload the page and try again.")

# Why binding.start/confirm refused, worded for the follower: (field, reason) → message.
REFUSALS = {
    ("card_no", "format"): N_("Enter a card number of 16 to 19 digits."),
    ("card_no", "unknown_card"): N_("No card has this number; please check it."),
    ("card_no", "card_inactive"): N_("This card is reported lost or frozen and cannot be bound."),
    ("mobile", "format"): N_("Enter an 11-digit mobile number."),
    ("mobile", "mobile_mismatch"): N_(
        "This mobile number is not the one registered with the bank for this card."
    ),
    ("mobile", "sms_unavailable"): N_("Text messages cannot be sent now; please try later."),
    ("mobile", "rate_limited"): N_(
        "Too many codes were sent to this number; try again in an hour."
    ),
    ("code", "format"): N_("Enter the 6-digit code."),
    ("code", "wrong_code"): N_("The code is wrong; please enter it again."),
    ("code", "locked"): N_("Too many wrong codes: this code no longer works. Get a new one."),
    ("code", "expired"): N_("The code has expired. Get a new one."),
    ("code", "no_code"): N_("Get a code first."),
}


def _refusal(refused: binding.BindingRefused) -> str:
    return _(REFUSALS[(refused.field, refused.reason)])


def _account(request: Request, name: str) -> OfficialAccount:
    account = account_named(request.app.state.settings, name)
    if account is None:
        raise HTTPException(404, f"no WeChat official account {name!r}")
    return account


def _bank(request: Request) -> BankPort:
    return request.app.state.bank


def _page(request: Request, template: str, account: OfficialAccount, status: int = 200,
          **context: Any) -> Response:  # fmt: skip
    return templates.TemplateResponse(
        request,
        f"hall/h5/{template}",
        {"account": account, "title": account.display_name or account.name, **context},
        status_code=status,
    )


def _problem(request: Request, account: OfficialAccount, status: int, message: str) -> Response:
    return _page(request, "message.html", account, status=status, message=message)


async def _bank_call(request: Request, account: OfficialAccount, call):  # type: ignore[no-untyped-def]
    try:
        return await call
    except BankError:
        return _problem(request, account, 502, _(BANK_DOWN))


@router.get("/oauth", name="h5_oauth")
async def oauth_return(
    request: Request,
    account: str,
    code: str = Query("", max_length=128),
    state: str = Query("", max_length=128),
) -> Response:
    acct = _account(request, account)
    target = auth.returning_to(request, acct.name, state)
    if target is None:
        return _problem(request, acct, 400, _(PAGE_EXPIRED))
    if not code:
        return _problem(
            request,
            acct,
            400,
            _("WeChat did not authorise this page; open it again from the account's menu."),
        )
    try:
        openid = await auth.exchange_code(request.app.state.settings, acct, code)
    except auth.OAuthFailed as exc:
        message = _(
            "The authorisation is no longer valid; open the page again from the account's menu."
        )
        return _problem(request, acct, 400 if exc.errcode > 0 else 502,
                        f"{message} ({exc.errcode})")  # fmt: skip
    response = RedirectResponse(target, status_code=303)
    auth.set_session(response, request, acct.name, openid)
    response.delete_cookie(auth.OAUTH_COOKIE, path=auth.cookie_path(acct.name))
    return response


def _follower(request: Request, acct: OfficialAccount) -> str | Response:
    openid = auth.session_openid(request, acct.name)
    if openid is not None:
        return openid
    if request.method != "GET":
        return _problem(request, acct, 401, _(PAGE_EXPIRED))
    return auth.login_redirect(request, acct)


def _reader(
    request: Request, account: str, csrf: str | None = None
) -> tuple[OfficialAccount, str] | Response:
    """The account and the follower reading (or where to send them to find out); for a form,
    also its CSRF token checked."""
    acct = _account(request, account)
    openid = _follower(request, acct)
    if isinstance(openid, Response):
        return openid
    if csrf is not None and not auth.check_form_token(request, acct.name, csrf):
        return _problem(request, acct, 400, _(FORM_EXPIRED))
    return acct, openid


@router.get("/")
async def index(request: Request, account: str) -> Response:
    who = _reader(request, account)
    if isinstance(who, Response):
        return who
    acct, openid = who
    async with session_scope(request.app.state.sessionmaker) as db:
        region = await regions.region_of(db, acct.name, openid)
        customer = await binding.bound_customer(db, openid)
        promotions = await _promotions(db, region)
    return _page(request, "index.html", acct, region=region, bound=customer is not None,
                 promotions=promotions)  # fmt: skip


async def _promotions(db: AsyncSession, region: str | None) -> list[KnowledgeEntry]:
    """Published promotions for the region: entries of the promotions category whose version
    names no regions (everywhere) or names this one (the knowledge base's region variants),
    within their publishing window."""
    now = utcnow()
    rows = await db.execute(
        select(KnowledgeEntry, KnowledgeVersion)
        .join(KnowledgeVersion, (KnowledgeVersion.entry_id == KnowledgeEntry.id)
              & (KnowledgeVersion.number == KnowledgeEntry.published_version))
        .where(KnowledgeEntry.category == PROMOTION_CATEGORY)
        .order_by(KnowledgeEntry.id.desc())
    )  # fmt: skip
    return [
        entry
        for entry, version in rows.all()
        if (not version.regions or (region is not None and region in version.regions))
        and (version.effective_from is None or version.effective_from <= now)
        and (version.expires_at is None or version.expires_at > now)
    ]


async def _customer_no(request: Request, openid: str) -> str | None:
    async with session_scope(request.app.state.sessionmaker) as db:
        customer = await binding.bound_customer(db, openid)
        return customer.bank_customer_no if customer is not None else None


def _need_binding(request: Request, acct: OfficialAccount) -> Response:
    return _page(request, "unbound.html", acct, status=403)


@router.get("/bill")
async def bill(
    request: Request,
    account: str,
    month: str = Query("", max_length=7),
    card: str = Query("", max_length=4),
) -> Response:
    acct = _account(request, account)
    if month and not _MONTH.match(month):
        return _problem(request, acct, 422, _("month: use a month as YYYY-MM, e.g. 2026-03."))
    if card and not re.fullmatch(r"\d{4}", card):
        return _problem(request, acct, 422, _("card: use the last 4 digits of the card number."))
    openid = _follower(request, acct)
    if isinstance(openid, Response):
        return openid
    customer_no = await _customer_no(request, openid)
    if customer_no is None:
        return _need_binding(request, acct)
    bank = _bank(request)
    cards = await _bank_call(request, acct, bank.list_cards(customer_no))
    if isinstance(cards, Response):
        return cards
    credit = [c for c in cards if c.kind == "credit"]
    if not credit:
        return _page(request, "bill.html", acct, cards=[], chosen=None, periods=[], bill=None,
                     month=month)  # fmt: skip
    chosen: Card = next((c for c in credit if c.card_no.endswith(card)), credit[0])
    periods = await _bank_call(request, acct, bank.list_bill_periods(chosen.card_no))
    if isinstance(periods, Response):
        return periods
    month = month or (periods[0] if periods else "")
    statement = None
    if month in periods:
        try:
            statement = await bank.get_bill(chosen.card_no, month)
        except NotFound:
            statement = None
        except BankError:
            return _problem(request, acct, 502, _(BANK_DOWN))
    index = periods.index(month) if month in periods else -1
    return _page(
        request, "bill.html", acct, cards=credit, chosen=chosen, periods=periods, bill=statement,
        month=month,
        older=periods[index + 1] if 0 <= index < len(periods) - 1 else None,
        newer=periods[index - 1] if index > 0 else None,
    )  # fmt: skip


@router.get("/cards")
async def cards(request: Request, account: str) -> Response:
    who = _reader(request, account)
    if isinstance(who, Response):
        return who
    acct, openid = who
    customer_no = await _customer_no(request, openid)
    if customer_no is None:
        return _need_binding(request, acct)
    bank = _bank(request)
    try:
        card_list = await bank.list_cards(customer_no)
        balances = {a.account_no: a.balance for a in await bank.list_accounts(customer_no)}
    except BankError:
        return _problem(request, acct, 502, _(BANK_DOWN))
    return _page(request, "cards.html", acct, cards=card_list, balances=balances)


@router.get("/branches")
async def branches(
    request: Request, account: str, city: str = Query("", max_length=16)
) -> Response:
    who = _reader(request, account)
    if isinstance(who, Response):
        return who
    acct, openid = who
    async with session_scope(request.app.state.sessionmaker) as db:
        region = await regions.region_of(db, acct.name, openid)
    all_branches = await _bank_call(request, acct, _bank(request).list_branches())
    if isinstance(all_branches, Response):
        return all_branches
    cities = sorted({b.city for b in all_branches})
    if city and city not in cities:
        return _problem(request, acct, 422, _("city: there is no branch in that city."))
    city = city or (region if region in cities else "")
    shown: list[Branch] = [b for b in all_branches if not city or b.city == city]
    return _page(request, "branches.html", acct, city=city, cities=cities, branches=shown,
                 region=region, map=branch_map(all_branches, highlight=city))  # fmt: skip


@router.get("/region")
async def region_page(request: Request, account: str) -> Response:
    who = _reader(request, account)
    if isinstance(who, Response):
        return who
    acct, openid = who
    return await _region_form(request, acct, openid)


async def _region_form(request: Request, acct: OfficialAccount, openid: str,
                       error: str | None = None, status: int = 200) -> Response:  # fmt: skip
    async with session_scope(request.app.state.sessionmaker) as db:
        region = await regions.region_of(db, acct.name, openid)
        source = await regions.source_of(db, acct.name, openid)
    cities = [p.city for p in await regions.branch_points(_bank(request))]
    return _page(request, "region.html", acct, region=region, source=source, cities=cities,
                 error=error, csrf=auth.form_token(request, acct.name), status=status)  # fmt: skip


@router.post("/region")
async def region_set(
    request: Request,
    account: str,
    region: str = Form("", max_length=32),
    csrf: str = Form("", max_length=512),
) -> Response:
    who = _reader(request, account, csrf)
    if isinstance(who, Response):
        return who
    acct, openid = who
    cities = [p.city for p in await regions.branch_points(_bank(request))]
    if region not in cities:
        return await _region_form(
            request, acct, openid, _("region: choose a city from the list."), 422
        )
    async with session_scope(request.app.state.sessionmaker) as db:
        await regions.set_region(db, acct.name, openid, region, "user")
    await _retag(request, acct, openid)
    return RedirectResponse(f"/h5/{acct.name}/region", status_code=303)


async def _retag(request: Request, acct: OfficialAccount, openid: str) -> None:
    """Moves the follower to their new region's tag now, so WeChat shows that region's menu
    at once; best effort (the next menu sync catches up). No call when no region has a menu."""
    api = request.app.state.hall.wechat_api(acct.name)
    if api is None:  # the WeChat channel is not running in this process
        return
    try:
        async with session_scope(request.app.state.sessionmaker) as db:
            await regions.sync_follower_tags(db, api, acct.name, [openid])
    except WechatRefused as exc:
        log.warning("wechat_retag_failed", account=acct.name, errcode=exc.errcode)


# --- binding ---------------------------------------------------------------------------


async def _bind_page(request: Request, acct: OfficialAccount, openid: str, *, status: int = 200,
                     **context: Any) -> Response:  # fmt: skip
    bound_cards: list[Card] = []
    customer_no = await _customer_no(request, openid)
    if customer_no is not None:
        try:
            bound_cards = await _bank(request).list_cards(customer_no)
        except BankError:
            bound_cards = []
    return _page(request, "bind.html", acct, bound=customer_no is not None, cards=bound_cards,
                 csrf=auth.form_token(request, acct.name), status=status, **context)  # fmt: skip


async def _refused(request: Request, acct: OfficialAccount, openid: str, field: str, reason: str,
                   message: str, **context: Any) -> Response:  # fmt: skip
    """The binding form again, with the refusal under ``field`` (``data-reason`` for tests)."""
    return await _bind_page(request, acct, openid, status=422, errors={field: message},
                            reasons={field: reason}, **context)  # fmt: skip


@router.get("/bind")
async def bind_page(request: Request, account: str) -> Response:
    who = _reader(request, account)
    if isinstance(who, Response):
        return who
    acct, openid = who
    return await _bind_page(request, acct, openid)


@router.post("/bind")
async def bind_start(
    request: Request,
    account: str,
    card_no: str = Form("", max_length=32),
    mobile: str = Form("", max_length=16),
    csrf: str = Form("", max_length=512),
) -> Response:
    who = _reader(request, account, csrf)
    if isinstance(who, Response):
        return who
    acct, openid = who
    try:
        async with session_scope(request.app.state.sessionmaker) as db:
            pending = await binding.start(
                db, _bank(request), sms=getattr(request.app.state, "sms", None),
                account=acct.name, openid=openid, card_no=card_no, mobile=mobile,
            )  # fmt: skip
    except binding.BindingRefused as no:
        return await _refused(request, acct, openid, no.field, no.reason, _refusal(no),
                              card_no=card_no, mobile=mobile)  # fmt: skip
    except BankError:
        return _problem(request, acct, 502, _(BANK_DOWN))
    token = sign(request.app.state.settings.session_secret, "h5-bind",
                 [acct.name, openid, pending.mobile, pending.card_tail], ttl=PENDING_TTL)  # fmt: skip
    return await _bind_page(request, acct, openid, pending=token, card_tail=pending.card_tail,
                            mobile=pending.mobile)  # fmt: skip


@router.post("/bind/confirm")
async def bind_confirm(
    request: Request,
    account: str,
    code: str = Form("", max_length=12),
    pending: str = Form("", max_length=512),
    csrf: str = Form("", max_length=512),
) -> Response:
    who = _reader(request, account, csrf)
    if isinstance(who, Response):
        return who
    acct, openid = who
    try:
        fields = unsign(request.app.state.settings.session_secret, "h5-bind", pending)
    except (BadSignature, ValueError):
        fields = []
    if fields[:2] != [acct.name, openid] or len(fields) != 4:
        # Expired, forged, or another follower's pending binding.
        return await _refused(request, acct, openid, "card_no", "pending_invalid",
                              _(PENDING_INVALID))  # fmt: skip
    mobile, card_tail = fields[2], fields[3]
    refusal: binding.BindingRefused | None = None
    try:
        async with session_scope(request.app.state.sessionmaker) as db:
            try:
                await binding.confirm(db, _bank(request), account=acct.name, openid=openid,
                                      mobile=mobile, code=code)  # fmt: skip
            except binding.BindingRefused as no:
                refusal = no  # caught inside: the wrong try is counted (committed), not undone
    except BankError:
        return _problem(request, acct, 502, _(BANK_DOWN))
    if refusal is None:
        await _retag(request, acct, openid)  # binding moved the region to the card's branch
    if (no := refusal) is not None:
        if no.reason in {"wrong_code", "format"}:
            # The same code may be tried again (until five wrong tries lock it).
            return await _refused(request, acct, openid, "code", no.reason, _refusal(no),
                                  pending=pending, card_tail=card_tail, mobile=mobile)  # fmt: skip
        return await _refused(request, acct, openid, "card_no", no.reason, _refusal(no))
    return RedirectResponse(f"/h5/{acct.name}/bind?done=1", status_code=303)


@router.post("/unbind")
async def unbind(request: Request, account: str, csrf: str = Form("", max_length=512)) -> Response:
    who = _reader(request, account, csrf)
    if isinstance(who, Response):
        return who
    acct, openid = who
    async with session_scope(request.app.state.sessionmaker) as db:
        await binding.unbind(db, account=acct.name, openid=openid)
    return RedirectResponse(f"/h5/{acct.name}/bind", status_code=303)


# --- knowledge -------------------------------------------------------------------------


@router.get("/article/{entry_id}")
async def article(request: Request, account: str, entry_id: int) -> Response:
    """Public, like the knowledge base it shows: no follower needed, so a forwarded article
    opens for anyone."""
    acct = _account(request, account)
    async with session_scope(request.app.state.sessionmaker) as db:
        entry = await db.get(KnowledgeEntry, entry_id)
        if entry is None or entry.published_version is None:
            return _problem(
                request, acct, 404, _("This article does not exist or has been withdrawn.")
            )
        version = await get_version(db, entry_id=entry_id, number=entry.published_version)
        now = utcnow()
        if (version.expires_at is not None and version.expires_at <= now) or (
            version.effective_from is not None and version.effective_from > now
        ):
            return _problem(
                request, acct, 404, _("This article does not exist or has been withdrawn.")
            )
        region = None
        openid = auth.session_openid(request, acct.name)
        if openid is not None:
            region = await regions.region_of(db, acct.name, openid)
    body = version.body if entry.kind == "article" else (version.answer_wechat
                                                          or version.answer_agent)  # fmt: skip
    return _page(request, "article.html", acct, entry=entry, version=version,
                 body=richtext.sanitize(body or version.answer_sms), region=region,
                 other_region=bool(version.regions) and region not in version.regions)  # fmt: skip


@router.get("")
async def index_without_slash(request: Request, account: str) -> Response:
    acct = _account(request, account)
    return RedirectResponse(f"/h5/{acct.name}/", status_code=307)
