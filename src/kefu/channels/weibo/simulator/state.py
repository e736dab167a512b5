"""What the simulated Weibo knows: users, posts (statuses), comments, 私信, the app and its
tokens, hourly call counts, queued faults, and everything the bank's account sent.

Kept in memory: the simulator stands in for a remote platform, not for kefu's database. One
asyncio process serves it, so no locks. Time is the simulated clock ``now()`` — the injected
``clock`` plus whatever ``/_sim/clock`` advanced — so tests can cross a rate-limit hour, the
48-hour 私信 window or a token's expiry without waiting.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

BEIJING = timezone(timedelta(hours=8))
FIRST_ID = 5_000_000_000_000_000  # post/comment ids do not fit in 32 bits, as Weibo's
FIRST_UID = 5_000_000_000
TOKEN_TTL = 7 * 24 * 3600  # an unreviewed app's authorisation lasts days, not years
CODE_TTL = 600
DM_WINDOW = 48 * 3600
REPEAT_WINDOW = 24 * 3600
TEXT_LIMIT = 140  # a comment
DM_TEXT_LIMIT = 1000
DEFAULT_LIMITS = {"read": 150, "write": 30, "dm": 1000}
IP_LIMIT = 10000
DELETED_TEXT = "此微博已被作者删除。"
SOURCE = '<a href="https://weibo.com/" rel="nofollow">微博 weibo.com</a>'

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def weibo_time(at: float) -> str:
    """Weibo's ``created_at``: "Sun Dec 06 16:05:00 +0800 2026", English whatever the locale."""
    t = datetime.fromtimestamp(at, BEIJING)
    return f"{_DAYS[t.weekday()]} {_MONTHS[t.month - 1]} {t:%d %H:%M:%S} +0800 {t.year}"


def parse_time(value: float | str) -> float:
    """Unix seconds from a number, Weibo's format or ISO 8601 (naive = Beijing time)."""
    if isinstance(value, int | float):
        return float(value)
    try:
        parsed = datetime.strptime(value, "%a %b %d %H:%M:%S %z %Y")
    except ValueError:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=BEIJING)
    return parsed.timestamp()


class SimError(Exception):
    """A Weibo error answer: ``{"error", "error_code", "request"}`` with the code's HTTP status."""

    STATUS = {10001: 500, 10002: 503, 10022: 403, 10023: 403, 10024: 403, 21327: 401, 21332: 401}
    MESSAGES = {
        10001: "system error",
        10002: "service unavailable",
        10006: "source paramter(appkey) is missing",
        10022: "IP requests out of rate limit!",
        10023: "User requests out of rate limit!",
        20003: "User does not exists!",
        20012: "Text too long, please input text less than 140 characters!",
        20016: "Out of limit!",
        20019: "Repeat content!",
        20101: "Target weibo does not exist!",
        20206: "Comment target does not exist!",
        21327: "expired_token",
        21332: "invalid_access_token",
        21609: "reply time out",
    }

    def __init__(self, code: int, message: str = "", http_status: int | None = None) -> None:
        self.code = code
        self.message = message or self.MESSAGES.get(code, "error")
        self.http_status = http_status or self.STATUS.get(code, 400)
        super().__init__(f"{code} {self.message}")


@dataclass
class User:
    id: int
    screen_name: str
    followers_count: int = 0
    friends_count: int = 0
    statuses_count: int = 0
    verified_type: int = -1
    verified_reason: str = ""
    location: str = ""
    description: str = ""
    created_at: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "idstr": str(self.id),
            "screen_name": self.screen_name,
            "name": self.screen_name,
            "location": self.location,
            "description": self.description,
            "profile_image_url": f"https://tvax1.sinaimg.cn/crop/{self.id}.jpg",
            "followers_count": self.followers_count,
            "friends_count": self.friends_count,
            "statuses_count": self.statuses_count,
            "verified": self.verified_type >= 0,
            "verified_type": self.verified_type,
            "verified_reason": self.verified_reason,
            "created_at": weibo_time(self.created_at),
        }


@dataclass
class Status:
    id: int
    user_id: int
    text: str
    created_at: float
    reposts_count: int = 0
    comments_count: int = 0
    attitudes_count: int = 0
    retweeted_id: int | None = None
    deleted: bool = False


@dataclass
class Comment:
    id: int
    user_id: int
    status_id: int
    text: str
    created_at: float
    reply_to: int | None = None  # the comment this one answers
    deleted: bool = False


@dataclass
class DirectMessage:
    """A 私信, either way: ``inbound`` from a user (pushed to the callback) or the bank's reply."""

    seq: int
    sender_id: int
    receiver_id: int
    type: str
    text: str
    data: dict[str, Any]
    created_at: float
    inbound: bool
    delivered: bool | None = None  # inbound only: did the callback take it
    attempts: int = 0
    errors: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "sender_id": self.sender_id,
            "receiver_id": self.receiver_id,
            "type": self.type,
            "text": self.text,
            "data": self.data,
            "created_at": weibo_time(self.created_at),
            "inbound": self.inbound,
            "delivered": self.delivered,
            "attempts": self.attempts,
            "errors": self.errors,
        }


@dataclass
class Token:
    token: str
    uid: int
    created_at: float
    expires_at: float
    expired: bool = False  # forced by /_sim/tokens/expire


@dataclass
class Fault:
    error_code: int | None = None
    http_status: int | None = None
    malformed: bool = False
    delay: float = 0.0


@dataclass
class Page:
    items: list[Any]
    total: int
    next_cursor: int


@dataclass
class WeiboState:
    official_name: str = "某某银行"
    app_key: str = "3100000000"
    app_secret: str = "kefu-weibo-simulator-secret"
    callback_url: str = ""
    clock: Callable[[], float] = time.time
    offset: float = 0.0  # added by /_sim/clock
    limits: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_LIMITS))
    token_ttl: int = TOKEN_TTL
    push_timeout: float = 5.0  # the receiver must answer 200 within this …
    push_tries: int = 3  # … or the push is tried again, three times in all
    seed: int = 2026  # of the background traffic
    traffic_per_minute: float = 0.0  # started with the server (lifespan); /_sim/traffic too
    crisis_in: float | None = None  # seconds after start-up to plant a crisis (the demo's)
    crisis_kind: str = "card_fraud_rumour"
    users: dict[int, User] = field(default_factory=dict)
    statuses: dict[int, Status] = field(default_factory=dict)
    comments: dict[int, Comment] = field(default_factory=dict)
    dms: list[DirectMessage] = field(default_factory=list)
    tokens: dict[str, Token] = field(default_factory=dict)
    codes: dict[str, tuple[str, float]] = field(default_factory=dict)  # code → redirect, exp
    calls: Counter[str] = field(default_factory=Counter)  # path → calls
    hits: Counter[tuple[str, str, int]] = field(default_factory=Counter)  # token, bucket, hour
    ip_hits: Counter[int] = field(default_factory=Counter)  # hour → calls
    faults: dict[str, list[Fault]] = field(default_factory=dict)
    by_name: dict[str, int] = field(default_factory=dict)  # screen_name → uid
    _ids: itertools.count = field(default_factory=lambda: itertools.count(FIRST_ID))
    _uids: itertools.count = field(default_factory=lambda: itertools.count(FIRST_UID))

    def __post_init__(self) -> None:
        self.official = self.add_user(
            self.official_name,
            followers_count=1_200_000,
            verified_type=2,
            verified_reason=f"{self.official_name}官方微博",
            description="官方微博：产品资讯、活动与客户服务",
        )

    # --- time -----------------------------------------------------------------------------
    def now(self) -> float:
        return self.clock() + self.offset

    def now_dt(self) -> datetime:
        return datetime.fromtimestamp(self.now(), UTC)

    def advance(self, seconds: float) -> None:
        self.offset += seconds

    # --- users, posts, comments -----------------------------------------------------------
    def add_user(self, screen_name: str, *, id: int | None = None, **profile: Any) -> User:
        uid = id if id is not None else next(self._uids)
        if uid in self.users:
            raise SimError(10008, f"param error: user id {uid} already exists")
        user = User(uid, screen_name, created_at=self.now() - 400 * 24 * 3600, **profile)
        self.users[uid] = user
        self.by_name.setdefault(screen_name, uid)
        return user

    def user(self, uid: int) -> User:
        if uid not in self.users:
            raise SimError(20003)
        return self.users[uid]

    def add_status(
        self,
        uid: int,
        text: str,
        *,
        created_at: float | None = None,
        retweet_of: int | None = None,
        **counts: int,
    ) -> Status:
        self.user(uid).statuses_count += 1
        if retweet_of is not None:
            self.status(retweet_of).reposts_count += 1
        status = Status(
            next(self._ids),
            uid,
            text,
            self.now() if created_at is None else created_at,
            retweeted_id=retweet_of,
            **counts,
        )
        self.statuses[status.id] = status
        return status

    def status(self, status_id: int) -> Status:
        """A live status, or 20101 (never existed or deleted)."""
        found = self.statuses.get(status_id)
        if found is None or found.deleted:
            raise SimError(20101)
        return found

    def add_comment(
        self,
        uid: int,
        status_id: int,
        text: str,
        *,
        reply_to: int | None = None,
        created_at: float | None = None,
    ) -> Comment:
        self.user(uid)
        status = self.status(status_id)
        if reply_to is not None:
            target = self.comments.get(reply_to)
            if target is None or target.deleted or target.status_id != status_id:
                raise SimError(20206)
        when = self.now() if created_at is None else created_at
        comment = Comment(next(self._ids), uid, status_id, text, when, reply_to)
        self.comments[comment.id] = comment
        status.comments_count += 1
        return comment

    # --- JSON as the open API renders it --------------------------------------------------
    def status_json(self, status: Status, *, nested: bool = True) -> dict[str, Any]:
        ids = {
            "created_at": weibo_time(status.created_at),
            "id": status.id,
            "idstr": str(status.id),
            "mid": str(status.id),
        }
        if status.deleted:
            return {**ids, "deleted": "1", "text": DELETED_TEXT}
        body = {
            **ids,
            "text": status.text,
            "source": SOURCE,
            "reposts_count": status.reposts_count,
            "comments_count": status.comments_count,
            "attitudes_count": status.attitudes_count,
            "user": self.users[status.user_id].as_json(),
        }
        if nested and status.retweeted_id is not None:
            body["retweeted_status"] = self.status_json(
                self.statuses[status.retweeted_id], nested=False
            )
        return body

    def comment_json(self, comment: Comment, *, nested: bool = True) -> dict[str, Any]:
        body: dict[str, Any] = {
            "created_at": weibo_time(comment.created_at),
            "id": comment.id,
            "idstr": str(comment.id),
            "mid": str(comment.id),
            "text": comment.text,
            "source": SOURCE,
            "user": self.users[comment.user_id].as_json(),
        }
        if nested:
            body["status"] = self.status_json(self.statuses[comment.status_id])
            if comment.reply_to is not None:
                body["reply_comment"] = self.comment_json(
                    self.comments[comment.reply_to], nested=False
                )
        return body

    # --- what the endpoints list ----------------------------------------------------------
    def mentions_official(self, text: str) -> bool:
        return f"@{self.official_name}" in text

    def to_me(self, comment: Comment) -> bool:
        """A comment on the account's posts, or a reply to one of its comments (not its own)."""
        if comment.user_id == self.official.id:
            return False
        if self.statuses[comment.status_id].user_id == self.official.id:
            return True
        target = self.comments.get(comment.reply_to) if comment.reply_to else None
        return target is not None and target.user_id == self.official.id

    # --- tokens ---------------------------------------------------------------------------
    def issue_code(self, redirect_uri: str) -> str:
        code = secrets.token_hex(16)
        self.codes[code] = (redirect_uri, self.now() + CODE_TTL)
        return code

    def issue_token(self) -> Token:
        now = self.now()
        token = Token("2.00" + secrets.token_hex(14), self.official.id, now, now + self.token_ttl)
        self.tokens[token.token] = token
        return token

    def check_token(self, value: str | None) -> Token:
        if not value:
            raise SimError(10006)
        token = self.tokens.get(value)
        if token is None:
            raise SimError(21332)
        if token.expired or token.expires_at <= self.now():
            raise SimError(21327)
        return token

    # --- hourly rate limits ---------------------------------------------------------------
    def hour(self) -> int:
        return int(self.now() // 3600)

    def count_call(self, token: Token, bucket: str, api: str) -> None:
        """Counts one call in this clock hour; over the limit → 10022/10023/10024."""
        hour = self.hour()
        self.ip_hits[hour] += 1
        if self.ip_hits[hour] > IP_LIMIT:
            raise SimError(10022)
        key = (token.token, bucket, hour)
        self.hits[key] += 1
        if self.hits[key] > self.limits[bucket]:
            if bucket == "read":
                raise SimError(10023)
            raise SimError(10024, f"User requests for ({api}) out of rate limit!", 403)

    def remaining(self, token: Token, bucket: str) -> int:
        return max(0, self.limits[bucket] - self.hits[(token.token, bucket, self.hour())])

    def take_fault(self, path: str) -> Fault | None:
        queued = self.faults.get(path)
        return queued.pop(0) if queued else None

    # --- 私信 ------------------------------------------------------------------------------
    def last_dm_from(self, uid: int) -> float | None:
        times = [m.created_at for m in self.dms if m.inbound and m.sender_id == uid]
        return max(times) if times else None


def page(items: list[Any], *, since_id: int, max_id: int, count: int, page: int) -> Page:
    """Weibo's paging over items with ``.id``: newer than since_id, at most max_id, newest
    first; next_cursor is the max_id that fetches the next page (0 on the last page)."""
    chosen = sorted(
        (i for i in items if i.id > since_id and (not max_id or i.id <= max_id)),
        key=lambda i: i.id,
        reverse=True,
    )
    start = (page - 1) * count
    shown = chosen[start : start + count]
    after = start + count
    return Page(shown, len(chosen), chosen[after].id if after < len(chosen) else 0)
