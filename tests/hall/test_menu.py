"""Custom menus as data: WeChat's limits, CLICK actions, the admin editor and the sync to the
WeChat simulator (default menu, conditional menus on region tags, follower tags)."""

# ruff: noqa: F811 - fixtures imported from test_h5 are parameters here

from __future__ import annotations

import asyncio
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from kefu.app import create_app
from kefu.audit.models import AuditEntry
from kefu.db.engine import make_engine, make_sessionmaker, session_scope
from kefu.hall import menu as menus
from kefu.hall.menu import ClickAction, resolve_click, validate_menu, wechat_payload
from kefu.hall.menu_admin import form_errors, menu_from_form
from kefu.hall.regions import set_region
from tests.conftest import CSRF, login
from tests.hall.test_h5 import APP_ID, hall_settings, wechat_sim  # noqa: F401


def good_menu() -> dict:
    return {
        "button": [
            {"type": "click", "name": "账单", "key": "BILL", "action": {"intent": "bill.query"}},
            {"name": "服务", "sub_button": [
                {"type": "click", "name": "积分", "key": "POINTS",
                 "action": {"intent": "points.query"}},
                {"type": "view", "name": "我的卡", "url": "https://bank.example/h5/demo/cards"},
                {"type": "click", "name": "开户须知", "key": "KB1", "action": {"entry_id": 1}},
            ]},
        ]
    }  # fmt: skip


def fields(menu: dict) -> set[str]:
    return {e.field for e in validate_menu(menu)}


# --------------------------------------------------------------------------- WeChat's limits


def test_a_good_menu_passes_and_wechat_never_sees_actions() -> None:
    assert validate_menu(good_menu()) == []
    payload = wechat_payload(good_menu())
    assert "action" not in str(payload)
    assert payload["button"][1] == {"name": "服务", "sub_button": [
        {"type": "click", "name": "积分", "key": "POINTS"},
        {"type": "view", "name": "我的卡", "url": "https://bank.example/h5/demo/cards"},
        {"type": "click", "name": "开户须知", "key": "KB1"},
    ]}  # fmt: skip


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda m: m["button"].extend([m["button"][0]] * 2), "button"),  # 4 top-level
        (lambda m: m["button"][1]["sub_button"].extend([{"type": "view", "name": f"x{i}",
                                                         "url": "https://a.b"} for i in range(3)]),
         "button[1].sub_button"),  # 6 sub-buttons
        (lambda m: m["button"][0].update(name="六个汉字太长"), "button[0].name"),  # 18 bytes
        (lambda m: m["button"][0].update(name=""), "button[0].name"),
        (lambda m: m["button"][1]["sub_button"][0].update(name="长" * 21),
         "button[1].sub_button[0].name"),  # 63 bytes
        (lambda m: m["button"][0].update(key="k" * 129), "button[0].key"),
        (lambda m: m["button"][1]["sub_button"][1].update(url="https://a.b/" + "x" * 1013),
         "button[1].sub_button[1].url"),  # 1025 bytes
        (lambda m: m["button"][1]["sub_button"][1].update(url="javascript:alert(1)"),
         "button[1].sub_button[1].url"),
        (lambda m: m["button"][0].update(type="teleport"), "button[0].type"),
        (lambda m: m["button"][0].pop("key"), "button[0].key"),
        (lambda m: m["button"][0].pop("action"), "button[0].action"),
        (lambda m: m["button"][0].update(action={"intent": "launch.rocket"}), "button[0].action"),
        (lambda m: m["button"][1]["sub_button"][0].update(key="BILL"),
         "button[1].sub_button[0].key"),  # the same key twice
        (lambda m: m["button"].append({"type": "miniprogram", "name": "小程序",
                                       "url": "https://a.b"}), "button[2].appid"),
        (lambda m: m.update(button="nope"), "button"),
    ],
)  # fmt: skip
def test_each_broken_rule_is_named(mutate, field: str) -> None:  # type: ignore[no-untyped-def]
    menu = good_menu()
    mutate(menu)
    assert field in fields(menu)


def test_names_count_utf8_bytes_like_wechat() -> None:
    menu = good_menu()
    menu["button"][0]["name"] = "五个汉字多a"  # 16 bytes: the most a top-level name may have
    assert validate_menu(menu) == []
    menu["button"][0]["name"] = "五个汉字多ab"  # 17 bytes
    assert fields(menu) == {"button[0].name"}


# --------------------------------------------------------------------------- the grid


def test_the_grid_maps_errors_back_to_its_fields() -> None:
    form = {"b0.name": "账单", "b0.type": "click", "b0.value": "BILL", "b0.action": "intent:nope",
            # b1 left empty; b2 has sub-buttons, the second of them too long a name
            "b2.name": "更多", "b2s0.name": "网点", "b2s0.type": "view",
            "b2s0.value": "https://bank.example/h5/demo/branches",
            "b2s3.name": "长" * 21, "b2s3.type": "click", "b2s3.value": "K", "b2s3.action": "kb:7"}  # fmt: skip
    menu, origin = menu_from_form(form)
    assert [b["name"] for b in menu["button"]] == ["账单", "更多"]
    assert menu["button"][1]["sub_button"][1]["action"] == {"entry_id": 7}
    errors = form_errors(validate_menu(menu), origin)
    assert set(errors) == {"b0.action", "b2s3.name"}


# --------------------------------------------------------------------------- data + resolve


async def _save_and_resolve(url: str) -> dict:
    engine = make_engine(url)
    try:
        async with session_scope(make_sessionmaker(engine)) as db:
            from kefu.knowledge.models import KnowledgeEntry

            entry = await db.scalar(
                select(KnowledgeEntry).where(KnowledgeEntry.published_version.is_not(None))
            )
            menu = good_menu()
            menu["button"][1]["sub_button"][2]["action"] = {"entry_id": entry.id}
            await menus.save_menu(db, account="hall", region="", menu=menu, actor="admin")
            regional = {"button": [{"type": "click", "name": "本地优惠", "key": "LOCAL",
                                    "action": {"intent": "help"}}]}  # fmt: skip
            await menus.save_menu(db, account="hall", region="北京", menu=regional, actor="admin")
            missing = good_menu()
            missing["button"][1]["sub_button"][2]["action"] = {"entry_id": 99999}
            with pytest.raises(menus.MenuInvalid) as refused:
                await menus.save_menu(db, account="hall", region="", menu=missing, actor="x")
            again = await menus.save_menu(db, account="hall", region="", menu=menu, actor="admin")
            return {
                "bill": await resolve_click(db, "hall", "BILL"),
                "kb": await resolve_click(db, "hall", "KB1"),
                "local": await resolve_click(db, "hall", "LOCAL"),
                "unknown": await resolve_click(db, "hall", "NOPE"),
                "other_account": await resolve_click(db, "other", "BILL"),
                "entry": entry.id,
                "missing": [e.field for e in refused.value.errors],
                "version": again.version,
                "audit": [a.action for a in (await db.scalars(select(AuditEntry))).all()],
            }
    finally:
        await engine.dispose()


@pytest.mark.db
def test_saved_menus_resolve_click_keys(seeded_url: str) -> None:
    got = asyncio.run(_save_and_resolve(seeded_url))
    # Each with the label the follower tapped (the agent reads it, issue 23 finding 9).
    assert got["bill"] == ClickAction(intent="bill.query", label="账单")
    assert got["kb"] == ClickAction(entry_id=got["entry"], label="开户须知")
    assert got["local"] == ClickAction(intent="help", label="本地优惠")  # regional menus too
    assert got["unknown"] is None and got["other_account"] is None
    assert got["missing"] == ["button[1].sub_button[2].action"]
    assert got["version"] == 2
    assert got["audit"].count("wechat.menu.save") == 3


def test_a_click_action_is_one_thing() -> None:
    with pytest.raises(ValueError):
        ClickAction()
    with pytest.raises(ValueError):
        ClickAction(intent="help", entry_id=1)


# --------------------------------------------------------------------------- editor + sync


@pytest.fixture
def admin(seeded_url: str, wechat_sim):  # type: ignore[no-untyped-def]
    with TestClient(create_app(hall_settings(seeded_url, wechat_sim.url))) as client:
        login(client, "admin")
        yield client, seeded_url


def _grid(client: TestClient, region: str = "") -> str:
    page = client.get(f"/admin/wechat/hall/menu?region={region}")
    assert page.status_code == 200
    return CSRF.search(page.text).group(1)


@pytest.mark.db
def test_only_admins_edit_menus(seeded_url: str, wechat_sim) -> None:  # type: ignore[no-untyped-def]
    with TestClient(create_app(hall_settings(seeded_url, wechat_sim.url))) as client:
        login(client, "agent1")
        assert client.get("/admin/wechat/hall/menu").status_code == 403
        client.post("/logout", data={"csrf": CSRF.search(client.get("/").text).group(1)})
        login(client, "admin")
        assert client.get("/admin/wechat/nosuch/menu").status_code == 404
        assert client.get("/admin/wechat/hall/menu?region=火星").status_code == 422
        menus_link = client.get("/admin/wechat/menus", follow_redirects=False)
        assert menus_link.headers["location"] == "/admin/wechat/hall/menu"


@pytest.mark.db
def test_editor_shows_each_error_beside_its_field(admin) -> None:  # type: ignore[no-untyped-def]
    client, _ = admin
    csrf = _grid(client)
    bad = client.post("/admin/wechat/hall/menu", data={
        "csrf": csrf, "region": "", "b0.name": "六个汉字太长", "b0.type": "click",
        "b0.value": "BILL", "b0.action": "intent:bill.query",
        "b1.name": "网点", "b1.type": "view", "b1.value": "ftp://x"})  # fmt: skip
    assert bad.status_code == 422
    assert re.search(r'data-field="b0.name"', bad.text)
    assert re.search(r'data-field="b1.value"', bad.text)
    assert 'value="六个汉字太长"' in bad.text  # what was typed is kept
    no_csrf = client.post("/admin/wechat/hall/menu", data={"b0.name": "x"})
    assert no_csrf.status_code == 400


@pytest.mark.db
def test_sync_sends_default_and_regional_menus_and_tags(admin, wechat_sim) -> None:  # type: ignore[no-untyped-def]
    client, url = admin
    sim = wechat_sim.state
    csrf = _grid(client)
    nothing = client.post("/admin/wechat/hall/menu/sync", data={"csrf": csrf})
    assert nothing.status_code == 502 and "65303" in nothing.text  # no default menu yet
    saved = client.post("/admin/wechat/hall/menu", data={
        "csrf": csrf, "region": "", "b0.name": "查账单", "b0.type": "click", "b0.value": "BILL",
        "b0.action": "intent:bill.query", "b1.name": "网点", "b1.type": "view",
        "b1.value": "https://bank.example/h5/hall/branches"}, follow_redirects=False)  # fmt: skip
    assert saved.status_code == 303
    regional = client.post("/admin/wechat/hall/menu", data={
        "csrf": csrf, "region": "北京", "b0.name": "北京优惠", "b0.type": "click",
        "b0.value": "BJ", "b0.action": "intent:help"}, follow_redirects=False)  # fmt: skip
    assert regional.status_code == 303

    async def locate() -> None:
        engine = make_engine(url)
        try:
            async with session_scope(make_sessionmaker(engine)) as db:
                await set_region(db, "hall", "o-beijing", "北京", "user")
                await set_region(db, "hall", "o-shanghai", "上海", "user")
                await set_region(db, "hall", "o-gone", "北京", "location")  # unfollowed
        finally:
            await engine.dispose()

    asyncio.run(locate())
    sim.follower(APP_ID, "o-beijing")  # they follow the account; o-gone does not any more
    sim.follower(APP_ID, "o-shanghai")
    synced = client.post("/admin/wechat/hall/menu/sync", data={"csrf": csrf})
    assert synced.status_code == 200, synced.text
    assert 'data-result="ok"' in synced.text and "65303" not in synced.text
    assert sim.menus[APP_ID]["button"][0] == {"type": "click", "name": "查账单", "key": "BILL"}
    (conditional,) = sim.conditional_menus[APP_ID].values()
    tag_id = int(conditional["matchrule"]["tag_id"])
    assert sim.tags[APP_ID][tag_id] == "地区-北京"
    assert conditional["button"][0]["name"] == "北京优惠"
    assert tag_id in sim.user_tags.get((APP_ID, "o-beijing"), set())
    assert tag_id not in sim.user_tags.get((APP_ID, "o-shanghai"), set())
    assert 'data-moved="1"' in synced.text  # o-gone is skipped, tried again next time

    # Syncing again replaces WeChat's conditional menu instead of piling up a second one.
    again = client.post("/admin/wechat/hall/menu/sync", data={"csrf": csrf})
    assert again.status_code == 200 and len(sim.conditional_menus[APP_ID]) == 1

    # WeChat refuses: the page says what WeChat said, the menu records it.
    sim.faults["/cgi-bin/menu/create"] = [45064]
    refused = client.post("/admin/wechat/hall/menu/sync", data={"csrf": csrf})
    assert refused.status_code == 502 and "45064" in refused.text
    assert "45064" in client.get("/admin/wechat/hall/menu").text

    async def audit() -> list[str]:
        engine = make_engine(url)
        try:
            async with session_scope(make_sessionmaker(engine)) as db:
                rows = await db.scalars(select(AuditEntry.action))
                return list(rows.all())
        finally:
            await engine.dispose()

    assert asyncio.run(audit()).count("wechat.menu.sync") == 4


# ----------------------------------------------- issue 23, finding 3: nothing lost by saving


def _saved_version(url: str) -> int | None:
    async def read() -> int | None:
        engine = make_engine(url)
        try:
            async with session_scope(make_sessionmaker(engine)) as db:
                row = await menus.get_menu(db, "hall", "")
                return row.version if row else None
        finally:
            await engine.dispose()

    return asyncio.run(read())


def _visible_options(html: str) -> set[str]:
    return set(re.findall(r"<option value=\"[a-z_]+\"[^>]*>([^<]+)</option>", html))


@pytest.mark.db
def test_editor_opens_on_the_menu_wechat_shows_and_names_types_in_words(admin, wechat_sim) -> None:  # type: ignore[no-untyped-def]
    """kefu has no menu saved, WeChat has one (made in WeChat's console): the grid shows it
    instead of an empty grid, and button types read as words, not click / view."""
    client, _ = admin
    wechat_sim.state.menus[APP_ID] = {"button": [
        {"type": "click", "name": "人工服务", "key": "RG"},
        {"type": "view", "name": "网点地图", "url": "https://bank.example/map"}]}  # fmt: skip
    page = client.get("/admin/wechat/hall/menu")
    assert page.status_code == 200
    assert 'data-testid="menu-from-wechat"' in page.text
    assert 'value="人工服务"' in page.text and 'value="https://bank.example/map"' in page.text
    assert 'name="version" value="0"' in page.text
    words = _visible_options(page.text)
    assert {"点击", "跳转网页"} <= words and not words & {"click", "view"}
    assert '<option value="view" selected>跳转网页</option>' in page.text


@pytest.mark.db
def test_a_save_never_replaces_a_menu_unseen_or_drops_items_unconfirmed(admin) -> None:  # type: ignore[no-untyped-def]
    client, url = admin
    csrf = _grid(client)
    two = {"csrf": csrf, "region": "", "version": "0",
           "b0.name": "查账单", "b0.type": "click", "b0.value": "BILL",
           "b0.action": "intent:bill.query", "b1.name": "帮助", "b1.type": "click",
           "b1.value": "HELP", "b1.action": "intent:help"}  # fmt: skip
    assert (
        client.post("/admin/wechat/hall/menu", data=two, follow_redirects=False).status_code == 303
    )
    assert _saved_version(url) == 1
    page = client.get("/admin/wechat/hall/menu").text
    assert 'name="version" value="1"' in page and 'value="查账单"' in page  # shown on load

    # An empty grid is refused in Chinese; nothing is saved.
    empty = client.post("/admin/wechat/hall/menu", data={"csrf": csrf, "version": "1"})
    assert empty.status_code == 422 and "菜单为空" in empty.text
    # A grid typed over a page that never showed version 1 (e.g. an empty editor): refused,
    # with what was typed kept; saving again from that page is then a decision.
    blind = {**two, "version": "0", "b1.name": "", "b1.type": "", "b1.value": "",
             "b1.action": ""}  # fmt: skip
    stale = client.post("/admin/wechat/hall/menu", data=blind)
    assert stale.status_code == 409 and "第 1 版" in stale.text and 'value="查账单"' in stale.text
    assert 'name="version" value="1"' in stale.text
    assert _saved_version(url) == 1
    # Dropping 帮助 needs the confirming box.
    shrink = client.post("/admin/wechat/hall/menu", data={**blind, "version": "1"})
    assert shrink.status_code == 422 and "帮助" in shrink.text
    assert 'data-testid="confirm-remove"' in shrink.text and _saved_version(url) == 1
    confirmed = client.post(
        "/admin/wechat/hall/menu",
        data={**blind, "version": "1", "confirm_remove": "yes"},
        follow_redirects=False,
    )
    assert confirmed.status_code == 303 and _saved_version(url) == 2


# --------------------------------------------------------------------------- the JSON API


@pytest.mark.db
def test_menu_api_names_every_broken_field(admin) -> None:  # type: ignore[no-untyped-def]
    client, _ = admin
    key = client.post("/api/v1/api-keys", json={"name": "ops", "role": "admin"}).json()["key"]
    agent_key = client.post("/api/v1/api-keys", json={"name": "a", "role": "agent"}).json()["key"]
    client.cookies.clear()
    auth = {"Authorization": f"Bearer {key}"}
    bad = good_menu()
    bad["button"][0]["name"] = "六个汉字太长"
    bad["button"][1]["sub_button"][1]["url"] = "ftp://x"
    refused = client.put("/api/v1/wechat/hall/menus/default", json=bad, headers=auth)
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("application/problem+json")
    problem = refused.json()
    assert problem["detail"].startswith("button[0].name")
    assert {e["field"] for e in problem["errors"]} == {
        "button[0].name",
        "button[1].sub_button[1].url",
    }
    menu = good_menu()
    del menu["button"][1]["sub_button"][2]
    saved = client.put("/api/v1/wechat/hall/menus/default", json=menu, headers=auth)
    assert saved.status_code == 200 and saved.json()["version"] == 1
    assert client.put("/api/v1/wechat/hall/menus/火星", json=menu, headers=auth).status_code == 422
    not_json = client.put("/api/v1/wechat/hall/menus/default", content=b"{", headers=auth)
    assert not_json.status_code == 422 and not_json.json()["detail"] == "body: not JSON"
    listed = client.get("/api/v1/wechat/hall/menus", headers=auth).json()
    assert [m["region"] for m in listed] == ["default"]
    assert client.get("/api/v1/wechat/nosuch/menus", headers=auth).status_code == 404
    agent = {"Authorization": f"Bearer {agent_key}"}
    assert (
        client.put("/api/v1/wechat/hall/menus/default", json=menu, headers=agent).status_code == 403
    )
    synced = client.post("/api/v1/wechat/hall/menus/sync", headers=auth)
    assert synced.status_code == 200, synced.text
    assert synced.json()[0] == {"region": "default", "result": "ok"}
