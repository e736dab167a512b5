"""kefu.logs: a failure because the database is away is one warning a minute, not a
traceback on every tick of every loop (the PostgreSQL drill logged one per loop per tick)."""

from __future__ import annotations

import asyncio
import json

import pytest
import structlog

from kefu import logs
from kefu.logs import configure_logging, get_logger
from tests.db.test_unavailable import _error_of
from tests.ports import free_port


@pytest.fixture(autouse=True)
def _fresh(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(logs, "_away_logged", {})
    yield
    structlog.reset_defaults()


def _database_away_error() -> BaseException:
    """A real one: a PostgreSQL that refuses connections (a port nothing listens on)."""
    return asyncio.run(_error_of(f"postgresql://kefu:kefu@127.0.0.1:{free_port()}/kefu"))


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
