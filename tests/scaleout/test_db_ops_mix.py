"""benchmarks/db_ops_mix.py's statement scripts: they parse, and one message of each runs on
kefu's migrated schema through both paths the benchmark measures (pgbench and kefu's
SQLAlchemy async on asyncpg), doing what the message does: the WeChat text answered, the SMS
delivered. No timing is asserted."""

from __future__ import annotations

import importlib.util
import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.db
BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "db_ops_mix.py"


def _bench() -> Any:
    if "db_ops_mix" not in sys.modules:
        spec = importlib.util.spec_from_file_location("db_ops_mix", BENCH)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules["db_ops_mix"] = module  # its dataclass looks its module up
        spec.loader.exec_module(module)
    return sys.modules["db_ops_mix"]


def test_the_scripts_hold_the_captured_mix() -> None:
    bench = _bench()
    # Captured per message (docs/deploy.md): WeChat 14.4 reads + 6 writes, SMS 13.8 + 6.6.
    assert bench.reads_writes(bench.WECHAT) == (15, 6)
    assert bench.reads_writes(bench.SMS) == (14, 7)
    for script in bench.SCRIPTS.values():
        sets, steps = bench.parse(script)
        assert set(sets) == {"u", "k"}
        assert sum(s.gset for s in steps) == 1  # the new row's id, used by later statements
        assert steps[0].sql == "BEGIN" and steps[-1].sql in ("COMMIT", "ROLLBACK")


async def _counts(url: str) -> dict[str, int]:
    import asyncpg

    conn = await asyncpg.connect(_bench()._plain(url))
    try:
        return {
            "answered": await conn.fetchval(
                "SELECT count(*) FROM wechat_inbound WHERE state = 'answered'"),
            "delivered": await conn.fetchval(
                "SELECT count(*) FROM sms_messages WHERE state = 'delivered'"),
            "turns": await conn.fetchval("SELECT count(*) FROM kpi_selfservice_turns"),
        }  # fmt: skip
    finally:
        await conn.close()


async def test_one_message_of_each_runs_through_both_paths(db_url: str, tmp_path: Path) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("pgbench and the mix's statements are PostgreSQL's")
    import asyncpg

    from kefu.db.engine import make_engine

    bench = _bench()
    conn = await asyncpg.connect(bench._plain(db_url))
    try:
        await conn.execute(bench.SEED.format(users=40, history=1))
    finally:
        await conn.close()
    start = await _counts(db_url)
    assert start == {"answered": 40, "delivered": 40, "turns": 40}

    engine = make_engine(db_url)
    try:
        for script in (bench.WECHAT, bench.SMS):
            async with engine.connect() as session:
                await bench.run_once(session, script, 40, random.Random(1))
    finally:
        await engine.dispose()
    assert await _counts(db_url) == {"answered": 41, "delivered": 41, "turns": 41}

    if shutil.which("pgbench") is None:
        pytest.fail("pgbench is not installed (Debian: postgresql-client)")
    from urllib.parse import urlsplit

    parts = urlsplit(bench._plain(db_url))
    for name, script in bench.SCRIPTS.items():
        path = tmp_path / f"{name}.sql"
        path.write_text(script.strip() + "\n")
        done = subprocess.run(
            ["pgbench", "-n", "-M", "prepared", "-c", "1", "-t", "2", "-D", "users=40",
             "-f", str(path), "-h", parts.hostname or "127.0.0.1",
             "-p", str(parts.port or 5432), "-U", parts.username or "kefu",
             parts.path.lstrip("/")],
            env={"PGPASSWORD": parts.password or "", "PATH": "/usr/bin:/bin"},
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "number of transactions actually processed: 2/2" in done.stdout, done.stdout
    assert await _counts(db_url) == {"answered": 43, "delivered": 43, "turns": 43}
