"""Followers' regions: nearest branch city from LOCATION events, which source wins, the
profile as a fallback, and the region tag moving when the follower corrects their region."""

# ruff: noqa: F811 - fixtures imported from test_h5 are parameters here

from __future__ import annotations

import asyncio
import math
import re

import pytest
from fastapi.testclient import TestClient

from kefu.app import create_app
from kefu.bank.synthetic.adapter import SyntheticBank
from kefu.bank.synthetic.reference import CITIES
from kefu.db.engine import make_engine, make_sessionmaker, session_scope
from kefu.hall.regions import (
    BranchPoint,
    WechatRegionTag,
    branch_points,
    nearest_city,
    record_location,
    region_of,
    set_region,
    source_of,
)
from kefu.identity.binding import bind
from kefu.vocabulary import IdentityKind
from tests.hall.test_h5 import APP_ID, hall_settings, open_as, wechat_sim  # noqa: F401

pytestmark = pytest.mark.db
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def _reference_points() -> list[BranchPoint]:
    """The synthetic bank's branch cities, from its reference data."""
    return [BranchPoint(city, lat, lng) for city, _code, lat, lng, _addr in CITIES]


@pytest.mark.parametrize(
    ("lat", "lng", "city"),
    [(31.23, 121.47, "上海"), (22.55, 114.06, "深圳"), (30.66, 104.08, "成都"),
     (31.40, 120.90, "苏州"),  # Kunshan: between Shanghai and Suzhou, nearer Suzhou
     (43.83, 87.62, "乌鲁木齐")],
)  # fmt: skip
def test_nearest_branch_city(lat: float, lng: float, city: str) -> None:
    assert nearest_city(_reference_points(), lat, lng) == city


async def _scenario(url: str) -> dict:
    engine = make_engine(url)
    out: dict = {}
    try:
        async with session_scope(make_sessionmaker(engine)) as db:
            bank = SyntheticBank(engine)
            points = await branch_points(bank)
            out["points"] = sorted(p.city for p in points)
            out["reference"] = sorted(p.city for p in _reference_points())

            await record_location(db, "hall", "o-1", 39.91, 116.40, bank=bank)  # Beijing
            out["first"] = (await region_of(db, "hall", "o-1"), await source_of(db, "hall", "o-1"))
            await record_location(db, "hall", "o-1", 31.23, 121.47, bank=bank)  # to Shanghai
            out["moved"] = await region_of(db, "hall", "o-1")
            await set_region(db, "hall", "o-1", "成都", "user")
            await record_location(db, "hall", "o-1", 39.91, 116.40, bank=bank)
            out["user_kept"] = await region_of(db, "hall", "o-1")  # LOCATION never undoes it
            await set_region(db, "hall", "o-1", "杭州", "card")
            out["card"] = await region_of(db, "hall", "o-1")  # binding a card corrects it
            await set_region(db, "hall", "o-1", "南京", "user")
            out["user_again"] = await region_of(db, "hall", "o-1")
            await set_region(db, "hall", "o-1", "西安", "profile")
            out["profile_weaker"] = await region_of(db, "hall", "o-1")

            for lat, lng in ((math.nan, 1.0), (91.0, 0.0), (0.0, 181.0), (math.inf, 0.0)):
                await record_location(db, "hall", "o-forged", lat, lng, bank=bank)
            out["forged"] = await region_of(db, "hall", "o-forged")

            profile = await bank.get_customer("C0000000004")
            await bind(db, kind=IdentityKind.WECHAT_OPENID.value, value="o-bound",
                       profile=profile, actor="test")  # fmt: skip
            out["profile_city"] = profile.city
            out["from_profile"] = await region_of(db, "hall", "o-bound")
            out["other_account"] = await region_of(db, "other", "o-1")
            with pytest.raises(ValueError):
                await set_region(db, "hall", "o-1", "北京", "rumour")
    finally:
        await engine.dispose()
    return out


def test_region_sources_and_precedence(seeded_url: str) -> None:
    got = asyncio.run(_scenario(seeded_url))
    assert got["points"] == got["reference"] and len(got["points"]) == 34
    assert got["first"] == ("北京", "location")
    assert got["moved"] == "上海"
    assert got["user_kept"] == "成都"
    assert got["card"] == "杭州"
    assert got["user_again"] == "南京"
    assert got["profile_weaker"] == "南京"
    assert got["forged"] is None
    assert got["from_profile"] == got["profile_city"]
    assert got["other_account"] is None


def test_correcting_the_region_moves_the_wechat_tag_at_once(seeded_url: str, wechat_sim) -> None:  # type: ignore[no-untyped-def]
    sim = wechat_sim.state
    sim.tags.setdefault(APP_ID, {})[901] = "地区-成都"
    sim.tags[APP_ID][902] = "地区-重庆"
    sim.follower(APP_ID, "o-mover")

    async def tags() -> None:
        engine = make_engine(seeded_url)
        try:
            async with session_scope(make_sessionmaker(engine)) as db:
                db.add(WechatRegionTag(account="hall", region="成都", tag_id=901))
                db.add(WechatRegionTag(account="hall", region="重庆", tag_id=902))
        finally:
            await engine.dispose()

    asyncio.run(tags())
    with TestClient(create_app(hall_settings(seeded_url, wechat_sim.url))) as client:
        page = open_as(client, wechat_sim.url, "o-mover", "/h5/hall/region")
        token = CSRF.search(page.text).group(1)
        client.post("/h5/hall/region", data={"region": "成都", "csrf": token})
        assert sim.user_tags[(APP_ID, "o-mover")] == {901}
        client.post("/h5/hall/region", data={"region": "重庆", "csrf": token})
        assert sim.user_tags[(APP_ID, "o-mover")] == {902}  # off Chengdu's tag, on Chongqing's
        client.post("/h5/hall/region", data={"region": "上海", "csrf": token})
        assert sim.user_tags[(APP_ID, "o-mover")] == set()  # Shanghai has no regional menu


def test_promotions_and_articles_follow_the_region(seeded_url: str, wechat_sim) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from kefu.db.base import utcnow
    from kefu.knowledge.content import EntryContent
    from kefu.knowledge.service import publish_directly

    async def publish() -> dict[str, int]:
        engine = make_engine(seeded_url)
        try:
            async with session_scope(make_sessionmaker(engine)) as db:
                ids = {}
                for name, regions_, extra in (
                    ("chengdu", ["成都"], {}),
                    ("everywhere", [], {}),
                    ("expired", [], {"expires_at": utcnow() - timedelta(days=1)}),
                ):
                    content = EntryContent(
                        kind="article", question=f"{name}优惠活动说明", category="优惠活动",
                        body=f"<p>{name}<script>alert(1)</script></p>", regions=regions_, **extra,
                    )  # fmt: skip
                    ids[name] = (await publish_directly(db, actor="test", content=content)).id
                return ids
        finally:
            await engine.dispose()

    ids = asyncio.run(publish())
    with TestClient(create_app(hall_settings(seeded_url, wechat_sim.url))) as client:
        page = open_as(client, wechat_sim.url, "o-chengdu", "/h5/hall/region")
        client.post(
            "/h5/hall/region", data={"region": "成都", "csrf": CSRF.search(page.text).group(1)}
        )
        home = client.get("/h5/hall/").text
        shown = set(re.findall(r'data-promotion="(\d+)"', home))
        assert shown == {str(ids["chengdu"]), str(ids["everywhere"])}  # not the expired one
        article = client.get(f"/h5/hall/article/{ids['chengdu']}")
        assert article.status_code == 200 and "<script>" not in article.text
        assert "data-applies" not in article.text  # it applies here

        client.cookies.clear()
        page = open_as(client, wechat_sim.url, "o-shanghai", "/h5/hall/region")
        client.post(
            "/h5/hall/region", data={"region": "上海", "csrf": CSRF.search(page.text).group(1)}
        )
        shown = set(re.findall(r'data-promotion="(\d+)"', client.get("/h5/hall/").text))
        assert shown == {str(ids["everywhere"])}
        elsewhere = client.get(f"/h5/hall/article/{ids['chengdu']}").text
        assert 'data-applies="成都"' in elsewhere  # readable, but says where it applies
        assert client.get(f"/h5/hall/article/{ids['expired']}").status_code == 404
