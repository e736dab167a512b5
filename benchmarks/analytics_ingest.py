"""Behaviour analytics ingest, on one core (issue 15, "Measured"):

1. the event store alone: generated events inserted into DuckDB in batches (Arrow), events/s;
2. the collector path without HTTP: request bodies of 20 events parsed, validated, enriched
   (user agent, channel, masking, keyed hash), deduplicated and queued, then flushed, events/s;
3. single-event requests through the ASGI app (httpx in-process, no socket), requests/s;
4. storage bytes per event in a DuckDB file (after CHECKPOINT);
5. the tracker's size, minified and gzipped (needs ``make build``).

    python benchmarks/analytics_ingest.py [--events 200000]

Target: >= 50,000 events/s per core batched (1 and 2). Rates are given per second of this
process's CPU time ("per core": what one core does when it is not shared) and per second of
wall time (what it did on this machine as loaded now).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from kefu.analytics.collector import Collector
from kefu.analytics.enrich import parse_agent
from kefu.analytics.generate import generate
from kefu.analytics.settings import AnalyticsSettings, Site
from kefu.analytics.store import COLUMNS, DuckDBStore

UA = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/124.0.0.0 Safari/537.36")  # fmt: skip
TRACKER = Path(__file__).resolve().parent.parent / "src/kefu/web/static/dist/tracker.js"


class _Capture:
    def __init__(self) -> None:
        self.chunks: list[dict[str, list[Any]]] = []

    def insert(self, columns: dict[str, list[Any]]) -> int:
        self.chunks.append({k: list(v) for k, v in columns.items()})
        return len(columns["event_id"])

    def set_campaign_cost(self, *args: Any) -> None:
        pass


def store_insert(events: int, batch: int) -> tuple[float, float, int]:
    capture = _Capture()
    generate(capture, 30, max(1, events // 16), chunk=batch)  # ~16 events per visitor
    store = DuckDBStore(":memory:", threads=1)
    started, cpu = time.perf_counter(), time.process_time()
    total = sum(store.insert(chunk) for chunk in capture.chunks)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    store.close()
    return total / cpu, total / elapsed, total


def bodies(count: int, per: int) -> list[bytes]:
    now = int(time.time() * 1000)
    out = []
    for b in range(count):
        # as a visit sends them: the landing page's URL carries the campaign's UTM and the
        # search engine's referrer, the pages after it a plain path (and one a query)
        events = [{"id": f"b{b:07d}e{i:03d}", "t": now - 500, "type": "pageview" if i % 4 == 0
                   else "click", "url": f"https://bank.example/demo/bank/p{i % 7}"
                   + (f"?utm_source=baidu&utm_campaign=c{b % 3}" if i == 0 else
                      "?tab=2" if i == 5 else ""),
                   "ref": "https://www.baidu.com/s?wd=x" if i == 0 else
                   f"https://bank.example/demo/bank/p{(i - 1) % 7}",
                   "target": "main > a.transfer"} for i in range(per)]  # fmt: skip
        out.append(json.dumps({"sent_at": now, "visitor": f"visitor{b % 5000:06d}",
                               "session": f"session{b:08d}", "events": events}).encode())  # fmt: skip
    return out


def collector_path(requests: int, per: int) -> tuple[float, float]:
    store = DuckDBStore(":memory:", threads=1)
    settings = AnalyticsSettings(sites=[Site(key="bank")], queue_events=10_000_000,
                                 batch_events=50_000)  # fmt: skip
    collector = Collector(store, settings, b"bench")
    payloads = bodies(requests, per)
    parse_agent(UA)  # ua-parser compiles its rules once (the running collector does at start)
    started, cpu = time.perf_counter(), time.process_time()
    for i, body in enumerate(payloads):
        collector.accept("bank", body, UA)
        if i % 2500 == 2499:  # the writer's batches, inline here (one core)
            collector.flush()
    collector.flush()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert store.count() == requests * per, (store.count(), dict(collector.refused))
    store.close()
    return requests * per / cpu, requests * per / elapsed


async def single_event_requests(count: int) -> tuple[float, float]:
    import httpx

    from kefu.app import create_app
    from kefu.config import load_settings
    from kefu.db.migrate import upgrade

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/k.db"
        upgrade(url)
        settings = load_settings(database_url=url, secret_key="bench", routing_tick=0,
                                 analytics={"store_path": f"{tmp}/e.duckdb"})  # fmt: skip
        app = create_app(settings)
        payloads = bodies(count, 1)
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://bench") as client,
        ):
            headers = {"content-type": "text/plain", "user-agent": UA}
            await client.post("/collect/demo-bank", content=payloads[0], headers=headers)
            started, cpu = time.perf_counter(), time.process_time()
            for body in payloads[1:]:
                r = await client.post("/collect/demo-bank", content=body, headers=headers)
                assert r.status_code == 202, r.text
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
            return (count - 1) / cpu, (count - 1) / elapsed


def bytes_per_event(events: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "e.duckdb")
        store = DuckDBStore(path, threads=1)
        n = generate(store, 30, max(1, events // 16))
        store.query("CHECKPOINT")
        store.close()
        return os.path.getsize(path) / n


def main() -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args()
    print(f"columns per event: {len(COLUMNS)}")
    print("rates: per CPU-second (one core) / per wall-second")
    for batch in (5_000, 50_000):
        cpu, wall, total = store_insert(args.events, batch)
        print(f"1. store insert, batches of {batch:>6}: {cpu:>9,.0f} / {wall:>9,.0f} events/s"
              f" ({total} events)")  # fmt: skip
    cpu, wall = collector_path(args.events // 20, 20)
    print(f"2. collector (parse, validate, enrich, dedupe, queue, write), 20 per request: "
          f"{cpu:,.0f} / {wall:,.0f} events/s")  # fmt: skip
    cpu, wall = asyncio.run(single_event_requests(2_000))
    print(f"3. single-event requests through the app (in-process ASGI): {cpu:,.0f} / {wall:,.0f}"
          " requests/s")  # fmt: skip
    print(f"4. storage: {bytes_per_event(args.events):.1f} bytes per event (DuckDB file)")
    if TRACKER.exists():
        raw = TRACKER.read_bytes()
        print(f"5. tracker: {len(raw):,} bytes minified, {len(gzip.compress(raw, 9)):,} gzipped")
    else:
        print("5. tracker: not built (make build)")


if __name__ == "__main__":
    main()
