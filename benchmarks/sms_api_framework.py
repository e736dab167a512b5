"""The SMS send route's framework part, before and after issue #24's second HTTP pass, in one
process (CPU time, alternating, median of 5 runs of 3,000 requests): the real dependencies
(``require(SMS_SEND)`` over ``get_db``, a session committed twice, ``response_model``
re-validating ``SendOut``; against ``require_sms_send`` and ``lazy_session``, a JSONResponse),
the real ``SendIn``, a real SQLite sessionmaker, the API key in its cache. No middleware, no
policy, no group commit: only what the change touched.

    .venv/bin/python benchmarks/sms_api_framework.py
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from kefu.auth import service as auth_service
from kefu.auth.permissions import Permission
from kefu.db.engine import make_engine, make_sessionmaker
from kefu.outbound.api import Accepted, SendIn, SendOut, require_sms_send
from kefu.web.deps import Principal, get_db, require
from kefu.web.lazy_db import lazy_session

app = FastAPI()


@app.post("/before", status_code=202, response_model=SendOut)
async def before(
    body: SendIn,
    request: Request,
    principal: Principal = Depends(require(Permission.SMS_SEND)),
    db=Depends(get_db),
):
    await db.commit()
    return SendOut(accepted=[Accepted(id=1, to=n, state="accepted") for n in body.to], refused=[])


@app.post("/after", status_code=202, response_model=SendOut)
async def after(body: SendIn, request: Request, principal: Principal = Depends(require_sms_send)):
    async with lazy_session(request) as db:
        await db.commit()
        return JSONResponse(
            {"accepted": [{"id": 1, "to": n, "state": "accepted"} for n in body.to], "refused": []},
            status_code=202,
        )


KEY = "kefu_" + "a" * 40
BODY = json.dumps({"to": ["13900000001"], "text": "hello", "kind": "notification"}).encode()


async def call(path):
    sent = []

    async def receive():
        return {"type": "http.request", "body": BODY, "more_body": False}

    async def send(m):
        sent.append(m)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "app": app,
        "session": {},
        "headers": [
            (b"content-type", b"application/json"),
            (b"authorization", f"Bearer {KEY}".encode()),
            (b"content-length", str(len(BODY)).encode()),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "state": {},
    }
    await app(scope, receive, send)
    assert sent[0]["status"] == 202, sent
    return sent[1]["body"]


async def main():
    engine = make_engine("sqlite+aiosqlite:///" + tempfile.mktemp())
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.reads = None
    auth_service._verified.ttl = 1e9
    auth_service._verified.put(
        auth_service.api_key_digest(KEY),
        auth_service.KeyHolder(1, "bench", "admin"),
        auth_service._verified.generation,
    )
    assert await call("/before") == await call("/after")
    res = {"/before": [], "/after": []}
    for _ in range(5):
        for p in ("/before", "/after"):
            t = time.process_time()
            for _n in range(3000):
                await call(p)
            res[p].append((time.process_time() - t) / 3000 * 1e3)
    for p, v in res.items():
        print(
            p,
            "CPU-ms/request runs",
            " ".join(f"{x:.3f}" for x in v),
            "median",
            f"{sorted(v)[2]:.3f}",
        )
    print(
        "ratio after/before (medians)",
        f"{sorted(res['/after'])[2] / sorted(res['/before'])[2]:.2f}",
    )
    await engine.dispose()


print("load before", os.getloadavg())
asyncio.run(main())
print("load after", os.getloadavg())
