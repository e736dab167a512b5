"""kefu.logs: a failure because the database is away is one warning a minute, not a
traceback on every tick of every loop (the PostgreSQL drill logged one per loop per tick)."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest
import structlog
from sqlalchemy import text

from kefu import logs
from kefu.db.engine import make_engine
from kefu.logs import configure_logging, get_logger


@pytest.fixture(autouse=True)
def _fresh(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(logs, "_away_logged", {})
    yield
    structlog.reset_defaults()


def _database_away_error() -> BaseException:
    """A real one: a PostgreSQL that refuses connections (a port nothing listens on)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def go() -> BaseException:
        engine = make_engine(f"postgresql://kefu:kefu@127.0.0.1:{port}/kefu")
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001 - the error is what the test wants
            return exc
        finally:
            await engine.dispose()
        raise AssertionError("the database answered")

    return asyncio.run(go())


def _lines(capsys: pytest.CaptureFixture[str]) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]


def test_a_loop_failing_on_a_database_that_is_away_logs_one_warning(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    away = _database_away_error()
    configure_logging("INFO")
    log = get_logger("kefu.test")
    for _ in range(5):  # five ticks of one loop, two of another
        try:
            raise away
        except Exception:  # noqa: BLE001
            log.exception("routing_tick_failed", step="assign")
    for _ in range(2):
        try:
            raise away
        except Exception:  # noqa: BLE001
            log.exception("webchat_relay_failed")
    lines = _lines(capsys)
    assert [line["event"] for line in lines] == ["routing_tick_failed", "webchat_relay_failed"]
    for line in lines:
        assert line["level"] == "warning" and line["database"] == "unavailable"
        assert line["error"] == "ConnectionRefusedError" and "exception" not in line
    # A minute later it is said again.
    monkeypatch.setattr(logs, "_away_logged", {k: v - logs.AWAY_EVERY for k, v in
                                               logs._away_logged.items()})  # fmt: skip
    try:
        raise away
    except Exception:  # noqa: BLE001
        log.exception("routing_tick_failed", step="assign")
    assert [line["event"] for line in _lines(capsys)] == ["routing_tick_failed"]


def test_any_other_failure_keeps_its_error_and_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO")
    log = get_logger("kefu.test")
    for _ in range(2):
        try:
            raise KeyError("a bug")
        except KeyError:
            log.exception("routing_tick_failed", step="assign")
    lines = _lines(capsys)
    assert len(lines) == 2
    assert all(line["level"] == "error" and "KeyError" in line["exception"] for line in lines)
