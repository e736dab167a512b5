"""Synthetic traffic on the demo bank site (``kefu analytics generate``), with facts planted
for the analyses to find:

- two campaigns with different ROI: ``spring-card`` (Baidu CPC, lands on the card application,
  many apply) and ``wealth-banner`` (Weibo display, lands on the wealth page, few apply);
- the card application page breaks on Chrome 122 (a 500 from its API and a JS error in most
  sessions there; about 2 % elsewhere);
- the transfer form's SMS-code step (field ``sms_code``) where most who reach it give up;
- self-service tasks with different completion (transfer, card application, activation).

Rows go straight to the store, in the collector's shape (what the collector would have made of
the tracker's events), so a month loads in seconds.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

from kefu.analytics.enrich import customer_hash
from kefu.analytics.store.base import COLUMNS, EventStore

B = "/demo/bank"
GOAL = f"{B}/cards/apply/done"
BROKEN = (f"{B}/cards/apply", "Chrome", "122")
CAMPAIGNS = {  # name: (source, medium, landing page, referrer) and the demo's costs
    "spring-card": ("baidu", "cpc", f"{B}/cards/apply", "www.baidu.com"),
    "wealth-banner": ("weibo", "display", f"{B}/wealth", "weibo.com"),
}
DEMO_COSTS = {"spring-card": (6000.0, 300.0), "wealth-banner": (9000.0, 300.0)}
AGENTS = [  # browser, major, os, os major, device, weight
    ("Chrome", "124", "Windows", "10", "desktop", 22),
    ("Chrome", "123", "Windows", "10", "desktop", 12),
    ("Chrome", "122", "Windows", "10", "desktop", 10),
    ("Chrome Mobile", "124", "Android", "14", "mobile", 14),
    ("Mobile Safari", "17", "iOS", "17", "mobile", 16),
    ("Safari", "17", "Mac OS X", "10", "desktop", 6),
    ("Edge", "124", "Windows", "10", "desktop", 8),
    ("Firefox", "125", "Windows", "10", "desktop", 4),
    ("WeChat", "8", "Android", "13", "mobile", 8),
]
# where the demo's visitors are (the collector's labels: kefu.analytics.regions), weighted
REGIONS = [("CN/Guangdong/Shenzhen", 14), ("CN/Guangdong/Guangzhou", 10),
           ("CN/Shanghai/Shanghai", 14), ("CN/Beijing/Beijing", 12), ("CN/Zhejiang/Hangzhou", 9), ("CN/Jiangsu/Nanjing", 7),
           ("CN/Sichuan/Chengdu", 6), ("CN/Hubei/Wuhan", 5), ("CN/Shandong/Jinan", 4),
           ("HK", 3), ("SG", 2), ("US", 2), ("", 4)]  # fmt: skip
_REGION_DRAW = [r for r, w in REGIONS for _ in range(w)]
ORGANIC = [("", 30), ("www.baidu.com", 25), ("www.bing.com", 5), ("weibo.com", 6),
           ("mp.weixin.qq.com", 8), ("www.zhihu.com", 3), ("news.example.cn", 5)]  # fmt: skip
FORMS = {
    "transfer": [("payee_name", f"{B}/transfer"), ("payee_account", f"{B}/transfer"),
                 ("amount", f"{B}/transfer"), ("remark", f"{B}/transfer/confirm"),
                 ("sms_code", f"{B}/transfer/verify")],
    "card_apply": [("name", f"{B}/cards/apply"), ("id_number", f"{B}/cards/apply"),
                   ("mobile", f"{B}/cards/apply"), ("income", f"{B}/cards/apply")],
}  # fmt: skip


class _Session:
    def __init__(self, out: dict[str, list[Any]], sid: str, vid: str, start: datetime,
                 agent: tuple[str, ...], customer: str, rnd: random.Random,
                 region: str = "") -> None:  # fmt: skip
        self.out, self.sid, self.vid, self.t, self.agent = out, sid, vid, start, agent
        self.region = region
        self.customer, self.rnd, self.n, self.path = customer, rnd, 0, "/"

    def emit(self, kind: str, **extra: Any) -> None:
        self.n += 1
        self.t += timedelta(seconds=self.rnd.uniform(1, 6))
        row = {"event_id": f"{self.sid}{self.n:03d}", "site": "demo-bank", "ts": self.t,
               "day": self.t.date(), "type": kind, "session_id": self.sid,
               "visitor_id": self.vid, "customer_hash": self.customer, "path": self.path,
               "query": "", "referrer": "", "channel": "", "utm_source": "", "utm_medium": "",
               "utm_campaign": "", "target": "", "field": "", "status": 0, "value": 0.0,
               "props": "", "browser": self.agent[0], "browser_version": self.agent[1],
               "os": self.agent[2], "os_version": self.agent[3], "device": self.agent[4],
               "region": self.region, "app": "web"}  # fmt: skip
        row.update(extra)
        for name in COLUMNS:
            self.out[name].append(row[name])

    def view(self, path: str, **extra: Any) -> None:
        self.path = path
        self.t += timedelta(seconds=self.rnd.uniform(5, 40))
        self.emit("pageview", **extra)
        self.emit("vital", target="LCP", value=round(self.rnd.lognormvariate(7.0, 0.4), 1))
        if self.rnd.random() < 0.5:
            self.emit("click", target=f"main > a.{path.rsplit('/', 1)[-1] or 'home'}")

    def fill(self, form: str, fields: list[str]) -> None:
        for name in fields:
            self.emit("form_field", target=form, field=name)


def _card_apply(s: _Session, convert: float) -> None:
    s.view(f"{B}/cards/apply")
    if (s.agent[0], s.agent[1]) == BROKEN[1:] and s.rnd.random() < 0.7:
        s.emit("http_error", target=f"{B}/api/card-apply/rates", status=500)
        s.emit("error", target="TypeError: Cannot read properties of undefined (reading 'rate')")
        return
    if s.rnd.random() < 0.02:
        s.emit("http_error", target=f"{B}/static/banner.png", status=404)
    s.emit("form_start", target="card_apply")
    fields = [f for f, _ in FORMS["card_apply"]]
    if s.rnd.random() < convert:
        s.fill("card_apply", fields)
        s.emit("form_submit", target="card_apply")
        s.view(GOAL)
    else:
        stop = s.rnd.randint(1, len(fields))
        s.fill("card_apply", fields[:stop])
        s.emit("form_abandon", target="card_apply", field=fields[stop - 1])


def _transfer(s: _Session) -> None:
    s.view(f"{B}/transfer")
    s.emit("form_start", target="transfer")
    s.fill("transfer", ["payee_name", "payee_account"])
    if s.rnd.random() < 0.1:
        s.emit("form_abandon", target="transfer", field="payee_account")
        return
    s.fill("transfer", ["amount"])
    s.view(f"{B}/transfer/confirm")
    s.fill("transfer", ["remark"])
    if s.rnd.random() < 0.1:
        s.emit("form_abandon", target="transfer", field="remark")
        return
    s.view(f"{B}/transfer/verify")
    s.fill("transfer", ["sms_code"])
    if s.rnd.random() < 0.55:  # the planted step: the SMS code does not come, they give up
        s.emit("form_abandon", target="transfer", field="sms_code")
        if s.rnd.random() < 0.4:
            s.view(f"{B}/help")
        return
    s.emit("form_submit", target="transfer")
    s.view(f"{B}/transfer/done")


def _activate(s: _Session) -> None:
    s.view(f"{B}/cards/activate")
    if s.rnd.random() < 0.8:
        s.view(f"{B}/cards/activate/done")


def _session(s: _Session, campaign: str) -> None:
    rnd = s.rnd
    if campaign:
        source, medium, landing, ref = CAMPAIGNS[campaign]
        utm = {"utm_source": source, "utm_medium": medium, "utm_campaign": campaign}
        channel = "paid" if medium == "cpc" else "campaign"
        s.path = landing
        if campaign == "spring-card":
            s.view(landing, referrer=ref, channel=channel, **utm)
            s.path = landing
            # the landing page view is counted; the application itself follows
            _card_apply(s, 0.45)
        else:
            s.view(landing, referrer=ref, channel=channel, **utm)
            if rnd.random() < 0.15:
                _card_apply(s, 0.2)
        return
    ref = rnd.choices([r for r, _ in ORGANIC], [w for _, w in ORGANIC])[0]
    channel = ("direct" if not ref else "search" if any(m in ref for m in ("baidu", "bing"))
               else "social" if any(m in ref for m in ("weibo", "weixin", "zhihu")) else "referral")  # fmt: skip
    s.view(f"{B}/", referrer=ref, channel=channel)
    pick = rnd.random()
    if pick < 0.55:
        s.view(f"{B}/login")
        s.view(f"{B}/accounts")
        nxt = rnd.random()
        if nxt < 0.45:
            _transfer(s)
        elif nxt < 0.6:
            _activate(s)
        elif nxt < 0.75:
            s.view(f"{B}/wealth")
    elif pick < 0.7:
        s.view(f"{B}/wealth")
        if rnd.random() < 0.3:
            _card_apply(s, 0.3)
    elif pick < 0.85:
        s.view(f"{B}/help")
    else:
        _card_apply(s, 0.3)


def generate(
    store: EventStore,
    days: int = 30,
    visitors: int = 3000,
    *,
    today: date | None = None,
    seed: int = 15,
    hash_key: bytes = b"demo",
    chunk: int = 200_000,
    regions: bool = False,
) -> int:
    """Writes ``visitors`` visitors' sessions over the ``days`` days up to ``today``; returns
    the number of events. ``regions``: give visitors a region (the demo; drawn without the
    random generator, so the planted facts of a seed stay the same either way)."""
    rnd = random.Random(seed)
    # sessions start in the ``days`` days up to now (or up to the end of ``today``)
    if today is None:
        end = datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=1)
    else:
        end = datetime.combine(today, datetime.min.time()) + timedelta(days=1, hours=-1)
    weights = [a[5] for a in AGENTS]
    out: dict[str, list[Any]] = {name: [] for name in COLUMNS}
    total = 0
    for v in range(visitors):
        vid = f"v{seed:02d}{v:08d}"
        agent = tuple(str(x) for x in rnd.choices(AGENTS, weights)[0][:5])
        # half the visitors sign in, as one of the synthetic bank's customers (C0000000001…),
        # so the bank segments (age band, tier, products) join in the demo
        signed_in = rnd.random() < 0.5
        customer = customer_hash(hash_key, f"C{v % 10_000 + 1:010d}") if signed_in else ""
        region = _REGION_DRAW[v * 7919 % len(_REGION_DRAW)] if regions else ""
        for k in range(1 + int(rnd.expovariate(1.2))):
            start = end - timedelta(seconds=rnd.randrange(1, days * 86400 - 3600))
            pick = rnd.random()
            campaign = "spring-card" if pick < 0.08 else "wealth-banner" if pick < 0.18 else ""
            s = _Session(out, f"s{vid}k{k:02d}", vid, start, agent,
                         customer if not campaign else "", rnd, region)  # fmt: skip
            _session(s, campaign)
        if len(out["event_id"]) >= chunk:
            total += store.insert(out)
            out = {name: [] for name in COLUMNS}
    total += store.insert(out)
    for name, (cost, value) in DEMO_COSTS.items():
        store.set_campaign_cost(name, cost, value)
    return total
