"""Structured logging (structlog) with personal data masked and secrets redacted before
anything is written.

Secrets (issue 21, finding 9): WeChat's token URL carries ``secret=``, its API URLs
``access_token=``; OAuth callbacks carry ``code=``; staff send ``Authorization: Bearer …`` and
``X-API-Key``. Whatever logs them (our own structlog events, httpx's "HTTP Request: GET …" at
INFO, uvicorn's access log), the value is replaced by ``[REDACTED]``: a structlog processor for
our events, a ``logging.Filter`` for the standard library's loggers.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from typing import Any

import structlog

from kefu.db.unavailable import is_unavailable
from kefu.privacy import mask_text

REDACTED = "[REDACTED]"
_SECRET_NAMES = (
    r"(?:app_?secret|client_secret|secret|access_token|refresh_token|id_token|token|"
    r"password|passwd|pwd|api_?key|x-api-key|code|sign(?:ature)?|csrf|session)"
)
# name=value in query strings and forms, name: value / "name": "value" in headers and JSON.
_PAIR = re.compile(
    r"(?i)(?<![A-Za-z0-9_])(" + _SECRET_NAMES + r")(\"?'?\s*(?:=|:)\s*\"?'?)"
    r"(?!\s*\[REDACTED\])([^\s&\"',;}]+)"
)
_AUTHORIZATION = re.compile(r"(?i)\b(authorization[\"']?\s*[:=]\s*[\"']?)(?:\w+\s+)?[^\s\"',;}]+")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}")
_API_KEY = re.compile(r"\bkefu_[A-Za-z0-9_-]{16,}")
# Event fields whose whole value is secret, by name (not "code": status_code, sub_code).
_SECRET_KEY = re.compile(
    r"(?i)^(?:.*_)?(?:app_?secret|client_secret|secret|access_token|refresh_token|token|"
    r"password|passwd|api_?key)$|^authorization$|^cookie$|^x-api-key$"
)


def redact(text: str) -> str:
    """``text`` with the values of secret-looking parameters, headers and keys replaced."""
    if not text:
        return text
    text = _AUTHORIZATION.sub(lambda m: m.group(1) + REDACTED, text)
    text = _BEARER.sub(lambda m: m.group(1) + " " + REDACTED, text)
    text = _API_KEY.sub("kefu_" + REDACTED, text)
    return _PAIR.sub(lambda m: m.group(1) + m.group(2) + REDACTED, text)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return mask_text(redact(value))
    if isinstance(value, dict):
        return {
            k: REDACTED if isinstance(k, str) and _SECRET_KEY.match(k) else _scrub(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(_scrub(v) for v in value)
    return value


def _mask_personal_data(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    for key, value in event_dict.items():
        if key in {"timestamp", "level"}:
            continue
        if _SECRET_KEY.match(key) and value is not None:
            event_dict[key] = REDACTED
        else:
            event_dict[key] = (
                _scrub(value) if not isinstance(value, str) else mask_text(redact(value))
            )
    return event_dict


# While the database restarts or fails over every background loop fails on each tick: one
# warning line per event name this often, without the traceback, says it.
AWAY_EVERY = 60.0
_away_logged: dict[str, float] = {}


def _logged_exception(exc_info: Any) -> BaseException | None:
    if exc_info is True:
        return sys.exc_info()[1]
    if isinstance(exc_info, BaseException):
        return exc_info
    if isinstance(exc_info, tuple) and len(exc_info) == 3:
        return exc_info[1]
    return None


def _database_away(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """A failure because the database is away (kefu.db.unavailable: a restart, a failover) is
    not a bug: it is logged as a warning, without its traceback, once per event name every
    ``AWAY_EVERY`` seconds, instead of an error with a traceback on every tick of every loop
    (``routing_tick_failed``, ``webchat_relay_failed``, … each twice a second)."""
    exc = _logged_exception(event_dict.get("exc_info"))
    if exc is None or not is_unavailable(exc):
        return event_dict
    del event_dict["exc_info"]
    event_dict.update(level="warning", database="unavailable")
    event_dict.setdefault("error", type(exc).__name__)
    name, now = str(event_dict.get("event")), time.monotonic()
    if now - _away_logged.get(name, -AWAY_EVERY) < AWAY_EVERY:
        raise structlog.DropEvent
    _away_logged[name] = now
    return event_dict


class RedactingFilter(logging.Filter):
    """For the standard library's loggers (httpx, httpcore, uvicorn): the formatted message
    with secrets redacted and personal data masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken record is logged as it is
            return True
        clean = mask_text(redact(message))
        if clean == message:
            return True
        # Formatters that read the arguments themselves need them kept: uvicorn's access log
        # unpacks (client, method, path, version, status) and raised a TypeError on None (a
        # masked mobile number or a token in a path). Each argument is cleaned alone when that
        # cleans the whole message; otherwise the message is flattened.
        if isinstance(record.args, tuple) and record.args:
            args = tuple(mask_text(redact(a)) if isinstance(a, str) else a for a in record.args)
            try:
                joined = str(record.msg) % args
            except (TypeError, ValueError):
                joined = None
            if joined is not None and mask_text(redact(joined)) == joined:
                record.args = args
                return True
        record.msg, record.args = clean, None
        return True


# Loggers of libraries that print URLs or headers. A filter on a logger only sees records
# logged on that logger (not its children's), so each is named.
LIBRARY_LOGGERS = ("httpx", "httpcore", "uvicorn", "uvicorn.access", "uvicorn.error", "kefu")
_FILTER = RedactingFilter()


def install_redaction() -> None:
    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
    for handler in logging.getLogger().handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(level=level, format="%(message)s")
    install_redaction()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            _database_away,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            # log.exception(...) and exc_info=True: the traceback as text in "exception" (without
            # it the JSON line said only "exc_info": true), masked and redacted like the rest.
            structlog.processors.format_exc_info,
            _mask_personal_data,
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        cache_logger_on_first_use=True,
    )


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)
