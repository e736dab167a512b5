"""Session replay, measured in Chromium (issue 15, "Measured"):

1. the tracker's size gzipped without replay (tracker.js) and what a sampled session loads
   on top (tracker-replay.js, rrweb's recorder), and the player page's bundle;
2. page-load overhead: median ``loadEventEnd`` and the main thread's busy time in the first
   2 s (long tasks) of the demo bank's pages with no tracker, the tracker without replay, and
   the tracker with replay — all three in the same run, alternating (the machine is shared);
3. storage per replay-minute: a scripted visit of ``--seconds`` (pages, scrolling, mouse,
   typing in forms) recorded, then the stored chunks' JSON and gzip bytes over its length.

    python benchmarks/analytics_replay.py [--loads 12] [--seconds 60]

Needs ``make build`` and Chromium (/usr/bin/chromium, or KEFU_CHROMIUM).
"""

from __future__ import annotations

import argparse
import gzip
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DIST = ROOT / "src/kefu/web/static/dist"
CHROMIUM = os.environ.get("KEFU_CHROMIUM", "/usr/bin/chromium")
CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/124.0.0.0 Safari/537.36")  # fmt: skip
PAGES = ["/demo/bank/", "/demo/bank/transfer", "/demo/bank/cards/apply", "/demo/bank/accounts"]
LONG_TASKS = """
window.__busy = 0;
new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__busy += e.duration; })
  .observe({ type: "longtask", buffered: true });
"""


def sizes() -> None:
    print("bundle                         minified   gzipped")
    for name in ("tracker.js", "tracker-replay.js", "analytics-player.js"):
        data = (DIST / name).read_bytes()
        print(f"{name:<30} {len(data):>8,}  {len(gzip.compress(data, 9)):>8,}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--loads", type=int, default=12, help="loads per page and setting")
    parser.add_argument("--seconds", type=int, default=60)
    args = parser.parse_args()
    sizes()

    from playwright.sync_api import sync_playwright
    from tests.security.live import LiveServer

    from kefu.config import load_settings
    from kefu.db.migrate import upgrade

    tmp = Path(tempfile.mkdtemp(prefix="kefu-replay-bench-"))
    url = f"sqlite:///{tmp / 'kefu.db'}"
    upgrade(url)
    settings = load_settings(database_url=url, secret_key="bench",
                             analytics={"store_path": str(tmp / "events.duckdb")})  # fmt: skip
    with LiveServer(settings) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu",
                                          f"--user-agent={CHROME}"])  # fmt: skip
        try:
            if args.loads:
                loads(browser, base, args.loads)
            per_minute(browser, base, tmp / "kefu.db", args.seconds)
        finally:
            browser.close()
    print(f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores: a shared machine)")


def loads(browser, base: str, n: int) -> None:  # type: ignore[no-untyped-def]
    blocked = {"none": ("tracker.js", "tracker-replay.js"), "tracker": ("tracker-replay.js",),
               "tracker+replay": ()}  # fmt: skip
    results: dict[str, dict[str, list[float]]] = {k: {"load": [], "busy": []} for k in blocked}
    contexts = {}
    for setting, names in blocked.items():
        ctx = browser.new_context()
        ctx.add_init_script(LONG_TASKS)
        for name in names:
            ctx.route(f"**/static/dist/{name}", lambda route: route.abort())
        contexts[setting] = ctx
    for _ in range(n):
        for path in PAGES:
            for setting, ctx in contexts.items():  # alternating: load on the machine is shared
                page = ctx.new_page()
                page.goto(base + path, wait_until="load")
                page.wait_for_timeout(2000 if setting != "none" else 0)
                timing = page.evaluate(
                    "performance.getEntriesByType('navigation')[0].loadEventEnd"
                )  # fmt: skip
                page.wait_for_timeout(0 if setting != "none" else 2000)
                results[setting]["load"].append(timing)
                results[setting]["busy"].append(page.evaluate("window.__busy"))
                page.close()
    for ctx in contexts.values():
        ctx.close()
    base_load = statistics.median(results["none"]["load"])
    print(f"\npage load ({n} loads of {len(PAGES)} pages each)   median loadEventEnd   "
          "long tasks in the first 2 s (median)")  # fmt: skip
    for setting, r in results.items():
        load = statistics.median(r["load"])
        print(
            f"{setting:<40} {load:8.1f} ms ({load / base_load:4.2f}x)   "
            f"{statistics.median(r['busy']):6.1f} ms"
        )


def per_minute(browser, base: str, db: Path, seconds: int) -> None:  # type: ignore[no-untyped-def]
    since = datetime.now(UTC).isoformat(sep=" ")
    time.sleep(0.01)
    ctx = browser.new_context()
    page = ctx.new_page()
    started = time.monotonic()
    i = 0
    while time.monotonic() - started < seconds:
        page.goto(base + PAGES[i % len(PAGES)])
        for k in range(20):
            page.mouse.move(100 + 30 * k, 200 + 10 * (k % 7))
            page.mouse.wheel(0, 120)
            page.wait_for_timeout(100)
        field = page.locator("input[type=text], input:not([type])").first
        if field.count():
            field.fill(f"文本 {i} 13812345678")
        page.wait_for_timeout(1000)
        i += 1
    page.goto(base + "/demo/bank/help")
    page.wait_for_timeout(1500)
    ctx.close()
    time.sleep(1)
    with sqlite3.connect(db) as con:  # this visit's sessions only (not the page-load runs')
        rows = con.execute(
            "SELECT session_id, sum(raw_bytes), sum(length(blob)), min(first_ts), max(last_ts) "
            "FROM analytics_replay_chunks GROUP BY session_id HAVING min(received_at) >= ?",
            [since],
        ).fetchall()
    raw = sum(r[1] for r in rows)
    stored = sum(r[2] for r in rows)
    sessions = len(rows)
    minutes = (
        sum(
            (datetime.fromisoformat(r[4]) - datetime.fromisoformat(r[3])).total_seconds()
            for r in rows
        )
        / 60
    )
    print(
        f"\nreplay storage: a scripted visit of {minutes:.2f} min, {i} page views, "
        f"{sessions} session(s)"
    )
    print(f"  JSON {raw / minutes / 1024:8.1f} KB per replay-minute")
    print(
        f"  gzip {stored / minutes / 1024:8.1f} KB per replay-minute (stored; "
        f"{raw / stored:.1f}x smaller)"
    )


if __name__ == "__main__":
    main()
