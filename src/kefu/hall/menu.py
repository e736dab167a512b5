"""An official account's custom menu, kept as data: validated against WeChat's limits, CLICK
keys mapped to assistant intents or knowledge entries, synced to WeChat in one step.

A menu is stored as WeChat's own JSON (``{"button": [...]}``) plus, on CLICK buttons, an
``action`` that WeChat never sees (stripped by :func:`wechat_payload`). One menu per account
and region: region ``""`` is the default menu (menu/create); any other region is a conditional
menu matched on the region's user tag (menu/addconditional with ``matchrule.tag_id``), because
WeChat no longer personalises menus by the follower's location.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, UniqueConstraint, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from kefu.audit.service import record
from kefu.db.base import Base, TimestampMixin, UTCDateTime, utcnow
from kefu.hall.regions import ensure_region_tag, sync_follower_tags
from kefu.hall.wechat import AccountApi, WechatRefused
from kefu.knowledge.models import KnowledgeEntry

DEFAULT_REGION = ""

# WeChat's limits (developers.weixin.qq.com, 自定义菜单/创建接口). Lengths are UTF-8 bytes.
MAX_BUTTONS = 3
MAX_SUB_BUTTONS = 5
MAX_NAME_BYTES = 16
MAX_SUB_NAME_BYTES = 60
MAX_KEY_BYTES = 128
MAX_URL_BYTES = 1024
NO_MENU = 46003  # menu/get when the account has no menu

# Button type → the field WeChat requires besides name.
KEY_TYPES = frozenset(
    {"click", "scancode_push", "scancode_waitmsg", "pic_sysphoto", "pic_photo_or_album",
     "pic_weixin", "location_select"}
)  # fmt: skip
TYPE_FIELD: dict[str, str] = {
    **{t: "key" for t in KEY_TYPES},
    "view": "url",
    "miniprogram": "url",  # the fallback page for old clients; also appid and pagepath
    "media_id": "media_id",
    "article_id": "article_id",
    "article_view_limited": "article_id",
}
BUTTON_TYPES = tuple(TYPE_FIELD)


def click_intents() -> tuple[str, ...]:
    """Intents a CLICK may start; "other" is the model's "don't know", never a menu item.
    Imported here, not at the top: the model registry imports this module, and the language
    package loads numpy."""
    from kefu.language.intents import INTENTS

    return tuple(i for i in INTENTS if i != "other")


class WechatMenu(TimestampMixin, Base):
    """The menu of one account for one region (``""``: the default menu)."""

    __tablename__ = "wechat_menus"
    __table_args__ = (UniqueConstraint("account", "region", name="uq_wechat_menus_account_region"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account: Mapped[str] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(32), default=DEFAULT_REGION)
    buttons: Mapped[dict] = mapped_column(JSON, default=dict)  # {"button": [...]} + actions
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_by: Mapped[str] = mapped_column(String(80))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    synced_version: Mapped[int | None] = mapped_column(Integer)
    synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sync_result: Mapped[str | None] = mapped_column(String(200))  # "ok" or "errcode: errmsg"
    wechat_menuid: Mapped[str | None] = mapped_column(String(32))  # conditional menus only


@dataclass(frozen=True)
class ClickAction:
    """What a CLICK key stands for: an assistant intent, or a knowledge entry to answer with."""

    intent: str | None = None
    entry_id: int | None = None
    label: str = ""  # the button's name, as the follower saw it (set by resolve_click)

    def __post_init__(self) -> None:
        if (self.intent is None) == (self.entry_id is None):
            raise ValueError("a click action is an intent or a knowledge entry, exactly one")


@dataclass(frozen=True)
class MenuError:
    field: str  # e.g. "button[1].sub_button[2].name"
    message: str


class MenuInvalid(ValueError):
    def __init__(self, errors: list[MenuError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors


def _bytes(value: str) -> int:
    return len(value.encode("utf-8"))


def parse_action(raw: Any) -> ClickAction | None:
    """The stored action of a button (``{"intent": ...}`` or ``{"entry_id": ...}``)."""
    if not isinstance(raw, dict):
        return None
    if isinstance(raw.get("intent"), str):
        return ClickAction(intent=raw["intent"])
    if isinstance(raw.get("entry_id"), int) and not isinstance(raw.get("entry_id"), bool):
        return ClickAction(entry_id=raw["entry_id"])
    return None


def _check_button(button: Any, path: str, *, sub: bool, errors: list[MenuError]) -> None:
    if not isinstance(button, dict):
        errors.append(MenuError(path, "must be an object"))
        return
    name = button.get("name")
    limit = MAX_SUB_NAME_BYTES if sub else MAX_NAME_BYTES
    if not isinstance(name, str) or not name.strip():
        errors.append(MenuError(f"{path}.name", "required"))
    elif _bytes(name) > limit:
        errors.append(
            MenuError(f"{path}.name", f"at most {limit} bytes (UTF-8), got {_bytes(name)}")
        )
    subs = button.get("sub_button")
    if not sub and subs:
        if not isinstance(subs, list):
            errors.append(MenuError(f"{path}.sub_button", "must be a list"))
            return
        if len(subs) > MAX_SUB_BUTTONS:
            errors.append(MenuError(f"{path}.sub_button", f"at most {MAX_SUB_BUTTONS} sub-buttons"))
        for j, child in enumerate(subs[:MAX_SUB_BUTTONS]):
            _check_button(child, f"{path}.sub_button[{j}]", sub=True, errors=errors)
        return
    kind = button.get("type")
    if kind not in TYPE_FIELD:
        errors.append(MenuError(f"{path}.type", f"one of {', '.join(BUTTON_TYPES)}"))
        return
    field = TYPE_FIELD[kind]
    value = button.get(field)
    if not isinstance(value, str) or not value.strip():
        errors.append(MenuError(f"{path}.{field}", f"required for type {kind}"))
    elif field == "key" and _bytes(value) > MAX_KEY_BYTES:
        errors.append(MenuError(f"{path}.key", f"at most {MAX_KEY_BYTES} bytes"))
    elif field == "url":
        if _bytes(value) > MAX_URL_BYTES:
            errors.append(MenuError(f"{path}.url", f"at most {MAX_URL_BYTES} bytes"))
        elif not value.startswith(("http://", "https://")):
            errors.append(MenuError(f"{path}.url", "must start with http:// or https://"))
    if kind == "miniprogram":
        for extra in ("appid", "pagepath"):
            if not isinstance(button.get(extra), str) or not button[extra].strip():
                errors.append(MenuError(f"{path}.{extra}", "required for type miniprogram"))
    if kind == "click":
        action = parse_action(button.get("action"))
        if action is None:
            errors.append(
                MenuError(f"{path}.action", "a CLICK must map to an intent or a knowledge entry")
            )
        elif action.intent is not None and action.intent not in click_intents():
            errors.append(MenuError(f"{path}.action", f"unknown intent {action.intent!r}"))


def validate_menu(menu: Any) -> list[MenuError]:
    """Every way ``menu`` breaks WeChat's rules or ours (unique CLICK keys, mapped actions)."""
    errors: list[MenuError] = []
    if not isinstance(menu, dict) or not isinstance(menu.get("button"), list):
        return [MenuError("button", 'a menu is {"button": [...]}')]
    buttons = menu["button"]
    if not buttons:
        errors.append(MenuError("button", "at least one button"))
    if len(buttons) > MAX_BUTTONS:
        errors.append(MenuError("button", f"at most {MAX_BUTTONS} top-level buttons"))
    for i, button in enumerate(buttons[:MAX_BUTTONS]):
        _check_button(button, f"button[{i}]", sub=False, errors=errors)
    seen: dict[str, str] = {}
    for path, button in iter_buttons(menu):
        key = button.get("key")
        if isinstance(key, str) and key:
            if key in seen:
                errors.append(MenuError(f"{path}.key", f"already used by {seen[key]}"))
            else:
                seen[key] = path
    return errors


def iter_buttons(menu: dict) -> list[tuple[str, dict]]:
    """Every leaf button with its path (top-level buttons with sub-buttons are not leaves)."""
    out: list[tuple[str, dict]] = []
    for i, button in enumerate(menu.get("button") or []):
        if not isinstance(button, dict):
            continue
        subs = button.get("sub_button")
        if isinstance(subs, list) and subs:
            out.extend(
                (f"button[{i}].sub_button[{j}]", child)
                for j, child in enumerate(subs)
                if isinstance(child, dict)
            )
        else:
            out.append((f"button[{i}]", button))
    return out


def wechat_payload(menu: dict) -> dict:
    """The menu as WeChat's API wants it: our ``action`` fields removed."""

    def clean(button: dict) -> dict:
        out = {k: v for k, v in button.items() if k != "action"}
        if button.get("sub_button"):
            out = {"name": button["name"], "sub_button": [clean(b) for b in button["sub_button"]]}
        return out

    return {"button": [clean(b) for b in menu.get("button", [])]}


async def get_menu(
    db: AsyncSession, account: str, region: str = DEFAULT_REGION
) -> WechatMenu | None:
    return await db.scalar(
        select(WechatMenu).where(WechatMenu.account == account, WechatMenu.region == region)
    )


async def list_menus(db: AsyncSession, account: str) -> list[WechatMenu]:
    rows = await db.scalars(
        select(WechatMenu).where(WechatMenu.account == account).order_by(WechatMenu.region)
    )
    return list(rows.all())


async def resolve_click(db: AsyncSession, account: str, key: str) -> ClickAction | None:
    """What the CLICK ``key`` of ``account``'s menus stands for; None for a key no menu has
    (e.g. a menu WeChat still shows after kefu's was changed: the caller answers with help)."""
    for menu in await list_menus(db, account):
        for _path, button in iter_buttons(menu.buttons or {}):
            if button.get("type") == "click" and button.get("key") == key:
                action = parse_action(button.get("action"))
                return replace(action, label=str(button.get("name") or "")) if action else None
    return None


async def missing_entries(db: AsyncSession, menu: dict) -> list[MenuError]:
    """CLICK actions naming a knowledge entry that does not exist or is not published."""
    errors = []
    for path, button in iter_buttons(menu):
        action = parse_action(button.get("action")) if button.get("type") == "click" else None
        if action is not None and action.entry_id is not None:
            entry = await db.get(KnowledgeEntry, action.entry_id)
            if entry is None or entry.published_version is None:
                errors.append(
                    MenuError(f"{path}.action", f"no published knowledge entry {action.entry_id}")
                )
    return errors


async def save_menu(
    db: AsyncSession, *, account: str, region: str, menu: dict, actor: str
) -> WechatMenu:
    """Validates and stores a menu (a new version; WeChat sees it at the next sync), audited.
    Raises MenuInvalid with every error."""
    errors = validate_menu(menu) or await missing_entries(db, menu)
    if errors:
        raise MenuInvalid(errors)
    row = await get_menu(db, account, region)
    if row is None:
        row = WechatMenu(account=account, region=region, buttons=menu, version=1,
                         updated_by=actor)  # fmt: skip
        db.add(row)
    else:
        row.buttons, row.version, row.updated_by = menu, row.version + 1, actor
        row.updated_at = utcnow()
    await db.flush()
    await record(db, actor=actor, action="wechat.menu.save",
                 target=f"wechat:{account}:menu:{region or 'default'}",
                 details={"version": row.version})  # fmt: skip
    return row


async def delete_menu(db: AsyncSession, *, account: str, region: str, actor: str) -> bool:
    """Removes a regional menu from kefu (the next sync removes it from WeChat)."""
    row = await get_menu(db, account, region)
    if row is None or region == DEFAULT_REGION:
        return False
    await db.delete(row)
    await record(db, actor=actor, action="wechat.menu.delete",
                 target=f"wechat:{account}:menu:{region}",
                 details={"wechat_menuid": row.wechat_menuid})  # fmt: skip
    return True


@dataclass(frozen=True)
class SyncOutcome:
    region: str  # a menu's region ("": default), or "conditional" / "tags"
    result: str  # "ok" or "errcode: errmsg"
    moved: int = 0  # followers whose region tag changed ("tags")

    @property
    def ok(self) -> bool:
        return self.result == "ok"


def _failure(exc: WechatRefused) -> str:
    return f"{exc.errcode}: {exc.errmsg}"[:200]


async def _clear_conditional_menus(api: AccountApi) -> None:
    """Deletes every conditional menu WeChat has for the account, kefu's earlier ones and any
    made elsewhere: regional menus are re-added from kefu's data, and WeChat allows 20."""
    try:
        current = await api.menu_get_all()
    except WechatRefused as exc:
        if exc.errcode == NO_MENU:
            return
        raise
    for menu in current.get("conditionalmenu") or []:
        await api.menu_delete_conditional(str(menu["menuid"]))


async def sync_account(
    db: AsyncSession, api: AccountApi, *, account: str, actor: str
) -> list[SyncOutcome]:
    """Sends every menu of ``account`` to WeChat: the default menu (menu/create), then each
    regional menu as a conditional menu on its region's tag (the old conditional menus are
    removed first), then the followers' region tags. Each menu records WeChat's answer."""
    menus = await list_menus(db, account)
    default = next((m for m in menus if m.region == DEFAULT_REGION), None)
    regional = [m for m in menus if m.region != DEFAULT_REGION]
    outcomes: list[SyncOutcome] = []
    if default is None:
        # WeChat refuses conditional menus without a default one (65303): say so up front.
        outcomes.append(SyncOutcome(DEFAULT_REGION, "65303: no default menu; create it first"))
    else:
        done = await _sync_one(default, api.menu_create(wechat_payload(default.buttons)))
        outcomes.append(done)
        if done.ok:
            try:
                await _clear_conditional_menus(api)
            except WechatRefused as exc:
                outcomes.append(SyncOutcome("conditional", _failure(exc)))
                regional = []
        for menu in regional:

            async def add(menu: WechatMenu = menu) -> None:
                tag_id = await ensure_region_tag(db, api, account, menu.region)
                payload = {**wechat_payload(menu.buttons), "matchrule": {"tag_id": str(tag_id)}}
                menu.wechat_menuid = await api.menu_add_conditional(payload)

            menu.wechat_menuid = None
            outcomes.append(await _sync_one(menu, add()))
        try:
            moved = await sync_follower_tags(db, api, account)
            outcomes.append(SyncOutcome("tags", "ok", moved))
        except WechatRefused as exc:
            outcomes.append(SyncOutcome("tags", _failure(exc)))
    await db.flush()
    await record(db, actor=actor, action="wechat.menu.sync", target=f"wechat:{account}",
                 details={"results": {o.region or "default": o.result for o in outcomes}})  # fmt: skip
    return outcomes


async def _sync_one(menu: WechatMenu, call: Awaitable[Any]) -> SyncOutcome:
    try:
        await call
    except WechatRefused as exc:
        menu.sync_result = _failure(exc)
    else:
        menu.sync_result = "ok"
        menu.synced_version, menu.synced_at = menu.version, utcnow()
    return SyncOutcome(menu.region, menu.sync_result)
