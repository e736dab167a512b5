"""The next best offer panel end to end: the real app and database, a conversation with a
known customer; outcomes recorded twice count once; a missing model file leaves a message on
the panel and the rest of the workspace working."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from kefu.conversations.models import Conversation
from kefu.crosssell import training
from kefu.crosssell.models import OfferOutcome, OfferScore
from kefu.db.engine import make_engine, make_sessionmaker
from kefu.identity.models import Customer
from tests.conftest import CSRF, login
from tests.crosssell.helpers import models

pytestmark = pytest.mark.db


async def _conversation(url: str) -> int:
    """A new conversation of a known customer, no messages (a calm customer)."""
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            customer = await session.scalar(select(Customer).order_by(Customer.id).limit(1))
            assert customer is not None
            conversation = Conversation(channel="sms", customer_id=customer.id, contact="x")
            session.add(conversation)
            await session.flush()
            return conversation.id
    finally:
        await engine.dispose()


async def _count(url: str, table=OfferOutcome) -> int:  # type: ignore[no-untyped-def]
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            return await session.scalar(select(func.count()).select_from(table)) or 0
    finally:
        await engine.dispose()


def _outcomes(url: str) -> int:
    return asyncio.run(_count(url))


def test_offers_outcome_once_and_missing_model(
    client, app_settings, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    model_file = tmp_path / "models.joblib"
    models({"LOAN-CAR": 0.4, "INS-ACC": 0.6}).save(model_file)
    monkeypatch.setattr(training, "MODEL_FILE", model_file)
    url = app_settings.database_url
    cid = asyncio.run(_conversation(url))
    login(client, "supervisor")

    page = client.get(f"/workspace/conversations/{cid}")
    assert page.status_code == 200 and f"/workspace/conversations/{cid}/offers" in page.text
    panel = client.get(f"/workspace/conversations/{cid}/offers")
    assert panel.status_code == 200
    offered = re.findall(r'data-testid="offer" data-product="([A-Z0-9-]+)"', panel.text)
    assert len(offered) == 3
    assert panel.text.count('class="disclosure"') == 3  # each offer with its disclosure
    # Scored live (no precomputed row), and the GET wrote nothing: not even the score row.
    assert client.get(f"/workspace/conversations/{cid}/offers").status_code == 200
    assert asyncio.run(_count(url, OfferScore)) == 0

    token = CSRF.search(panel.text).group(1)
    first = offered[0]
    post = f"/workspace/conversations/{cid}/offers/{first}/outcome"
    answer = client.post(post, data={"outcome": "declined", "csrf": token})
    assert answer.status_code == 200 and "已记录：已拒绝" in answer.text
    again = client.post(post, data={"outcome": "declined", "csrf": token})
    assert again.status_code == 200 and "不重复计数" in again.text
    assert asyncio.run(_count(url, OfferScore)) == 1  # the POST kept the live score
    assert _outcomes(url) == 1
    # Declined: not offered again.
    assert f'data-product="{first}"' not in again.text

    assert client.post(post, data={"outcome": "bought", "csrf": token}).status_code == 422
    assert client.post(post, data={"outcome": "accepted", "csrf": "wrong"}).status_code == 400
    assert _outcomes(url) == 1

    monkeypatch.setattr(training, "MODEL_FILE", tmp_path / "absent.joblib")
    missing = client.get(f"/workspace/conversations/{cid}/offers")
    assert missing.status_code == 200 and "推荐模型文件缺失" in missing.text
    assert client.get(f"/workspace/conversations/{cid}").status_code == 200


def test_roles_without_the_permission_are_refused(client) -> None:  # type: ignore[no-untyped-def]
    login(client, "analyst")
    assert client.get("/workspace/conversations/1/offers").status_code == 403
