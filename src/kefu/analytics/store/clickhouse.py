"""The ClickHouse event store, for scale-out: the same ``events`` table (partitioned by
``day``, ordered by site, day, session), the same analyses' statements.

The analyses are written once, in DuckDB's SQL; the few places where ClickHouse's dialect
differs are rewritten here (:func:`to_clickhouse`): placeholders (``?`` → clickhouse-connect's
client-side ``%s``), ``LIKE … ESCAPE '\\'`` (ClickHouse's LIKE escapes with a backslash
already), three function names (``arg_min``/``arg_max`` → ``argMin``/``argMax``, ``bool_or``
→ ``max``). Everything else the analyses use (``FILTER (WHERE …)``, ``GROUP BY ALL``,
``any_value``, window functions, ``date_diff``, ``INTERVAL``) both engines read alike. Outer joins fill missing rows with NULL as SQL does (``join_use_nulls``), which the
path analysis reads as the end of a session.

The client is clickhouse-connect's (``ClickHouseStore.connect(url)``), or anything with its
``query``/``command``/``insert_arrow`` (the tests run the dialect on chDB, ClickHouse's engine
in-process, through such an adapter).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from typing import Any, Protocol

import pyarrow as pa

from kefu.analytics.store.base import COLUMNS, held_clause

TYPES = {"VARCHAR": "String", "TIMESTAMP": "DateTime64(6)", "DATE": "Date", "INTEGER": "Int32",
         "DOUBLE": "Float64"}  # fmt: skip
SETTINGS = {"join_use_nulls": 1}


class Client(Protocol):
    def query(self, sql: str, parameters: Sequence[Any] | None = None,
              settings: dict[str, Any] | None = None) -> Any: ...  # fmt: skip

    def command(self, sql: str) -> Any: ...

    def insert_arrow(self, table: str, arrow_table: pa.Table) -> Any: ...


_HEX = re.compile(r"[0-9a-f]{1,64}")
_QUOTED_OR_MARK = re.compile(r"'(?:[^'\\]|\\.|'')*'|\?")


_FUNCTIONS = {"arg_min(": "argMin(", "arg_max(": "argMax(", "bool_or(": "max("}
_FUNCTION = re.compile(r"\b(" + "|".join(re.escape(k) for k in _FUNCTIONS) + ")")


def to_clickhouse(sql: str, bind: bool = True) -> str:
    """DuckDB's SQL as the analyses write it → ClickHouse's. ``bind``: parameters follow, to
    be formatted in with ``%`` (so a literal ``%`` is doubled)."""
    sql = sql.replace(" ESCAPE '\\'", "")
    sql = _FUNCTION.sub(lambda m: _FUNCTIONS[m.group(1)], sql)
    if not bind:
        return sql
    sql = sql.replace("%", "%%")
    return _QUOTED_OR_MARK.sub(lambda m: "%s" if m.group(0) == "?" else m.group(0), sql)


class ClickHouseStore:
    def __init__(self, client: Client) -> None:
        self.client = client
        columns = ", ".join(f"{name} {TYPES[kind]}" for name, kind in COLUMNS.items())
        client.command(
            f"CREATE TABLE IF NOT EXISTS events ({columns}) ENGINE = MergeTree "
            "PARTITION BY day ORDER BY (site, day, session_id, ts)"
        )
        # the latest row per campaign wins (merged in the background; read with FINAL)
        client.command(
            "CREATE TABLE IF NOT EXISTS campaign_costs (campaign String, cost Float64, "
            "value_per_conversion Float64, at DateTime64(6) DEFAULT now64(6)) "
            "ENGINE = ReplacingMergeTree(at) ORDER BY campaign"
        )

    @classmethod
    def connect(cls, url: str) -> ClickHouseStore:
        """``clickhouse://user:password@host:8123/database`` (HTTP interface)."""
        import clickhouse_connect  # only when ClickHouse is configured

        return cls(clickhouse_connect.get_client(dsn=url, settings=SETTINGS))

    def insert(self, columns: dict[str, Sequence[Any]]) -> int:
        from kefu.analytics.store.duckdb import SCHEMA

        count = len(columns["event_id"])
        if count:
            arrays = [pa.array(columns[f.name], type=f.type) for f in SCHEMA]
            self.client.insert_arrow("events", pa.table(arrays, schema=SCHEMA))
        return count

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        result = self.client.query(
            to_clickhouse(sql, bool(params)), list(params), settings=SETTINGS
        )
        return [tuple(row) for row in result.result_rows]

    def drop_before(self, day: date) -> int:
        """Whole partitions (days) are dropped: no rewrite of the others."""
        rows = self.query("SELECT day, count() FROM events WHERE day < ? GROUP BY day", [day])
        for partition, _ in rows:
            self.client.command(f"ALTER TABLE events DROP PARTITION '{partition.isoformat()}'")
        return sum(int(n) for _, n in rows)

    def purge_before(
        self, day: date, keep_customers: Sequence[str] = (), *, dry_run: bool = False
    ) -> tuple[int, int]:
        """A day without held rows goes as a whole partition (no rewrite); a day with some is
        rewritten without the others (a mutation, waited for: ``mutations_sync``)."""
        keep = [h for h in dict.fromkeys(keep_customers) if h]
        if not all(_HEX.fullmatch(h) for h in keep):  # inlined in the mutation: hex only
            raise ValueError("customer hashes are hexadecimal")
        if keep:
            held = held_clause(", ".join("?" * len(keep)))
            rows = self.query(
                f"SELECT day, countIf(NOT {held}), countIf({held}) FROM events "
                "WHERE day < ? GROUP BY day ORDER BY day",
                [*keep, *keep, *keep, *keep, day],
            )
        else:
            rows = [(d, n, 0) for d, n in self.query(
                "SELECT day, count() FROM events WHERE day < ? GROUP BY day ORDER BY day", [day])]  # fmt: skip
        due, kept = sum(int(r[1]) for r in rows), sum(int(r[2]) for r in rows)
        if dry_run:
            return due, kept
        for partition, n_due, n_held in rows:
            name = partition.isoformat()
            if not n_held:
                self.client.command(f"ALTER TABLE events DROP PARTITION '{name}'")
            elif n_due:
                literals = held_clause(", ".join(f"'{h}'" for h in keep))
                self.client.command(
                    f"ALTER TABLE events DELETE WHERE day = '{name}' AND NOT {literals} "
                    "SETTINGS mutations_sync = 1"
                )
        return due, kept

    def set_campaign_cost(self, campaign: str, cost: float, value_per_conversion: float) -> None:
        table = pa.table({"campaign": [campaign], "cost": [float(cost)],
                          "value_per_conversion": [float(value_per_conversion)]})  # fmt: skip
        self.client.insert_arrow("campaign_costs", table)

    def campaign_costs(self) -> dict[str, tuple[float, float]]:
        rows = self.query("SELECT campaign, cost, value_per_conversion FROM campaign_costs FINAL")
        return {name: (cost, value) for name, cost, value in rows}

    def count(self) -> int:
        return int(self.query("SELECT count() FROM events")[0][0])

    def close(self) -> None:
        close = getattr(self.client, "close", None)
        if close:
            close()
