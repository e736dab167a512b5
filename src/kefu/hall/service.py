"""The business hall as the rest of kefu sees it: one object the app builds (``kefu.runtime``)
and hands to the WeChat channel (what a menu's CLICK key stands for, where a LOCATION event
places the follower, the demo account's first menu) and to the hall's own pages (WeChat's
API for an account)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from kefu.bank.port import BankPort
from kefu.hall import menu, regions
from kefu.hall.wechat import AccountApi
from kefu.knowledge import answering as knowledge


def _no_wechat(_account: str) -> AccountApi | None:
    return None


@dataclass
class Hall:
    bank: BankPort  # the bank's own branches place followers and list regions
    # The API client of an official account while the WeChat channel runs; else None.
    wechat_api: Callable[[str], AccountApi | None] = field(default=_no_wechat)

    async def resolve_click(
        self, db: AsyncSession, account: str, key: str
    ) -> menu.ClickAction | None:
        """What the CLICK ``key`` of ``account``'s menus stands for; None for a key no menu has."""
        return await menu.resolve_click(db, account, key)

    async def article(
        self, db: AsyncSession, entry_id: int, channel: str
    ) -> tuple[str, str, int] | None:
        """The knowledge article a menu item opens, in ``channel``'s wording: (title, body,
        entry id); None when it is not published."""
        found = await knowledge.answer_choice(db, entry_id=entry_id, channel=channel)
        if not isinstance(found, knowledge.Answer):
            return None
        return found.question, found.text, found.entry_id

    async def record_location(
        self, db: AsyncSession, account: str, openid: str, lat: float, lng: float
    ) -> None:
        """A LOCATION event: the follower's region becomes the nearest branch city."""
        await regions.record_location(db, account, openid, lat, lng, bank=self.bank)

    async def ensure_menu(
        self, db: AsyncSession, account: str, default: dict, *, actor: str
    ) -> str | None:
        """Saves ``default`` as the account's default menu unless one is saved, then syncs
        the account's menus to WeChat (the demo phone's first opening). Returns WeChat's first
        refusal, if any."""
        if await menu.get_menu(db, account) is None:
            await menu.save_menu(db, account=account, region=menu.DEFAULT_REGION, menu=default,
                                 actor=actor)  # fmt: skip
            # Committed before WeChat is called: the API client may record a fresh access
            # token in its own transaction, which SQLite would make wait behind this one.
            await db.commit()
        api = self.wechat_api(account)
        if api is None:
            return "the WeChat channel is not running"
        outcomes = await menu.sync_account(db, api, account=account, actor=actor)
        failed = [o.result for o in outcomes if not o.ok]
        return failed[0] if failed else None
