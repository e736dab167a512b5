"""While the database cannot be reached, requests answer 503 with Retry-After (problem+json for
the API, the error page for HTML, WeChat's callback too, so WeChat retries) and lose nothing;
the next request after it is back succeeds without restarting anything. Real servers on real
sockets: the database refused (a closed loopback port), its sessions cut as ``pg_ctl restart
-m fast`` cuts them, and a primary turned read-only as a demoted one is."""

from __future__ import annotations

import asyncio
import os
import pwd
import re
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import httpx
import pytest

from kefu.app import create_app
from kefu.channels.webchat.config import WebchatSite
from kefu.channels.wechat.simulator.follower import post_callback, text_xml
from kefu.channels.wechat.simulator.serve import serve
from kefu.config import load_settings
from tests.channels.wechat.harness import running
from tests.conftest import PG_URL, fresh_database
from tests.ports import free_port

ORIGIN = "https://www.bank.example"
SITE = WebchatSite(name="bank", origins=[ORIGIN], messages_per_minute=100)
API = "/channels/webchat/bank"


def assert_503(response: httpx.Response, *, json: bool = True) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"].isdigit()
    assert 1 <= int(response.headers["retry-after"]) <= 10
    if json:
        assert response.headers["content-type"] == "application/problem+json"
        body = response.json()
        assert body["status"] == 503 and body["rule"] == "database_unavailable"
    else:
        assert response.headers["content-type"].startswith("text/html")
        assert "503" in response.text and "数据库暂时无法连接" in response.text


@asynccontextmanager
async def kefu(db_url: str) -> AsyncIterator[str]:
    settings = load_settings(database_url=db_url, secret_key="test-secret", webchat_sites=[SITE])
    served = await serve(create_app(settings))
    try:
        yield served.url
    finally:
        await served.stop()


def test_refused_database_answers_503(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"postgresql://kefu:secret-pw@127.0.0.1:{free_port()}/kefu"

    async def go() -> None:
        async with kefu(url) as base, httpx.AsyncClient(base_url=base, timeout=30) as http:
            # The API (an API key is looked up in the database) and the web chat API.
            assert_503(await http.get("/api/v1/conversations",
                                      headers={"Authorization": "Bearer kefu_" + "0" * 40}))  # fmt: skip
            chat = await http.post(f"{API}/sessions", json={}, headers={"Origin": ORIGIN})
            assert_503(chat)
            # With CORS: the widget on the bank's site reads the 503 (not a network error).
            assert chat.headers["access-control-allow-origin"] == ORIGIN
            # A page: signing in reads the user; the answer is the error page, not a crash.
            page = await http.get("/login")
            csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
            assert csrf
            assert_503(await http.post("/login", data={"username": "a", "password": "b",
                                                        "csrf": csrf.group(1), "next": "/"}),
                       json=False)  # fmt: skip
            ready = await http.get("/readyz")
            assert ready.status_code == 503 and ready.json()["database"] == "unreachable"

    asyncio.run(go())
    logged = capsys.readouterr()
    text = logged.out + logged.err
    assert "database_unavailable" in text
    assert "secret-pw" not in text  # the URL's password never reaches the log
    assert "unhandled_error" not in text  # a 503, not a crash


def test_wechat_callback_answers_503_when_the_database_is_refused() -> None:
    url = f"postgresql://kefu:kefu@127.0.0.1:{free_port()}/kefu"

    async def go() -> None:
        async with running(url) as run, httpx.AsyncClient(timeout=30) as http:
            target = run.target()
            result = await post_callback(http, target, text_xml(target, "o-down", "你好", 4242),
                                         tries=1)  # fmt: skip
            assert result.status == 503  # WeChat retries an answer that is not 200

    asyncio.run(go())


@pytest.fixture
def pg_db_url(tmp_path: Path) -> str:
    if not PG_URL:
        pytest.skip("KEFU_TEST_DATABASE_URL is not set: needs a PostgreSQL to cut and restrict")
    from kefu.db.migrate import upgrade

    url = fresh_database("postgresql", tmp_path)
    upgrade(url)
    return url


async def _admin(db_url: str, *statements: str) -> None:
    """As another client: statements on the test database, then every other session of it
    cut (``pg_terminate_backend``, the 57P01 that ``pg_ctl restart -m fast`` sends)."""
    dsn = db_url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SET default_transaction_read_only = off")  # this session writes
        for statement in statements:
            await conn.execute(statement.format(db=dsn.rsplit("/", 1)[1]))
        await conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                           "WHERE datname = current_database() AND pid <> pg_backend_pid()")  # fmt: skip
    finally:
        await conn.close()


def test_cut_and_read_only_database_then_back(pg_db_url: str) -> None:
    async def go() -> None:
        async with (
            kefu(pg_db_url) as base,
            httpx.AsyncClient(base_url=base, timeout=30, headers={"Origin": ORIGIN}) as http,
        ):
            opened = await http.post(f"{API}/sessions", json={})
            assert opened.status_code == 201, opened.text
            session = opened.json()
            auth = {"Authorization": f"Bearer {session['token']}"}
            messages = f"{API}/sessions/{session['session']}/messages"

            async def send(text: str, client_id: str) -> httpx.Response:
                return await http.post(messages, json={"text": text, "client_id": client_id},
                                       headers=auth)  # fmt: skip

            assert (await send("第一条", "c-1")).status_code == 202
            # Every pooled connection cut (a fast restart): the next request still succeeds,
            # pool_pre_ping replaced the dead connections.
            await _admin(pg_db_url)
            assert (await send("第二条", "c-2")).status_code == 202

            # A demoted primary: writes refused (25006) -> 503, nothing half-written.
            await _admin(pg_db_url, 'ALTER DATABASE "{db}" SET default_transaction_read_only = on')
            try:
                assert_503(await send("只读时", "c-3"))
                listed = await http.get(f"{messages}?after=0", headers=auth)
                assert listed.status_code == 200  # reads still answer
            finally:
                await _admin(pg_db_url, 'ALTER DATABASE "{db}" RESET default_transaction_read_only')
            # Back: the same message (the client retries with its client_id) is stored once.
            again = await send("只读时", "c-3")
            assert again.status_code == 202 and again.json()["duplicate"] is False
            twice = await send("只读时", "c-3")
            assert twice.status_code == 202 and twice.json()["duplicate"] is True
            listed = (await http.get(f"{messages}?after=0", headers=auth)).json()["messages"]
            mine = [m["text"] for m in listed if m["direction"] == "in"]
            assert mine == ["第一条", "第二条", "只读时"]

    asyncio.run(go())


@pytest.fixture
def own_postgres() -> Iterator[tuple[str, Callable[[str], None]]]:
    """A PostgreSQL instance of this test's own (initdb into a temp dir, pg_ctl on a free
    loopback port, as the postgres user), to stop and start: (its URL, pg_ctl)."""
    from tests.db.replica import _as_postgres, _bin

    if not list(Path("/usr/lib/postgresql").glob("*/bin")):
        pytest.skip("PostgreSQL's server programs (initdb, pg_ctl) are not installed")
    if os.geteuid() != 0 and pwd.getpwuid(os.geteuid()).pw_name != "postgres":
        pytest.skip("running pg_ctl needs root or the postgres user")
    folder = Path(tempfile.mkdtemp(prefix="kefu-pg-"))
    port, data = free_port(), folder / "data"
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    (folder / "pw").write_text("kefu\n")
    (folder / "pw").chmod(0o644)

    def pg_ctl(action: str) -> None:
        done = _as_postgres(
            f"{_bin('pg_ctl')} -D {data} -l {folder}/pg.log -w -t 60 -m fast -o "
            f"'-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off' {action}"
        )
        assert done.returncode == 0, done.stderr

    done = _as_postgres(f"{_bin('initdb')} -D {data} -U kefu --pwfile={folder}/pw "
                        "-A scram-sha-256")  # fmt: skip
    assert done.returncode == 0, done.stderr
    pg_ctl("start")
    try:
        yield f"postgresql://kefu:kefu@127.0.0.1:{port}/postgres", pg_ctl
    finally:
        _as_postgres(f"{_bin('pg_ctl')} -D {data} -m immediate -w stop")
        shutil.rmtree(folder, ignore_errors=True)


def test_postgres_stopped_then_started(own_postgres: tuple[str, Callable[[str], None]]) -> None:
    from kefu.db.migrate import upgrade

    url, pg_ctl = own_postgres
    upgrade(url)

    async def go() -> None:
        async with (
            kefu(url) as base,
            httpx.AsyncClient(base_url=base, timeout=30, headers={"Origin": ORIGIN}) as http,
        ):
            session = (await http.post(f"{API}/sessions", json={})).json()
            auth = {"Authorization": f"Bearer {session['token']}"}
            messages = f"{API}/sessions/{session['session']}/messages"
            body = {"text": "停机前", "client_id": "s-1"}
            assert (await http.post(messages, json=body, headers=auth)).status_code == 202

            await asyncio.to_thread(pg_ctl, "stop")  # pooled connections cut, then refused
            down = {"text": "停机时", "client_id": "s-2"}
            assert_503(await http.post(messages, json=down, headers=auth))
            assert_503(await http.post(messages, json=down, headers=auth))
            assert (await http.get("/readyz")).status_code == 503

            await asyncio.to_thread(pg_ctl, "start")  # no kefu restart: the very next succeeds
            again = await http.post(messages, json=down, headers=auth)
            assert again.status_code == 202 and again.json()["duplicate"] is False
            assert (await http.get("/readyz")).status_code == 200
            listed = (await http.get(f"{messages}?after=0", headers=auth)).json()["messages"]
            assert [m["text"] for m in listed if m["direction"] == "in"] == ["停机前", "停机时"]

    asyncio.run(go())
