"""'Tell me when 3 ahead' through the channel the customer took the ticket on, once per ticket
(``queue.due_notices`` marks it; each channel's own idempotency key guards a resend).

A remote ticket's ``customer_key`` says where its customer is:

- ``phone:<mobile>`` (the map page, SMS): a text in the SMS channel's outbox
  (``app.state.sms``), in the caller's transaction;
- ``wechat:<account>:<openid>`` (the WeChat hall's H5 queue page): the account's
  ``service_reply`` template through the WeChat channel's outbound, *after* the commit (it
  writes its own rows; on SQLite it would wait for the caller's write lock);
- ``webchat:<session>`` (the map page opened from the web chat widget): a message in the
  chat's transcript, in the caller's transaction, the widget woken after the commit.

Without the channel configured the notice is marked and not sent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kefu.branch.models import BranchTicket

AfterCommit = Callable[[], Awaitable[Any]]


def wechat_key(account: str, openid: str) -> str:
    return f"wechat:{account}:{openid}"


def webchat_key(session_id: str) -> str:
    return f"webchat:{session_id}"


def notice_text(branch_name: str, ticket: BranchTicket, ahead: int) -> str:
    return f"您在{branch_name}的号票{ticket.label}前面还有{ahead}人，请留意叫号。"


async def send(
    state: Any, db: AsyncSession, branch_name: str, notices: list[tuple[BranchTicket, int]]
) -> list[AfterCommit]:
    """Queues each due notice on its channel; returns what must run after the commit."""
    after: list[AfterCommit] = []
    sms = getattr(state, "sms", None)
    runtime = getattr(state, "wechat_runtime", None)
    webchat = getattr(state, "webchat", None)
    for ticket, ahead in notices:
        key = ticket.customer_key or ""
        text = notice_text(branch_name, ticket, ahead)
        idempotency = f"branch-ticket:{ticket.id}"
        if key.startswith("phone:") and sms is not None:
            await sms.enqueue(db, to=key[6:], kind="notification", text=text,
                              idempotency_key=idempotency)  # fmt: skip
        elif key.startswith("wechat:") and runtime is not None:
            account, _, openid = key[7:].partition(":")
            after.append(_wechat(runtime.outbound, account, openid, text, idempotency))
        elif key.startswith("webchat:") and webchat is not None:
            session_id = key[8:]
            if await webchat.notify(db, session_id, text):
                after.append(_wake(webchat, session_id))
    return after


def _wechat(outbound: Any, account: str, openid: str, text: str, key: str) -> AfterCommit:
    async def go() -> Any:
        return await outbound.notify_requested(account, openid, title="网点排队提醒", text=text,
                                               idempotency_key=key)  # fmt: skip

    return go


def _wake(webchat: Any, session_id: str) -> AfterCommit:
    async def go() -> None:
        webchat.watchers.wake(session_id)

    return go
