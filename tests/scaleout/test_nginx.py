"""The shipped nginx configuration (deploy/nginx/kefu.conf) through Debian's nginx in front of
`kefu serve --workers 2`: a request reaches a web process (also after one is killed), an SSE
stream is not buffered, an oversize body is refused by nginx, and kefu sees the client's real
address (believed from a trusted balancer only). Skipped when nginx is not installed."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import CSRF, REPO_ROOT
from tests.ports import free_port

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
pytestmark = pytest.mark.skipif(
    NGINX is None, reason="nginx is not installed (apt-get install nginx; .ci/run does)"
)
PASSWORD = "nginx-test-2026"
BALANCER = "127.0.0.2"  # a trusted load balancer in front of nginx (its address on loopback)


def nginx_conf(tmp: Path, *, kefu_port: int, listen: int) -> Path:
    """The shipped file with its three marked lines pointed at this test's ports and
    balancer, inside a main configuration that keeps every path in ``tmp``."""
    site = (REPO_ROOT / "deploy" / "nginx" / "kefu.conf").read_text()
    for old, new in {
        "server 127.0.0.1:8000 ": f"server 127.0.0.1:{kefu_port} ",
        "listen 80;": f"listen 127.0.0.1:{listen};",
        "set_real_ip_from 10.0.0.0/8;": f"set_real_ip_from {BALANCER};",
    }.items():
        assert old in site, f"deploy/nginx/kefu.conf lost its marked line {old!r}"
        site = site.replace(old, new)
    (tmp / "kefu.conf").write_text(site)
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers may write the temp dirs
    main = tmp / "nginx.conf"
    main.write_text(f"""{user}worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include {tmp}/kefu.conf;
}}
""")
    return main


def wait_for(url: str, seconds: float, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{process.args} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url} did not answer in {seconds} s")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    from kefu.auth.service import create_user
    from kefu.cli_support import run_in_session
    from kefu.config import load_settings
    from kefu.db.migrate import upgrade

    tmp = tmp_path_factory.mktemp("nginx")
    url = f"sqlite:///{tmp / 'kefu.db'}"
    upgrade(url)
    run_in_session(load_settings(database_url=url, secret_key="x"),
                   lambda db: create_user(db, username="agent1", password=PASSWORD,
                                          role="agent"))  # fmt: skip
    kefu_port, listen = free_port(), free_port()
    env = {**os.environ, "KEFU_DATABASE_URL": url, "KEFU_SECRET_KEY": "nginx-test",
           "KEFU_ROLE": "web", "KEFU_FORWARDED_ALLOW_IPS": '["127.0.0.1"]',
           "KEFU_LOG_LEVEL": "INFO", "KEFU_BUS_URL": ""}  # fmt: skip
    log = tmp / "kefu.log"
    web = subprocess.Popen(
        [sys.executable, "-m", "kefu.cli", "serve", "--workers", "2", "--no-migrate",
         "--port", str(kefu_port)], env=env, start_new_session=True,
        stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    nginx = subprocess.Popen(
        [NGINX, "-c", str(nginx_conf(tmp, kefu_port=kefu_port, listen=listen))]
    )
    try:
        wait_for(f"http://127.0.0.1:{kefu_port}/healthz", 120, web)
        # Both processes ready (the first to start answers alone until the second is).
        deadline = time.monotonic() + 120
        while log.read_text().count("Application startup complete") < 2:
            assert time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.3)
        wait_for(f"http://127.0.0.1:{listen}/healthz", 10, nginx)
        yield {"base": f"http://127.0.0.1:{listen}", "url": url, "web": web, "tmp": tmp}
    finally:
        nginx.terminate()
        nginx.wait(10)
        web.terminate()  # uvicorn's supervisor stops its web processes
        try:  # (not waiting long: a process restarted after the kill may still be starting)
            web.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(web.pid, signal.SIGKILL)
            web.wait()


def web_processes(web: subprocess.Popen[bytes]) -> list[int]:
    """uvicorn's children of the `kefu serve` process (the web processes)."""
    out = subprocess.run(["pgrep", "-P", str(web.pid)], capture_output=True, text=True).stdout
    children = [int(p) for p in out.split()]
    # multiprocessing's resource tracker is a child too; the web processes run uvicorn.
    return [
        p for p in children if b"resource_tracker" not in Path(f"/proc/{p}/cmdline").read_bytes()
    ]


def sign_in(client: httpx.Client, **headers: str) -> httpx.Response:
    token = CSRF.search(client.get("/login").text).group(1)  # type: ignore[union-attr]
    return client.post("/login", data={"username": "agent1", "password": PASSWORD,
                                       "csrf": token, "next": "/"}, headers=headers)  # fmt: skip


def db_rows(url: str, sql: str) -> list[tuple[object, ...]]:
    import sqlite3

    with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
        return db.execute(sql).fetchall()


def test_requests_reach_a_web_process_even_after_one_is_killed(cluster: dict) -> None:
    base, web = cluster["base"], cluster["web"]
    processes = web_processes(web)  # type: ignore[arg-type]
    assert len(processes) == 2
    with httpx.Client(base_url=base, timeout=10) as client:
        assert client.get("/healthz").json()["status"] == "ok"
        assert client.get("/healthz").headers["server"].startswith("nginx")
        os.kill(processes[0], signal.SIGKILL)  # one web process dies
        answered = [client.get("/healthz").status_code for _ in range(20)]
    assert answered == [200] * 20  # the other took every request meanwhile


def test_an_oversize_body_is_refused_by_nginx(cluster: dict) -> None:
    with httpx.Client(base_url=cluster["base"], timeout=10) as client:  # type: ignore[arg-type]
        refused = client.post("/login", content=b"x" * (1024 * 1024 + 1))
        assert refused.status_code == 413 and "nginx" in refused.text  # not kefu's own 413
        wechat = client.post("/channels/wechat/demo", content=b"<xml>" + b"x" * 70_000)
        assert wechat.status_code == 413 and "nginx" in wechat.text


def test_the_client_address_and_an_unbuffered_event_stream(cluster: dict) -> None:
    base, url = cluster["base"], cluster["url"]
    # A client forging its address directly: nginx replaces the header with the address it
    # sees; kefu counts the failed login against that, not the forged one.
    with httpx.Client(base_url=base, timeout=10) as direct:
        token = CSRF.search(direct.get("/login").text).group(1)  # type: ignore[union-attr]
        direct.post("/login", data={"username": "agent1", "password": "wrong", "csrf": token},
                    headers={"X-Forwarded-For": "198.51.100.9"})  # fmt: skip
    scopes = {s for (s,) in db_rows(url, "SELECT scope FROM login_throttle")}  # type: ignore[arg-type]
    assert any("127.0.0.1" in s for s in scopes) and not any("198.51.100.9" in s for s in scopes)

    # Through the trusted balancer: the address it forwards is the one kefu records.
    balancer = httpx.HTTPTransport(local_address=BALANCER)
    with httpx.Client(base_url=base, timeout=10, transport=balancer) as client:
        signed = sign_in(client, **{"X-Forwarded-For": "203.0.113.7"})
        assert signed.status_code == 303
        ips = [ip for (ip,) in db_rows(url, "SELECT ip FROM auth_sessions")]  # type: ignore[arg-type]
        assert ips == ["203.0.113.7"]

        # The inbox's stream: its first event arrives at once, not when the stream ends.
        began = time.monotonic()
        with client.stream("GET", "/workspace/events", params={"max_seconds": 30}) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            first = next(stream.iter_text())
        assert "event: hello" in first and time.monotonic() - began < 10
