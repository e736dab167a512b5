"""A follower's region: the branch city whose menu, promotions, branch list and knowledge
variants they see.

Where it comes from, weakest first: LOCATION events (the nearest branch city), the bound
customer's profile, the bound card's branch (set when a card is bound), and the follower's own
choice on the H5 page. A weaker source never overwrites a stronger one, except that binding a
card and the follower's own choice always win (each is a deliberate act, the later one counts):
LOCATION events arrive every few seconds while a chat is open and must not undo a correction.

WeChat shows a region's conditional menu through a user tag per region; ``tagged_region``
remembers which region's tag WeChat has, so tag sync sends only the differences.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Float, Integer, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from kefu.bank.port import BankPort
from kefu.db.base import Base, UTCDateTime, utcnow
from kefu.hall.wechat import AccountApi, WechatRefused
from kefu.identity.binding import customer_for
from kefu.vocabulary import IdentityKind

# Source → strength. LOCATION and profile are guesses; card and user are deliberate.
SOURCES = {"location": 0, "profile": 1, "card": 2, "user": 2}
BRANCH_CACHE_SECONDS = 600.0


class WechatFollowerRegion(Base):
    __tablename__ = "wechat_follower_regions"

    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    openid: Mapped[str] = mapped_column(String(128), primary_key=True)
    region: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(16))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    tagged_region: Mapped[str | None] = mapped_column(String(32))


class WechatRegionTag(Base):
    """The WeChat user tag that stands for a region in one account."""

    __tablename__ = "wechat_region_tags"

    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    region: Mapped[str] = mapped_column(String(32), primary_key=True)
    tag_id: Mapped[int] = mapped_column(Integer)


@dataclass(frozen=True)
class BranchPoint:
    city: str
    latitude: float
    longitude: float


_cache: dict[int, tuple[float, list[BranchPoint]]] = {}


async def branch_points(bank: BankPort) -> list[BranchPoint]:
    """One point per branch city of the bank's own branches (cached for ten minutes: LOCATION
    events are frequent and branches are not)."""
    cached = _cache.get(id(bank))
    if cached and time.monotonic() - cached[0] < BRANCH_CACHE_SECONDS:
        return cached[1]
    points: dict[str, BranchPoint] = {}
    for b in await bank.list_branches():
        points.setdefault(b.city, BranchPoint(b.city, b.latitude, b.longitude))
    _cache[id(bank)] = (time.monotonic(), list(points.values()))
    return list(points.values())


def distance_km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 6371.0 * 2 * math.asin(math.sqrt(a))


def nearest_city(points: list[BranchPoint], lat: float, lng: float) -> str | None:
    if not points:
        return None
    return min(points, key=lambda p: distance_km(lat, lng, p.latitude, p.longitude)).city


def valid_coordinates(lat: float, lng: float) -> bool:
    return (
        math.isfinite(lat)
        and math.isfinite(lng)
        and -90.0 <= lat <= 90.0
        and -180.0 <= lng <= 180.0
    )


async def _row(db: AsyncSession, account: str, openid: str) -> WechatFollowerRegion | None:
    return await db.get(WechatFollowerRegion, (account, openid))


async def set_region(
    db: AsyncSession,
    account: str,
    openid: str,
    region: str,
    source: str,
    *,
    lat: float | None = None,
    lng: float | None = None,
) -> WechatFollowerRegion:
    """Records ``region`` from ``source`` unless a stronger source already decided."""
    if source not in SOURCES:
        raise ValueError(f"source: one of {', '.join(SOURCES)}")
    row = await _row(db, account, openid)
    if row is None:
        row = WechatFollowerRegion(account=account, openid=openid, region=region, source=source)
        db.add(row)
    elif SOURCES[source] >= SOURCES.get(row.source, 0):
        row.region, row.source = region, source
    if lat is not None and lng is not None:
        row.latitude, row.longitude = lat, lng
    row.updated_at = utcnow()
    await db.flush()
    return row


async def record_location(
    db: AsyncSession,
    account: str,
    openid: str,
    lat: float,
    lng: float,
    *,
    bank: BankPort,
) -> None:
    """A LOCATION event: the follower's region becomes the nearest branch city, unless they
    chose one or bound a card. Coordinates outside the globe are ignored (a forged event)."""
    if not valid_coordinates(lat, lng):
        return
    city = nearest_city(await branch_points(bank), lat, lng)
    if city is not None:
        await set_region(db, account, openid, city, "location", lat=lat, lng=lng)


async def region_of(db: AsyncSession, account: str, openid: str) -> str | None:
    """The follower's region; without one recorded, the bound customer's (profile) region."""
    row = await _row(db, account, openid)
    if row is not None:
        return row.region
    customer = await customer_for(db, kind=IdentityKind.WECHAT_OPENID.value, value=openid)
    return customer.region if customer is not None else None


async def source_of(db: AsyncSession, account: str, openid: str) -> str | None:
    row = await _row(db, account, openid)
    return row.source if row is not None else None


# --- WeChat user tags ----------------------------------------------------------------------

TAG_PREFIX = "地区-"  # WeChat tag names: at most 30 characters, unique per account
TAG_NAME_EXISTS = 45157
INVALID_OPENID = 40003  # not a follower (any more)


async def ensure_region_tag(db: AsyncSession, api: AccountApi, account: str, region: str) -> int:
    """The id of the region's tag, created on WeChat the first time (or found there, when a
    tag of that name exists already, e.g. after kefu's database was restored)."""
    row = await db.get(WechatRegionTag, (account, region))
    if row is not None:
        return row.tag_id
    name = TAG_PREFIX + region
    try:
        tag_id = int((await api.tags_create(name))["id"])
    except WechatRefused as exc:
        if exc.errcode != TAG_NAME_EXISTS:
            raise
        found = [t for t in await api.tags_list() if t.get("name") == name]
        if not found:
            raise
        tag_id = int(found[0]["id"])
    db.add(WechatRegionTag(account=account, region=region, tag_id=tag_id))
    await db.flush()
    return tag_id


async def sync_follower_tags(
    db: AsyncSession, api: AccountApi, account: str, openids: list[str] | None = None
) -> int:
    """Moves followers whose region changed to their region's tag (batches of 50, WeChat's
    limit), or off any region tag when their region has no regional menu; returns how many
    followers moved. ``openids`` limits it to those followers (after a region change)."""
    tags = {
        r.region: r.tag_id
        for r in (
            await db.scalars(select(WechatRegionTag).where(WechatRegionTag.account == account))
        ).all()
    }
    statement = select(WechatFollowerRegion).where(WechatFollowerRegion.account == account)
    if openids is not None:
        statement = statement.where(WechatFollowerRegion.openid.in_(openids))
    moves: dict[tuple[str | None, str | None], list[WechatFollowerRegion]] = {}
    for row in (await db.scalars(statement)).all():
        wanted = row.region if row.region in tags else None
        if wanted != row.tagged_region:
            moves.setdefault((row.tagged_region, wanted), []).append(row)
    moved = 0
    for (old, new), rows in moves.items():
        try:
            await _move(api, tags, old, new, [r.openid for r in rows])
            done = rows
        except WechatRefused as exc:
            if exc.errcode != INVALID_OPENID:
                raise
            # One follower who left fails the whole batch: move the others one by one; the
            # ones WeChat does not know stay as they are (tried again at the next sync).
            done = []
            for r in rows:
                try:
                    await _move(api, tags, old, new, [r.openid])
                    done.append(r)
                except WechatRefused as one:
                    if one.errcode != INVALID_OPENID:
                        raise
        for r in done:
            r.tagged_region = new
        moved += len(done)
        await db.flush()  # what WeChat has done is recorded even if a later batch fails
    return moved


async def _move(
    api: AccountApi, tags: dict[str, int], old: str | None, new: str | None, openids: list[str]
) -> None:
    if old is not None and old in tags:
        await api.tags_untag_users(tags[old], openids)
    if new is not None:
        await api.tags_tag_users(tags[new], openids)
