"""Self-service: which tasks customers finish online and which they abandon. A task starts at
its first page and is done at its last; sessions that start without finishing abandoned it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kefu.analytics.analyses.period import Period
from kefu.analytics.store.base import EventStore


@dataclass(frozen=True)
class Task:
    key: str
    name: str  # shown in Chinese; the English page shows the key
    start: str
    done: str


# The demo bank's tasks; a bank lists its own (path prefixes of its site).
TASKS = (
    Task("transfer", "转账", "/demo/bank/transfer", "/demo/bank/transfer/done"),
    Task("card_apply", "信用卡申请", "/demo/bank/cards/apply", "/demo/bank/cards/apply/done"),
    Task(
        "card_activate", "卡片激活", "/demo/bank/cards/activate", "/demo/bank/cards/activate/done"
    ),
)


def tasks(
    store: EventStore, period: Period, task_list: tuple[Task, ...] = TASKS
) -> list[dict[str, Any]]:
    out = []
    for task in task_list:
        started, done, helped = store.query(
            f"""WITH s AS (SELECT session_id, bool_or(path = ?) AS started,
                                  bool_or(path = ?) AS done, bool_or(path LIKE '%/help%') AS help
                           FROM events WHERE {period.where()} AND type = 'pageview'
                           GROUP BY session_id)
                SELECT count(*) FILTER (WHERE started), count(*) FILTER (WHERE started AND done),
                       count(*) FILTER (WHERE started AND NOT done AND help) FROM s""",
            [task.start, task.done, *period.params()],
        )[0]
        out.append(
            {"task": task.key, "name": task.name, "started": started, "completed": done,
             "abandoned": started - done, "completion_rate": done / started if started else 0.0,
             "abandoned_to_help": helped}
        )  # fmt: skip
    return out
