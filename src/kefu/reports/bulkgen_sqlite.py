"""The generated service-centre history of ``kefu.reports.demo.generate``, written by SQLite
itself (the SQLite side of ``kefu.reports.bulkgen``): the same distributions, ``INSERT …
SELECT`` over a ``WITH RECURSIVE`` series, so a year of 1 M conversations and 10 M messages
takes minutes instead of the Python generator's ~200 s per 100k.

What SQLite lacks is prepared in Python, once per chunk, as small temp tables or constant
``CASE`` expressions, never per row:

- no ``generate_series`` in the bundled library (it is an extension of the shell): a
  recursive CTE counts instead;
- no time zones: ``gen_hours`` holds the UTC second of every local hour of the chunk's days
  (zoneinfo, so a DST day is right too);
- no ``sha256``: ``gen_keys`` holds the customer key (``kefu.reports.turns.customer_key``) of
  every generated contact, 4 channels × 10,000 numbers;
- ``random()`` cannot be seeded: the rows differ from run to run (the distributions are what
  tests/reports/test_bulkgen.py checks, as for PostgreSQL). Every draw is stored in
  ``gen_d``/``gen_t`` before it is used, because SQLite may evaluate a subquery's
  ``random()`` again for each reference to it once the subquery is flattened.

Times are kept as integer UTC seconds (microseconds for messages) and written in the text
form SQLAlchemy's SQLite DateTime reads back (``YYYY-MM-DD HH:MM:SS.ffffff``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import column, func, insert, select, table, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import TableClause

from kefu.conversations.models import Conversation, Message
from kefu.reports.demo import CHANNELS, CLOSERS, HOURLY, OPENERS, QUEUES
from kefu.reports.turns import customer_key

CONTACTS = 10_000  # '1390000' + four digits, as the Python generator draws them
# A uniform draw in [0, 1): 53 random bits of random()'s signed 64.
UNIFORM = "((random() & 9007199254740991) / 9007199254740992.0)"


def _lit(value: str | int) -> str:
    """A SQL literal of our own constants (no user input reaches this)."""
    return str(value) if isinstance(value, int) else "'" + value.replace("'", "''") + "'"


def _pick(expr: str, values: list[str] | list[int]) -> str:
    """``values[expr]`` for an integer expression 0 … len - 1."""
    whens = " ".join(f"WHEN {k} THEN {_lit(v)}" for k, v in enumerate(values))
    return f"(CASE {expr} {whens} END)"


def _weighted(expr: str, weights: list[float]) -> str:
    """The index chosen by a uniform draw ``expr`` with probability weight / total (a zero
    weight is never chosen)."""
    total, bound, whens = sum(weights), 0.0, []
    for k, w in enumerate(weights[:-1]):
        bound += w
        if w:
            whens.append(f"WHEN {expr} < {bound / total!r} THEN {k}")
    return f"(CASE {' '.join(whens)} ELSE {len(weights) - 1} END)"


def _stamp(seconds: str, micros: str = "") -> str:
    """The text SQLAlchemy stores for a UTC datetime, from integer UTC seconds."""
    fraction = f"printf('.%06d', {micros})" if micros else "'.000000'"
    return f"(strftime('%Y-%m-%d %H:%M:%S', {seconds}, 'unixepoch') || {fraction})"


_SETUP = (
    "CREATE TEMP TABLE gen_hours (k INTEGER PRIMARY KEY, utc INTEGER NOT NULL)",
    """CREATE TEMP TABLE gen_keys (channel TEXT NOT NULL, contact INTEGER NOT NULL,
         customer TEXT NOT NULL, PRIMARY KEY (channel, contact)) WITHOUT ROWID""",
    "CREATE TEMP TABLE gen_i (i INTEGER PRIMARY KEY)",
    """CREATE TEMP TABLE gen_c (id INTEGER PRIMARY KEY, opened INTEGER, channel TEXT,
         queue TEXT, intent TEXT, agent INTEGER, abandoned INTEGER, first_at INTEGER,
         closed INTEGER, contact INTEGER, transferred INTEGER, n_msg INTEGER, m0 INTEGER)""",
)

# The draws of each conversation, stored (see the module's note on random()).
_DRAWS = f"""
CREATE TEMP TABLE gen_d AS
WITH RECURSIVE s(n) AS (SELECT :n0 UNION ALL SELECT n + 1 FROM s WHERE n < :n1 - 1)
SELECT n, {UNIFORM} AS r_h, abs(random()) % 3600 AS r_s, {UNIFORM} AS r_ch,
       abs(random()) % {{nq}} AS q, abs(random()) % {{na}} AS ag, {UNIFORM} < 0.06 AS abandoned,
       abs(random()) % 291 AS r_first, abs(random()) % 1381 AS r_close,
       abs(random()) % {CONTACTS} AS contact, {UNIFORM} < 0.08 AS r_tr, abs(random()) % 3 AS r_n
FROM s
"""

_CONVERSATIONS = """
INSERT INTO gen_c
SELECT id, opened, channel, queue, intent, agent, abandoned, first_at, closed, contact,
       transferred, n_msg, :m0 + sum(n_msg) OVER (ORDER BY id) - n_msg
FROM (
  SELECT :c0 + d.n AS id, h.utc + d.r_s AS opened, {channel} AS channel, {queue} AS queue,
         {intent} AS intent, CASE WHEN d.abandoned THEN NULL ELSE {agent} END AS agent,
         d.abandoned,
         CASE WHEN d.abandoned THEN NULL ELSE h.utc + d.r_s + 10 + d.r_first END AS first_at,
         h.utc + d.r_s + 120 + d.r_close + CASE WHEN d.abandoned THEN 0 ELSE 300 END AS closed,
         d.contact, NOT d.abandoned AND d.r_tr AS transferred,
         max(1, :per + d.r_n - 1) AS n_msg
  FROM gen_d d JOIN gen_hours h ON h.k = (d.n / :per_day) * 24 + {hour}
)
"""

_TURN_DRAWS = f"""
CREATE TEMP TABLE gen_t AS
SELECT c.id, c.channel, c.intent, c.contact, k.i AS k,
       c.opened - 1 - abs(random()) % 600 AS at, {UNIFORM} < 0.7 AS answered
FROM gen_c c CROSS JOIN gen_i k WHERE k.i IN (1, 2)
"""

_INSERTS = (
    f"""INSERT INTO conversations (id, channel, contact, status, priority, subject, intent,
         assigned_agent_id, created_at, updated_at, closed_at)
       SELECT id, channel, '1390000' || printf('%04d', contact), 'closed', 0, intent, intent,
         agent, {_stamp("opened")}, {_stamp("closed")}, {_stamp("closed")}
       FROM gen_c ORDER BY id""",
    f"""INSERT INTO routing_tasks (conversation_id, state, channel, workflow_version, rule, queue,
         priority, attributes, enqueued_at, agent_id, rejected, first_response_at,
         sla_paused_seconds, breached, escalated, tags)
       SELECT id, 'completed', channel, 1, 'demo', queue, 0, '{{}}', {_stamp("opened")}, agent,
         '[]', CASE WHEN first_at IS NOT NULL THEN {_stamp("first_at")} END,
         0, CASE WHEN first_at - opened > 180 THEN 'first_response' END, 0, '[]'
       FROM gen_c ORDER BY id""",
    f"""INSERT INTO routing_events (conversation_id, at, kind, agent_id, actor, detail)
       SELECT id, {_stamp("at")}, kind, agent, 'demo', '{{}}' FROM (
         SELECT id, opened + 5 AS at, 'accepted' AS kind, agent, 0 AS k
         FROM gen_c WHERE NOT abandoned
         UNION ALL
         SELECT id, opened + 60, 'transferred', agent, 1 FROM gen_c WHERE transferred
       ) ORDER BY id, k""",
    # Inbound on even turns (all of an abandoned one's), the agent's reply between; times
    # spread evenly from opening to closing, to the microsecond.
    """INSERT INTO messages (id, conversation_id, channel, direction, sender_type,
         sender_agent_id, body, delivery_state, created_at)
       SELECT m0 + i, id, channel, CASE WHEN inbound THEN 'in' ELSE 'out' END,
         CASE WHEN inbound THEN 'customer' ELSE 'agent' END,
         CASE WHEN inbound THEN NULL ELSE agent END,
         CASE WHEN NOT inbound THEN '好的，请稍等' WHEN i = 0 THEN {opener} ELSE {closer} END,
         CASE WHEN inbound THEN 'received' ELSE 'delivered' END,
         {at}
       FROM (
         SELECT c.id, c.channel, c.agent, c.m0, g.i, (g.i % 2 = 0 OR c.abandoned) AS inbound,
                c.opened * 1000000 + (c.closed - c.opened) * 1000000 * g.i / c.n_msg AS at_us
         FROM gen_c c CROSS JOIN gen_i g WHERE g.i < c.n_msg ORDER BY c.id, g.i
       )""",
    # Two turns before each conversation, one session (kefu.reports.turns): it began at the
    # earlier turn; the later one (the second on a tie), unanswered, handed the customer over.
    f"""INSERT INTO kpi_selfservice_turns (at, channel, intent, answered, customer, session_at,
         handed_off)
       SELECT {_stamp("t.at")}, t.channel, t.intent, t.answered, g.customer,
         {_stamp("min(t.at) OVER (PARTITION BY t.id)")},
         NOT t.answered AND row_number() OVER (PARTITION BY t.id ORDER BY t.at DESC, t.k DESC) = 1
       FROM gen_t t JOIN gen_keys g ON g.channel = t.channel AND g.contact = t.contact
       ORDER BY t.id, t.k""",
)

_DROP = ("gen_t", "gen_d", "gen_c", "gen_i", "gen_keys", "gen_hours")


def _hours(first_day: date, days: range, zone: ZoneInfo) -> list[dict[str, int]]:
    """UTC seconds of each local hour of ``days`` (day index × 24 + hour), the way the Python
    generator places a contact: local midnight + hours, then to UTC."""
    rows = []
    for d in days:
        midnight = datetime.combine(first_day + timedelta(days=d), time(), zone)
        for h in range(24):
            at = (midnight + timedelta(hours=h)).astimezone(UTC)
            rows.append({"k": d * 24 + h, "utc": int(at.timestamp())})
    return rows


async def generate_sqlite(
    session: AsyncSession,
    agents: list[int],
    *,
    first_day: date,
    days: int,
    per_day: int,
    zone: ZoneInfo,
    messages_per: int,
    chunk_days: int,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """``kefu.reports.bulkgen.generate_sql`` on SQLite (it checks the engine and finds the
    agents); returns the number of messages written."""
    conversations = _CONVERSATIONS.format(
        channel=_pick(_weighted("d.r_ch", [w for _, w in CHANNELS]), [c for c, _ in CHANNELS]),
        queue=_pick("d.q", [q for q, _ in QUEUES]),
        intent=_pick("d.q", [i for _, i in QUEUES]),
        agent=_pick("d.ag", agents),
        hour=_weighted("d.r_h", [float(w) for w in HOURLY]),
    )
    inserts = [
        s.format(opener=_pick(f"abs(random()) % {len(OPENERS)}", list(OPENERS)),
                 closer=_pick(f"abs(random()) % {len(CLOSERS)}", list(CLOSERS)),
                 at=_stamp("at_us / 1000000", "at_us % 1000000"))
        if "{opener}" in s else s
        for s in _INSERTS
    ]  # fmt: skip
    keys = [{"channel": c, "contact": n, "customer": customer_key(c, f"1390000{n:04d}")}
            for c, _ in CHANNELS for n in range(CONTACTS)]  # fmt: skip
    total, written = days * per_day, 0
    for start_day in range(0, days, chunk_days):
        end_day = min(days, start_day + chunk_days)
        n0, n1 = start_day * per_day, end_day * per_day
        c0 = int(await session.scalar(select(func.coalesce(func.max(Conversation.id), 0))) or 0)
        m0 = int(await session.scalar(select(func.coalesce(func.max(Message.id), 0))) or 0)
        # Temp tables live on the connection: made and dropped inside each chunk's
        # transaction, so a commit between chunks may hand the session another connection.
        for statement in _SETUP:
            await session.execute(text(statement))
        await session.execute(
            insert(_temp("gen_hours", "k", "utc")),
            _hours(first_day, range(start_day, end_day), zone),
        )
        await session.execute(insert(_temp("gen_keys", "channel", "contact", "customer")), keys)
        await session.execute(
            insert(_temp("gen_i", "i")), [{"i": i} for i in range(max(3, messages_per + 2))]
        )
        await session.execute(
            text(_DRAWS.format(nq=len(QUEUES), na=len(agents))), {"n0": n0, "n1": n1}
        )
        # n counts from the first day, so id = c0 + n - n0 + 1 follows on from what is there.
        await session.execute(text(conversations), {"c0": c0 - n0 + 1, "m0": m0 + 1,
                                                    "per": messages_per, "per_day": per_day})  # fmt: skip
        await session.execute(text(_TURN_DRAWS))
        for statement in inserts:
            await session.execute(text(statement))
        written += int(await session.scalar(text("SELECT sum(n_msg) FROM gen_c")) or 0)
        for name in _DROP:
            await session.execute(text(f"DROP TABLE temp.{name}"))
        if progress is not None:
            await session.commit()
            progress(n1, total)
    return written


def _temp(name: str, *columns: str) -> TableClause:
    """A Core handle on one of our temp tables, for executemany inserts into it."""
    return table(name, *(column(c) for c in columns))
