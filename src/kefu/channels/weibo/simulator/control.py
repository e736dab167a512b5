"""The simulator's control API under ``/_sim`` (loopback tool, no auth): act as any user
(post, comment, write a 私信), delete, queue faults, move the clock, expire tokens, read what
the bank sent, and run background traffic or plant a crisis (``traffic.py``) as asyncio tasks
that publish each generated post when the simulated clock reaches its time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter, FastAPI, Request
from pydantic import BaseModel, Field

from kefu.channels.weibo.simulator.api import sim
from kefu.channels.weibo.simulator.push import push, verify_url
from kefu.channels.weibo.simulator.state import (
    BEIJING,
    DirectMessage,
    Fault,
    SimError,
    Status,
    WeiboState,
    parse_time,
    weibo_time,
)
from kefu.channels.weibo.simulator.traffic import CRISIS_KINDS, SimPost, crisis, generate

router = APIRouter(prefix="/_sim")
BACKLOG = 600  # posts the clock jumped past by more than this are skipped, not flooded in


class UserIn(BaseModel):
    screen_name: str = Field(min_length=1, max_length=30)
    followers_count: int = Field(0, ge=0)
    friends_count: int = Field(0, ge=0)
    verified_type: int = -1
    verified_reason: str = ""
    location: str = ""
    description: str = ""
    id: int | None = Field(None, gt=0)


class PostIn(BaseModel):
    uid: int
    text: str = Field(min_length=1, max_length=2000)
    mention: bool = False  # prefix "@<official name> "
    created_at: float | str | None = None  # unix seconds, Weibo's format or ISO 8601
    reposts_count: int = Field(0, ge=0)
    comments_count: int = Field(0, ge=0)
    attitudes_count: int = Field(0, ge=0)
    retweet_of: int | None = None  # the status this one forwards


class CommentIn(BaseModel):
    uid: int
    status_id: int
    text: str = Field(min_length=1, max_length=2000)
    reply_to_comment_id: int | None = None
    mention: bool = False


class DmIn(BaseModel):
    uid: int
    text: str = ""
    type: Literal["text", "image", "event"] = "text"
    subtype: Literal["follow", "unfollow"] = "follow"  # of an event


class FaultIn(BaseModel):
    path: str = Field(pattern=r"^/")
    error_code: int | None = None
    http_status: int | None = Field(None, ge=400, le=599)
    malformed: bool = False
    delay: float = Field(0.0, ge=0, le=300)
    times: int = Field(1, ge=1, le=10000)


class ClockIn(BaseModel):
    advance: float = Field(ge=0)


class ExpireIn(BaseModel):
    access_token: str | None = None


class TrafficIn(BaseModel):
    per_minute: float = Field(ge=0, le=6000)
    minutes: float | None = Field(None, gt=0)
    # Minutes of the same stream published at once, dated in the past: a platform that has
    # been talking for a while (the demo's listening page and the crisis detector's baseline).
    history_minutes: float = Field(0, ge=0, le=24 * 60)


class CrisisIn(BaseModel):
    kind: Literal["card_fraud_rumour", "campaign_buzz"] = "card_fraud_rumour"
    start_in: float = Field(0.0, ge=0)


class CallbackIn(BaseModel):
    url: str = Field(pattern=r"^https?://")
    verify: bool = True


class LimitsIn(BaseModel):
    read: int | None = Field(None, ge=0)
    write: int | None = Field(None, ge=0)
    dm: int | None = Field(None, ge=0)


def _mentioned(state: WeiboState, text: str, mention: bool) -> str:
    return f"@{state.official_name} {text}" if mention else text


# ---------------------------------------------------------------------------- acting as users
@router.post("/users")
async def add_user(request: Request, body: UserIn) -> dict:
    state = sim(request)
    profile = body.model_dump(exclude={"screen_name", "id"})
    return state.add_user(body.screen_name, id=body.id, **profile).as_json()


@router.get("/users/{uid}")
async def get_user(request: Request, uid: int) -> dict:
    return sim(request).user(uid).as_json()


@router.post("/posts")
async def add_post(request: Request, body: PostIn) -> dict:
    state = sim(request)
    if body.retweet_of is not None:
        state.status(body.retweet_of)
    try:
        created = None if body.created_at is None else parse_time(body.created_at)
    except ValueError:
        raise SimError(10008, "param error, see doc for more info: created_at") from None
    status = state.add_status(
        body.uid,
        _mentioned(state, body.text, body.mention),
        created_at=created,
        retweet_of=body.retweet_of,
        reposts_count=body.reposts_count,
        comments_count=body.comments_count,
        attitudes_count=body.attitudes_count,
    )
    return state.status_json(status)


@router.post("/comments")
async def add_comment(request: Request, body: CommentIn) -> dict:
    state = sim(request)
    comment = state.add_comment(
        body.uid,
        body.status_id,
        _mentioned(state, body.text, body.mention),
        reply_to=body.reply_to_comment_id,
    )
    return state.comment_json(comment)


@router.post("/dms")
async def add_dm(request: Request, body: DmIn) -> dict:
    """A user writes a 私信: pushed to the callback now; the answer says how that went."""
    state = sim(request)
    state.user(body.uid)
    data: dict[str, Any] = {}
    if body.type == "image":
        data = {"tovfid": f"tov{len(state.dms) + 1:08d}", "vfid": f"v{len(state.dms) + 1:08d}"}
    elif body.type == "event":
        data = {"subtype": body.subtype}
    message = DirectMessage(
        len(state.dms) + 1,
        body.uid,
        state.official.id,
        body.type,
        body.text,
        data,
        state.now(),
        inbound=True,
    )
    state.dms.append(message)
    await push(state, request.app.state.push_http, message)
    return message.as_json()


@router.delete("/posts/{status_id}")
async def delete_post(request: Request, status_id: int) -> dict:
    state = sim(request)
    state.status(status_id).deleted = True
    return {"deleted": True, "id": status_id}


@router.delete("/comments/{comment_id}")
async def delete_comment(request: Request, comment_id: int) -> dict:
    found = sim(request).comments.get(comment_id)
    if found is None or found.deleted:
        raise SimError(20206)
    found.deleted = True
    return {"deleted": True, "id": comment_id}


# ---------------------------------------------------------------------------- the platform
@router.post("/faults")
async def add_faults(request: Request, body: FaultIn) -> dict:
    if (
        body.error_code is None
        and body.http_status is None
        and not body.malformed
        and not body.delay
    ):
        raise SimError(
            10008, "param error: a fault needs error_code, http_status, malformed or delay"
        )
    fault = Fault(body.error_code, body.http_status, body.malformed, body.delay)
    queued = sim(request).faults.setdefault(body.path, [])
    queued.extend([fault] * body.times)
    return {"path": body.path, "queued": len(queued)}


@router.post("/clock")
async def advance_clock(request: Request, body: ClockIn) -> dict:
    state = sim(request)
    state.advance(body.advance)
    return _clock(state)


@router.get("/clock")
async def read_clock(request: Request) -> dict:
    return _clock(sim(request))


def _clock(state: WeiboState) -> dict[str, Any]:
    return {"now": state.now(), "created_at": weibo_time(state.now()), "offset": state.offset}


@router.post("/tokens/expire")
async def expire_tokens(request: Request, body: ExpireIn) -> dict:
    state = sim(request)
    chosen = [
        t
        for t in state.tokens.values()
        if body.access_token is None or t.token == body.access_token
    ]
    if body.access_token is not None and not chosen:
        raise SimError(21332)
    for token in chosen:
        token.expired = True
    return {"expired": len(chosen)}


@router.post("/callback")
async def set_callback(request: Request, body: CallbackIn) -> dict:
    """Saves the 私信 callback URL, after the echostr check unless ``verify`` is false."""
    state = sim(request)
    if body.verify:
        ok, why = await verify_url(state, request.app.state.push_http, body.url)
        if not ok:
            return {"saved": False, "url": state.callback_url, "error": why}
    state.callback_url = body.url
    return {"saved": True, "url": body.url}


@router.post("/limits")
async def set_limits(request: Request, body: LimitsIn) -> dict:
    state = sim(request)
    state.limits.update({k: v for k, v in body.model_dump().items() if v is not None})
    return dict(state.limits)


@router.get("/sent")
async def sent(request: Request) -> dict:
    state = sim(request)
    return {
        "comments": [
            state.comment_json(c) for c in state.comments.values() if c.user_id == state.official.id
        ],
        "dms": [m.as_json() for m in state.dms if not m.inbound],
    }


@router.get("/state")
async def counts(request: Request) -> dict:
    state = sim(request)
    tasks = request.app.state.tasks
    return {
        "official": state.official.as_json(),
        "now": weibo_time(state.now()),
        "users": len(state.users),
        "posts": len(state.statuses),
        "deleted_posts": sum(s.deleted for s in state.statuses.values()),
        "comments": len(state.comments),
        "dms": sum(m.inbound for m in state.dms),
        "dm_replies": sum(not m.inbound for m in state.dms),
        "undelivered_dms": sum(m.inbound and not m.delivered for m in state.dms),
        "tokens": len(state.tokens),
        "calls": dict(state.calls),
        "traffic_per_minute": state.traffic_per_minute if "traffic" in tasks else 0,
        "background_tasks": sorted(tasks),
    }


# ---------------------------------------------------------------------------- traffic
@router.post("/traffic")
async def traffic(request: Request, body: TrafficIn) -> dict:
    start_traffic(request.app, body.per_minute, body.minutes, history_minutes=body.history_minutes)
    return {"per_minute": body.per_minute, "running": "traffic" in request.app.state.tasks}


@router.post("/crisis")
async def plant(request: Request, body: CrisisIn) -> dict:
    state = sim(request)
    start = state.now() + body.start_in
    name = plant_crisis(request.app, body.kind, start)
    return {"kind": body.kind, "start": weibo_time(start), "task": name}


def start_traffic(
    app: FastAPI, per_minute: float, minutes: float | None = None, *, history_minutes: float = 0
) -> None:
    """(Re)starts the background stream at ``per_minute`` (0 stops it). Each start draws a
    new stream (seed + starts so far), so a restart does not repeat the same posts. With
    ``history_minutes`` the stream starts that long ago: its past is published at once with
    its own dates, the rest as the clock reaches it."""
    state: WeiboState = app.state.sim
    old = app.state.tasks.pop("traffic", None)
    if old is not None:
        old.cancel()
    state.traffic_per_minute = per_minute
    if per_minute <= 0:
        return
    app.state.streams = getattr(app.state, "streams", 0) + 1
    now = state.now_dt()
    stream = generate(
        state.seed + app.state.streams,
        (now - timedelta(minutes=history_minutes)).astimezone(BEIJING),
        None if minutes is None else minutes + history_minutes,
        per_minute,
        bank=state.official_name,
    )
    _run(app, "traffic", play(state, stream, past_until=now.timestamp()))


def plant_crisis(app: FastAPI, kind: str, start: float) -> str:
    """Plants a ``kind`` surge (``traffic.CRISIS_KINDS``) starting at clock time ``start``."""
    if kind not in CRISIS_KINDS:
        raise SimError(10008, "param error, see doc for more info: kind")
    state: WeiboState = app.state.sim
    app.state.streams = getattr(app.state, "streams", 0) + 1
    stream = crisis(
        kind,
        datetime.fromtimestamp(start, BEIJING),
        state.seed + app.state.streams,
        bank=state.official_name,
    )
    name = f"crisis-{app.state.streams}"
    _run(app, name, play(state, stream))
    return name


def _run(app: FastAPI, name: str, work: Any) -> None:
    task = asyncio.get_running_loop().create_task(work, name=f"weibo-sim-{name}")
    app.state.tasks[name] = task
    task.add_done_callback(
        lambda t: app.state.tasks.pop(name, None) if app.state.tasks.get(name) is t else None
    )


async def stop_background(app: FastAPI) -> None:
    tasks = list(app.state.tasks.values())
    app.state.tasks.clear()
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def play(
    state: WeiboState, stream: Iterable[SimPost], *, past_until: float | None = None
) -> None:
    """Publishes each generated post once the simulated clock reaches its time; posts due
    before ``past_until`` at once, dated when they were due (a history)."""
    keys: dict[str, int] = {}  # the stream's post keys → status ids (for reposts)
    for item in stream:
        due = item.at.timestamp()
        if past_until is not None and due <= past_until:
            with contextlib.suppress(SimError):
                publish(state, item.post, keys, created_at=due)
            continue
        while (wait := due - state.now()) > 0:
            await asyncio.sleep(min(wait, 0.25))  # short naps: /_sim/clock may jump ahead
        if state.now() - due > BACKLOG:
            continue
        with contextlib.suppress(SimError):  # e.g. the post it comments on was deleted
            publish(state, item.post, keys)


def publish(
    state: WeiboState,
    post: dict[str, Any],
    keys: dict[str, int],
    *,
    created_at: float | None = None,
) -> None:
    """One generated post onto the platform: its author (made on first sight) posts it, as a
    status, or as a comment on one of the official account's latest posts."""
    author = post["author"]
    uid = state.by_name.get(author["screen_name"])
    if uid is None:
        profile = {k: v for k, v in author.items() if k != "screen_name"}
        uid = state.add_user(author["screen_name"], **profile).id
    if post["kind"] == "comment":
        target = _official_post(state, len(keys))
        keys[post["key"]] = state.add_comment(
            uid, target.id, post["text"], created_at=created_at
        ).id
        return
    retweet = keys.get(post["repost_of"] or "")
    if retweet is not None and (retweet not in state.statuses or state.statuses[retweet].deleted):
        retweet = None
    status = state.add_status(
        uid,
        post["text"],
        created_at=created_at,
        retweet_of=retweet,
        reposts_count=post["reposts_count"],
        comments_count=post["comments_count"],
        attitudes_count=post["attitudes_count"],
    )
    keys[post["key"]] = status.id


def _official_post(state: WeiboState, n: int) -> Status:
    """One of the account's three newest live posts (a first one is made if it has none)."""
    own = [s for s in state.statuses.values() if s.user_id == state.official.id and not s.deleted]
    if not own:
        own = [
            state.add_status(
                state.official.id,
                f"欢迎关注{state.official_name}官方微博！"
                "信用卡、手机银行、理财的问题都可以在这里留言，我们会尽快回复。",
                created_at=state.now() - 7 * 24 * 3600,  # older than any comment on it
            )
        ]
    latest = own[-3:]
    return latest[n % len(latest)]
