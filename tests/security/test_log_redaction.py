"""Issue 21, finding 9: secrets in URLs and headers never reach the logs."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
import structlog

from kefu.logs import configure_logging, get_logger

TOKEN_URL = (
    "https://api.weixin.qq.com/cgi-bin/token?grant_type=client_credential"
    "&appid=wxhall0000000001&secret=hall-secret-VALUE"
)
MENU_URL = "https://api.weixin.qq.com/cgi-bin/menu/create?access_token=ACCESS-token-VALUE"


@pytest.fixture(autouse=True)
def _fresh_structlog():  # type: ignore[no-untyped-def]
    yield
    structlog.reset_defaults()


async def test_httpx_request_lines_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    configure_logging("INFO")
    transport = httpx.MockTransport(lambda r: httpx.Response(200, json={"errcode": 0}))
    with caplog.at_level(logging.INFO):
        async with httpx.AsyncClient(transport=transport) as http:
            await http.get(TOKEN_URL)
            await http.post(MENU_URL, json={})
    lines = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert len(lines) == 2 and "HTTP Request" in lines[0]
    text = "\n".join(lines)
    assert "hall-secret-VALUE" not in text and "ACCESS-token-VALUE" not in text
    assert "secret=[REDACTED]" in text and "access_token=[REDACTED]" in text
    assert "appid=wxhall0000000001" in text  # what is not secret stays readable


def test_our_own_events_are_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO")
    log = get_logger("kefu.test")
    log.info(
        "wechat_call",
        url=MENU_URL,
        headers={"Authorization": "Bearer kefu_abcdefghijklmnopqrstuvwxyz0123", "Accept": "json"},
        detail="login password=hunter2-secret&user=ann",
        password="hunter2-secret",
        status_code=200,
    )
    line = capsys.readouterr().out.strip().splitlines()[-1]
    for secret in ("ACCESS-token-VALUE", "kefu_abcdefghijklmnopqrstuvwxyz0123", "hunter2-secret"):
        assert secret not in line
    event = json.loads(line)
    assert event["headers"] == {"Authorization": "[REDACTED]", "Accept": "json"}
    assert event["password"] == "[REDACTED]" and event["status_code"] == 200


def test_the_access_log_does_not_keep_oauth_codes() -> None:
    configure_logging("INFO")
    access = logging.getLogger("uvicorn.access")  # uvicorn may have set propagate=False
    seen: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: seen.append(record.getMessage())  # type: ignore[method-assign]
    access.addHandler(handler)
    level, access.level = access.level, logging.INFO
    try:
        access.info(
            '%s - "%s %s HTTP/%s" %d', "127.0.0.1", "GET",
            "/h5/demo/oauth?code=ONE-TIME-CODE&state=s", "1.1", 302,
        )  # fmt: skip
    finally:
        access.removeHandler(handler)
        access.level = level
    assert len(seen) == 1 and "ONE-TIME-CODE" not in seen[0] and "code=[REDACTED]" in seen[0]


@pytest.mark.parametrize(
    ("path", "kept", "gone"),
    [
        ("/h5/demo/oauth?code=ONE-TIME-CODE&state=s", "code=[REDACTED]", "ONE-TIME-CODE"),
        ("/healthz?mobile=13812345678", "138****5678", "13812345678"),
    ],
)
def test_uvicorns_access_formatter_gets_its_arguments_cleaned(
    path: str, kept: str, gone: str
) -> None:
    """`kefu serve --workers N` logs each request through uvicorn's AccessFormatter, which
    unpacks the record's five arguments: the filter flattened them to None when it cleaned
    the line (TypeError, "--- Logging error ---" on every such request)."""
    from uvicorn.config import LOGGING_CONFIG
    from uvicorn.logging import AccessFormatter

    configure_logging("INFO")
    access = logging.getLogger("uvicorn.access")
    fmt = LOGGING_CONFIG["formatters"]["access"]["fmt"]
    lines: list[str] = []
    handler = logging.Handler()
    handler.setFormatter(AccessFormatter(fmt, use_colors=False))
    handler.emit = lambda record: lines.append(handler.format(record))  # type: ignore[method-assign]
    access.addHandler(handler)
    level, access.level = access.level, logging.INFO
    try:
        # exactly as uvicorn's HTTP protocols call it
        access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", path, "1.1", 200)
    finally:
        access.removeHandler(handler)
        access.level = level
    assert len(lines) == 1, lines
    assert kept in lines[0] and gone not in lines[0] and "200 OK" in lines[0], lines


def test_a_logged_exception_carries_its_traceback_masked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An operator reading "routing_tick_failed" needs the reason; the reason may quote
    customer data, so it is masked like any other field."""
    configure_logging("INFO")
    log = get_logger("kefu.test")
    try:
        raise ValueError("no customer for 13800138000 at url " + MENU_URL)
    except ValueError:
        log.exception("tick_failed", step="assign")
    event = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert event["event"] == "tick_failed" and "exc_info" not in event
    assert "Traceback" in event["exception"] and "ValueError: no customer for" in event["exception"]
    assert (
        "13800138000" not in event["exception"] and "ACCESS-token-VALUE" not in event["exception"]
    )
