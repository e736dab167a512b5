"""The follower row of one message (WechatChannel._follower): read once; the first message's row
comes back from its INSERT with WeChat's service window opened; a concurrent first message that
inserted it first is read, not duplicated."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import event, func, select

from kefu.channels.wechat.messages import WechatMessage
from kefu.channels.wechat.models import WechatFollower
from kefu.channels.wechat.service import WechatChannel
from kefu.db.base import utcnow
from kefu.db.engine import make_engine, make_sessionmaker

pytestmark = pytest.mark.db

ACCOUNT = SimpleNamespace(name="bank")


def _message(openid: str, event_name: str | None = None) -> WechatMessage:
    return WechatMessage(openid=openid, account_id="gh_1", create_time=1, msg_type="text",
                         msg_id="1", event=event_name, content="余额")  # fmt: skip


class _Statements:
    def __init__(self, engine: Any) -> None:
        self.seen: list[str] = []
        event.listen(engine.sync_engine, "before_cursor_execute", self._record)

    def _record(self, conn, cursor, statement, params, context, executemany) -> None:  # type: ignore[no-untyped-def]
        if "wechat_followers" in statement:
            self.seen.append(statement.split()[0].upper())


async def test_a_first_message_inserts_the_follower_with_one_statement(db_url: str) -> None:
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    statements = _Statements(engine)
    try:
        async with sessions() as db:
            follower = await WechatChannel._follower(None, db, ACCOUNT, _message("o-new"))  # type: ignore[arg-type]
            assert follower.id is not None and follower.subscribed
            assert follower.last_inbound_at is not None  # the 48-hour window is open
            await db.commit()
        # One look, one INSERT … RETURNING: no second read, no UPDATE of the window.
        assert statements.seen == ["SELECT", "INSERT"]
        statements.seen.clear()
        async with sessions() as db:  # the next message within a minute: one read, no write
            again = await WechatChannel._follower(None, db, ACCOUNT, _message("o-new"))  # type: ignore[arg-type]
            assert again.id == follower.id
            await db.commit()
        assert statements.seen == ["SELECT"]
    finally:
        await engine.dispose()


async def test_an_unsubscribe_first_opens_no_window(db_url: str) -> None:
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    try:
        async with sessions() as db:
            message = _message("o-gone", "unsubscribe")
            follower = await WechatChannel._follower(None, db, ACCOUNT, message)  # type: ignore[arg-type]
            assert follower.last_inbound_at is None
            await db.commit()
    finally:
        await engine.dispose()


async def test_a_row_another_message_inserted_meanwhile_is_read_not_duplicated(
    db_url: str,
) -> None:
    """The race: this message's look found nothing, another first message then inserted the
    row; the INSERT does nothing and the other's row is read."""
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    try:
        earlier = utcnow() - timedelta(minutes=5)
        async with sessions() as db:
            db.add(WechatFollower(account="bank", openid="o-race", subscribed=True,
                                  subscribed_at=earlier, last_inbound_at=earlier))  # fmt: skip
            await db.commit()
        async with sessions() as db:
            real_scalar = db.scalar
            looks = 0

            async def first_look_misses(statement: Any, *args: Any, **kw: Any) -> Any:
                nonlocal looks
                if getattr(statement, "is_select", False):
                    looks += 1
                    if looks == 1:
                        return None  # as if the other message had not committed yet
                return await real_scalar(statement, *args, **kw)

            db.scalar = first_look_misses  # type: ignore[method-assign]
            follower = await WechatChannel._follower(None, db, ACCOUNT, _message("o-race"))  # type: ignore[arg-type]
            assert looks == 2
            assert follower.subscribed_at is not None
            assert follower.last_inbound_at is not None and follower.last_inbound_at > earlier
            await db.commit()
        async with sessions() as db:
            count = await db.scalar(
                select(func.count()).select_from(WechatFollower)
                .where(WechatFollower.openid == "o-race")
            )  # fmt: skip
        assert count == 1
    finally:
        await engine.dispose()
