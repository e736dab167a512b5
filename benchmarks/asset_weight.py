"""The JavaScript and CSS each staff page loads: signs in to a running kefu (``make demo``, or
``kefu demo --customers 50``) as each demo role, opens the home page and every page its
navigation links to, reads the ``<script src>`` and stylesheet ``<link>`` tags of each page,
fetches those assets once and prints, per page, the bytes they weigh — raw and gzipped (level
6, what a reverse proxy typically sends) — and which roles open that page.

    python benchmarks/asset_weight.py --base http://127.0.0.1:8000

Issue 23, finding 10: every page loaded one 1.1 MB bundle (htmx and all of ECharts); run it
before and after a change to the bundles and compare.
"""

from __future__ import annotations

import argparse
import gzip
import re
import sys
from collections import defaultdict
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx

ROLES = ("agent1", "supervisor", "admin", "analyst", "teller")
PASSWORD = "kefu-demo-2026"  # the demo's (kefu.demo.DEMO_PASSWORD); --password for another
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
# Pages no navigation link names: a conversation (the agent's most used page; the demo seeds
# conversation 1).
EXTRA = ("/workspace/conversations/1",)


class PageAssets(HTMLParser):
    """The scripts, stylesheets and topbar navigation links of one page."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self.links: list[str] = []
        self._nav = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "script" and a.get("src"):
            self.scripts.append(a["src"])
        elif tag == "link" and "stylesheet" in a.get("rel", "").split() and a.get("href"):
            self.styles.append(a["href"])
        elif tag == "nav":
            self._nav += 1
        elif tag == "a" and self._nav and a.get("href", "").startswith("/"):
            self.links.append(a["href"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "nav" and self._nav:
            self._nav -= 1


@dataclass(frozen=True)
class Weight:
    raw: int
    gz: int


def sign_in(base: str, username: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=30, follow_redirects=True)
    token = CSRF.search(client.get("/login").text)
    if token is None:
        raise SystemExit(f"{base}/login: no sign-in form (is kefu running there?)")
    signed = client.post(
        "/login", data={"username": username, "password": password, "csrf": token.group(1)}
    )
    if urlsplit(str(signed.url)).path.startswith("/login"):
        raise SystemExit(f"{username}: sign-in refused (wrong --password?)")
    return client


def measure(base: str, password: str) -> tuple[dict[str, dict[str, Weight]], dict[str, set]]:
    """Per page: each asset's weight; and which roles open each page."""
    assets: dict[str, Weight] = {}
    pages: dict[str, dict[str, Weight]] = {}
    roles: dict[str, set[str]] = defaultdict(set)
    for role in ROLES:
        client = sign_in(base, role, password)
        try:
            home = PageAssets()
            home.feed(client.get("/").text)
            for path in ["/", *dict.fromkeys(home.links), *EXTRA]:
                if path.startswith("/demo/") or "?" in path:
                    continue  # the demo's phones and language switches are not staff pages
                response = client.get(path)
                if response.status_code != 200 or "text/html" not in response.headers.get(
                    "content-type", ""
                ):
                    continue  # not this role's (403) or not a page
                roles[path].add(role)
                if path in pages:
                    continue
                found = PageAssets()
                found.feed(response.text)
                weights = {}
                for url in found.scripts + found.styles:
                    url = urljoin(path, url)
                    if url not in assets:
                        body = client.get(url).content
                        assets[url] = Weight(len(body), len(gzip.compress(body, 6)))
                    weights[url] = assets[url]
                pages[path] = weights
        finally:
            client.close()
    return pages, roles


def kib(n: int) -> str:
    return f"{n / 1024:,.1f}"


def report(pages: dict[str, dict[str, Weight]], roles: dict[str, set]) -> str:
    lines = [
        "| page | roles | JS KiB | JS gzip KiB | CSS KiB | CSS gzip KiB | files |",
        "|---|---|--:|--:|--:|--:|---|",
    ]
    for path, weights in sorted(pages.items()):
        js = [w for url, w in weights.items() if url.endswith(".js")]
        css = [w for url, w in weights.items() if url.endswith(".css")]
        who = ", ".join(r for r in ROLES if r in roles[path])
        files = " ".join(sorted(url.rsplit("/", 1)[-1] for url in weights))
        lines.append(
            f"| {path} | {who} | {kib(sum(w.raw for w in js))} | {kib(sum(w.gz for w in js))} "
            f"| {kib(sum(w.raw for w in css))} | {kib(sum(w.gz for w in css))} | {files} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="http://127.0.0.1:8000", help="a running kefu")
    parser.add_argument("--password", default=PASSWORD, help="the demo staff's password")
    args = parser.parse_args(argv)
    pages, roles = measure(args.base.rstrip("/"), args.password)
    print(report(pages, roles))
    return 0


if __name__ == "__main__":
    sys.exit(main())
