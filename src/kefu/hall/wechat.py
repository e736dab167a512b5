"""What the hall needs of WeChat, as interfaces: an official account's settings and its server
API for menus and user tags.

The WeChat channel owns the API client (access token, retries); the app hands it to the hall
(``kefu.runtime``: ``Hall.wechat_api``) with WeChat's refusals raised as :class:`WechatRefused`,
so the hall imports no channel.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol


class WechatRefused(Exception):
    """WeChat refused a call (``errcode`` ≠ 0) or could not be reached (``errcode`` -1 with
    the reason as ``errmsg``)."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"WeChat API error {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class OfficialAccount(Protocol):
    """An official account as configured (``settings.wechat_accounts``)."""

    name: str  # the URL slug: /h5/<name>/…
    app_id: str
    app_secret: str
    display_name: str


class AccountApi(Protocol):
    """One official account's server API, the calls the hall makes (menus, user tags)."""

    async def menu_create(self, menu: Mapping[str, Any]) -> None: ...
    async def menu_get_all(self) -> dict[str, Any]: ...
    async def menu_add_conditional(self, menu: Mapping[str, Any]) -> str: ...
    async def menu_delete_conditional(self, menuid: str) -> None: ...
    async def tags_create(self, name: str) -> dict[str, Any]: ...
    async def tags_list(self) -> list[dict[str, Any]]: ...
    async def tags_tag_users(self, tag_id: int, openids: Sequence[str]) -> None: ...
    async def tags_untag_users(self, tag_id: int, openids: Sequence[str]) -> None: ...


def account_named(settings: Any, name: str) -> OfficialAccount | None:
    """The configured official account ``name``, if there is one."""
    return next((a for a in settings.wechat_accounts if a.name == name), None)
