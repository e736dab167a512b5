"""The campaign pages end to end: a supervisor creates a campaign and is told why it does not
start; an analyst reads it; an agent may not; bad input is a clear 422 that stores nothing."""

from __future__ import annotations

import re

import pytest

from tests.conftest import CSRF, login

pytestmark = pytest.mark.db


def test_campaign_pages(client) -> None:  # type: ignore[no-untyped-def]
    login(client, "supervisor")
    page = client.get("/crosssell/campaigns")
    assert page.status_code == 200 and 'data-testid="campaign-form"' in page.text
    csrf = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
    form = {"csrf": csrf, "name": "<b>春季车险</b>", "product_code": "INS-CAR",
            "template_name": "no-such", "sub_code": "8801", "age_min": "30", "age_max": "25"}  # fmt: skip
    bad = client.post("/crosssell/campaigns", data=form)
    assert bad.status_code == 422 and "活动名称须为" in bad.text and "<b>春季" not in bad.text
    bad = client.post("/crosssell/campaigns", data=form | {"name": "春季车险"})
    assert bad.status_code == 422 and "年龄下限大于上限" in bad.text
    form["name"] = "春季车险"
    form |= {"age_max": "60", "tiers": ["gold", "platinum"], "holds": "LOAN-CAR"}
    made = client.post("/crosssell/campaigns", data=form, follow_redirects=False)
    assert made.status_code == 303
    url = made.headers["location"]
    detail = client.get(url)
    assert "春季车险" in detail.text and "LOAN-CAR" in detail.text
    started = client.post(f"{url}/start", data={"csrf": csrf})
    assert started.status_code in (409, 503)
    assert "没有名为 no-such 的短信模板" in started.text or "短信通道" in started.text
    again = client.post("/crosssell/campaigns", data=form)
    assert again.status_code == 409 and "已被其他活动使用" in again.text

    client.cookies.clear()
    login(client, "analyst")
    read = client.get(url)
    assert read.status_code == 200 and "campaign-start" not in read.text
    assert client.post(f"{url}/start", data={"csrf": csrf}).status_code == 403
    listing = client.get("/crosssell/campaigns")
    assert "车险交叉销售（模拟）" in listing.text and "campaign-form" not in listing.text
    demo = re.search(r'href="(/crosssell/campaigns/\d+)">车险交叉销售', listing.text)
    assert demo is not None
    report = client.get(demo.group(1))
    assert 'data-testid="campaign-uplift"' in report.text and "已结束" in report.text
    # The demo's WeChat campaign: its report counts who WeChat could not reach.
    wx = re.search(r'href="(/crosssell/campaigns/\d+)">意外险微信推荐', listing.text)
    assert wx is not None
    wx_report = client.get(wx.group(1))
    assert "wechat" in wx_report.text and "已结束" in wx_report.text
    assert re.search(r"本渠道无法触达 [1-9]", wx_report.text) and "已发送" in wx_report.text
    client.cookies.clear()
    login(client, "agent1")
    assert client.get("/crosssell/campaigns").status_code == 403
