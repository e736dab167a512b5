from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.db.engine import make_engine, make_sessionmaker, session_scope
from kefu.knowledge.content import EntryContent

LOST_CARD = EntryContent(
    question="信用卡丢了怎么挂失",
    paraphrases=["信用卡丢失如何挂失", "卡丢了怎么办"],
    answer_sms="请立即拨打95555或在手机银行“卡片管理”中挂失。",
    answer_wechat="<p>请在<a href='/m/card'>卡片管理</a>中挂失，或拨打95555。</p>",
    answer_agent="核实身份后在核心系统办理临时挂失，提醒客户补卡。",
    internal_note="挂失后5个工作日内免费补卡",
    category="信用卡",
)
TRANSFER_LIMIT = EntryContent(
    question="手机银行转账限额是多少",
    paraphrases=["转账一天最多能转多少"],
    answer_sms="手机银行单日转账限额默认5万元，可在App调整至50万元。",
    category="转账",
)


@pytest.fixture
def run_db(
    db_url: str,
) -> Iterator[Callable[[Callable[[AsyncSession], Coroutine[Any, Any, Any]]], Any]]:
    """Run ``fn(session)`` in a committed transaction on the test database; one engine for
    the whole test, so the per-engine search index lives across calls like in a process."""
    loop = asyncio.new_event_loop()
    engine = make_engine(db_url)
    factory = make_sessionmaker(engine)

    def run(fn: Callable[[AsyncSession], Coroutine[Any, Any, Any]]) -> Any:
        async def go() -> Any:
            async with session_scope(factory) as session:
                return await fn(session)

        return loop.run_until_complete(go())

    yield run
    loop.run_until_complete(engine.dispose())
    loop.close()
