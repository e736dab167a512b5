"""The wait model's features are made the same way from the call-centre log and from the branch
tickets: one snapshot (``data/queue_snapshot.csv``: a caller arrives at 10:00:00 while four wait,
one is served, two finished in the last ten minutes, one hung up) read as the log and, ticket
for ticket, as a branch's queue. Priority callers jump the queue, so ``ahead`` counts only those
of priority at least the newcomer's — on both sides, for every priority. SQLite and, when
KEFU_TEST_DATABASE_URL is set, PostgreSQL."""

from __future__ import annotations

import csv
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.branch import queue
from kefu.branch.models import BranchTicket
from kefu.branch.prediction import callcenter
from kefu.branch.prediction.features import ahead_with_priority
from kefu.branch.services import kind
from kefu.branch.simulator import BranchPlan, simulate_day
from kefu.branch.waits import state_of
from tests.branch.conftest import NOW

SNAPSHOT = Path(__file__).parent / "data" / "queue_snapshot.csv"
AT = 10 * 3600  # the newcomer's arrival in the log: call 1, type PS, priority 1
SERVICE = {"PS": "cash", "NW": "card", "NE": "account"}


def secs(text: str) -> int:
    h, m, s = (int(x) for x in text.split(":"))
    return h * 3600 + m * 60 + s


def test_ahead_counts_priority_at_least_mine() -> None:
    waiting = {0: 3, 1: 2, 3: 1}
    assert [ahead_with_priority(waiting, p) for p in (0, 1, 2, 3)] == [6, 3, 1, 1]
    assert ahead_with_priority({}, 0) == 0


def test_log_snapshot_features() -> None:
    states, waits, _ = callcenter.queued_states(callcenter.read_calls(SNAPSHOT))
    newcomer = next(s for s in states if s.hour == AT / 3600)
    # Waiting at 10:00: calls 2 (PS, 2), 3 (PS, 1), 4 (PS, 0), 5 (NW, 2); call 9 hung up.
    # Ahead of a PS caller of priority 1: calls 2 and 3, not the priority-0 call 4 nor NW's 5.
    assert (newcomer.ahead, newcomer.waiting) == (2, 4)
    assert newcomer.served_10min == 2  # calls 6 (9:58:00) and 10 (9:59:59); 7 ended 9:49
    assert newcomer.kind == callcenter.kind_of("PS") and newcomer.priority == 1
    assert newcomer.load_rule > newcomer.rule  # everyone waiting against those ahead


@pytest.mark.db
async def test_branch_tickets_give_the_log_s_features(
    session: AsyncSession, tmp_path: Path
) -> None:
    """Every row but the newcomer becomes a ticket of the same service, priority and times;
    the branch's state for a newcomer equals the log's, priority by priority."""
    day = queue.business_day(NOW)
    rows = list(csv.DictReader(SNAPSHOT.open(encoding="utf-8")))
    for i, row in enumerate(r for r in rows if r["call_id"] != "1"):
        q_start, q_exit = secs(row["q_start"]), secs(row["q_exit"])
        served = row["outcome"] == "AGENT"
        start, end = secs(row["ser_start"]), secs(row["ser_exit"])
        if not served:
            state = "cancelled" if q_exit <= AT else "waiting"
        else:
            state = "waiting" if start > AT else ("called" if end > AT else "done")
        at = lambda t: NOW + timedelta(seconds=t - AT)  # noqa: E731
        session.add(BranchTicket(
            branch_code="SNAP", day=day, service=SERVICE[row["type"]], label=f"X{i:03d}",
            priority=int(row["priority"]), state=state, issued_at=at(q_start),
            called_at=at(start) if served and start <= AT else None,
            finished_at=at(end) if state == "done" else (at(q_exit) if not served else None),
        ))  # fmt: skip
    await session.flush()
    q = (await queue.service_queues(session, "SNAP", NOW))["cash"]

    log = {}
    for priority in (0, 1, 2):
        text = SNAPSHOT.read_text(encoding="utf-8").replace(
            "AA0101,1,0,1,PS", f"AA0101,1,0,{priority},PS"
        )
        one = tmp_path / f"snapshot_{priority}.csv"
        one.write_text(text, encoding="utf-8")
        states, _, _ = callcenter.queued_states(callcenter.read_calls(one))
        log[priority] = next(s for s in states if s.hour == AT / 3600)
    for priority, from_log in log.items():
        at_branch = state_of(q, NOW, priority)
        got = (at_branch.ahead, at_branch.waiting, at_branch.served_10min, at_branch.priority)
        want = (from_log.ahead, from_log.waiting, from_log.served_10min, from_log.priority)
        assert got == want, priority
    assert [log[p].ahead for p in (0, 1, 2)] == [3, 2, 1]  # priority callers jump the queue
    assert state_of(q, NOW, 3).ahead == 0  # a VIP is called first
    assert state_of(q, NOW).kind == kind("cash")


def test_simulator_counts_ahead_the_same_way() -> None:
    """The simulated days the shipped model learns from: ``ahead`` never exceeds the service's
    own queue and a top-priority customer has only top-priority ones ahead."""
    plan = BranchPlan("S", [["cash"], ["cash", "card"]], base_per_hour=40)
    customers = [c for c in simulate_day([plan], seed=3) if c.state is not None]
    assert any(c.priority == 3 for c in customers) and any(c.state.ahead > 3 for c in customers)
    for c in customers:
        assert c.state.ahead <= c.state.waiting and c.state.kind == kind(c.service)
    vips = [c for c in customers if c.priority == 3]
    assert max(c.state.ahead for c in vips) < max(c.state.ahead for c in customers)
