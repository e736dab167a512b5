"""The SMS API's callers send an API key with every request: a verified key is kept per process
for a short time (kefu.web.deps.ApiKeyCache), and a revocation still refuses it — at once when
revoked through this process, within the cache's time to live when another process did it."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, update

from kefu.app import create_app
from kefu.auth.models import ApiKey
from kefu.config import load_settings
from kefu.db.base import utcnow
from kefu.web.deps import API_KEY_TTL, ApiKeyCache
from tests.conftest import login
from tests.outbound.test_api import in_session

pytestmark = pytest.mark.db

# A status read needs the API key's permission (sms.send) and no carrier link: 404 once the
# caller is let in, 401 when its key is refused.
PROBE = "/api/v1/sms/messages/999999"


def _client(url: str) -> TestClient:
    return TestClient(create_app(load_settings(database_url=url, secret_key="t")))


def _new_key(client: TestClient, name: str) -> str:
    login(client, "admin")
    key = client.post("/api/v1/api-keys", json={"name": name, "role": "admin"}).json()["key"]
    client.cookies.clear()
    return key


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_cached_key_is_not_read_again(seeded_url: str) -> None:
    with _client(seeded_url) as client:
        key = _new_key(client, "cached")
        reads: list[str] = []

        def count(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
            if statement.startswith("SELECT") and "FROM api_keys" in statement:
                reads.append(statement)

        engine = client.app.state.engine.sync_engine
        event.listen(engine, "before_cursor_execute", count)
        try:
            headers = {"Authorization": f"Bearer {key}"}
            assert client.get(PROBE, headers=headers).status_code == 404
            assert len(reads) == 1  # the first request verifies the key
            for _ in range(5):
                assert client.get(PROBE, headers=headers).status_code == 404
            assert len(reads) == 1
            wrong = {"Authorization": f"Bearer {key[:-4]}xxxx"}  # same prefix, wrong key
            assert client.get(PROBE, headers=wrong).status_code == 401
        finally:
            event.remove(engine, "before_cursor_execute", count)


def test_a_key_revoked_in_this_process_is_refused_at_once(seeded_url: str) -> None:
    with _client(seeded_url) as client:
        key = _new_key(client, "soon-gone")
        headers = {"Authorization": f"Bearer {key}"}
        assert client.get(PROBE, headers=headers).status_code == 404  # now cached
        login(client, "admin")
        assert client.delete("/api/v1/api-keys/soon-gone").status_code == 204
        client.cookies.clear()
        refused = client.get(PROBE, headers=headers)
        assert refused.status_code == 401 and "revoked" in refused.json()["detail"]


def test_a_key_revoked_by_another_process_is_refused_within_the_ttl(seeded_url: str) -> None:
    """Another worker (or ``kefu apikey revoke``) writes the row; this process learns of it when
    its entry expires, API_KEY_TTL seconds at most after it last read the row."""
    clock = Clock()
    with _client(seeded_url) as client:
        client.app.state.api_key_cache = ApiKeyCache(clock=clock)
        key = _new_key(client, "elsewhere")
        headers = {"Authorization": f"Bearer {key}"}
        assert client.get(PROBE, headers=headers).status_code == 404

        async def revoke(session) -> None:  # type: ignore[no-untyped-def]
            # A Core update, as another process's write looks from here: no ORM event.
            await session.execute(
                update(ApiKey).where(ApiKey.name == "elsewhere").values(revoked_at=utcnow())
            )

        in_session(seeded_url, revoke)
        clock.now += API_KEY_TTL / 2
        assert client.get(PROBE, headers=headers).status_code == 404  # the window: at most TTL
        clock.now += API_KEY_TTL / 2
        assert client.get(PROBE, headers=headers).status_code == 401
        clock.now += 60
        assert client.get(PROBE, headers=headers).status_code == 401  # never cached again
