"""User agents, bots, channels and masking of personal numbers before storage."""

from __future__ import annotations

from kefu.analytics import enrich
from tests.analytics.conftest import CHROME


def test_user_agent_gives_browser_os_device_with_major_versions() -> None:
    agent = enrich.parse_agent(CHROME)
    assert (agent.browser, agent.browser_version, agent.os, agent.device, agent.bot) == (
        "Chrome", "124", "Windows", "desktop", False,
    )  # fmt: skip
    iphone = enrich.parse_agent(
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
    )
    assert (iphone.os, iphone.os_version, iphone.device) == ("iOS", "17", "mobile")


def test_crawlers_and_scripts_are_bots() -> None:
    for ua in ("Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
               "python-requests/2.31", "Mozilla/5.0 HeadlessChrome/120.0", ""):  # fmt: skip
        assert enrich.parse_agent(ua).bot, ua


def test_phone_id_and_card_numbers_are_masked_also_percent_encoded() -> None:
    assert enrich.mask("/cards/6214830000001126488/detail") == "/cards/6214********6488/detail"
    assert "13812345678" not in enrich.mask("mobile=138%201234%205678")
    assert enrich.mask("id 11010519491231002X") == "id 110105********002X"
    assert enrich.mask("/accounts/2024") == "/accounts/2024"  # short numbers stay
    query, utm = enrich.split_query("utm_source=baidu&utm_campaign=spring&phone=13812345678&x=1")
    assert utm == {"utm_source": "baidu", "utm_campaign": "spring"}
    assert query == "phone=138****5678&x=1"


def test_channel_from_utm_and_referrer() -> None:
    assert enrich.channel_of("", {}, "bank.example") == "direct"
    assert enrich.channel_of("bank.example", {}, "bank.example") == "direct"  # own pages
    assert enrich.channel_of("www.baidu.com", {}) == "search"
    assert enrich.channel_of("weibo.com", {}) == "social"
    assert enrich.channel_of("news.example.cn", {}) == "referral"
    assert enrich.channel_of("www.baidu.com", {"utm_medium": "cpc"}) == "paid"
    assert enrich.channel_of("", {"utm_campaign": "spring"}) == "campaign"
    assert enrich.channel_of("", {}, app="ios-app") == "app"


def test_customer_hash_is_keyed() -> None:
    one = enrich.customer_hash(b"key-1", "6200000001")
    assert one == enrich.customer_hash(b"key-1", "6200000001")
    assert one != enrich.customer_hash(b"key-2", "6200000001")
    assert "6200000001" not in one
