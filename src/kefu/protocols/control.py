"""HTTP control API of a running simulator (FastAPI, served by uvicorn in the same loop).

``POST /mo {"from","to","text"}`` injects a mobile-originated message;
``GET /mt?to=PHONE`` lists the messages delivered to PHONE (decoded, reassembled);
``GET /stats`` shows counters; ``POST /faults`` changes behaviour at run time.
"""

from __future__ import annotations

import asyncio

import uvicorn
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from .errors import ProtocolError
from .simulator import CarrierSimulator, TokenBucket


class MoIn(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    source: str = Field(alias="from", min_length=1, max_length=21)
    to: str = Field(min_length=1, max_length=21)
    text: str = Field(min_length=1, max_length=255 * 67)


class FaultsIn(BaseModel):
    drop: bool = False
    response_delay: float | None = Field(default=None, ge=0)
    max_tps: float | None = Field(default=None, ge=0)  # 0 lifts the limit
    failure_ratio: float | None = Field(default=None, ge=0, le=1)
    report_delay: float | None = Field(default=None, ge=0)


def control_app(sim: CarrierSimulator) -> FastAPI:
    app = FastAPI(title=f"kefu {sim.protocol} simulator control", docs_url=None, redoc_url=None)

    @app.post("/mo")
    async def inject_mo(body: MoIn) -> dict[str, object]:
        try:
            parts = await sim.inject_mo(body.source, body.to, body.text)
        except ProtocolError as exc:
            raise HTTPException(422, f"cannot encode MO: {exc}") from exc
        return {"parts": parts}

    @app.get("/mt")
    async def list_mt(to: str) -> list[dict[str, object]]:
        return [m.as_json() for m in sim.mt_for(to)]

    @app.get("/stats")
    async def stats() -> dict[str, object]:
        return {"protocol": sim.protocol, "sessions": len(sim.sessions), **sim.stats}

    @app.post("/faults")
    async def faults(body: FaultsIn) -> dict[str, object]:
        cfg = sim.config
        if body.response_delay is not None:
            cfg.response_delay = body.response_delay
        if body.max_tps is not None:
            cfg.max_tps = body.max_tps or None
            sim.bucket = TokenBucket(cfg.max_tps)
        if body.failure_ratio is not None:
            cfg.failure_ratio = body.failure_ratio
        if body.report_delay is not None:
            cfg.report_delay = body.report_delay
        if body.drop:
            sim.drop_connections()
        return {"response_delay": cfg.response_delay, "max_tps": cfg.max_tps,
                "failure_ratio": cfg.failure_ratio, "report_delay": cfg.report_delay}  # fmt: skip

    return app


async def start_control(sim: CarrierSimulator, host: str, port: int) -> uvicorn.Server:
    """Serve the control API in the running loop; returns once it is listening."""
    config = uvicorn.Config(control_app(sim), host=host, port=port, log_level="warning",
                            lifespan="off")  # fmt: skip
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # surfaces a bind error such as "address already in use"
            raise RuntimeError("control API stopped before it started")
        await asyncio.sleep(0.01)
    server.task = task  # type: ignore[attr-defined]
    return server
