"""POST /social/hooks/{source}: signatures, replays, size, mapping errors, duplicates, and the
posts reaching the social desk through the pipeline's route like Weibo's."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from kefu.agents.models import Agent
from kefu.channels.social.mapping import EXAMPLES
from kefu.config import load_settings
from kefu.conversations.models import Conversation
from kefu.db.engine import make_engine, make_sessionmaker
from kefu.social.models import SocialPost
from kefu.webhooks.service import sign
from tests.conftest import BACKENDS, fresh_database

pytestmark = pytest.mark.db
SECRET = "douyin-shared-secret-0123456789"
SAMPLES = EXAMPLES.parent / "samples"


@pytest.fixture(scope="module", params=BACKENDS)
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """One app per backend for the module (starting one costs seconds); tables emptied
    between tests by ``client``."""
    from kefu.app import create_app
    from kefu.db.migrate import upgrade

    url = fresh_database(request.param, tmp_path_factory.mktemp("hooks"))
    upgrade(url)
    sources = [
        {"name": "douyin", "secret": SECRET, "mapping": "douyin", "account": "招商银行抖音号",
         "max_body_bytes": 4096},
        {"name": "xhs", "secret": SECRET, "mapping": str(EXAMPLES / "xiaohongshu.json")},
    ]  # fmt: skip
    settings = load_settings(database_url=url, secret_key="test-secret",
                             social_sources=sources)  # fmt: skip
    with TestClient(create_app(settings)) as test_client:
        yield test_client, url


@pytest.fixture
def db_url(served) -> str:  # type: ignore[no-untyped-def]
    return served[1]


@pytest.fixture
def client(served) -> TestClient:  # type: ignore[no-untyped-def]
    async def empty() -> None:
        engine = make_engine(served[1])
        try:
            async with engine.begin() as conn:
                for table in ("social_posts", "routing_events", "routing_tasks", "messages",
                              "conversations"):  # fmt: skip
                    await conn.execute(text(f"DELETE FROM {table}"))
        finally:
            await engine.dispose()

    asyncio.run(empty())
    return served[0]


def body(name: str = "douyin", **changes: Any) -> bytes:
    document = json.loads((SAMPLES / f"{name}.json").read_text(encoding="utf-8"))
    document.update(changes)
    return json.dumps(document, ensure_ascii=False).encode()


def post(client: TestClient, raw: bytes, *, source: str = "douyin", secret: str = SECRET,
         skew: int = 0, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]  # fmt: skip
    stamp = int(time.time()) + skew  # read when sent: a long run must not age it
    sent = {"content-type": "application/json", "x-kefu-timestamp": str(stamp),
            "x-kefu-signature": sign(secret, stamp, raw)}  # fmt: skip
    sent.update(headers or {})
    return client.post(f"/social/hooks/{source}", content=raw, headers=sent)


def stored(url: str) -> tuple[list[SocialPost], int]:
    async def go():  # type: ignore[no-untyped-def]
        engine = make_engine(url)
        try:
            async with make_sessionmaker(engine)() as db:
                rows = (await db.scalars(select(SocialPost).order_by(SocialPost.id))).all()
                conversations = await db.scalar(select(func.count()).select_from(Conversation))
                return list(rows), int(conversations or 0)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def test_a_signed_comment_reaches_the_social_desk(client: TestClient, db_url: str) -> None:
    answer = post(client, body())
    assert answer.status_code == 200, answer.text
    [result] = answer.json()["posts"]
    assert result["external_id"] == "7321000111" and result["state"] == "queued"
    [row], conversations = stored(db_url)
    assert (row.platform, row.kind, row.account) == ("douyin", "comment", "招商银行抖音号")
    assert (row.author_uid, row.author_followers, row.likes) == ("dy_7f3a9c", 5230, 12)
    assert row.parent_external_id == "7320999000" and conversations == 1


def test_a_repeat_is_answered_200_and_stored_once(client: TestClient, db_url: str) -> None:
    first = post(client, body())
    again = post(client, body())
    assert first.status_code == again.status_code == 200
    assert again.json()["posts"][0]["post_id"] == first.json()["posts"][0]["post_id"]
    rows, conversations = stored(db_url)
    assert len(rows) == 1 and conversations == 1


def test_several_posts_in_one_request(client: TestClient, db_url: str) -> None:
    answer = post(client, body("xiaohongshu"), source="xhs")
    assert answer.status_code == 200
    assert [p["external_id"] for p in answer.json()["posts"]] == ["65a1b2c3d4", "65a1b2c3d5"]
    rows, _ = stored(db_url)
    assert {r.platform for r in rows} == {"xiaohongshu"} and len(rows) == 2


@pytest.mark.parametrize(
    ("kwargs", "detail"),
    [
        ({"secret": "another-secret-0123456789"}, "signature does not match"),
        ({"headers": {"x-kefu-signature": ""}}, "missing"),
        # A non-ASCII header (latin-1 on the wire): 401, not a 500 from compare_digest.
        ({"headers": {"x-kefu-signature": "sha256=é".encode("latin-1")}}, "does not match"),
        ({"headers": {"x-kefu-timestamp": "soon"}}, "not Unix seconds"),
        ({"skew": -301}, "refused as a replay"),
        ({"skew": 400}, "refused as a replay"),
    ],
)
def test_unsigned_wrongly_signed_or_replayed_requests_are_401(
    client: TestClient, db_url: str, kwargs: dict[str, Any], detail: str
) -> None:
    answer = post(client, body(), **kwargs)
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"
    assert detail in answer.json()["detail"]
    assert stored(db_url) == ([], 0)


def test_a_body_signed_for_other_bytes_is_refused(client: TestClient) -> None:
    stamp = int(time.time())
    answer = client.post("/social/hooks/douyin", content=body(), headers={
        "x-kefu-timestamp": str(stamp), "x-kefu-signature": sign(SECRET, stamp, b"{}")})  # fmt: skip
    assert answer.status_code == 401


def test_over_the_size_limit_is_413(client: TestClient, db_url: str) -> None:
    raw = body(padding="x" * 5000)
    assert post(client, raw).status_code == 413
    assert stored(db_url) == ([], 0)


def test_mapping_mismatches_are_400_naming_the_field(client: TestClient, db_url: str) -> None:
    answer = post(client, body(user={"nickname": "no id"}))
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["detail"] == (
        "mapping 'douyin': field 'author.uid' (path $.user.open_id) missing"
    )
    assert post(client, b"not json").json()["detail"] == "the body is not JSON"
    assert post(client, b"[" * 3000).json()["detail"] == "the body is not JSON"
    assert stored(db_url) == ([], 0)


def test_one_bad_post_stores_none_of_the_request(client: TestClient, db_url: str) -> None:
    document = json.loads(body("xiaohongshu"))
    del document["notes"][1]["desc"]
    answer = post(client, json.dumps(document).encode(), source="xhs")
    assert answer.status_code == 400 and "item 1: field 'text'" in answer.json()["detail"]
    assert stored(db_url) == ([], 0)


def test_unknown_sources_are_404(client: TestClient) -> None:
    answer = post(client, body(), source="weixin")
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"


def test_a_deleted_post_is_marked(client: TestClient, db_url: str) -> None:
    assert post(client, body()).status_code == 200
    document = json.loads(body())
    document["content"]["is_deleted"] = True
    assert post(client, json.dumps(document).encode()).status_code == 200
    [row], _ = stored(db_url)
    assert row.deleted is True


# -- the admins' sources page ----------------------------------------------------------------
def _admin(client: TestClient) -> str:
    from kefu.auth.service import create_user
    from kefu.demo import DEMO_PASSWORD
    from tests.conftest import CSRF, login

    async def admin() -> None:
        engine = make_engine(client.app.state.settings.database_url)  # type: ignore[attr-defined]
        try:
            async with make_sessionmaker(engine)() as db:
                if await db.scalar(select(Agent.id).where(Agent.username == "admin")) is None:
                    await create_user(db, username="admin", password=DEMO_PASSWORD,
                                      display_name="管理员", role="admin")  # fmt: skip
                    await db.commit()
        finally:
            await engine.dispose()

    asyncio.run(admin())
    client.cookies.clear()
    assert login(client, "admin").status_code == 303
    return CSRF.search(client.get("/social/sources").text).group(1)  # type: ignore[union-attr]


def test_the_sources_page_shows_sources_never_secrets(client: TestClient) -> None:
    _admin(client)
    page = client.get("/social/sources")
    assert page.status_code == 200
    assert 'data-testid="source-douyin"' in page.text and "/social/hooks/douyin" in page.text
    assert SECRET not in page.text
    assert 'href="/social/sources"' in page.text  # the admin's navigation links it


def test_a_sample_is_tried_on_the_sources_mapping(client: TestClient, db_url: str) -> None:
    token = _admin(client)
    good = client.post("/social/sources/check", data={
        "csrf": token, "source": "douyin", "sample": body().decode()})  # fmt: skip
    assert good.status_code == 200 and "dy_7f3a9c" in good.text
    bad = client.post("/social/sources/check", data={
        "csrf": token, "source": "douyin", "sample": '{"user": {"<b>": 1}}'})  # fmt: skip
    assert bad.status_code == 400
    assert "field &#39;external_id&#39; (path $.content.comment_id) missing" in bad.text
    assert "<b>" not in bad.text  # the sample is escaped when shown again
    assert stored(db_url) == ([], 0)  # trying stores nothing
