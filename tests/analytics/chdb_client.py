"""chDB (ClickHouse's engine in-process) behind the three calls ClickHouseStore makes of a
clickhouse-connect client, so the ClickHouse dialect is tested without a server."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from clickhouse_connect.driver.binding import finalize_query


class Result:
    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self.result_rows = rows


class ChdbClient:
    def __init__(self) -> None:
        from chdb import session

        self._dir = tempfile.TemporaryDirectory(prefix="kefu-chdb-")
        self.session = session.Session(str(Path(self._dir.name) / "db"))
        self._n = 0

    def command(self, sql: str) -> None:
        self.session.query(sql)

    def query(self, sql: str, parameters: Sequence[Any] | None = None,
              settings: dict[str, Any] | None = None) -> Result:  # fmt: skip
        text = finalize_query(sql, list(parameters or ()))
        if settings:
            text += " SETTINGS " + ", ".join(f"{k} = {v}" for k, v in settings.items())
        table = self.session.query(text, "ArrowTable")
        columns = [c.to_pylist() for c in table.columns]
        return Result(list(zip(*columns, strict=True)) if columns else [])

    def insert_arrow(self, table: str, arrow_table: pa.Table) -> None:
        self._n += 1
        path = Path(self._dir.name) / f"batch-{self._n}.parquet"
        pq.write_table(arrow_table, path)
        names = ", ".join(arrow_table.column_names)
        self.session.query(f"INSERT INTO {table} ({names}) SELECT {names} "
                           f"FROM file('{path}', Parquet)")  # fmt: skip
        path.unlink()

    def close(self) -> None:
        self.session.close()
        self._dir.cleanup()
