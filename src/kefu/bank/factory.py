"""Chooses the bank adapter from the settings."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from kefu.bank.port import BankPort
from kefu.config import ConfigError, Settings


def make_bank(settings: Settings, engine: AsyncEngine) -> BankPort:
    if settings.bank_adapter == "http":
        if not settings.bank_http_url:
            raise ConfigError(
                "invalid configuration: KEFU_BANK_HTTP_URL: required when KEFU_BANK_ADAPTER=http"
            )
        from kefu.bank.http.adapter import HttpBank

        return HttpBank(
            settings.bank_http_url,
            token=settings.bank_http_token,
            timeout=settings.bank_http_timeout,
        )
    from kefu.bank.synthetic.adapter import SyntheticBank

    return SyntheticBank(engine)
