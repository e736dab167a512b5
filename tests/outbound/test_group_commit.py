"""The send API's group commit (kefu.outbound.group_commit): concurrent requests' writes in
one transaction, each request answered with its own rows after the commit; a failing batch
fails only the requests that fail alone; the frequency caps hold under concurrency."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

from kefu.auth.service import create_api_key
from kefu.channels.sms.models import SmsMessage
from kefu.outbound import api
from kefu.outbound.group_commit import GroupCommit
from kefu.web.idempotency import IdempotencyKey
from tests.channels.sms.test_demo import _free_ports
from tests.outbound.test_api import MESSAGES, in_session, make_client

TEXT = "您的账单已出。"


# ------------------------------------------------------------------ the mechanism alone
class _Session:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def __aenter__(self) -> _Session:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def commit(self) -> None:
        self.log.append("commit")

    async def rollback(self) -> None:
        self.log.append("rollback")


def test_each_job_gets_its_own_answer_and_a_bad_one_fails_alone() -> None:
    log: list[str] = []
    seen: list[list[int]] = []

    async def handler(db: Any, jobs: list[int]) -> list[Any]:
        seen.append(list(jobs))
        if 13 in jobs:
            raise RuntimeError("the database refused the batch")
        return [ValueError("refused") if job == 7 else job * 10 for job in jobs]

    async def go() -> list[Any]:
        group: GroupCommit[int, int] = GroupCommit(lambda: _Session(log), handler)  # type: ignore[arg-type]
        return await asyncio.gather(*(group.submit(n) for n in range(20)),
                                    return_exceptions=True)  # fmt: skip

    answers = asyncio.run(go())
    for n, answer in enumerate(answers):
        if n == 7:
            assert isinstance(answer, ValueError)  # refused by the handler: the batch went on
        elif n == 13:
            assert isinstance(answer, RuntimeError)  # failed alone as well
        else:
            assert answer == n * 10
    # All 20 arrive before the drain task runs: one batch, which fails because of 13 (rolled
    # back), then each job alone: 19 commits and 13's rollback.
    assert seen[0] == list(range(20))
    assert seen[1:] == [[n] for n in range(20)]
    assert log.count("rollback") == 2 and log.count("commit") == 19


# ------------------------------------------------------------------ through the API
def _client(url: str, **settings: Any):  # type: ignore[no-untyped-def]
    # A link to a port nothing listens on: the rows stay queued, which is all these tests read.
    (port,) = _free_ports(1)

    async def work(session):  # type: ignore[no-untyped-def]
        return (await create_api_key(session, name="core", role="admin", actor="test"))[1]

    key = in_session(url, work)
    client = make_client(url, port, **settings)
    client.headers["Authorization"] = f"Bearer {key}"
    return client


def _post_all(client, bodies: list[dict]) -> list[httpx.Response]:  # type: ignore[no-untyped-def]
    """All at once, in the app's own event loop (TestClient's portal)."""

    async def go() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test",
                                     headers=dict(client.headers)) as http:  # fmt: skip
            return list(await asyncio.gather(*(http.post(MESSAGES, json=b) for b in bodies)))

    return client.portal.call(go)


def _rows(url: str) -> dict[str, list[int]]:
    async def work(session):  # type: ignore[no-untyped-def]
        rows = await session.execute(select(SmsMessage.phone, SmsMessage.id)
                                     .where(SmsMessage.direction == "out"))  # fmt: skip
        found: dict[str, list[int]] = {}
        for phone, mid in rows.all():
            found.setdefault(phone, []).append(mid)
        return found

    return in_session(url, work)


def test_concurrent_requests_each_get_their_own_rows_in_few_transactions(db_url: str) -> None:
    numbers = [f"1390000{n:04d}" for n in range(20)]
    with _client(db_url) as client:
        answers = _post_all(client, [{"to": [n], "text": TEXT} for n in numbers])
        batches = client.app.state.sms_group_commit.batches
    assert [a.status_code for a in answers] == [202] * 20
    ids = {}
    for number, answer in zip(numbers, answers, strict=True):
        (accepted,) = answer.json()["accepted"]
        assert accepted["to"] == number and accepted["state"] == "accepted"
        ids[number] = [accepted["id"]]
    assert _rows(db_url) == ids  # one row each, the one its request was told
    assert batches < 20  # requests in flight shared transactions


def test_a_failing_batch_fails_only_the_request_that_fails_alone(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    poison = "13900000010"
    original = api.insert_many

    async def insert_many(db, outbox, items):  # type: ignore[no-untyped-def]
        stored = await original(db, outbox, items)
        if any(item.to == poison for item in items):
            await db.execute(text("INSERT INTO no_such_table VALUES (1)"))  # a real DB error
        return stored

    monkeypatch.setattr(api, "insert_many", insert_many)
    numbers = [f"1390000{n:04d}" for n in range(20)]
    bodies = [{"to": [n], "text": TEXT, "idempotency_key": f"k{n}"} for n in numbers]
    with _client(db_url) as client:
        answers = _post_all(client, bodies)
    for number, answer in zip(numbers, answers, strict=True):
        if number == poison:
            assert answer.status_code == 503, answer.text
            assert "nothing was queued" in answer.json()["detail"]
        else:
            assert answer.status_code == 202, answer.text
    rows = _rows(db_url)
    assert poison not in rows  # nothing of it written: no message …
    assert sorted(rows) == sorted(set(numbers) - {poison})

    async def claims(session):  # type: ignore[no-untyped-def]
        return set((await session.scalars(select(IdempotencyKey.scope))).all())

    scopes = in_session(db_url, claims)
    assert f"api:apikey:core:k{poison}" not in scopes  # … and no idempotency claim
    assert f"api:apikey:core:k{numbers[11]}" in scopes


def test_a_cap_holds_against_requests_racing_for_its_last_slots(db_url: str) -> None:
    policy = {"caps": {"notification": {"per_day": 2}}}
    with _client(db_url, sms_policy=policy) as client:
        # A first call stamps the key's last_used_at: that write would otherwise make the racing
        # requests wait for each other's commit, and there would be no race to test.
        assert _post_all(client, [{"to": ["13900000009"], "text": TEXT}])[0].status_code == 202
        answers = _post_all(client, [{"to": ["13900000001"], "text": TEXT}] * 12)
    assert [a.status_code for a in answers] == [202] * 12
    accepted = [a for a in answers if a.json()["accepted"]]
    refused = [a.json()["refused"][0] for a in answers if a.json()["refused"]]
    assert len(accepted) == 2 and len(refused) == 10
    assert {r["rule"] for r in refused} == {"cap_day"}
    assert len(_rows(db_url)["13900000001"]) == 2


def test_one_idempotency_key_in_one_batch_is_one_message_for_every_request(db_url: str) -> None:
    """Requests in flight together, several with one key (a caller retrying before its first
    answer): one row per key, every request with it told the same id, none counted twice."""
    bodies = [{"to": ["13900000001"], "text": TEXT, "idempotency_key": "same"}] * 6 + [
        {"to": [f"1390000002{n}"], "text": TEXT, "idempotency_key": f"own{n}"} for n in range(6)
    ]
    with _client(db_url) as client:
        answers = _post_all(client, bodies)
        again = _post_all(client, bodies[:1])  # after the commit: the original once more
    assert [a.status_code for a in answers + again] == [202] * 13
    same = {a.json()["accepted"][0]["id"] for a in answers[:6] + again}
    assert len(same) == 1
    rows = _rows(db_url)
    assert rows["13900000001"] == list(same)
    assert all(len(rows[f"1390000002{n}"]) == 1 for n in range(6))
    own = [a.json()["accepted"][0] for a in answers[6:]]
    assert [rows[a["to"]] for a in own] == [[a["id"]] for a in own]
