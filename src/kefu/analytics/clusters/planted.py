"""Signed-in customers with planted behaviour, so that
clustering can be judged against a known truth (adjusted Rand index) and the demo's
clustering page and agent panel show groups a person recognises:

- 转账受阻 (transfer strugglers): on Android 12 phones, try a transfer two to four times, the
  SMS-code step fails (the code API answers 502) and they look for help;
- 理财浏览 (wealth browsers): on desktops in the evening, long visits over the wealth pages,
  no forms;
- 跳出 (bouncers): one page from a campaign or a search, gone within seconds;
- 办卡申请 (card applicants): fill in and submit the card application.

Each group's visits vary (counts, paths, devices, a share of off-type visits), so recovering
them takes more than one feature. Rows go to the store in the collector's shape, as
kefu.analytics.generate does.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

from kefu.analytics.enrich import customer_hash
from kefu.analytics.generate import FORMS, GOAL, B, _Session
from kefu.analytics.store.base import COLUMNS, EventStore

SEGMENTS = ("转账受阻", "理财浏览", "跳出", "办卡申请")
FIRST_CUSTOMER = 9001  # planted customers are C0000009001…: above the demo's visitors
ANDROID_12 = [("Chrome Mobile", "120", "Android", "12", "mobile"),
              ("WeChat", "8", "Android", "12", "mobile")]  # fmt: skip
DESKTOPS = [("Chrome", "124", "Windows", "10", "desktop"), ("Safari", "17", "Mac OS X", "10",
            "desktop"), ("Edge", "124", "Windows", "10", "desktop")]  # fmt: skip
PHONES = [("Mobile Safari", "17", "iOS", "17", "mobile"),
          ("Chrome Mobile", "124", "Android", "14", "mobile")]  # fmt: skip


def _struggle(s: _Session) -> None:
    """Sign in, fill the transfer, fail at the SMS code (step 3 of 3)."""
    s.view(f"{B}/", channel="direct")
    s.view(f"{B}/login")
    s.view(f"{B}/accounts")
    s.view(f"{B}/transfer")
    s.emit("form_start", target="transfer")
    s.fill("transfer", ["payee_name", "payee_account", "amount"])
    s.view(f"{B}/transfer/confirm")
    s.fill("transfer", ["remark"])
    s.view(f"{B}/transfer/verify")
    s.fill("transfer", ["sms_code"])
    s.emit("http_error", target=f"{B}/api/transfer/sms-code", status=502)
    s.emit("form_abandon", target="transfer", field="sms_code")
    if s.rnd.random() < 0.6:
        s.view(f"{B}/help")


def _browse_wealth(s: _Session) -> None:
    s.view(f"{B}/", channel="search", referrer="www.baidu.com")
    for _ in range(s.rnd.randint(3, 7)):
        s.t += timedelta(seconds=s.rnd.uniform(40, 160))  # reading product pages
        s.view(f"{B}/wealth")


def _bounce(s: _Session) -> None:
    if s.rnd.random() < 0.5:
        s.view(f"{B}/wealth", channel="campaign", referrer="weibo.com", utm_source="weibo",
               utm_medium="display", utm_campaign="wealth-banner")  # fmt: skip
    else:
        s.view(f"{B}/", channel="search", referrer="www.baidu.com")


def _apply_card(s: _Session) -> None:
    s.view(f"{B}/cards/apply", channel="paid", referrer="www.baidu.com", utm_source="baidu",
           utm_medium="cpc", utm_campaign="spring-card")  # fmt: skip
    s.emit("form_start", target="card_apply")
    s.fill("card_apply", [f for f, _ in FORMS["card_apply"]])
    s.emit("form_submit", target="card_apply")
    s.view(GOAL)


def _everyday(s: _Session) -> None:
    """An ordinary visit, the noise every group has some of."""
    s.view(f"{B}/", channel="direct")
    s.view(f"{B}/login")
    s.view(f"{B}/accounts")


# group → (its visit, visits per customer, devices, evening hour share)
_PLANS: dict[str, tuple[Any, tuple[int, int], list[tuple[str, ...]], float]] = {
    "转账受阻": (_struggle, (2, 4), ANDROID_12, 0.3),
    "理财浏览": (_browse_wealth, (2, 5), DESKTOPS, 0.8),
    "跳出": (_bounce, (1, 2), PHONES + DESKTOPS, 0.3),
    "办卡申请": (_apply_card, (1, 2), PHONES + DESKTOPS, 0.3),
}


def customer_number(i: int, first: int = FIRST_CUSTOMER) -> str:
    return f"C{first + i:010d}"


def plant_segments(
    store: EventStore, per_segment: int = 150, days: int = 30, *, today: date | None = None,
    seed: int = 16, hash_key: bytes = b"demo", noise: float = 0.15, first: int = FIRST_CUSTOMER,
) -> dict[str, str]:  # fmt: skip
    """Writes the planted customers' visits; returns customer hash → planted group.
    ``noise``: the share of a customer's visits that are ordinary (not the group's)."""
    rnd = random.Random(seed)
    if today is None:
        end = datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=1)
    else:
        end = datetime.combine(today, datetime.min.time()) + timedelta(days=1, hours=-1)
    out: dict[str, list[Any]] = {name: [] for name in COLUMNS}
    truth: dict[str, str] = {}
    i = 0
    for group in SEGMENTS:
        visit, (low, high), agents, evening = _PLANS[group]
        for _ in range(per_segment):
            number = customer_number(i, first)
            vid = f"p{seed:02d}{i:08d}"
            h = customer_hash(hash_key, number)
            truth[h] = group
            agent = rnd.choice(agents)
            for k in range(rnd.randint(low, high)):
                day = end - timedelta(days=rnd.randrange(days))
                # evening: 19-23 h Beijing time = 11-15 h UTC; else 01-09 h UTC (09-17 h)
                hour = rnd.randint(11, 15) if rnd.random() < evening else rnd.randint(1, 9)
                start = datetime.combine(day.date(), datetime.min.time()) + timedelta(
                    hours=hour, seconds=rnd.randrange(3600)
                )
                s = _Session(out, f"s{vid}k{k:02d}", vid, min(start, end), agent, h, rnd)
                (_everyday if rnd.random() < noise else visit)(s)
            i += 1
    store.insert(out)
    return truth
