"""Predicted waits on the live queues: each branch's queue for a service becomes a
``QueueState`` and the shipped model (trained on simulated branch days) reads it; the rule
answers when the model file is missing or unreadable, so the map never goes blank."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from sqlalchemy.ext.asyncio import AsyncSession

from kefu.bank.models import Branch
from kefu.branch import queue
from kefu.branch.prediction.baselines import band
from kefu.branch.prediction.features import QueueState, ahead_with_priority
from kefu.branch.prediction.model import WaitModel
from kefu.branch.services import kind
from kefu.db.base import utcnow


@lru_cache(maxsize=1)
def _model() -> WaitModel | None:
    try:
        return WaitModel.load()
    except (OSError, ValueError, KeyError):
        return None


def predicted_seconds(state: QueueState) -> float:
    """The shipped model's wait for ``state``, the rule without a model."""
    model = _model()
    return float(model.predict([state])[0]) if model else state.rule


@dataclass(frozen=True)
class BranchWait:
    branch: Branch
    service: str
    waiting: int
    counters: int
    wait_seconds: float | None  # None: the service is not offered now
    band: str  # green | yellow | red | closed
    method: str  # gbm | rule
    distance_km: float | None


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 6371.0 * 2 * math.asin(math.sqrt(a))


def state_of(q: queue.ServiceQueue, now: datetime, priority: int = 0) -> QueueState:
    local = now.astimezone(queue.LOCAL_ZONE)
    return QueueState(
        ahead=ahead_with_priority(q.by_priority, priority), waiting=q.branch_waiting,
        servers=max(q.counters, 1), mean_service=q.mean_service,
        last_wait=q.last_wait if q.last_wait is not None else -1.0,
        recent_wait=q.last_wait if q.last_wait is not None else -1.0,
        arrivals_30min=q.arrivals_30min, served_10min=q.served_10min, priority=priority,
        kind=kind(q.service), hour=local.hour + local.minute / 60, weekday=local.weekday(),
    )  # fmt: skip


async def branch_waits(
    db: AsyncSession,
    branches: list[Branch],
    service_code: str,
    *,
    near: tuple[float, float] | None = None,
    now: datetime | None = None,
) -> list[BranchWait]:
    """One line per branch, nearest first when ``near`` (lat, lon) is given."""
    now = now or utcnow()
    model = _model()
    out = []
    for b in branches:
        q = (await queue.service_queues(db, b.code, now))[service_code]
        dist = distance_km(near[0], near[1], b.latitude, b.longitude) if near else None
        if q.counters == 0:
            out.append(BranchWait(b, service_code, q.waiting, 0, None, "closed", "", dist))
            continue
        state = state_of(q, now)
        wait = model.predict([state])[0] if model else state.rule
        method = "gbm" if model else "rule"
        out.append(
            BranchWait(b, service_code, q.waiting, q.counters, wait, band(wait), method, dist)
        )
    if near:
        out.sort(key=lambda w: w.distance_km or 0.0)
    return out


async def nearest_waits(
    db: AsyncSession,
    branches: list[Branch],
    city: str,
    *,
    service_code: str = "cash",
    limit: int = 3,
    now: datetime | None = None,
) -> list[BranchWait]:
    """The branches nearest a city (its own first) with their waits: SMS ``PD``'s answer.
    Empty when the bank has no branch in that city."""
    own = [b for b in branches if b.city == city]
    if not own:
        return []
    centre = (own[0].latitude, own[0].longitude)
    return (await branch_waits(db, branches, service_code, near=centre, now=now))[:limit]
