"""Parallel brute force (issue 21, findings 1 and 2): are more tries checked than the limit?

Run: .venv/bin/python benchmarks/security_bruteforce.py [--in-flight 100] [--tries 400]
     [--database-url postgresql://…]

1. Login: kefu in a subprocess (uvicorn, production argon2 profile); ``--tries`` wrong
   passwords for one real account, ``--in-flight`` at a time, then the right one. Printed:
   answers by status, passwords actually checked (audited ``login.failed`` and
   ``login.locked_out``), the limit, and whether the right password then got in.
2. One-time codes: ``--tries`` wrong codes for one challenge through ``identity.otp.verify``,
   ``--in-flight`` sessions at a time, each on its own connection, then the real code. Printed:
   codes checked (answers "wrong" plus the one that locked), the limit, the stored attempts,
   and whether the real code then bound.

The database is SQLite in a temporary directory unless ``--database-url`` names another
(PostgreSQL: its public schema is dropped and recreated).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
SERVER = """
import sys, uvicorn
from kefu.app import create_app
from kefu.config import load_settings
uvicorn.run(create_app(load_settings()), host="127.0.0.1", port=int(sys.argv[1]),
            log_level="warning")
"""
PASSWORD = "right-password-1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _prepare(url: str) -> None:
    from kefu.auth.service import create_user
    from kefu.db.engine import make_engine, make_sessionmaker, session_scope

    engine = make_engine(url)
    try:
        async with session_scope(make_sessionmaker(engine)) as db:
            await create_user(db, username="target", password=PASSWORD, role="admin")
    finally:
        await engine.dispose()


async def _count(url: str, actions: tuple[str, ...]) -> int:
    from sqlalchemy import func, select

    from kefu.audit.models import AuditEntry
    from kefu.db.engine import make_engine, make_sessionmaker

    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as db:
            return await db.scalar(
                select(func.count()).select_from(AuditEntry).where(
                    AuditEntry.action.in_(actions), AuditEntry.actor == "target"
                )
            )  # fmt: skip
    finally:
        await engine.dispose()


async def _login_attack(base: str, tries: int, in_flight: int) -> tuple[dict[int, int], str]:
    async with httpx.AsyncClient(base_url=base, timeout=300,
                                 limits=httpx.Limits(max_connections=in_flight + 5)) as http:  # fmt: skip
        token = CSRF.search((await http.get("/login")).text).group(1)
        gate = asyncio.Semaphore(in_flight)
        statuses: list[int] = []

        async def one(password: str) -> httpx.Response:
            async with gate:
                return await http.post("/login", data={"username": "target",
                                       "password": password, "csrf": token, "next": "/"},
                                       follow_redirects=False)  # fmt: skip

        answers = await asyncio.gather(*(one(f"wrong-password-{n}") for n in range(tries)))
        statuses = [a.status_code for a in answers]
        right = await one(PASSWORD)
        # A 303 to the code page is a password accepted with a code still due (the target
        # is an admin, and admins need an authenticator code by default): not a sign-in.
        outcome = str(right.status_code)
        if right.status_code == 303:
            due = right.headers.get("location", "").startswith("/login/totp")
            outcome += " to the code page: PASSWORD ACCEPTED" if due else ": LOGGED IN"
        else:
            outcome += ": refused"
    return {s: statuses.count(s) for s in sorted(set(statuses))}, outcome


def login_round(url: str, tries: int, in_flight: int, env: dict[str, str]) -> None:
    from kefu.db.migrate import upgrade

    upgrade(url)
    asyncio.run(_prepare(url))
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline:
                raise SystemExit("the server did not start")
            time.sleep(0.2)
        start = time.perf_counter()
        answers, right = asyncio.run(_login_attack(base, tries, in_flight))
        elapsed = time.perf_counter() - start
    finally:
        server.terminate()
        server.wait(timeout=20)
    checked = asyncio.run(_count(url, ("login.failed", "login.locked_out")))
    print(f"\n== login: {tries} wrong passwords for one account, {in_flight} in flight "
          f"({elapsed:.1f} s)")  # fmt: skip
    print(f"answers                  {answers}")
    print(f"passwords checked        {checked} (limit 5 per account and address)")
    print(f"right password then      HTTP {right}")


async def _otp_attack(url: str, tries: int, in_flight: int) -> tuple[dict[str, int], int, bool]:
    from sqlalchemy import select

    from kefu.db.engine import make_engine, make_sessionmaker, session_scope
    from kefu.identity import otp

    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    try:
        async with session_scope(factory) as db:
            code = await otp.issue(db, purpose="bind", address="13800000000", payload={})
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        gate = asyncio.Semaphore(in_flight)

        async def one() -> str:
            async with gate, session_scope(factory) as db:
                check = await otp.verify(db, purpose="bind", address="13800000000", code=wrong)
                return check.reason or "ok"

        reasons = await asyncio.gather(*(one() for _ in range(tries)))
        async with session_scope(factory) as db:
            real = await otp.verify(db, purpose="bind", address="13800000000", code=code)
            attempts = (await db.scalars(select(otp.OtpChallenge.attempts))).first()
        return {r: reasons.count(r) for r in sorted(set(reasons))}, attempts, real.ok
    finally:
        await engine.dispose()


def otp_round(url: str, tries: int, in_flight: int) -> None:
    from kefu.db.migrate import upgrade
    from kefu.identity.otp import MAX_ATTEMPTS

    upgrade(url)
    start = time.perf_counter()
    answers, attempts, bound = asyncio.run(_otp_attack(url, tries, in_flight))
    elapsed = time.perf_counter() - start
    print(f"\n== one-time code: {tries} wrong codes, {in_flight} in flight ({elapsed:.1f} s)")
    print(f"answers                  {answers}")
    print(f"codes checked            {answers.get('wrong', 0) + 1} (limit {MAX_ATTEMPTS})")
    print(f"stored attempts          {attempts}")
    print(f"real code then           {'BOUND' if bound else 'refused'}")


def _reset_postgres(url: str) -> None:
    import asyncpg

    from kefu.config import normalise_database_url

    async def go() -> None:
        dsn = normalise_database_url(url).replace("postgresql+asyncpg://", "postgresql://")
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        finally:
            await conn.close()

    asyncio.run(go())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tries", type=int, default=400)
    parser.add_argument("--in-flight", type=int, default=100)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "KEFU_PASSWORD_HASHING"}
    env.update({"KEFU_SECRET_KEY": "bench", "KEFU_ROUTING_TICK": "0",
                "KEFU_LOGIN_IP_MAX_FAILURES": "10000"})  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        for name, run in (("login", login_round), ("otp", otp_round)):
            if args.database_url:
                _reset_postgres(args.database_url)
                url = args.database_url
            else:
                url = f"sqlite:///{Path(tmp) / f'{name}.db'}"
            if name == "login":
                run(url, args.tries, args.in_flight, {**env, "KEFU_DATABASE_URL": url})
            else:
                run(url, args.tries, args.in_flight)


if __name__ == "__main__":
    main()
