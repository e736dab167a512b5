"""What masking and conversation_visibility cost on the desk's reads (issue 21, findings 6, 14).

Builds a SQLite service centre with N open credit-card conversations (every customer message
carrying a card, an ID and a phone number), half held by agent2, then times, in process
(FastAPI's TestClient, one request at a time):

- ``GET /api/v1/conversations?limit=100`` as agent1 (team: reads them all; own: must skip
  agent2's half to fill the page) and as the supervisor;
- ``GET /api/v1/conversations/{id}`` (messages, history, notes, masked) as agent1.

Prints the median and p95 in milliseconds. Run:

    .venv/bin/python benchmarks/desk_visibility.py [--conversations 1000] [--rounds 30]

To compare with another source tree (e.g. before the change), put it first on the path:
``PYTHONPATH=<tree>/src .venv/bin/python benchmarks/desk_visibility.py`` (it then ignores
the setting, which that tree does not know).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import select, update

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.conftest import login, seed_sync  # noqa: E402

from kefu.agents.models import Agent  # noqa: E402
from kefu.config import load_settings  # noqa: E402
from kefu.conversations.models import Conversation  # noqa: E402
from kefu.db.engine import make_engine, make_sessionmaker  # noqa: E402
from kefu.db.migrate import upgrade  # noqa: E402
from kefu.routing.models import RoutingTask  # noqa: E402

TEXT = "信用卡账单不对，卡号6214 8300 0000 1126 488，身份证110101199003071234，电话+8615212345679"


async def _hold_half(url: str) -> None:
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            agent2 = await session.scalar(select(Agent.id).where(Agent.username == "agent2"))
            ids = list(await session.scalars(select(Conversation.id).order_by(Conversation.id)))
            held = ids[::2]
            await session.execute(
                update(Conversation)
                .where(Conversation.id.in_(held))
                .values(assigned_agent_id=agent2)
            )
            await session.execute(
                update(RoutingTask)
                .where(RoutingTask.conversation_id.in_(held))
                .values(agent_id=agent2, state="assigned", queue="credit_card")
            )
    finally:
        await engine.dispose()


def _time(client, path: str, rounds: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        answer = client.get(path)
        samples.append((time.perf_counter() - start) * 1000)
        assert answer.status_code == 200, (path, answer.status_code, answer.text[:200])
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--conversations", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    logging.disable(logging.INFO)  # the app logs one line per request otherwise

    from fastapi.testclient import TestClient

    from kefu.app import create_app
    from kefu.demo import ensure_demo_data

    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/desk.db"
        upgrade(url)
        seed_sync(url, 20)
        asyncio.run(ensure_demo_data(url))
        knows_setting = "conversation_visibility" in type(load_settings()).model_fields
        for mode in ("team", "own") if knows_setting else ("(tree without the setting)",):
            extra = {"conversation_visibility": mode} if knows_setting else {}
            settings = load_settings(database_url=url, secret_key="bench", routing_tick=0, **extra)
            with TestClient(create_app(settings)) as client:
                if mode in ("team", "(tree without the setting)"):
                    login(client, "supervisor")
                    client.put("/api/v1/me/presence", json={"presence": "away"})
                    for _ in range(args.conversations):
                        client.post("/api/v1/conversations", json={"channel": "wechat",
                                    "contact": "13800138000", "text": TEXT, "customer_no": "C0000000001"})  # fmt: skip
                    asyncio.run(_hold_half(url))
                    client.cookies.clear()
                rows = []
                for username in ("agent1", "supervisor"):
                    client.cookies.clear()
                    login(client, username)
                    listed = client.get("/api/v1/conversations?limit=100").json()
                    rows.append((username, "list (limit 100)",
                                 *_time(client, "/api/v1/conversations?limit=100", args.rounds)))  # fmt: skip
                    one = listed[0]["id"]
                    rows.append((username, "one conversation",
                                 *_time(client, f"/api/v1/conversations/{one}", args.rounds)))  # fmt: skip
                for username, what, median, p95 in rows:
                    print(
                        f"{mode:>5} {username:>10} {what:<18} median {median:7.1f} ms  p95 {p95:7.1f} ms"
                    )


if __name__ == "__main__":
    main()
