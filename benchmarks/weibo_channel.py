"""The Weibo channel's own cost, against the simulator on loopback: how fast a catch-up of N
@mentions is polled (pages of 100), stored and handed to the pipeline (no route: each becomes or
joins a conversation through routing), and how fast agents' comment replies are recorded and
sent. The pipeline here is self-service without routes (the social desk's analysis is measured
by benchmarks/social_ingest.py).

    .venv/bin/python benchmarks/weibo_channel.py                       # SQLite, 1,000 mentions
    .venv/bin/python benchmarks/weibo_channel.py --mentions 3000 \\
        --database-url postgresql://kefu:kefu@127.0.0.1:5432/kefu_bench  # (its schema is reset)

Replies are bounded by the simulator's write limit (30 an hour by default, as Weibo's): the run
raises it so that every conversation gets its reply. Prints the load average beside the figures
(the machine is shared).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("KEFU_PASSWORD_HASHING", "fast")

from kefu.assistant.engine import Assistant  # noqa: E402
from kefu.bank.synthetic.adapter import SyntheticBank  # noqa: E402
from kefu.bank.synthetic.seeder import seed  # noqa: E402
from kefu.channels.wechat.simulator.serve import serve  # noqa: E402
from kefu.channels.weibo import oauth  # noqa: E402
from kefu.channels.weibo.config import WeiboAccount  # noqa: E402
from kefu.channels.weibo.runtime import build  # noqa: E402
from kefu.channels.weibo.simulator.server import build_app  # noqa: E402
from kefu.channels.weibo.simulator.state import WeiboState  # noqa: E402
from kefu.conversations.models import Message  # noqa: E402
from kefu.db.engine import make_engine, make_sessionmaker  # noqa: E402
from kefu.db.migrate import upgrade  # noqa: E402
from kefu.demo import ensure_demo_data  # noqa: E402
from kefu.messaging.pipeline import Pipeline  # noqa: E402


async def _reset_postgres(url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await conn.close()


async def run(url: str, mentions: int) -> None:
    engine = make_engine(url)
    await seed(engine, customers=20, seed=7, as_of=date(2026, 11, 29))
    await engine.dispose()
    await ensure_demo_data(url)
    state = WeiboState()
    state.limits.update(read=100_000, write=100_000)
    sim = await serve(build_app(state))
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    account = WeiboAccount(
        name="bank", uid=str(state.official.id), screen_name=state.official_name,
        app_key=state.app_key, app_secret=state.app_secret, api_base=sim.url,
        dm_api_base=sim.url, search_api_base=sim.url, poll_interval=3600, page_size=100,
    )  # fmt: skip

    async def no_sleep(_: float) -> None:
        return None

    runtime = build([account], sessions, Pipeline(Assistant(SyntheticBank(engine))),
                    sleep=no_sleep)  # fmt: skip
    try:
        await oauth.authorise_automatically(runtime.apis["bank"], "http://kefu/oauth", actor="b")
        users = [state.add_user(f"用户{i}") for i in range(max(1, mentions // 10))]
        for i in range(mentions):
            state.add_status(
                users[i % len(users)].id, f"@{state.official_name} 第{i}条：信用卡年费"
            )
        started = time.perf_counter()
        await runtime.poller.poll_once(account)
        ingest = time.perf_counter() - started
        async with sessions() as db:
            from sqlalchemy import select

            from kefu.channels.weibo.models import WeiboReceived

            rows = (await db.scalars(select(WeiboReceived))).all()
            conversations = sorted({r.conversation_id for r in rows if r.conversation_id})
            for c in conversations:
                db.add(Message(conversation_id=c, channel="weibo", direction="out",
                               sender_type="agent", body=f"您好，已为您处理（{c}）",
                               delivery_state="accepted"))  # fmt: skip
            await db.commit()
        started = time.perf_counter()
        while await runtime.outbound.relay_agent_replies():
            pass
        while await runtime.outbound.send_due():
            pass
        replies = time.perf_counter() - started
        sent = sum(1 for c in state.comments.values() if c.user_id == state.official.id)
        print(f"database: {url.split(':')[0]}; load average {os.getloadavg()[0]:.1f}")
        print(
            f"ingest: {len(rows)} of {mentions} mentions polled, stored and handed off in "
            f"{ingest:.2f} s ({len(rows) / ingest:.0f}/s, {len(conversations)} conversations)"
        )
        print(f"replies: {sent} comment replies recorded and sent in {replies:.2f} s "
              f"({sent / replies:.0f}/s)")  # fmt: skip
    finally:
        await runtime.stop()
        await sim.stop()
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mentions", type=int, default=1000)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    url = args.database_url
    if url.startswith("postgresql"):
        asyncio.run(_reset_postgres(url))
    elif not url:
        url = f"sqlite:///{tempfile.mkdtemp()}/weibo-bench.db"
    upgrade(url)
    asyncio.run(run(url, args.mentions))


if __name__ == "__main__":
    main()
