"""A request's database session commits before its answer is sent (kefu.web.deps.get_db).

With FastAPI's default scope for a dependency with ``yield``, the code after the ``yield``
(our commit) runs after the response has gone out: a client was told 200/201 for a write
whose commit then failed, and its next request could miss the write it had just been told
of. The contract test met the second as a 500 (a partner key's name counted before the
previous key's commit)."""

from __future__ import annotations

from pathlib import Path

from fastapi import Depends
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.app import create_app
from kefu.auth.models import ApiKey
from kefu.config import load_settings
from kefu.web.deps import DB_SESSION, get_db


def _settings(tmp_path: Path):  # type: ignore[no-untyped-def]
    return load_settings(database_url=f"sqlite:///{tmp_path / 'k.db'}", secret_key="t")


def _uses_of_get_db(dependant) -> list:  # type: ignore[no-untyped-def]
    found = [dependant] if dependant.call is get_db else []
    for sub in dependant.dependencies:
        found += _uses_of_get_db(sub)
    return found


def test_every_route_commits_its_session_before_answering(tmp_path: Path) -> None:
    app = create_app(_settings(tmp_path))
    uses = [
        (route.path_format, use.scope)
        for route in iter_route_contexts(app.routes)
        if isinstance(route.original_route, APIRoute)  # pages and the API, in the schema or not
        for use in _uses_of_get_db(route.dependant)
    ]
    assert len(uses) > 200  # the routes that use the database were all looked at
    assert [(path, scope) for path, scope in uses if scope != "function"] == []


def _failing_commit(db: AsyncSession) -> dict[str, bool]:
    db.add(ApiKey(name=None, prefix="kefu_x", key_hash="h", role="admin"))  # NOT NULL: at commit
    return {"saved": True}


def test_a_commit_that_fails_is_not_answered_as_a_success(tmp_path: Path) -> None:
    app = create_app(_settings(tmp_path))

    async def as_kefu_does(db: AsyncSession = DB_SESSION) -> dict:
        return _failing_commit(db)

    async def fastapi_default(db: AsyncSession = Depends(get_db)) -> dict:
        return _failing_commit(db)

    app.add_api_route("/test/as-kefu-does", as_kefu_does, methods=["POST"])
    app.add_api_route("/test/fastapi-default", fastapi_default, methods=["POST"])
    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.post("/test/as-kefu-does", headers={"Accept": "application/json"})
        assert answer.status_code == 500
        assert answer.json()["detail"] == "internal error; see the server log"
        # Why the scope matters: the default answers 200 first, then its commit fails.
        assert client.post("/test/fastapi-default").status_code == 200
