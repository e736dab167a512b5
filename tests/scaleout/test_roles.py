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
    assert web.analytics.alert_check_seconds == 0  # the workers' (kefu.analytics.alerts)
    assert base.analytics.alert_check_seconds > 0
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


# --------------------------------------------------------------------------- channel relays
# The loops that move messages between kefu and the platforms without a request (task names
# as the channels give them): none in a web process, one copy under the workers' lease.
RELAY_TASKS = {"wechat-relay", "webchat-relay", "weibo-outbound", "weibo-poll-bank",
               "weibo-listen-bank"}  # fmt: skip


def _channel_settings(url: str, role: str) -> Any:
    from kefu.channels.webchat.config import WebchatSite
    from kefu.channels.weibo.config import WeiboAccount
    from tests.channels.wechat.harness import account

    site = WebchatSite(name="bank", origins=["https://bank.example"], customer_token_key="k" * 32)
    weibo = WeiboAccount(name="bank", uid="1", screen_name="bank", app_key="key",
                         app_secret="secret", api_base="http://127.0.0.1:9",
                         dm_api_base="http://127.0.0.1:9", search_api_base="http://127.0.0.1:9",
                         poll_interval=3600, redirect_uri="https://kefu.example/weibo/cb")  # fmt: skip
    return _settings(url, role=role, webchat_sites=[site], wechat_accounts=[account()],
                     wechat_api_base_url="http://127.0.0.1:9", weibo_accounts=[weibo])  # fmt: skip


def _task_names() -> set[str]:
    import asyncio

    return {t.get_name() for t in asyncio.all_tasks() if not t.done()}


@pytest.mark.db
async def test_a_web_role_app_runs_no_relay_and_all_runs_each_once(db_url: str) -> None:
    """The whole app's lifespan, as uvicorn runs it in each of `kefu serve --workers N`'s
    processes: what is running besides the test's own task is what serving HTTP needs (the
    web chat watch that wakes this process's SSE streams) and no relay or worker loop."""
    import asyncio

    from kefu.app import create_app

    before = _task_names()
    app = create_app(_channel_settings(db_url, "web"))
    async with app.router.lifespan_context(app):
        web = _task_names() - before
        assert app.state.webchat is not None and app.state.wechat is not None  # callbacks
        assert app.state.weibo_runtime is not None  # the push receiver
    # Not the analytics alert check either: N web processes would send N alerts.
    assert web == {"webchat-watch"}, web

    app = create_app(_channel_settings(db_url, "all"))
    async with app.router.lifespan_context(app):
        everything = [t.get_name() for t in asyncio.all_tasks() if not t.done()]
    assert set(everything) >= RELAY_TASKS, everything  # one process: unchanged
    assert everything.count("analytics-alerts") == 1, everything


@pytest.mark.db
async def test_the_relays_run_in_the_workers_copy_that_holds_the_lease(
    db_url: str, tmp_path: Path
) -> None:
    import asyncio

    from kefu.bank.factory import make_bank
    from kefu.db.engine import make_engine, make_sessionmaker

    engine = make_engine(db_url)
    settings = _channel_settings(db_url, "workers")
    bank = make_bank(settings, engine)
    lease = tmp_path / "workers.lease"
    copies = []
    try:
        for _ in range(2):
            copies.append(await start_parts(settings, make_sessionmaker(engine), bank,
                                            lease=FileLease(lease, "workers")))  # fmt: skip
        one, two = (c.state["workers"] for c in copies)
        await asyncio.wait_for(one.changed.wait(), 10)
        assert one.active and not two.active
        assert one.running.state["relays"] == ["relay:webchat", "relay:wechat", "relay:weibo"]
        running = [t.get_name() for t in asyncio.all_tasks() if not t.done()]
        for name in RELAY_TASKS | {"analytics-alerts"}:  # the standby started none of its own
            assert running.count(name) == 1, (name, running)
        await copies.pop(0).stop()  # the active copy stops: its relays stop, the standby's start
        await asyncio.wait_for(two.changed.wait(), 10)
        assert two.active
        running = [t.get_name() for t in asyncio.all_tasks() if not t.done()]
        for name in RELAY_TASKS | {"analytics-alerts"}:
            assert running.count(name) == 1, (name, running)
    finally:
        for running_copy in copies:
            await running_copy.stop()
        await bank.close()
        await engine.dispose()


@pytest.mark.db
async def test_a_web_process_wakes_its_streams_on_messages_another_process_wrote(
    db_url: str,
) -> None:
    """With the relay in the workers process, an agent's reply is written by another process:
    the web process's watch sees the session's seq move and wakes the stream open on it."""
    from kefu.channels.webchat.config import WebchatSite
    from kefu.channels.webchat.manifest import MANIFEST
    from kefu.channels.webchat.service import WebchatChannel
    from kefu.db.engine import make_engine, make_sessionmaker
    from kefu.runtime import make_pipeline

    engine = make_engine(db_url)
    site = WebchatSite(name="bank", origins=["https://bank.example"], customer_token_key="k" * 32)

    def channel() -> WebchatChannel:
        return WebchatChannel(sites=[site], sessionmaker=make_sessionmaker(engine),
                              pipeline=make_pipeline(None), policy=MANIFEST.policy)  # type: ignore[arg-type]  # fmt: skip

    web, workers = channel(), channel()  # two processes' channels, one database
    try:
        session, _ = await web.open_session(site, customer_no=None, locale="zh", origin=None)
        wake = web.watchers.watch(session.id)
        await web.wake_changed_states()  # the first look
        wake.clear()
        assert await web.wake_changed_states() == 0 and not wake.is_set()  # nothing new
        async with workers.sessionmaker() as db:
            assert await workers.notify(db, session.id, "坐席回复")
            await db.commit()
        assert await web.wake_changed_states() == 1 and wake.is_set()
    finally:
        await engine.dispose()
