"""Social reports (issue #14 item 7): the report templates and the custom report.

One query loads the facts of the period's posts (a fixed SELECT: filters are bound
parameters, never text from the request); every figure is then computed here by pure
functions over those facts, so each can be checked by hand on a small set and reads the same
on SQLite and PostgreSQL. Spam and adverts are left out unless the state filter asks for them:
they are not customers' voice.

Days are local days (Asia/Shanghai), as the bank's staff count them. Times are minutes from
the post (``posted_at``, what the author waited for) to the first agent message of its
conversation (first response) and to the conversation's close (resolution).
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.conversations.models import Conversation, Message
from kefu.social.models import STATES, SocialPost
from kefu.vocabulary import Direction, SenderType

LOCAL_ZONE = ZoneInfo("Asia/Shanghai")
MAX_DAYS = 366
SENTIMENTS = ("negative", "neutral", "positive")
# Influence buckets (the score is 0..100, kefu.social.influence): lower bounds.
INFLUENCE_BUCKETS = (0, 20, 40, 60, 80)


class ReportInvalid(ValueError):
    """A report asked for something unknown or impossible; the message names the field, in
    Chinese, for the page."""


@dataclass(frozen=True)
class Fact:
    """What the reports need of one post."""

    platform: str
    kind: str
    state: str
    posted_at: datetime
    sentiment_label: str
    emotion: str
    keywords: Sequence[str]
    topic: str
    intent: str | None
    verified_type: int
    influence: float
    author_uid: str
    author_name: str
    first_reply_at: datetime | None  # the first agent message of its conversation
    closed_at: datetime | None  # its conversation's close

    @cached_property  # asked by several reports; the time zone conversion is the cost
    def day(self) -> str:
        return self.posted_at.astimezone(LOCAL_ZONE).date().isoformat()

    @property
    def handled(self) -> bool:
        """An agent answered it."""
        return self.first_reply_at is not None

    @property
    def first_response_minutes(self) -> float | None:
        return _minutes(self.posted_at, self.first_reply_at)

    @property
    def resolution_minutes(self) -> float | None:
        return _minutes(self.posted_at, self.closed_at)


def _minutes(start: datetime, end: datetime | None) -> float | None:
    if end is None:
        return None
    return max(0.0, (end - start).total_seconds() / 60)


@dataclass(frozen=True)
class Filters:
    """The period (local days, both included) and the optional equality filters."""

    start: date
    end: date
    platform: str | None = None
    emotion: str | None = None
    state: str | None = None

    @classmethod
    def last_days(cls, days: int = 7, today: date | None = None, **equal: str | None) -> Filters:
        today = today or datetime.now(LOCAL_ZONE).date()
        return cls(today - timedelta(days=days - 1), today, **equal)

    def validate(self) -> Filters:
        if self.end < self.start:
            raise ReportInvalid("时间段：结束日期早于开始日期")
        if (self.end - self.start).days + 1 > MAX_DAYS:
            raise ReportInvalid(f"时间段：最长 {MAX_DAYS} 天")
        if self.state and self.state not in STATES:
            raise ReportInvalid(f"状态：未知的状态「{self.state}」")
        return self

    @property
    def days(self) -> list[str]:
        count = (self.end - self.start).days + 1
        return [(self.start + timedelta(days=i)).isoformat() for i in range(count)]

    def utc_bounds(self) -> tuple[datetime, datetime]:
        lo = datetime.combine(self.start, time(), LOCAL_ZONE).astimezone(UTC)
        hi = datetime.combine(self.end + timedelta(days=1), time(), LOCAL_ZONE).astimezone(UTC)
        return lo, hi


async def load_facts(db: AsyncSession, filters: Filters) -> list[Fact]:
    """The facts of the posts posted within the filters' period."""
    lo, hi = filters.utc_bounds()
    first_reply = (
        select(Message.conversation_id, func.min(Message.created_at).label("at"))
        .where(Message.direction == Direction.OUTBOUND.value)
        .where(Message.sender_type == SenderType.AGENT.value)
        .group_by(Message.conversation_id)
        .subquery()
    )
    # Columns, not whole rows: the post's text and the rest are not needed, and a busy week is
    # hundreds of thousands of posts.
    query = (
        select(*_COLUMNS, first_reply.c.at, Conversation.closed_at)
        .outerjoin(Conversation, Conversation.id == SocialPost.conversation_id)
        .outerjoin(first_reply, first_reply.c.conversation_id == SocialPost.conversation_id)
        .where(SocialPost.posted_at >= lo, SocialPost.posted_at < hi)
    )
    if filters.platform:
        query = query.where(SocialPost.platform == filters.platform)
    if filters.emotion:
        query = query.where(SocialPost.emotion == filters.emotion)
    if filters.state:
        query = query.where(SocialPost.state == filters.state)
    else:
        query = query.where(SocialPost.state != "spam")
    rows = (await db.execute(query.order_by(SocialPost.id))).all()
    return [_fact(*row) for row in rows]


_COLUMNS = (SocialPost.platform, SocialPost.kind, SocialPost.state, SocialPost.posted_at,
            SocialPost.sentiment_label, SocialPost.emotion, SocialPost.keywords,
            SocialPost.topic, SocialPost.intent, SocialPost.author_verified_type,
            SocialPost.influence, SocialPost.author_uid, SocialPost.author_name)  # fmt: skip


def _fact(platform: str, kind: str, state: str, posted_at: datetime, label: str, emotion: str,
          keywords: list[str] | None, topic: str, intent: str | None, verified: int,
          influence: float, uid: str, name: str, reply_at: datetime | None,
          closed_at: datetime | None) -> Fact:  # fmt: skip
    return Fact(
        platform=platform, kind=kind, state=state, posted_at=posted_at, sentiment_label=label,
        emotion=emotion, keywords=tuple(keywords or ()), topic=topic, intent=intent,
        verified_type=verified, influence=influence, author_uid=uid, author_name=name,
        first_reply_at=_aware(reply_at), closed_at=_aware(closed_at),
    )  # fmt: skip


def _aware(value: datetime | None) -> datetime | None:
    # An aggregate (min) skips the column type, so SQLite hands back a naive UTC time.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


# -- statistics -------------------------------------------------------------------------------
def median(values: Sequence[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def p90(values: Sequence[float]) -> float | None:
    """Nearest rank: the smallest value with at least 90 % of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[math.ceil(0.9 * len(ordered)) - 1], 1)


def share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


# -- the templates ----------------------------------------------------------------------------
def volume(facts: Iterable[Fact], days: Sequence[str]) -> dict[str, dict[str, int]]:
    """Posts per platform per day: {platform: {day: n}}, every day of the period present."""
    out: dict[str, dict[str, int]] = {}
    for f in facts:
        out.setdefault(f.platform, dict.fromkeys(days, 0))
        if f.day in out[f.platform]:
            out[f.platform][f.day] += 1
    return dict(sorted(out.items()))


def sentiment_trend(facts: Iterable[Fact], days: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per day: the count and the share of each sentiment label (None on a day without posts)."""
    counts: dict[str, Counter[str]] = {d: Counter() for d in days}
    for f in facts:
        if f.day in counts:
            counts[f.day][f.sentiment_label] += 1
    out: dict[str, dict[str, Any]] = {}
    for day, c in counts.items():
        total = sum(c.values())
        out[day] = {"posts": total, **{s: share(c[s], total) for s in SENTIMENTS}}
    return out


@dataclass(frozen=True)
class Ranked:
    name: str
    posts: int
    negative_share: float | None


def _ranked(groups: dict[str, list[Fact]], limit: int) -> list[Ranked]:
    rows = [
        Ranked(name, len(fs), share(sum(f.sentiment_label == "negative" for f in fs), len(fs)))
        for name, fs in groups.items()
    ]
    return sorted(rows, key=lambda r: (-r.posts, r.name))[:limit]


def top_topics(facts: Iterable[Fact], limit: int = 10) -> list[Ranked]:
    groups: dict[str, list[Fact]] = defaultdict(list)
    for f in facts:
        if f.topic:
            groups[f.topic].append(f)
    return _ranked(groups, limit)


def top_keywords(facts: Iterable[Fact], limit: int = 20) -> list[Ranked]:
    """A keyword counts once per post that carries it."""
    groups: dict[str, list[Fact]] = defaultdict(list)
    for f in facts:
        for word in dict.fromkeys(f.keywords):
            groups[word].append(f)
    return _ranked(groups, limit)


@dataclass(frozen=True)
class Timing:
    platform: str
    posts: int
    answered: int
    first_median: float | None
    first_p90: float | None
    resolved: int
    resolution_median: float | None
    resolution_p90: float | None


def response_times(facts: Iterable[Fact]) -> list[Timing]:
    """First response and resolution per platform, minutes, over the posts that have them."""
    groups: dict[str, list[Fact]] = defaultdict(list)
    for f in facts:
        groups[f.platform].append(f)
    out = []
    for platform, fs in sorted(groups.items()):
        first = [m for f in fs if (m := f.first_response_minutes) is not None]
        done = [m for f in fs if (m := f.resolution_minutes) is not None]
        out.append(Timing(platform, len(fs), len(first), median(first), p90(first),
                          len(done), median(done), p90(done)))  # fmt: skip
    return out


@dataclass(frozen=True)
class Author:
    platform: str
    uid: str
    name: str
    influence: float  # the highest of the author's posts in the period
    posts: int
    handled: bool  # an agent answered at least one of them


def influence_report(facts: Sequence[Fact], limit: int = 10) -> dict[str, Any]:
    """Distribution of authors' influence (handled or not) and the most influential authors."""
    authors: dict[tuple[str, str], list[Fact]] = defaultdict(list)
    for f in facts:
        authors[(f.platform, f.author_uid)].append(f)
    rows = [
        Author(platform, uid, fs[-1].author_name, max(f.influence for f in fs), len(fs),
               any(f.handled for f in fs))
        for (platform, uid), fs in authors.items()
    ]  # fmt: skip
    buckets = {_bucket(lo): {"handled": 0, "unhandled": 0} for lo in INFLUENCE_BUCKETS}
    for a in rows:
        lo = max(b for b in INFLUENCE_BUCKETS if a.influence >= b)
        buckets[_bucket(lo)]["handled" if a.handled else "unhandled"] += 1
    top = sorted(rows, key=lambda a: (-a.influence, a.platform, a.uid))[:limit]
    return {"buckets": buckets, "top": top}


def _bucket(lo: int) -> str:
    hi = next((b for b in INFLUENCE_BUCKETS if b > lo), 100)
    return f"{lo}–{hi}"


def emotion_mix(facts: Iterable[Fact]) -> dict[str, int]:
    counts = Counter(f.emotion for f in facts)
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


# -- the custom report ------------------------------------------------------------------------
# Whitelists: what a user may group by and measure, with the Chinese word an error names.
DIMENSIONS: dict[str, tuple[str, Callable[[Fact], Any]]] = {
    "platform": ("平台", lambda f: f.platform),
    "day": ("日期", lambda f: f.day),
    "kind": ("类型", lambda f: f.kind),
    "state": ("状态", lambda f: f.state),
    "emotion": ("情绪", lambda f: f.emotion),
    "sentiment_label": ("情感倾向", lambda f: f.sentiment_label),
    "topic": ("话题", lambda f: f.topic),
    "intent": ("业务分类", lambda f: f.intent or ""),
    "verified_type": ("认证类型", lambda f: f.verified_type),
}


def _mean_influence(fs: list[Fact]) -> float | None:
    return round(statistics.fmean(f.influence for f in fs), 1) if fs else None


MEASURES: dict[str, tuple[str, Callable[[list[Fact]], Any]]] = {
    "posts": ("帖子数", len),
    "negative_share": ("负面占比", lambda fs: share(sum(f.sentiment_label == "negative" for f in fs), len(fs))),
    "mean_influence": ("平均影响力", _mean_influence),
    "handled_share": ("已处理占比", lambda fs: share(sum(f.handled for f in fs), len(fs))),
    "median_first_response": ("首次响应中位数（分钟）", lambda fs: median([m for f in fs if (m := f.first_response_minutes) is not None])),
}  # fmt: skip
MAX_DIMENSIONS = 3


@dataclass(frozen=True)
class Spec:
    """A custom report: dimensions × measures, and its filters (period as days back or dates)."""

    dimensions: tuple[str, ...]
    measures: tuple[str, ...]
    filters: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, dimensions: Sequence[str], measures: Sequence[str],
              filters: dict[str, Any] | None = None) -> Spec:  # fmt: skip
        """Checks every name against the whitelists; an unknown one is named in the error."""
        dims = tuple(dict.fromkeys(d.strip() for d in dimensions if d.strip()))
        meas = tuple(dict.fromkeys(m.strip() for m in measures if m.strip()))
        for d in dims:
            if d not in DIMENSIONS:
                raise ReportInvalid(f"维度：未知的维度「{d}」")
        for m in meas:
            if m not in MEASURES:
                raise ReportInvalid(f"指标：未知的指标「{m}」")
        if not dims:
            raise ReportInvalid("维度：请至少选择一个维度")
        if len(dims) > MAX_DIMENSIONS:
            raise ReportInvalid(f"维度：最多选择 {MAX_DIMENSIONS} 个")
        if not meas:
            raise ReportInvalid("指标：请至少选择一个指标")
        return cls(dims, meas, dict(filters or {}))

    def as_json(self) -> dict[str, Any]:
        return {"dimensions": list(self.dimensions), "measures": list(self.measures),
                "filters": self.filters}  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Spec:
        return cls.parse(data.get("dimensions", []), data.get("measures", []),
                         data.get("filters", {}))  # fmt: skip


@dataclass(frozen=True)
class Table:
    header: list[str]  # Chinese column names
    rows: list[list[Any]]


def custom_report(spec: Spec, facts: Iterable[Fact]) -> Table:
    """Groups the facts by the spec's dimensions and computes its measures per group, groups
    ordered by their dimension values."""
    groups: dict[tuple[Any, ...], list[Fact]] = defaultdict(list)
    keys = [DIMENSIONS[d][1] for d in spec.dimensions]
    for f in facts:
        groups[tuple(k(f) for k in keys)].append(f)
    header = [DIMENSIONS[d][0] for d in spec.dimensions] + [MEASURES[m][0] for m in spec.measures]
    rows = [
        [*key, *(MEASURES[m][1](fs) for m in spec.measures)]
        for key, fs in sorted(groups.items(), key=lambda kv: tuple(str(v) for v in kv[0]))
    ]
    return Table(header, rows)
