"""The hourly KPI rollup of a span of hours, set-based: each measure family (conversations,
messages, self-service turns, self-service sessions) is one ``SELECT … GROUP BY`` over the
span, and one ``INSERT … SELECT`` sums them per hour × channel × queue × intent × agent into
``kpi_hourly``; a second ``INSERT … SELECT`` adds the rows summed over agents. Only the
sentiment measures cross into Python (the language layer scores text): the first and last
customer message of each conversation, grouped by key and text pair, so a text repeated by
many customers is scored once.

The same rows as the per-conversation reference in kefu.reports.rollup
(``roll_span_reference``; tests/reports/test_rollup_sql.py compares both on a generated month
with its edge cases): the definitions are docs/reports.md's. SQLAlchemy Core on SQLite and
PostgreSQL; where the engines differ (the hour of a time, seconds between two times, a time
seven days earlier) one small expression per dialect below.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import (
    DateTime,
    Float,
    Integer,
    String,
    and_,
    bindparam,
    case,
    cast,
    delete,
    exists,
    func,
    insert,
    literal,
    literal_column,
    null,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from kefu.conversations.models import Conversation, Message
from kefu.db import mysql
from kefu.reports.models import COUNTS, SUMS, KpiHourly, SelfServiceTurn
from kefu.routing.models import RoutingEvent, RoutingTask, TaskState

ALL_AGENTS = -1
KEYS = ("hour", "channel", "queue", "intent", "agent_id")
SENTIMENT = ("sentiment_n", "sentiment_start_sum", "sentiment_end_sum")
RECONTACT_DAYS = 7


# ------------------------------------------------------------ the dialects' small differences
def _pg(session: AsyncSession) -> bool:
    return session.bind.dialect.name == "postgresql"


def _mysql(session: AsyncSession) -> bool:
    return session.bind.dialect.name == "mysql"


def hour_expr(session: AsyncSession, column: Any) -> Any:
    """The UTC hour of a time, as the column stores times (PostgreSQL: timestamptz; SQLite:
    the 'YYYY-MM-DD HH:MM:SS.ffffff' text SQLAlchemy writes, so that a written hour compares
    equal to a bound one)."""
    if _pg(session):
        # Constants as SQL text, not parameters: PostgreSQL must see the GROUP BY expression
        # and the selected one as the same.
        utc, hour = literal_column("'UTC'"), literal_column("'hour'")
        return func.timezone(utc, func.date_trunc(hour, func.timezone(utc, column)))
    if _mysql(session):
        return cast(mysql.date_format(column, "%Y-%m-%d %H:00:00"), DateTime)
    return func.strftime(literal_column("'%Y-%m-%d %H:00:00.000000'"), column)


def seconds_between(session: AsyncSession, later: Any, earlier: Any) -> Any:
    """``later - earlier`` in seconds, to the microsecond on both engines (SQLite's julianday
    would round to ~10 µs)."""
    if _pg(session):
        return cast(func.date_part(literal_column("'epoch'"), later - earlier), Float)
    if _mysql(session):
        return mysql.seconds_between(later, earlier)
    # Whole seconds of the text without its fraction (strftime would round it), then the
    # fraction.
    whole = cast(func.strftime("%s", func.substr(later, 1, 19)), Integer) - cast(
        func.strftime("%s", func.substr(earlier, 1, 19)), Integer
    )
    micro = cast(func.substr(later, 21, 6), Integer) - cast(func.substr(earlier, 21, 6), Integer)
    return whole + micro / 1_000_000.0


def days_before(session: AsyncSession, column: Any, days: int) -> Any:
    if _pg(session):
        return column - literal_column(f"interval '{int(days)} days'")
    if _mysql(session):
        return mysql.shifted(column, "DAY", -int(days))
    # strftime keeps whole seconds only: the stored fraction is appended back.
    shifted = func.strftime("%Y-%m-%d %H:%M:%S", column, f"-{int(days)} days", type_=String)
    return shifted.concat(func.substr(column, 20))


_TUNED = "kefu.reports.tuned"  # session.info: the transaction tune() last set up


async def tune(session: AsyncSession) -> None:
    """PostgreSQL, for the rest of this transaction (set_config's is_local: nothing leaks to
    the pooled connection's next user): no JIT, and a plan made for each execution's own
    values. Measured at 200,000 conversations (docs/reports.md): JIT compiled each span's
    INSERT … SELECT for 0.1–0.4 s (its estimated cost is above jit_above_cost whatever the
    span), and asyncpg's prepared statements fell back to a generic plan after five
    executions — the full rollup's 53 week-long spans left one planned for an unknown range
    that a one-hour span then ran (the idle round 1.2 s instead of 0.25 s)."""
    if not _pg(session):
        return
    # Once per transaction: a round's spans are many (a round trip each costs ms at load).
    current = session.sync_session.get_transaction()
    if current is not None and session.info.get(_TUNED) is current:
        return
    await session.execute(
        select(
            func.set_config("jit", "off", True),
            func.set_config("plan_cache_mode", "force_custom_plan", True),
        )
    )
    session.info[_TUNED] = session.sync_session.get_transaction()


# ------------------------------------------------------------------------- measure families
def _row(keys: list[Any], **measures: Any) -> list[Any]:
    """The family's select list: the five keys then every measure column (0 where the family
    has none), typed alike so the families can be UNION ALL'ed."""
    out = [k.label(name) for k, name in zip(keys, KEYS, strict=True)]
    for name in COUNTS:
        out.append(cast(measures.get(name, literal(0)), Integer).label(name))
    for name in SUMS:
        out.append(cast(measures.get(name, literal(0.0)), Float).label(name))
    return out


def _one(condition: Any) -> Any:
    return func.sum(case((condition, 1), else_=0))


def _conversations(session: AsyncSession, start: datetime, end: datetime) -> Any:
    in_span = and_(Conversation.created_at >= start, Conversation.created_at < end)
    # Each conversation's routing events counted by its own index lookups (correlated
    # subqueries): grouped over the span's events and joined back, PostgreSQL read the whole
    # routing_events table (and its primary key again for the first acceptance's time) for
    # every span — a cost that grew with the table, not the span (docs/reports.md).
    ev = aliased(RoutingEvent)

    def counted(kind: str) -> Any:
        return (
            select(func.count())
            .where(ev.conversation_id == Conversation.id, ev.kind == kind)
            .scalar_subquery()
        )

    first_accept = (
        select(func.min(ev.id))
        .where(ev.conversation_id == Conversation.id, ev.kind.in_(("accepted", "claimed")))
        .correlate(Conversation)  # two levels down: not correlated by itself
        .scalar_subquery()
    )
    accept = aliased(RoutingEvent)
    events = (
        select(
            Conversation.id.label("cid"),
            counted("transferred").label("transfers"),
            counted("escalated").label("escalations"),
            select(accept.at).where(accept.id == first_accept).scalar_subquery().label("at"),
        )
        .where(in_span)
        .subquery()
    )
    task = RoutingTask
    answered = task.first_response_at.is_not(None)
    breached = and_(
        task.conversation_id.is_not(None),
        (literal(",") + func.coalesce(task.breached, "") + literal(",")).contains(
            ",first_response,", autoescape=True
        ),
    )
    closed = Conversation.closed_at.is_not(None)
    handled = and_(closed, Conversation.assigned_agent_id.is_not(None))
    began = func.coalesce(events.c.at, task.first_response_at, Conversation.created_at)
    handle = seconds_between(session, Conversation.closed_at, began)

    other = aliased(Conversation)
    window = and_(
        other.id != Conversation.id,
        other.closed_at >= days_before(session, Conversation.created_at, RECONTACT_DAYS),
        other.closed_at < Conversation.created_at,
    )
    by_customer = and_(
        Conversation.customer_id.is_not(None),
        exists().where(window, other.customer_id == Conversation.customer_id),
    )
    by_contact = and_(
        Conversation.customer_id.is_(None),
        Conversation.contact.is_not(None),
        Conversation.contact != "",
        exists().where(
            window,
            other.customer_id.is_(None),
            other.channel == Conversation.channel,
            other.contact == Conversation.contact,
        ),
    )
    keys = [
        hour_expr(session, Conversation.created_at),
        Conversation.channel,
        func.coalesce(task.queue, ""),
        func.coalesce(Conversation.intent, ""),
        func.coalesce(Conversation.assigned_agent_id, 0),
    ]
    return (
        select(
            *_row(
                keys,
                conversations=func.count(),
                first_responses=_one(answered),
                first_response_seconds=func.sum(
                    case(
                        (
                            answered,
                            seconds_between(session, task.first_response_at, task.enqueued_at),
                        ),
                        else_=0.0,
                    )
                ),  # fmt: skip
                sla_due=_one(or_(breached, answered)),
                sla_met=_one(and_(answered, ~breached)),
                abandoned=_one(and_(~answered, or_(closed, task.state == TaskState.OVERFLOWED))),
                handled=_one(handled),
                handle_seconds=func.sum(case((and_(handled, handle > 0), handle), else_=0.0)),
                transfers=func.coalesce(func.sum(events.c.transfers), 0),
                escalations=func.coalesce(func.sum(events.c.escalations), 0),
                recontacts=_one(or_(by_customer, by_contact)),
            )
        )
        .select_from(Conversation)
        .outerjoin(task, task.conversation_id == Conversation.id)
        .join(events, events.c.cid == Conversation.id)
        .where(in_span)
        .group_by(*keys)
    )


def _messages(session: AsyncSession, start: datetime, end: datetime) -> Any:
    inbound = Message.direction == "in"
    keys = [
        hour_expr(session, Message.created_at),
        Conversation.channel,
        func.coalesce(RoutingTask.queue, ""),
        func.coalesce(Conversation.intent, ""),
        func.coalesce(Message.sender_agent_id, Conversation.assigned_agent_id, 0),
    ]
    return (
        select(
            *_row(
                keys,
                messages_in=_one(inbound),
                messages_out=func.sum(case((inbound, 0), else_=1)),
                messages_out_agent=func.sum(
                    case((inbound, 0), (Message.sender_type == "agent", 1), else_=0)
                ),
            )
        )
        .select_from(Message)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .outerjoin(RoutingTask, RoutingTask.conversation_id == Message.conversation_id)
        .where(Message.created_at >= start, Message.created_at < end)
        .group_by(*keys)
    )


def _turns(session: AsyncSession, start: datetime, end: datetime) -> Any:
    t = SelfServiceTurn
    hour = hour_expr(session, t.at)
    keys = [hour, t.channel, literal(""), t.intent, literal(0)]
    return (
        select(*_row(keys, selfservice_turns=func.count(),
                     selfservice_answered=func.sum(cast(t.answered, Integer))))
        .where(t.at >= start, t.at < end)
        .group_by(hour, t.channel, t.intent)
    )  # fmt: skip


def _sessions(session: AsyncSession, start: datetime, end: datetime) -> Any:
    """Sessions in the hour they began, under their first turn's channel and intent;
    contained when the last turn was answered and none handed off (kefu.reports.turns). A
    turn without a customer or session is a session of its own."""
    t = SelfServiceTurn
    grouped = and_(func.coalesce(t.customer, "") != "", t.session_at.is_not(None))
    who = case((grouped, t.customer), else_=literal("#") + cast(t.id, String))
    when = case((grouped, t.session_at), else_=null())
    began_in_span = or_(
        and_(t.session_at >= start, t.session_at < end),
        and_(t.session_at.is_(None), t.at >= start, t.at < end),
    )
    turns = (
        select(
            who.label("who"),
            when.label("began_key"),
            func.coalesce(t.session_at, t.at).label("began"),
            t.channel,
            t.intent,
            cast(t.answered, Integer).label("answered"),
            cast(t.handed_off, Integer).label("handed_off"),
            func.row_number().over(partition_by=(who, when), order_by=(t.at, t.id)).label("first"),
            func.row_number()
            .over(partition_by=(who, when), order_by=(t.at.desc(), t.id.desc()))
            .label("last"),
        )
        .where(began_in_span)
        .subquery()
    )

    def first(column: Any) -> Any:
        return func.max(case((turns.c.first == 1, column), else_=null()))

    sessions = (
        select(
            first(turns.c.began).label("began"),
            first(turns.c.channel).label("channel"),
            first(turns.c.intent).label("intent"),
            case(
                (func.max(turns.c.handed_off) == 1, 0),
                else_=func.max(case((turns.c.last == 1, turns.c.answered), else_=0)),
            ).label("contained"),
        )
        .group_by(turns.c.who, turns.c.began_key)
        .subquery()
    )
    hour = hour_expr(session, sessions.c.began)
    keys = [hour, sessions.c.channel, literal(""), sessions.c.intent, literal(0)]
    return select(*_row(keys, selfservice_sessions=func.count(),
                        selfservice_contained=func.sum(sessions.c.contained))).group_by(
        hour, sessions.c.channel, sessions.c.intent)  # fmt: skip


# ------------------------------------------------------------------------------ sentiment
async def _sentiment(session: AsyncSession, start: datetime, end: datetime) -> int:
    """Sets the sentiment measures on the conversation rows just written: the first and last
    customer message of each conversation opened in the span, scored by the language layer."""
    from kefu.reports.rollup import sentiment_of  # its cache is shared with the reference

    # Each conversation's first and last customer message found by its own index lookups
    # (correlated subqueries), never by a join the planner may turn into a scan: grouped
    # over the span's messages and joined back by id, SQLite walked every message of the
    # table for each span, and PostgreSQL, misjudging how many conversations a span holds,
    # merge-joined the ids along the whole primary key of messages, twice (2.2 s of a
    # week's 4.9 s at 200,000 conversations, 8.1 s at 1 M; docs/reports.md).
    said = and_(Message.conversation_id == Conversation.id, Message.sender_type == "customer")
    ends = (
        select(
            hour_expr(session, Conversation.created_at).label("hour"),
            Conversation.channel.label("channel"),
            func.coalesce(RoutingTask.queue, "").label("queue"),
            func.coalesce(Conversation.intent, "").label("intent"),
            func.coalesce(Conversation.assigned_agent_id, 0).label("agent_id"),
            select(func.min(Message.id)).where(said).scalar_subquery().label("first"),
            select(func.max(Message.id)).where(said).scalar_subquery().label("last"),
        )
        .outerjoin(RoutingTask, RoutingTask.conversation_id == Conversation.id)
        .where(Conversation.created_at >= start, Conversation.created_at < end)
        .subquery()
    )
    first, last = aliased(Message), aliased(Message)

    def body(which: Any, of: Any) -> Any:
        return select(which.body).where(which.id == of).scalar_subquery()

    texts = (
        select(
            *(ends.c[k] for k in KEYS),
            body(first, ends.c.first).label("said_first"),
            body(last, ends.c.last).label("said_last"),
        )
        .where(ends.c.first.is_not(None))
        .subquery()
    )
    grouped = [*(texts.c[k] for k in KEYS), texts.c.said_first, texts.c.said_last]
    rows = await session.execute(select(*grouped, func.count()).group_by(*grouped))
    totals: dict[tuple[Any, ...], list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    for hour, channel, queue, intent, agent, said_first, said_last, n in rows:
        into = totals[(hour, channel, queue, intent, int(agent))]
        into[0] += n
        into[1] += n * sentiment_of(said_first)
        into[2] += n * sentiment_of(said_last)
    if not totals:
        return 0
    table = KpiHourly.__table__
    # The hour is bound as read back: a datetime on PostgreSQL, on SQLite the text the
    # INSERT … SELECT wrote (so the row is matched exactly as written).
    hour_type = table.c.hour.type if _pg(session) else String()
    stmt = (
        update(table)
        .where(
            table.c.hour == bindparam("k_hour", type_=hour_type),
            table.c.channel == bindparam("k_channel"),
            table.c.queue == bindparam("k_queue"),
            table.c.intent == bindparam("k_intent"),
            table.c.agent_id == bindparam("k_agent"),
        )
        .values(
            sentiment_n=bindparam("n"),
            sentiment_start_sum=bindparam("s"),
            sentiment_end_sum=bindparam("e"),
        )
        .execution_options(synchronize_session=False)
    )
    await session.execute(stmt, [
        {"k_hour": h, "k_channel": ch, "k_queue": q, "k_intent": i, "k_agent": a,
         "n": n, "s": s, "e": e}
        for (h, ch, q, i, a), (n, s, e) in totals.items()
    ])  # fmt: skip
    return len(totals)


# ---------------------------------------------------------------------------------- a span
async def roll_span_sql(session: AsyncSession, start: datetime, end: datetime) -> int:
    """Recomputes every hour in [start, end) (whole UTC hours) from the sources; returns the
    rows written. The caller commits."""
    await tune(session)
    await session.execute(delete(KpiHourly).where(KpiHourly.hour >= start, KpiHourly.hour < end))
    families = union_all(
        _conversations(session, start, end),
        _messages(session, start, end),
        _turns(session, start, end),
        _sessions(session, start, end),
    ).subquery()
    measures = (*COUNTS, *SUMS)
    columns = [*KEYS, *measures]
    keyed = [families.c[k] for k in KEYS]
    summed = select(*keyed, *(func.sum(families.c[m]) for m in measures)).group_by(*keyed)
    written = (await session.execute(insert(KpiHourly).from_select(columns, summed))).rowcount
    await _sentiment(session, start, end)
    # Reports without an agent read the ALL_AGENTS rows (kefu.reports.rollup).
    per_agent = KpiHourly.__table__
    group = [per_agent.c[k] for k in KEYS[:4]]
    totals = (
        select(*group, literal(ALL_AGENTS), *(func.sum(per_agent.c[m]) for m in measures))
        .where(per_agent.c.hour >= start, per_agent.c.hour < end,
               per_agent.c.agent_id != ALL_AGENTS)
        .group_by(*group)
    )  # fmt: skip
    written += (await session.execute(insert(KpiHourly).from_select(columns, totals))).rowcount
    return int(written)
