"""Fixtures and builders shared by the social store's tests (imported by each module, not a
conftest: other helpers' tests live beside these)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.social.analysis import Author
from kefu.social.service import IncomingPost
from tests.conftest import session_on

POSTED = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
FRAUD = "@招商银行 我的信用卡被盗刷了五千块，客服电话一直打不通，太气人了！"
SPAM = "低价代办信用卡 套现 加微信 abc123 http://t.cn/xx 日赚500"


def post(external_id: str = "p1", **over: Any) -> IncomingPost:
    values: dict[str, Any] = dict(
        platform="weibo", account="cmb", external_id=external_id, kind="mention", text=FRAUD,
        author=Author(uid="u1", name="小王", followers=1200, verified_type=-1), posted_at=POSTED,
    )  # fmt: skip
    values.update(over)
    return IncomingPost(**values)


@pytest.fixture
async def session(db_url: str) -> AsyncIterator[AsyncSession]:
    async with session_on(db_url) as s:
        yield s
