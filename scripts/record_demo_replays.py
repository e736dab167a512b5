"""Record a few real sessions on the demo bank site, once, for ``kefu demo`` to show replays
without anyone browsing first (kefu.analytics.demo_replays seeds them).

    python scripts/record_demo_replays.py [--out src/kefu/analytics/data/demo_replays.json.gz]

Starts kefu on a loopback port with a throw-away SQLite database (make build first: the
tracker's assets), drives Debian's Chromium through Playwright through three visits — a
transfer abandoned at its SMS-code step, the card application failing on Chrome 122, a
spring-card campaign visitor who applies — and writes what kefu stored: the events (the
collector's rows, enriched and masked) and the replay chunks (masked, gzip), as one gzipped
JSON file. Every input was masked in the page by the recorder, as in production.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gzip
import json
import sqlite3
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CHROME_124 = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/124.0.0.0 Safari/537.36")  # fmt: skip
CHROME_122 = CHROME_124.replace("124.0.0.0", "122.0.6261.94")
MOBILE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1")  # fmt: skip


def transfer_abandoned(page: Any, base: str) -> None:
    page.goto(base + "/demo/bank/")
    page.click("[data-track=home-login]")
    page.goto(base + "/demo/bank/accounts")
    page.mouse.wheel(0, 300)
    page.click("[data-track=nav-transfer]")
    page.wait_for_url("**/demo/bank/transfer")
    page.fill("input[name=payee_name]", "张三")
    page.fill("input[name=payee_account]", "6214830000001126488")
    page.fill("input[name=amount]", "2000")
    page.click("[data-testid=transfer-next]")
    page.wait_for_url("**/transfer/confirm")
    page.fill("input[name=remark]", "房租")
    page.click("button[type=submit]")
    page.wait_for_url("**/transfer/verify")
    page.wait_for_timeout(1500)  # waits for the SMS code, which does not come
    page.click("[data-track=verify-help]")


def card_fails_on_chrome_122(page: Any, base: str) -> None:
    page.goto(base + "/demo/bank/")
    page.click("[data-track=home-card]")
    page.wait_for_url("**/cards/apply")
    page.wait_for_timeout(1500)  # the rates request answers 500 on this version
    page.fill("input[name=name]", "李四")
    page.wait_for_timeout(500)
    page.goto(base + "/demo/bank/help")


def campaign_applies(page: Any, base: str) -> None:
    page.goto(base + "/demo/bank/cards/apply?utm_source=baidu&utm_medium=cpc"
              "&utm_campaign=spring-card")  # fmt: skip
    page.wait_for_timeout(800)
    for name, value in (("name", "王五"), ("id_number", "110101199003071234"),
                        ("mobile", "13812345678"), ("income", "15000")):  # fmt: skip
        locator = page.locator(f"input[name={name}], select[name={name}]")
        if locator.count():
            locator.first.fill(value)
    page.click("button[type=submit]")
    page.wait_for_url("**/cards/apply/done")


VISITS = [(transfer_abandoned, CHROME_124), (card_fails_on_chrome_122, CHROME_122),
          (campaign_applies, MOBILE)]  # fmt: skip


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime | date) else value


def record(out: Path, chromium: str) -> None:
    from playwright.sync_api import sync_playwright
    from tests.security.live import LiveServer

    from kefu.config import load_settings
    from kefu.db.migrate import upgrade

    tmp = Path(tempfile.mkdtemp())
    url = f"sqlite:///{tmp / 'kefu.db'}"
    upgrade(url)
    settings = load_settings(database_url=url, secret_key="record-demo-replays",
                             analytics={"store_path": str(tmp / "events.duckdb"),
                                        "flush_seconds": 0.05,
                                        "customer_hash_key": "record"})  # fmt: skip
    server = LiveServer(settings)
    with server as base, sync_playwright() as p:
        for visit, agent in VISITS:
            # the user agent as a flag: beacons sent while a page unloads do not carry a
            # context's override, and headless Chromium's own is dropped as a bot
            browser = p.chromium.launch(executable_path=chromium, headless=True,
                                        args=["--no-sandbox", "--disable-gpu",
                                              f"--user-agent={agent}"])  # fmt: skip
            page = browser.new_page(locale="zh-CN")
            visit(page, base)
            page.wait_for_load_state("networkidle")
            page.wait_for_timeout(1000)  # the last page's snapshot goes 0.5 s after it is taken
            page.evaluate("kefuAnalytics.flush()")
            page.goto("about:blank")  # the page hides: the rest goes by beacon
            page.wait_for_timeout(1000)
            browser.close()
        time.sleep(3)
        store = server.app.state.analytics.store
        server.app.state.analytics.collector.flush()
        names = [r[0] for r in store.query("DESCRIBE events")]
        events = [dict(zip(names, map(_plain, row), strict=True))
                  for row in store.query("SELECT * FROM events ORDER BY ts")]  # fmt: skip
    with sqlite3.connect(tmp / "kefu.db") as db:
        chunks = [{"session": s, "visitor": v, "seq": q, "first_ts": f, "last_ts": t,
                   "events": n, "raw_bytes": r, "blob": base64.b64encode(b).decode()}
                  for s, v, q, f, t, n, r, b in db.execute(
                      "SELECT session_id, visitor_id, seq, first_ts, last_ts, events, raw_bytes, "
                      "blob FROM analytics_replay_chunks ORDER BY session_id, seq")]  # fmt: skip
    # the recording server's origin is not the demo's: failed URLs and the snapshots' links
    # keep the path only (the player then loads the page's styles from the kefu it runs in)
    for e in events:
        e["target"] = e["target"].replace(base, "")
    for c in chunks:
        raw = gzip.decompress(base64.b64decode(c["blob"])).replace(base.encode(), b"")
        c["raw_bytes"], c["blob"] = len(raw), base64.b64encode(gzip.compress(raw, 6)).decode()
    sessions = {e["session_id"] for e in events}
    replayed = {c["session"] for c in chunks}
    if len(sessions) < len(VISITS) or not sessions <= replayed:
        raise SystemExit(f"{len(sessions)} sessions, {len(replayed)} with replays: record again")
    out.parent.mkdir(parents=True, exist_ok=True)
    data = {"recorded": datetime.now().isoformat(timespec="seconds"), "events": events,
            "chunks": chunks}  # fmt: skip
    out.write_bytes(gzip.compress(json.dumps(data, ensure_ascii=False).encode(), 9))
    print(f"{len(sessions)} sessions, {len(events)} events, {len(chunks)} replay chunks → {out} "
          f"({out.stat().st_size / 1000:.0f} KB)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(ROOT / "src/kefu/analytics/data/demo_replays.json.gz"))
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    asyncio.set_event_loop_policy(None)
    record(Path(args.out), args.chromium)


if __name__ == "__main__":
    main()
