"""The hourly KPI rollup: which hours changed since the last run, and each such hour
recomputed whole from the stored conversations, messages, routing events and self-service
turns (docs/reports.md defines each column).

Incremental: the rollup remembers the highest id it read of each source (and the newest
``updated_at`` of conversations, which change in place when closed) and re-rolls only the
hours those rows touch — a late event re-rolls its own old hour. Idempotent: an hour's rows
are deleted and written again in one transaction, so running it twice gives the same rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, and_, cast, delete, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.agents.models import Agent
from kefu.conversations.models import Conversation, Message
from kefu.db import mysql
from kefu.db.engine import dialect_insert
from kefu.language.normalize import normalize
from kefu.language.sentiment import analyse_sentiment
from kefu.reports import daily
from kefu.reports.models import COUNTS, SUMS, AgentMinute, KpiHourly, RollupState, SelfServiceTurn
from kefu.reports.rollup_sql import roll_span_sql, tune
from kefu.routing.models import RoutingEvent, RoutingTask, TaskState
from kefu.workspace.presence import HANDLING_ROLES, PRESENT

HOUR = timedelta(hours=1)
BANK_ZONE = ZoneInfo("Asia/Shanghai")  # the default of kefu.config's timezone
RECONTACT_WINDOW = timedelta(days=7)
ALL_AGENTS = -1  # kpi_hourly.agent_id of the rows summed over agents (0: no agent)
CHUNK = 500  # ids per IN (...) list: well under SQLite's and asyncpg's parameter limits

Key = tuple[datetime, str, str, str, int]  # hour, channel, queue, intent, agent (0: none)
Acc = dict[Key, dict[str, float]]
SPAN = timedelta(days=7)  # hours re-rolled together read their sources in one pass
GAP = timedelta(hours=6)  # dirty hours closer than this share a pass


def hour_of(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


@lru_cache(maxsize=8192)
def sentiment_of(text: str) -> float:
    """The language layer's polarity (-1…1) of one customer message; cached because
    customers repeat themselves ("人工", "你好") and re-rolled hours read the same texts."""
    return analyse_sentiment(normalize(text)[:500]).score


@dataclass
class RollupResult:
    hours: int  # hours re-rolled
    rows: int  # kpi_hourly rows written
    sampled: int  # agents' presence samples taken
    rolled: list[datetime] = field(default_factory=list)  # which hours


def _chunks(ids: Iterable[Any]) -> Iterable[list[Any]]:
    items = sorted(set(ids))
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]


async def _state(session: AsyncSession, source: str) -> RollupState:
    row = await session.get(RollupState, source)
    if row is None:
        row = RollupState(source=source, last_id=0)
        session.add(row)
    return row


async def _hours(session: AsyncSession, stmt: Any) -> set[datetime]:
    return {_as_hour(at) for at in (await session.scalars(stmt)).all()}


async def dirty_hours(session: AsyncSession) -> set[datetime]:
    """The hours touched since the last run (and moves the read positions past them).

    Grouped in SQL (distinct hours, highest id): after a bulk load of a year the first run
    would otherwise carry ten million message rows into Python to find 8,760 hours."""
    hours: set[datetime] = set()
    conversation_hour = _hour_expr(session, Conversation.created_at)

    messages = await _state(session, "messages")
    new = Message.id > messages.last_id
    top = await session.scalar(select(func.max(Message.id)).where(new))
    if top is not None:
        hours |= await _hours(session, select(_hour_expr(session, Message.created_at))
                              .where(new).distinct())  # fmt: skip
        # A message also changes its conversation's measures (sentiment, handle time).
        of = select(Message.conversation_id).where(new)
        hours |= await _hours(session, select(conversation_hour)
                              .where(Conversation.id.in_(of)).distinct())  # fmt: skip
        messages.last_id = top

    events = await _state(session, "routing_events")
    new = RoutingEvent.id > events.last_id
    top = await session.scalar(select(func.max(RoutingEvent.id)).where(new))
    if top is not None:
        of = select(RoutingEvent.conversation_id).where(new)
        hours |= await _hours(session, select(conversation_hour)
                              .where(Conversation.id.in_(of)).distinct())  # fmt: skip
        events.last_id = top

    conversations = await _state(session, "conversations")
    changed = Conversation.id > conversations.last_id
    if conversations.last_at is not None:
        # >, not >=: with >= every round re-read the newest-updated conversation and
        # re-rolled its hour and day, so no round was ever idle (1.2 s at 200k conversations
        # on PostgreSQL, docs/reports.md). Rows flushed together share their commit, so a
        # tie is seen whole; a row committed after a newer one was read is missed either
        # way, as a message committed after a higher id is.
        changed = or_(changed, Conversation.updated_at > conversations.last_at)
    top_id, top_at = (
        await session.execute(
            select(func.max(Conversation.id), func.max(Conversation.updated_at)).where(changed)
        )
    ).one()
    if top_id is not None:
        hours |= await _hours(session, select(conversation_hour).where(changed).distinct())
        conversations.last_id = max(conversations.last_id, top_id)
        if conversations.last_at is None or top_at > conversations.last_at:
            conversations.last_at = top_at

    turns = await _state(session, "selfservice")
    new = SelfServiceTurn.id > turns.last_id
    top = await session.scalar(select(func.max(SelfServiceTurn.id)).where(new))
    if top is not None:
        hours |= await _hours(session, select(_hour_expr(session, SelfServiceTurn.at))
                              .where(new).distinct())  # fmt: skip
        # A turn joining a session begun in an earlier hour changes that hour's sessions.
        began = _hour_expr(session, SelfServiceTurn.session_at)
        hours |= await _hours(session, select(began).where(
            new, SelfServiceTurn.session_at.is_not(None)).distinct())  # fmt: skip
        turns.last_id = top
    return hours


def _empty() -> dict[str, float]:
    return dict.fromkeys((*COUNTS, *SUMS), 0)


async def _conversation_measures(
    session: AsyncSession, start: datetime, end: datetime, acc: Acc
) -> None:
    rows = (
        await session.execute(
            select(Conversation, RoutingTask)
            .outerjoin(RoutingTask, RoutingTask.conversation_id == Conversation.id)
            .where(Conversation.created_at >= start, Conversation.created_at < end)
        )
    ).all()
    if not rows:
        return
    ids = [c.id for c, _ in rows]
    accepted: dict[int, datetime] = {}
    kinds: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    said: dict[int, list[str]] = defaultdict(list)
    for chunk in _chunks(ids):
        events = await session.execute(
            select(RoutingEvent.conversation_id, RoutingEvent.kind, RoutingEvent.at)
            .where(
                RoutingEvent.conversation_id.in_(chunk),
                RoutingEvent.kind.in_(("accepted", "claimed", "transferred", "escalated")),
            )
            .order_by(RoutingEvent.id)
        )
        for conversation_id, kind, at in events:
            kinds[conversation_id][kind] += 1
            if kind in ("accepted", "claimed"):
                accepted.setdefault(conversation_id, at)
        texts = await session.execute(
            select(Message.conversation_id, Message.body)
            .where(Message.conversation_id.in_(chunk), Message.sender_type == "customer")
            .order_by(Message.id)
        )
        for conversation_id, body in texts:
            said[conversation_id].append(body)
    previous = await _previous_closed(session, [c for c, _ in rows])

    for conversation, task in rows:
        key = (
            hour_of(conversation.created_at),
            conversation.channel,
            task.queue if task is not None else "",
            conversation.intent or "",
            conversation.assigned_agent_id or 0,
        )
        m = acc.setdefault(key, _empty())
        m["conversations"] += 1
        answered = task is not None and task.first_response_at is not None
        if answered:
            m["first_responses"] += 1
            m["first_response_seconds"] += (
                task.first_response_at - task.enqueued_at
            ).total_seconds()
        breached = task is not None and "first_response" in (task.breached or "").split(",")
        if breached or answered:
            m["sla_due"] += 1
            m["sla_met"] += 0 if breached else 1
        closed = conversation.closed_at is not None
        overflowed = task is not None and task.state == TaskState.OVERFLOWED
        if not answered and (closed or overflowed):
            m["abandoned"] += 1
        if closed and conversation.assigned_agent_id is not None:
            m["handled"] += 1
            start = accepted.get(conversation.id) or (task.first_response_at if task else None)
            start = start or conversation.created_at
            m["handle_seconds"] += max(0.0, (conversation.closed_at - start).total_seconds())
        m["transfers"] += kinds[conversation.id]["transferred"]
        m["escalations"] += kinds[conversation.id]["escalated"]
        if conversation.id in previous:
            m["recontacts"] += 1
        texts = said.get(conversation.id)
        if texts:
            m["sentiment_n"] += 1
            m["sentiment_start_sum"] += sentiment_of(texts[0])
            m["sentiment_end_sum"] += sentiment_of(texts[-1])


def _customer(c: Conversation) -> tuple[object, ...] | None:
    if c.customer_id is not None:
        return ("customer", c.customer_id)
    if c.contact:
        return ("contact", c.channel, c.contact)
    return None


async def _previous_closed(session: AsyncSession, opened: list[Conversation]) -> set[int]:
    """Ids among ``opened`` whose customer had another conversation closed in the 7 days
    before it opened (a re-contact)."""
    customers = {c.customer_id for c in opened if c.customer_id is not None}
    contacts = {c.contact for c in opened if c.customer_id is None and c.contact}
    if not customers and not contacts:
        return set()
    first = min(c.created_at for c in opened)
    last = max(c.created_at for c in opened)
    closings: dict[tuple[object, ...], list[tuple[int, datetime]]] = defaultdict(list)
    for column, values in ((Conversation.customer_id, customers), (Conversation.contact, contacts)):
        for chunk in _chunks(values):
            rows = await session.scalars(
                select(Conversation).where(
                    column.in_(chunk),
                    Conversation.closed_at >= first - RECONTACT_WINDOW,
                    Conversation.closed_at < last,
                )
            )
            for c in rows:
                who = _customer(c)
                if who is not None:
                    closings[who].append((c.id, c.closed_at))
    found = set()
    for c in opened:
        who = _customer(c)
        for other_id, closed_at in closings.get(who, []) if who else []:
            if other_id != c.id and c.created_at - RECONTACT_WINDOW <= closed_at < c.created_at:
                found.add(c.id)
                break
    return found


def _hour_expr(session: AsyncSession, column: Any) -> Any:
    """The UTC hour of a time column, in SQL (grouping there keeps a pass over a million
    messages to a few thousand rows)."""
    if session.bind.dialect.name == "postgresql":
        return func.date_trunc("hour", func.timezone("UTC", column))
    if session.bind.dialect.name == "mysql":
        return mysql.date_format(column, "%Y-%m-%d %H:00:00")
    return func.strftime("%Y-%m-%d %H:00:00", column)


def _as_hour(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


async def _message_measures(
    session: AsyncSession, start: datetime, end: datetime, acc: Acc
) -> None:
    agent = func.coalesce(Message.sender_agent_id, Conversation.assigned_agent_id, 0)
    queue = func.coalesce(RoutingTask.queue, "")
    intent = func.coalesce(Conversation.intent, "")
    hour = _hour_expr(session, Message.created_at)
    dims = (
        hour,
        Conversation.channel,
        queue,
        intent,
        agent,
        Message.direction,
        Message.sender_type,
    )
    rows = await session.execute(
        select(*dims, func.count())
        .select_from(Message)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .outerjoin(RoutingTask, RoutingTask.conversation_id == Message.conversation_id)
        .where(Message.created_at >= start, Message.created_at < end)
        .group_by(*dims)
    )
    for at, channel, queue_, intent_, agent_id, direction, sender_type, n in rows:
        m = acc.setdefault((_as_hour(at), channel, queue_, intent_, int(agent_id)), _empty())
        if direction == "in":
            m["messages_in"] += n
        else:
            m["messages_out"] += n
            if sender_type == "agent":
                m["messages_out_agent"] += n


async def _selfservice_measures(
    session: AsyncSession, start: datetime, end: datetime, acc: Acc
) -> None:
    answered = func.sum(cast(SelfServiceTurn.answered, Integer))
    hour = _hour_expr(session, SelfServiceTurn.at)
    rows = await session.execute(
        select(hour, SelfServiceTurn.channel, SelfServiceTurn.intent, func.count(), answered)
        .where(SelfServiceTurn.at >= start, SelfServiceTurn.at < end)
        .group_by(hour, SelfServiceTurn.channel, SelfServiceTurn.intent)
    )
    for at, channel, intent, n, yes in rows:
        m = acc.setdefault((_as_hour(at), channel, "", intent, 0), _empty())
        m["selfservice_turns"] += n
        m["selfservice_answered"] += int(yes or 0)
    await _session_measures(session, start, end, acc)


def _began(start: datetime, end: datetime) -> Any:
    """Turns of the sessions that began in [start, end) (a turn without a session, stored
    before sessions were kept, is a session of its own)."""
    return or_(
        and_(SelfServiceTurn.session_at >= start, SelfServiceTurn.session_at < end),
        and_(SelfServiceTurn.session_at.is_(None), SelfServiceTurn.at >= start,
             SelfServiceTurn.at < end),
    )  # fmt: skip


async def _session_measures(
    session: AsyncSession, start: datetime, end: datetime, acc: Acc
) -> None:
    """Sessions counted in the hour they began, under their first turn's channel and
    intent; contained when no turn handed the customer to an agent and the last one was
    answered (kefu.reports.turns, docs/reports.md)."""
    rows = await session.execute(
        select(SelfServiceTurn.id, SelfServiceTurn.customer, SelfServiceTurn.session_at,
               SelfServiceTurn.at, SelfServiceTurn.channel, SelfServiceTurn.intent,
               SelfServiceTurn.answered, SelfServiceTurn.handed_off)
        .where(_began(start, end))
        .order_by(SelfServiceTurn.at, SelfServiceTurn.id)
    )  # fmt: skip
    sessions: dict[tuple[object, ...], list[Any]] = {}
    for id_, customer, began, at, channel, intent, answered, handed_off in rows:
        key = (customer, began) if customer and began is not None else ("", id_)
        sessions.setdefault(key, []).append((began or at, channel, intent, answered, handed_off))
    for turns in sessions.values():
        began, channel, intent = turns[0][0], turns[0][1], turns[0][2]
        m = acc.setdefault((hour_of(began), channel, "", intent, 0), _empty())
        m["selfservice_sessions"] += 1
        if turns[-1][3] and not any(t[4] for t in turns):
            m["selfservice_contained"] += 1


async def roll_span(session: AsyncSession, start: datetime, end: datetime) -> int:
    """Recomputes every hour in [start, end) from the sources, set-based in SQL
    (kefu.reports.rollup_sql); returns how many rows it wrote. Re-rolling an hour that did
    not change writes the same rows."""
    start, end = hour_of(start), hour_of(end - timedelta(microseconds=1)) + HOUR
    return await roll_span_sql(session, start, end)


async def roll_span_reference(session: AsyncSession, start: datetime, end: datetime) -> int:
    """The same rows as ``roll_span``, computed conversation by conversation in Python: the
    definitions written out plainly, which tests/reports/test_rollup_sql.py holds the
    set-based rollup to (and benchmarks/reports_bench.py times as the baseline)."""
    start, end = hour_of(start), hour_of(end - timedelta(microseconds=1)) + HOUR
    acc: Acc = {}
    await _conversation_measures(session, start, end, acc)
    await _message_measures(session, start, end, acc)
    await _selfservice_measures(session, start, end, acc)
    await session.execute(delete(KpiHourly).where(KpiHourly.hour >= start, KpiHourly.hour < end))
    # Reports without an agent read the ALL_AGENTS rows: the same hour, channel, queue and
    # intent summed over agents, so a year by channel reads far fewer rows than agents × that.
    totals: Acc = {}
    for (h, ch, q, i, _a), measures in acc.items():
        into = totals.setdefault((h, ch, q, i, ALL_AGENTS), _empty())
        for name, value in measures.items():
            into[name] += value
    rows = [
        {"hour": h, "channel": ch, "queue": q, "intent": i, "agent_id": a, **measures}
        for (h, ch, q, i, a), measures in (acc | totals).items()
    ]
    if rows:
        await session.execute(insert(KpiHourly), rows)
    return len(rows)


async def roll_hour(session: AsyncSession, hour: datetime) -> int:
    return await roll_span(session, hour_of(hour), hour_of(hour) + HOUR)


def spans(hours: Iterable[datetime]) -> list[tuple[datetime, datetime]]:
    """Dirty hours merged into passes: neighbours closer than GAP together, at most SPAN each."""
    out: list[tuple[datetime, datetime]] = []
    for hour in sorted(set(hours)):
        if out and hour - out[-1][1] < GAP and hour + HOUR - out[-1][0] <= SPAN:
            out[-1] = (out[-1][0], hour + HOUR)
        else:
            out.append((hour, hour + HOUR))
    return out


async def sample_presence(session: AsyncSession, now: datetime) -> int:
    """One presence sample per signed-in agent for this minute (occupancy's source)."""
    minute = now.astimezone(UTC).replace(second=0, microsecond=0)
    present = (
        await session.scalars(
            select(Agent.id).where(Agent.presence.in_(PRESENT), Agent.role.in_(HANDLING_ROLES))
        )
    ).all()
    if not present:
        return 0
    engaged = set(
        (
            await session.scalars(
                select(RoutingTask.agent_id).where(
                    RoutingTask.agent_id.in_(present), RoutingTask.state.in_(TaskState.ACTIVE)
                )
            )
        ).all()
    )
    await session.execute(
        dialect_insert(session, AgentMinute)
        .values([{"agent_id": a, "minute": minute, "engaged": a in engaged} for a in present])
        .on_conflict_do_nothing()
    )
    return len(present)


async def rollup(
    session: AsyncSession,
    *,
    now: datetime | None = None,
    hours: Iterable[datetime] = (),
    zone: ZoneInfo = BANK_ZONE,
    roll: Callable[[AsyncSession, datetime, datetime], Awaitable[int]] | None = None,
) -> RollupResult:
    """One round: the changed hours (plus ``hours`` asked for) re-rolled, their local days
    rebuilt in the daily rollup (kefu.reports.daily), and presence sampled. The caller
    commits. ``roll``: how a span is recomputed (``roll_span_reference`` to compare)."""
    await tune(session)  # PostgreSQL: no JIT, custom plans (kefu.reports.rollup_sql.tune)
    todo = await dirty_hours(session) | {hour_of(h) for h in hours}
    rows = 0
    for start, end in spans(todo):
        rows += await (roll or roll_span)(session, start, end)
    await daily.after_rollup(session, todo, zone)
    sampled = await sample_presence(session, now) if now is not None else 0
    return RollupResult(hours=len(todo), rows=rows, sampled=sampled, rolled=sorted(todo))
