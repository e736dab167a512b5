"""What the collector adds to and takes from an event before it is stored.

- user agent → browser, OS (with major versions) and device class, by ua-parser (the
  maintained Browserscope/uap-core rules; its Rust accelerator when installed), cached because
  a site's visitors share a few hundred user agents;
- bots (crawlers, monitors, headless browsers) are recognised and dropped;
- referrer and UTM → the channel a visit came by;
- personal numbers (phone, ID, card) in URLs and properties are masked (kefu.privacy);
- the customer number becomes a keyed hash (HMAC-SHA256) here, at the collector, not in the
  page: a key shipped in the page is public, and an unkeyed hash of a 10-digit customer
  number is reversed by trying them all.

IP → region is looked up by the collector (kefu.analytics.regions, DB-IP Lite's ranges)
and the address dropped there.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qsl, unquote, urlencode

from ua_parser import parse

from kefu.privacy import mask_text

_BOT = re.compile(
    r"bot|crawl|spider|slurp|headless|phantomjs|python-requests|curl/|wget|httpclient|monitor"
    r"|lighthouse|pingdom|uptime|scrapy|go-http-client|java/",
    re.I,
)
_SEARCH = ("baidu.", "google.", "bing.", "sogou.", "so.com", "sm.cn", "yandex.", "duckduckgo.")
_SOCIAL = ("weibo.", "weixin.", "qq.com", "douyin.", "zhihu.", "xiaohongshu.", "toutiao.")
_PAID = {"cpc", "ppc", "paid", "cpm", "display", "paidsearch"}
# digits of a phone, card or ID number, however grouped: only such text pays for masking
_MANY_DIGITS = re.compile(r"(?:[0-9\uff10-\uff19][^0-9\uff10-\uff19]{0,2}){11}")


@dataclass(frozen=True, slots=True)
class Agent:
    browser: str
    browser_version: str
    os: str
    os_version: str
    device: str
    bot: bool


@lru_cache(maxsize=4096)
def parse_agent(user_agent: str) -> Agent:
    if not user_agent or _BOT.search(user_agent):
        return Agent("", "", "", "", "", True)
    result = parse(user_agent)
    ua, os_, dev = result.user_agent, result.os, result.device
    if dev is not None and dev.family == "Spider":
        return Agent("", "", "", "", "", True)
    family = dev.family if dev else ""
    if "iPad" in family or "Tablet" in family or "Tablet" in user_agent:
        device = "tablet"
    elif "Mobile" in user_agent or "Android" in user_agent or family == "iPhone":
        device = "mobile"
    else:
        device = "desktop"
    return Agent(
        ua.family if ua else "Other",
        (ua.major or "") if ua else "",
        os_.family if os_ else "Other",
        (os_.major or "") if os_ else "",
        device,
        False,
    )


def mask(text: str) -> str:
    """Masks phone, ID and card numbers, also when percent-encoded in a URL."""
    if not text:
        return text
    plain = unquote(text) if "%" in text else text
    if not _MANY_DIGITS.search(plain):
        return text
    return mask_text(plain)


def split_query(query: str) -> tuple[str, dict[str, str]]:
    """The query string without ``utm_*`` (masked), and the UTM values."""
    if not query:
        return "", {}
    if "utm_" not in query:  # most pages: nothing to take out, only numbers to mask
        return mask(query)[:500], {}
    pairs = parse_qsl(query, keep_blank_values=True)
    utm = {k: v[:100] for k, v in pairs if k.startswith("utm_")}
    rest = [(k, mask(v)) for k, v in pairs if not k.startswith("utm_")]
    return (urlencode(rest, safe="*")[:500] if rest else ""), utm


def referrer_host(referrer: str) -> str:
    if "://" not in referrer:
        return ""
    host = referrer.split("://", 1)[1].split("/", 1)[0].split("?", 1)[0]
    return host.rsplit("@", 1)[-1].split(":", 1)[0].lower()[:100]


def channel_of(referrer: str, utm: dict[str, str], site_host: str = "", app: str = "web") -> str:
    if app != "web":
        return "app"
    if utm.get("utm_medium", "").lower() in _PAID:
        return "paid"
    if utm.get("utm_campaign") or utm.get("utm_source"):
        return "campaign"
    if not referrer or (site_host and referrer == site_host):
        return "direct"
    if any(mark in referrer for mark in _SEARCH):
        return "search"
    if any(mark in referrer for mark in _SOCIAL):
        return "social"
    return "referral"


def customer_hash(key: bytes, customer_no: str) -> str:
    """The keyed hash that stands for a customer number in the event store; the analyses
    compute the same to join behaviour with the bank's customer data."""
    return hmac.new(key, customer_no.encode(), hashlib.sha256).hexdigest()[:32]
