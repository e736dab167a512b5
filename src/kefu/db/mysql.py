"""What MySQL 8 / MariaDB need to behave like our other two databases (docs/deploy.md).

The migrations and models are written once, in SQLAlchemy's generic types; these compile
rules make the generic types mean on MySQL what they mean on PostgreSQL, so the same migration
files give the same schema semantics:

- ``DateTime`` → ``DATETIME(6)``: MySQL's bare DATETIME drops the microseconds, and rows written
  in the same second would then tie where ordering by time matters (queues, message threads).
- ``Float`` → ``DOUBLE``: MySQL's bare FLOAT is 4 bytes; PostgreSQL's and SQLite's are 8.

They are registered when this module is imported, which ``kefu.db.engine`` does.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import DateTime, Float
from sqlalchemy.ext.compiler import compiles

# Every connection's session is in UTC, so NOW()/CURRENT_TIMESTAMP defaults agree with the UTC
# values the application writes (DATETIME keeps no zone).
INIT_COMMAND = "SET time_zone = '+00:00'"
# PostgreSQL's default, set on each connection even where the server's is REPEATABLE READ
# (docs/deploy.md says why).
ISOLATION_LEVEL = "READ COMMITTED"

# Below MariaDB's and MySQL's default wait_timeout (8 h) and the 1 h idle cut of most
# proxies/firewalls in front of a managed server: a pooled connection is replaced before the
# server may have closed it (pre-ping catches the rest).
POOL_RECYCLE_SECONDS = 1800


@compiles(DateTime, "mysql")
def _datetime(element: DateTime, compiler: Any, **kw: Any) -> str:
    return "DATETIME(6)"


@compiles(Float, "mysql")
def _float(element: Float, compiler: Any, **kw: Any) -> str:
    return "DOUBLE"
