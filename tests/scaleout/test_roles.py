"""KEFU_ROLE: what a web process and a workers process start (kefu.runtime.start_parts)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kefu.bus.lease import FileLease
from kefu.config import load_settings
from kefu.runtime import describe_role, role_settings, start_parts
from kefu.serve_cli import several_workers_problems, several_workers_warnings


def _settings(url: str, **values: Any) -> Any:
    return load_settings(database_url=url, secret_key="x", routing_tick=5, **values)


def test_web_settings_turn_every_loop_off_and_keep_the_rest() -> None:
    base = _settings("sqlite:///k.db")
    web = role_settings(base, "web")
    assert (web.routing_tick, web.subscriptions_scheduler) == (0, False)
    assert web.crisis.interval == 0 and web.quality.interval == 0
    assert web.reports.rollup_interval == 0
    assert web.sms_gateway_in_web is False  # N web processes must not bind N carrier links
    assert web.database_url == base.database_url and base.routing_tick == 5  # a copy
    assert role_settings(base, "all") is base
    assert "kefu run workers" in describe_role(base, "web")
    assert "lease" in describe_role(base, "workers")


def test_several_web_processes_need_a_shared_database_and_say_what_they_lack() -> None:
    assert several_workers_problems(_settings("sqlite:///:memory:"))
    assert not several_workers_problems(_settings("sqlite:///k.db"))
    warned = " ".join(several_workers_warnings(_settings("sqlite:///k.db"), 4))
    assert "KEFU_BUS_URL" in warned and "4x" in warned and "SQLite" in warned
    assert not several_workers_warnings(_settings("postgresql://u:p@h/k", bus_url="redis://r/0"), 4)


@pytest.fixture
async def parts(db_url: str) -> AsyncIterator[Any]:
    from kefu.bank.factory import make_bank
    from kefu.db.engine import make_engine, make_sessionmaker

    engine = make_engine(db_url)
    bank = make_bank(_settings(db_url), engine)
    started: list[Any] = []

    async def start(role: str, **kwargs: Any) -> Any:
        running = await start_parts(_settings(db_url), make_sessionmaker(engine), bank,
                                    role=role, **kwargs)  # fmt: skip
        started.append(running)
        return running

    try:
        yield start
    finally:
        for running in reversed(started):
            await running.stop()
        await bank.close()
        await engine.dispose()


@pytest.mark.db
async def test_web_runs_no_loop_and_of_two_workers_copies_one_runs_them(
    parts: Any, tmp_path: Path
) -> None:
    """One database for both (migrating one per test costs CI seconds)."""
    import asyncio

    web = await parts("web")
    assert "routing" not in web.started and "reports" not in web.started
    assert "workers" not in web.started
    # The pages' pieces are there (the crisis desk's notifier), without their loops.
    assert web.state["crisis"] is not None and web.state["subscriptions"] is None

    lease = tmp_path / "workers.lease"
    first = await parts("workers", lease=FileLease(lease, "workers"))
    second = await parts("workers", lease=FileLease(lease, "workers"))
    one, two = first.state["workers"], second.state["workers"]
    await asyncio.wait_for(one.changed.wait(), 10)
    assert one.active and not two.active
    assert {"routing", "crisis", "quality", "reports"} <= set(one.running.started)
    await first.stop()  # the active copy stops: the standby takes over
    await asyncio.wait_for(two.changed.wait(), 10)
    assert two.active and "routing" in two.running.started
