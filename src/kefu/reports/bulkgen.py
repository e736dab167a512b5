"""The generated service-centre history of ``kefu.reports.demo.generate``, written by
the database itself (SQLite's statements are in ``kefu.reports.bulkgen_sqlite``). On
PostgreSQL: ``INSERT … SELECT`` over ``generate_series`` with the same distributions
(hour of day, channel, queue and intent, agent, 6 % abandoned, first response 10–300 s,
8 % transferred, ``messages_per`` ± 1 messages alternating customer / agent, two
self-service turns per conversation answered 70 % of the time) but no row crosses into
Python, so a year of 1 M conversations and 10 M messages takes minutes instead of hours
(benchmarks/reports_bench.py). Random draws come from ``setseed`` + ``random()``: the same
seed gives the same rows on the same server, not the same rows as the Python generator
(its ``random.Random`` stream cannot be reproduced in SQL) — the distributions match, which
tests/reports/test_bulkgen.py checks.

Written a few weeks of days per statement set (``CHUNK_DAYS``) so progress can be shown and
no statement holds millions of rows in one sort.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from itertools import accumulate
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.agents.models import Agent
from kefu.conversations.models import Conversation, Message
from kefu.reports.bulkgen_sqlite import generate_sqlite
from kefu.reports.demo import CHANNELS, CLOSERS, HOURLY, OPENERS, QUEUES
from kefu.workspace.presence import HANDLING_ROLES

CHUNK_DAYS = 28


def _thresholds(weights: list[float]) -> list[float]:
    """Lower bounds of each choice's share of [0, 1): ``width_bucket(random(), …)`` then
    picks choice i (1-based) with probability weight i / total."""
    total = sum(weights)
    return [0.0, *(w / total for w in accumulate(weights))][:-1]


def _array(values: list[str] | list[float] | list[int], cast: str) -> str:
    """A SQL array literal of our own constants (no user input reaches this)."""
    if cast == "text":
        return "(ARRAY[" + ",".join("'" + str(v).replace("'", "''") + "'" for v in values) + "])"
    return f"(ARRAY[{','.join(repr(v) for v in values)}]::{cast}[])"


_CONVERSATIONS = """
CREATE TEMP TABLE gen_c ON COMMIT DROP AS
SELECT :c0 + n AS id, opened,
       ch[width_bucket(r_ch, ch_w)] AS channel,
       qs[q] AS queue, intents[q] AS intent,
       CASE WHEN abandoned THEN NULL ELSE ag[1 + floor(r_ag * cardinality(ag))::int] END AS agent,
       abandoned,
       CASE WHEN abandoned THEN NULL
            ELSE opened + make_interval(secs => 10 + floor(r_first * 291)) END AS first_at,
       opened + make_interval(secs => 120 + floor(r_close * 1381)
                                      + CASE WHEN abandoned THEN 0 ELSE 300 END) AS closed,
       '1390000' || lpad(floor(r_contact * 10000)::int::text, 4, '0') AS contact,
       NOT abandoned AND r_tr < 0.08 AS transferred,
       greatest(1, :per + floor(r_n * 3)::int - 1) AS n_msg
FROM (
  SELECT n, r_ch, r_ag, r_first, r_close, r_contact, r_tr, r_n, abandoned, q, ch_w, ch, ag, qs, intents,
         ((CAST(:first_day AS date) + (n / :per_day)::int)::timestamp
           + make_interval(hours => width_bucket(r_h, hw) - 1, secs => floor(r_s * 3600)))
           AT TIME ZONE CAST(:zone AS text) AS opened
  FROM (
    SELECT n, random() AS r_h, random() AS r_s, random() AS r_ch, 1 + floor(random() * {nq})::int AS q,
           random() AS r_ag, random() < 0.06 AS abandoned, random() AS r_first, random() AS r_close,
           random() AS r_contact, random() AS r_tr, random() AS r_n,
           {hw} AS hw, {chw} AS ch_w, {ch} AS ch, {ag} AS ag, {qs} AS qs, {intents} AS intents
    FROM generate_series(:n0, :n1 - 1) AS n
  ) draws
) placed
"""

_INSERTS = (
    """INSERT INTO conversations (id, channel, contact, status, priority, subject, intent,
         assigned_agent_id, created_at, updated_at, closed_at)
       SELECT id, channel, contact, 'closed', 0, intent, intent, agent, opened, closed, closed
       FROM gen_c ORDER BY id""",
    """INSERT INTO routing_tasks (conversation_id, state, channel, workflow_version, rule, queue,
         priority, attributes, enqueued_at, agent_id, rejected, first_response_at,
         sla_paused_seconds, breached, escalated, tags)
       SELECT id, 'completed', channel, 1, 'demo', queue, 0, '{}', opened, agent, '[]', first_at,
         0, CASE WHEN first_at - opened > interval '180 seconds' THEN 'first_response' END,
         false, '[]'
       FROM gen_c ORDER BY id""",
    """INSERT INTO routing_events (conversation_id, at, kind, agent_id, actor, detail)
       SELECT id, at, kind, agent, 'demo', '{}' FROM (
         SELECT id, opened + interval '5 seconds' AS at, 'accepted' AS kind, agent, 0 AS k
         FROM gen_c WHERE NOT abandoned
         UNION ALL
         SELECT id, opened + interval '60 seconds', 'transferred', agent, 1
         FROM gen_c WHERE transferred
       ) e ORDER BY id, k""",
    """INSERT INTO messages (id, conversation_id, channel, direction, sender_type,
         sender_agent_id, body, delivery_state, created_at)
       SELECT m0 + i, id, channel, CASE WHEN inbound THEN 'in' ELSE 'out' END,
         CASE WHEN inbound THEN 'customer' ELSE 'agent' END,
         CASE WHEN inbound THEN NULL ELSE agent END,
         CASE WHEN NOT inbound THEN '好的，请稍等'
              WHEN i = 0 THEN {openers}[1 + floor(random() * {no})::int]
              ELSE {closers}[1 + floor(random() * {nc})::int] END,
         CASE WHEN inbound THEN 'received' ELSE 'delivered' END,
         opened + (closed - opened) * i / n_msg
       FROM (
         SELECT c.id, c.channel, c.agent, c.opened, c.closed, c.n_msg, i,
                (i % 2 = 0 OR c.abandoned) AS inbound, c.m0
         FROM (SELECT *, :m0 + sum(n_msg) OVER (ORDER BY id) - n_msg AS m0 FROM gen_c) c
         CROSS JOIN LATERAL generate_series(0, c.n_msg - 1) AS i
       ) rows ORDER BY m0 + i""",
    # Two turns before each conversation, one session (kefu.reports.turns): it began at the
    # earlier turn; the later one, unanswered, handed the customer over.
    """INSERT INTO kpi_selfservice_turns (at, channel, intent, answered, customer, session_at,
         handed_off)
       SELECT at, channel, intent, answered,
         left(encode(sha256(convert_to(channel, 'UTF8') || '\\x00'::bytea
                            || convert_to(contact, 'UTF8')), 'hex'), 16),
         min(at) OVER (PARTITION BY id),
         NOT answered AND row_number() OVER (PARTITION BY id ORDER BY at DESC, k DESC) = 1
       FROM (
         SELECT id, channel, intent, contact, k,
                opened - make_interval(secs => 1 + floor(random() * 600)) AS at,
                random() < 0.7 AS answered
         FROM gen_c CROSS JOIN generate_series(1, 2) AS k
       ) t ORDER BY id, k""",
)


async def generate_sql(
    session: AsyncSession,
    *,
    first_day: date,
    days: int,
    per_day: int,
    zone: ZoneInfo,
    seed: float = 0.19,
    messages_per: int = 4,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Inserts ``days × per_day`` closed conversations from ``first_day`` (local) on, on
    PostgreSQL or SQLite (``kefu.reports.bulkgen_sqlite``; ``seed`` is PostgreSQL's only:
    SQLite's random() cannot be seeded); returns the number of messages written. The caller commits; each chunk of
    days runs in its own transaction when the caller passes ``progress`` (it commits)."""
    dialect = session.bind.dialect.name
    if dialect not in ("postgresql", "sqlite"):
        raise ValueError(f"generate_sql runs on PostgreSQL and SQLite, not {dialect}")
    agents = list((await session.scalars(
        select(Agent.id).where(Agent.role.in_(HANDLING_ROLES)).order_by(Agent.id)
    )).all())  # fmt: skip
    if not agents:
        return 0
    if dialect == "sqlite":
        return await generate_sqlite(
            session, agents, first_day=first_day, days=days, per_day=per_day, zone=zone,
            messages_per=messages_per, chunk_days=CHUNK_DAYS, progress=progress,
        )  # fmt: skip
    await session.execute(text("SELECT setseed(:s)"), {"s": seed})
    sql = _CONVERSATIONS.format(
        nq=len(QUEUES),
        hw=_array(_thresholds([float(w) for w in HOURLY]), "float8"),
        chw=_array(_thresholds([w for _, w in CHANNELS]), "float8"),
        ch=_array([c for c, _ in CHANNELS], "text"),
        ag=_array(agents, "int"),
        qs=_array([q for q, _ in QUEUES], "text"),
        intents=_array([i for _, i in QUEUES], "text"),
    )
    inserts = [
        s.format(openers=_array(list(OPENERS), "text"), no=len(OPENERS),
                 closers=_array(list(CLOSERS), "text"), nc=len(CLOSERS))
        if "{openers}" in s else s
        for s in _INSERTS
    ]  # fmt: skip
    total = days * per_day
    written = 0
    for start_day in range(0, days, CHUNK_DAYS):
        n0, n1 = start_day * per_day, min(days, start_day + CHUNK_DAYS) * per_day
        c0 = int(await session.scalar(select(func.coalesce(func.max(Conversation.id), 0))) or 0)
        m0 = int(await session.scalar(select(func.coalesce(func.max(Message.id), 0))) or 0)
        # n counts from the first day, so id = c0 + n - n0 + 1 follows on from what is there.
        params = {"c0": c0 - n0 + 1, "n0": n0, "n1": n1, "first_day": first_day,
                  "per_day": per_day, "per": messages_per, "zone": zone.key}  # fmt: skip
        await session.execute(text(sql), params)
        for statement in inserts:
            await session.execute(text(statement), {"m0": m0 + 1})
        written += int(await session.scalar(text("SELECT sum(n_msg) FROM gen_c")) or 0)
        await session.execute(text("DROP TABLE gen_c"))
        if progress is not None:
            await session.commit()
            progress(n1, total)
    for table in ("conversations", "messages"):  # explicit ids: move the sequences on
        await session.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"(SELECT coalesce(max(id), 1) FROM {table}))"
        ))  # fmt: skip
    return written
