"""The Weibo simulator answers as docs/channels/weibo-simulator.md says: OAuth2, paging, hourly
limits, token expiry, deleted posts, the 140-character and repeat rules, the signed 私信 push,
the 48-hour reply window, faults, and generated traffic and crises."""

from __future__ import annotations

import asyncio
import hashlib
import json
import statistics
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from kefu.channels.wechat.simulator.serve import serve
from kefu.channels.weibo.cli import app as cli_app
from kefu.channels.weibo.simulator import WeiboState, build_app, crisis, generate
from kefu.channels.weibo.simulator.control import stop_background
from kefu.channels.weibo.simulator.serve import start

T0 = 1_796_000_000.0  # Mon Nov 30 2026, 08:53:20 Beijing time
REDIRECT = "http://kefu.test/oauth/weibo"
BEIJING = timezone(timedelta(hours=8))


class Sim:
    """The simulator in-process (ASGI transport) with a frozen clock moved by /_sim/clock."""

    def __init__(self, **state: Any) -> None:
        self.state = WeiboState(clock=lambda: T0, **state)
        self.app = build_app(self.state)
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://sim"
        )
        self.token = ""

    async def authorise(self) -> str:
        answer = await self.http.get(
            "/oauth2/authorize",
            params={
                "client_id": self.state.app_key,
                "redirect_uri": REDIRECT,
                "response_type": "code",
                "state": "xyz",
                "auto": "1",
            },
        )
        assert answer.status_code == 302
        code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
        answer = await self.exchange(code)
        assert answer.status_code == 200, answer.text
        self.token = answer.json()["access_token"]
        return self.token

    async def exchange(self, code: str, secret: str | None = None) -> httpx.Response:
        return await self.http.post(
            "/oauth2/access_token",
            data={
                "client_id": self.state.app_key,
                "client_secret": secret or self.state.app_secret,
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT,
            },
        )

    async def get(self, path: str, **query: Any) -> httpx.Response:
        return await self.http.get(path, params={"access_token": self.token, **query})

    async def post(self, path: str, **form: Any) -> httpx.Response:
        return await self.http.post(path, data={"access_token": self.token, **form})

    async def control(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = await self.http.post(f"/_sim/{path}", json=body)
        assert answer.status_code == 200, answer.text
        return answer.json()

    async def user(self, name: str = "网友甲", **profile: Any) -> int:
        return (await self.control("users", {"screen_name": name, **profile}))["id"]

    async def mention(self, uid: int, text: str = "信用卡被盗刷了") -> int:
        return (await self.control("posts", {"uid": uid, "text": text, "mention": True}))["id"]


@pytest.fixture
async def sim():  # type: ignore[no-untyped-def]
    s = Sim()
    await s.authorise()
    yield s
    await stop_background(s.app)
    await s.http.aclose()


def error_code(answer: httpx.Response) -> int:
    return answer.json()["error_code"]


# ---------------------------------------------------------------------------- OAuth2
async def test_oauth_consent_page_code_exchange_and_errors() -> None:
    s = Sim()
    page = await s.http.get(
        "/oauth2/authorize",
        params={
            "client_id": s.state.app_key,
            "redirect_uri": REDIRECT,
            "response_type": "code",
            "state": "'><script>x</script>",
        },
    )
    assert page.status_code == 200 and "授权" in page.text and "@某某银行" in page.text
    assert "<script>x" not in page.text  # the state is echoed escaped
    bad = await s.http.get(
        "/oauth2/authorize", params={"client_id": "nope", "redirect_uri": REDIRECT}
    )
    assert bad.status_code == 400 and "data-error-code='21323'" in bad.text
    denied = await s.http.post(
        "/oauth2/authorize",
        data={
            "client_id": s.state.app_key,
            "redirect_uri": REDIRECT,
            "state": "s",
            "decision": "deny",
        },
    )
    assert "error=access_denied" in denied.headers["location"]
    allowed = await s.http.post(
        "/oauth2/authorize",
        data={
            "client_id": s.state.app_key,
            "redirect_uri": REDIRECT,
            "state": "s1",
            "decision": "allow",
        },
    )
    query = parse_qs(urlsplit(allowed.headers["location"]).query)
    assert allowed.status_code == 302 and query["state"] == ["s1"]
    code = query["code"][0]

    wrong = await s.exchange(code, secret="not-the-secret")
    assert (wrong.status_code, error_code(wrong), wrong.json()["error"]) == (
        400,
        21324,
        "invalid_client",
    )
    granted = await s.exchange(code)  # a wrong secret did not use the code up
    body = granted.json()
    assert body["access_token"].startswith("2.00") and body["uid"] == str(s.state.official.id)
    assert body["expires_in"] == int(body["remind_in"]) > 0
    reused = await s.exchange(code)
    assert (reused.status_code, error_code(reused)) == (400, 21325)
    assert error_code(await s.exchange("never-issued")) == 21325

    info = (
        await s.http.post("/oauth2/get_token_info", data={"access_token": body["access_token"]})
    ).json()
    assert info["uid"] == s.state.official.id and info["appkey"] == s.state.app_key
    assert info["expire_in"] == body["expires_in"]


async def test_token_expiry_and_invalid_tokens(sim: Sim) -> None:
    assert (await sim.get("/2/statuses/mentions.json")).status_code == 200
    forged = await sim.http.get("/2/statuses/mentions.json", params={"access_token": "2.00x"})
    assert (forged.status_code, error_code(forged)) == (401, 21332)
    missing = await sim.http.get("/2/statuses/mentions.json")
    assert error_code(missing) == 10006
    await sim.control("clock", {"advance": sim.state.token_ttl + 1})
    expired = await sim.get("/2/statuses/mentions.json")
    assert (expired.status_code, error_code(expired)) == (401, 21327)
    # Forced expiry of a fresh token (the admin revoked it).
    await sim.authorise()
    assert (await sim.get("/2/comments/to_me.json")).status_code == 200
    assert (await sim.control("tokens/expire", {"access_token": sim.token}))["expired"] == 1
    assert error_code(await sim.get("/2/comments/to_me.json")) == 21327


# ---------------------------------------------------------------------------- paging
async def _catch_up(sim: Sim, since_id: int, count: int) -> tuple[list[int], int]:
    """The wire's client loop: since_id, then max_id = oldest seen - 1 until a short page."""
    seen: list[int] = []
    max_id = 0
    while True:
        query = {"since_id": since_id, "count": count}
        if max_id:
            query["max_id"] = max_id
        body = (await sim.get("/2/statuses/mentions.json", **query)).json()
        ids = [s["id"] for s in body["statuses"]]
        if ids and body["next_cursor"]:
            assert body["next_cursor"] < ids[-1]  # next_cursor is the next page's max_id
        seen += ids
        if len(ids) < count:
            return seen, max(seen, default=since_id)
        max_id = ids[-1] - 1


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    first=st.integers(0, 40),
    later=st.integers(0, 25),
    count=st.integers(1, 12),
    noise=st.lists(st.booleans(), max_size=20),
)
def test_paging_returns_every_mention_once_newest_first(
    first: int, later: int, count: int, noise: list[bool]
) -> None:
    async def go() -> None:
        sim = Sim(limits={"read": 10_000, "write": 30, "dm": 1000})
        await sim.authorise()
        state = sim.state
        uid, other = state.add_user("网友甲").id, state.add_user("路人乙").id
        expected = []
        for i in range(first):
            expected.append(state.add_status(uid, f"@某某银行 第{i}条").id)
            if noise and noise[i % len(noise)]:  # posts that are not mentions, between them
                state.add_status(other, f"闲聊{i}")
        seen, checkpoint = await _catch_up(sim, 0, count)
        assert seen == sorted(expected, reverse=True)  # each once, newest first
        newer = [state.add_status(uid, f"@某某银行 新{i}").id for i in range(later)]
        seen, _ = await _catch_up(sim, checkpoint, count)
        assert seen == sorted(newer, reverse=True)
        await sim.http.aclose()

    asyncio.run(go())


async def test_page_numbers_and_count_limits(sim: Sim) -> None:
    uid = await sim.user()
    ids = [await sim.mention(uid, f"{i}") for i in range(7)]
    pages = [
        (await sim.get("/2/statuses/mentions.json", count=3, page=p)).json() for p in (1, 2, 3)
    ]
    assert [[s["id"] for s in p["statuses"]] for p in pages] == [ids[6:3:-1], ids[3:0:-1], ids[0:1]]
    assert pages[0]["total_number"] == 7 and pages[2]["next_cursor"] == 0
    assert pages[0]["next_cursor"] == ids[3]
    assert all(i > 2**32 for i in ids)  # Weibo's ids do not fit in 32 bits
    bad = await sim.get("/2/statuses/mentions.json", count="lots")
    assert error_code(bad) == 10008 and "count" in bad.json()["error"]


async def test_comment_lists_and_search(sim: Sim) -> None:
    state = sim.state
    fan, other = await sim.user("粉丝"), await sim.user("路人")
    own = state.add_status(state.official.id, "【活动】周年庆")
    theirs = state.add_status(other, "今天天气不错")
    on_own = state.add_comment(fan, own.id, "活动怎么参加")
    bank_reply = state.add_comment(state.official.id, theirs.id, "您好")
    reply_to_bank = state.add_comment(fan, theirs.id, "谢谢", reply_to=bank_reply.id)
    at_bank = state.add_comment(other, theirs.id, "@某某银行 看这里")
    state.add_comment(other, theirs.id, "无关的评论")
    to_me = (await sim.get("/2/comments/to_me.json")).json()["comments"]
    assert [c["id"] for c in to_me] == [reply_to_bank.id, on_own.id]
    assert to_me[0]["reply_comment"]["id"] == bank_reply.id
    assert to_me[1]["status"]["id"] == own.id
    mentions = (await sim.get("/2/comments/mentions.json")).json()["comments"]
    assert [c["id"] for c in mentions] == [at_bank.id]
    found = (await sim.get("/2/search/statuses/limited.json", q="天气 今天")).json()
    assert [s["id"] for s in found["statuses"]] == [theirs.id] and found["total_number"] == 1
    assert (await sim.get("/2/search/statuses/limited.json", q="天气 明天")).json()[
        "statuses"
    ] == []


# ---------------------------------------------------------------------------- limits
async def test_hourly_rate_limits_and_reset(sim: Sim) -> None:
    await sim.control("limits", {"read": 3, "write": 1})
    for _ in range(3):
        assert (await sim.get("/2/comments/to_me.json")).status_code == 200
    over = await sim.get("/2/statuses/mentions.json")
    assert (over.status_code, error_code(over)) == (403, 10023)
    status = (await sim.get("/2/account/rate_limit_status.json")).json()
    assert status["remaining_user_hits"] == 0 and status["user_limit"] == 3
    assert status["limit_time_unit"] == "HOURS" and 0 < status["reset_time_in_seconds"] <= 3600
    assert status["reset_time"] == "2026-11-30 09:00:00"

    uid = await sim.user()
    post = await sim.mention(uid)
    assert (await sim.post("/2/comments/create.json", id=post, comment="您好")).status_code == 200
    write_over = await sim.post("/2/comments/create.json", id=post, comment="您好2")
    assert error_code(write_over) == 10024 and "comments/create" in write_over.json()["error"]

    await sim.control("clock", {"advance": status["reset_time_in_seconds"]})
    assert (await sim.get("/2/statuses/mentions.json")).status_code == 200
    fresh = (await sim.get("/2/account/rate_limit_status.json")).json()
    assert fresh["remaining_user_hits"] == 2 and fresh["reset_time_in_seconds"] == 3600


# ---------------------------------------------------------------------------- writes
async def test_deleted_posts_and_comments(sim: Sim) -> None:
    uid = await sim.user()
    kept, gone = await sim.mention(uid, "还在"), await sim.mention(uid, "删掉")
    comment = sim.state.add_comment(uid, kept, "一条评论")
    assert (await sim.http.delete(f"/_sim/posts/{gone}")).json() == {"deleted": True, "id": gone}
    listed = (await sim.get("/2/statuses/mentions.json")).json()["statuses"]
    deleted = next(s for s in listed if s["id"] == gone)
    assert deleted["deleted"] == "1" and "user" not in deleted and deleted["idstr"] == str(gone)
    assert "user" in next(s for s in listed if s["id"] == kept)
    show = await sim.get("/2/statuses/show.json", id=gone)
    assert (show.status_code, error_code(show)) == (400, 20101)
    assert error_code(await sim.post("/2/comments/create.json", id=gone, comment="您好")) == 20101
    await sim.http.delete(f"/_sim/comments/{comment.id}")
    reply = await sim.post("/2/comments/reply.json", cid=comment.id, id=kept, comment="您好")
    assert error_code(reply) == 20206
    assert sim.state.comments[comment.id].deleted
    assert (await sim.http.get("/_sim/sent")).json()["comments"] == []


async def test_comment_length_and_repeat_rules(sim: Sim) -> None:
    uid = await sim.user()
    first, second = await sim.mention(uid), await sim.mention(uid, "另一条")
    long = await sim.post("/2/comments/create.json", id=first, comment="长" * 141)
    assert (long.status_code, error_code(long)) == (400, 20012)
    made = await sim.post("/2/comments/create.json", id=first, comment="长" * 140)
    assert made.status_code == 200
    body = made.json()
    assert body["user"]["id"] == sim.state.official.id and body["status"]["id"] == first
    repeat = await sim.post("/2/comments/create.json", id=first, comment="长" * 140)
    assert error_code(repeat) == 20019
    assert (
        await sim.post("/2/comments/create.json", id=second, comment="长" * 140)
    ).status_code == 200
    # A reply with the same words on the same post is a repeat too; the text is kept as sent.
    theirs = sim.state.add_comment(uid, first, "怎么还不回")
    again = await sim.post("/2/comments/reply.json", cid=theirs.id, id=first, comment="长" * 140)
    assert error_code(again) == 20019
    replied = await sim.post("/2/comments/reply.json", cid=theirs.id, id=first, comment="已私信您")
    assert replied.json()["reply_comment"]["id"] == theirs.id
    assert replied.json()["text"] == "已私信您"
    shown = (await sim.get("/2/comments/show.json", id=first)).json()["comments"]
    assert [c["text"] for c in shown][:2] == ["已私信您", "怎么还不回"]
    await sim.control("clock", {"advance": 24 * 3600 + 1})
    assert (
        await sim.post("/2/comments/create.json", id=first, comment="长" * 140)
    ).status_code == 200
    sent = (await sim.http.get("/_sim/sent")).json()["comments"]
    assert [c["text"] for c in sent] == ["长" * 140, "长" * 140, "已私信您", "长" * 140]


# ---------------------------------------------------------------------------- 私信
class Receiver:
    """A callback that checks Weibo's signature itself (hashlib, not the simulator's code)."""

    def __init__(self, secret: str, fail_first: int = 0, hang: float = 0.0) -> None:
        self.secret, self.fail_first, self.hang = secret, fail_first, hang
        self.calls: list[dict[str, Any]] = []
        self.app = FastAPI()
        self.app.add_api_route("/cb", self.receive, methods=["POST"])
        self.app.add_api_route("/cb", self.check, methods=["GET"])

    def signed(self, request: Request) -> bool:
        q = request.query_params
        parts = sorted([self.secret, q.get("timestamp", ""), q.get("nonce", "")])
        return hashlib.sha1("".join(parts).encode()).hexdigest() == q.get("signature")

    async def check(self, request: Request) -> PlainTextResponse:
        ok = self.signed(request)
        return PlainTextResponse(
            request.query_params["echostr"] if ok else "bad", 200 if ok else 401
        )

    async def receive(self, request: Request) -> PlainTextResponse:
        self.calls.append({"signed": self.signed(request), "body": await request.json()})
        if self.hang:
            await asyncio.sleep(self.hang)
        if len(self.calls) <= self.fail_first:
            return PlainTextResponse("busy", 500)
        return PlainTextResponse("")


async def _with_receiver(sim: Sim, receiver: Receiver) -> None:
    sim.app.state.push_http = httpx.AsyncClient(transport=httpx.ASGITransport(app=receiver.app))
    sim.state.callback_url = "http://kefu.test/cb"


async def test_dm_push_is_signed_and_retried(sim: Sim) -> None:
    uid = await sim.user("写私信的人")
    receiver = Receiver(sim.state.app_secret, fail_first=2)
    await _with_receiver(sim, receiver)
    outcome = await sim.control("dms", {"uid": uid, "text": "我的卡被锁了"})
    assert (outcome["delivered"], outcome["attempts"]) == (True, 3)
    assert outcome["errors"] == ["HTTP 500", "HTTP 500"]
    assert all(c["signed"] for c in receiver.calls) and len(receiver.calls) == 3
    body = receiver.calls[0]["body"]
    assert body == {
        "type": "text",
        "receiver_id": sim.state.official.id,
        "sender_id": uid,
        "created_at": "Mon Nov 30 08:53:20 +0800 2026",
        "text": "我的卡被锁了",
        "data": {},
    }
    receiver.fail_first = 99
    failed = await sim.control("dms", {"uid": uid, "text": "在吗"})
    assert (failed["delivered"], failed["attempts"]) == (False, 3)
    assert (await sim.http.get("/_sim/state")).json()["undelivered_dms"] == 1
    event = await sim.control("dms", {"uid": uid, "type": "event", "subtype": "unfollow"})
    assert receiver.calls[-1]["body"]["data"] == {"subtype": "unfollow"} and event["attempts"] == 3


async def test_callback_url_check_with_echostr(sim: Sim) -> None:
    await _with_receiver(sim, Receiver(sim.state.app_secret))
    sim.state.callback_url = ""
    saved = await sim.control("callback", {"url": "http://kefu.test/cb"})
    assert saved["saved"] and sim.state.callback_url == "http://kefu.test/cb"
    await _with_receiver(sim, Receiver("another-secret"))  # cannot check our signature
    refused = await sim.control("callback", {"url": "http://other.test/cb"})
    assert not refused["saved"] and "401" in refused["error"]
    assert sim.state.callback_url == "http://kefu.test/cb"


async def test_dm_reply_window_and_limits(sim: Sim) -> None:
    uid, silent = await sim.user("私信用户"), await sim.user("没写过私信")
    await _with_receiver(sim, Receiver(sim.state.app_secret))
    await sim.control("dms", {"uid": uid, "text": "你好"})

    async def reply(to: int, text: str = "您好，已为您查询") -> httpx.Response:
        return await sim.http.post(
            "/2/messages/reply.json",
            data={
                "access_token": sim.token,
                "type": "text",
                "receiver_id": to,
                "save_sender_box": 1,
                "data": json.dumps({"text": text}, ensure_ascii=False),
            },
        )

    ok = await reply(uid)
    assert ok.status_code == 200 and ok.json()["result"] is True
    assert json.loads(ok.json()["data"]) == {"text": "您好，已为您查询"}
    assert error_code(await reply(uid, "长" * 1001)) == 20012
    assert error_code(await reply(silent)) == 21609
    assert error_code(await reply(999)) == 20003
    await sim.control("clock", {"advance": 48 * 3600 + 1})
    late = await reply(uid)
    assert (late.status_code, error_code(late)) == (400, 21609)
    sent = (await sim.http.get("/_sim/sent")).json()["dms"]
    assert [(m["receiver_id"], m["text"]) for m in sent] == [(uid, "您好，已为您查询")]


# ---------------------------------------------------------------------------- faults
async def test_faults_malformed_5xx_error_codes_and_delay(sim: Sim) -> None:
    path = "/2/statuses/mentions.json"
    await sim.control("faults", {"path": path, "malformed": True})
    await sim.control("faults", {"path": path, "http_status": 502})
    await sim.control("faults", {"path": path, "error_code": 10001})
    await sim.control("faults", {"path": path, "delay": 2.0})
    malformed = await sim.get(path)
    assert malformed.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        malformed.json()
    bare = await sim.get(path)
    assert bare.status_code == 502 and "<html>" in bare.text
    coded = await sim.get(path)
    assert (coded.status_code, error_code(coded), coded.json()["request"]) == (500, 10001, path)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(sim.get(path), 0.2)
    assert (await sim.get(path)).json()["statuses"] == []  # the queue is used up
    assert (await sim.http.get("/_sim/state")).json()["calls"][path] == 5


# ---------------------------------------------------------------------------- traffic
START = datetime(2026, 12, 6, 9, 0, tzinfo=BEIJING)


def test_traffic_is_deterministic_and_believable() -> None:
    posts = list(generate(7, START, 240, 10))
    assert posts == list(generate(7, START, 240, 10))
    assert [p.post["text"] for p in generate(8, START, 30, 10)] != [
        p.post["text"] for p in posts[:300]
    ]
    assert all(START <= p.at < START + timedelta(minutes=240) for p in posts)
    assert [p.at for p in posts] == sorted(p.at for p in posts)
    assert 2000 < len(posts) < 2800  # Poisson at 10 a minute for 4 hours
    labels = Counter(p.post["label"] for p in posts)
    assert 0.03 < labels["spam"] / len(posts) < 0.08
    assert {"complaint", "question", "praise", "neutral", "news"} <= set(labels)
    kinds = {
        k: [p.post for p in posts if p.post["kind"] == k]
        for k in ("mention", "comment", "listening")
    }
    assert all(p["text"].startswith("@某某银行") for p in kinds["mention"])
    listening = [p for p in kinds["listening"] if p["repost_of"] is None]
    assert all("@某某银行" not in p["text"] and "某某银行" in p["text"] for p in listening)
    assert any(p["repost_of"] for p in kinds["listening"])
    followers = [p.post["author"]["followers_count"] for p in posts]
    assert 50 < statistics.median(followers) < 500 and max(followers) > 100_000
    verified = {p.post["author"]["verified_type"] for p in posts}
    assert {-1, 0, 3} <= verified
    assert len({p.post["key"] for p in posts}) == len(posts)
    assert len({p.post["text"] for p in posts}) > 0.6 * len(posts)  # varied, not a loop


def test_crisis_ramps_with_reposts_and_big_voices() -> None:
    posts = list(crisis("card_fraud_rumour", START, 3))
    assert posts == list(crisis("card_fraud_rumour", START, 3))
    per_minute = Counter(int((p.at - START).total_seconds() // 60) for p in posts)
    early = sum(per_minute[m] for m in range(0, 3))
    late = sum(per_minute[m] for m in range(9, 12))
    assert late > 3 * early  # volume rises over the first ~10 minutes
    assert min(p.at for p in posts) >= START and all(p.post["crisis"] for p in posts)
    texts = [p.post["text"] for p in posts]
    assert sum("盗刷" in t for t in texts) > 0.8 * len(texts)
    assert sum(p.post["repost_of"] is not None for p in posts) > 0.2 * len(posts)
    big = [
        p
        for p in posts
        if p.post["author"]["followers_count"] > 200_000
        and p.post["author"]["verified_type"] in (0, 3)
    ]
    assert len({p.post["author"]["screen_name"] for p in big}) >= 2
    assert all(START + timedelta(minutes=2) < p.at for p in big)
    buzz = [p.post["text"] for p in crisis("campaign_buzz", START, 3)]
    assert not any("盗刷" in t for t in buzz)
    assert sum(any(w in t for w in ("抽奖", "优惠", "点赞", "立减", "周年庆")) for t in buzz) > (
        0.5 * len(buzz)
    )
    with pytest.raises(ValueError, match="kind"):
        list(crisis("alien_invasion", START, 1))


async def test_server_traffic_and_crisis_follow_the_clock(sim: Sim) -> None:
    assert (await sim.control("traffic", {"per_minute": 30}))["running"]
    await sim.control("crisis", {"kind": "card_fraud_rumour", "start_in": 60})
    assert sim.state.statuses == {}  # nothing is due before the clock moves
    await sim.control("clock", {"advance": 15 * 60})
    for _ in range(40):
        await asyncio.sleep(0.1)
        if len(sim.state.statuses) > 300:
            break
    mentions = (await sim.get("/2/statuses/mentions.json", count=200)).json()
    assert mentions["total_number"] > 50
    assert (await sim.get("/2/comments/to_me.json")).json()["total_number"] > 20
    rumour = (await sim.get("/2/search/statuses/limited.json", q="盗刷", count=200)).json()
    assert rumour["total_number"] > 50
    assert any("retweeted_status" in s for s in rumour["statuses"])
    await sim.control("traffic", {"per_minute": 0})
    state = (await sim.http.get("/_sim/state")).json()
    assert state["traffic_per_minute"] == 0 and "traffic" not in state["background_tasks"]


async def test_traffic_history_is_published_at_once_with_past_dates(sim: Sim) -> None:
    await sim.control("traffic", {"per_minute": 30, "history_minutes": 20})
    for _ in range(40):  # the history goes out as soon as the task runs, before any clock move
        await asyncio.sleep(0.05)
        if len(sim.state.statuses) + len(sim.state.comments) > 300:
            break
    posted = [
        s.created_at for s in sim.state.statuses.values() if s.user_id != sim.state.official.id
    ]
    posted += [c.created_at for c in sim.state.comments.values()]
    assert len(posted) > 300  # ~30 a minute for 20 minutes
    assert all(T0 - 20 * 60 <= t <= T0 for t in posted)
    assert min(posted) < T0 - 15 * 60  # spread over the past, not all dated now
    page = (await sim.get("/2/statuses/mentions.json", count=200)).json()["statuses"]
    assert [s["id"] for s in page] == sorted((s["id"] for s in page), reverse=True)
    await sim.control("traffic", {"per_minute": 0})


# ---------------------------------------------------------------------------- real sockets
async def test_served_simulator_pushes_to_a_real_callback() -> None:
    """The CLI's server on a free port pushing 私信 to a callback on another real socket."""
    state = WeiboState(official_name="测试银行", push_timeout=0.3)
    receiver = Receiver(state.app_secret)
    callback = await serve(receiver.app)
    served = await start(state)
    try:
        async with httpx.AsyncClient(base_url=served.url, timeout=10) as http:
            saved = (await http.post("/_sim/callback", json={"url": f"{callback.url}/cb"})).json()
            assert saved["saved"], saved
            uid = (await http.post("/_sim/users", json={"screen_name": "真网友"})).json()["id"]
            outcome = (await http.post("/_sim/dms", json={"uid": uid, "text": "在吗"})).json()
            assert (outcome["delivered"], outcome["attempts"]) == (True, 1)
            assert receiver.calls[0]["signed"] and receiver.calls[0]["body"]["text"] == "在吗"
            assert receiver.calls[0]["body"]["receiver_id"] == state.official.id
            receiver.hang = 1.0  # slower than the push timeout: three tries, then given up
            slow = (await http.post("/_sim/dms", json={"uid": uid, "text": "人呢"})).json()
            assert (slow["delivered"], slow["attempts"]) == (False, 3)
            assert slow["errors"] == ["no answer within 0.3 s"] * 3
    finally:
        await served.stop()
        await callback.stop()


def test_cli_refuses_a_bad_callback() -> None:
    result = CliRunner().invoke(cli_app, ["simulator", "--callback", "ftp://x"])
    assert result.exit_code == 2 and "--callback" in result.output
