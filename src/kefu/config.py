"""Settings: one object, read from ``KEFU_*`` environment variables and an optional TOML file.

Precedence (highest first): explicit arguments, environment, ``kefu.toml`` (or the file named by
``KEFU_CONFIG``), defaults. A wrong value fails at start-up with a message naming the setting.
"""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, create_model, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from kefu.analytics.settings import AnalyticsSettings
from kefu.auth.oidc_settings import OidcSettings
from kefu.branch.settings import BranchSettings
from kefu.channels.registry import manifests
from kefu.outbound.settings import SmsPolicySettings
from kefu.quality.settings import QualitySettings
from kefu.reports.settings import ReportsSettings
from kefu.retention.settings import RetentionSettings
from kefu.social.crisis.settings import CrisisSettings

DEFAULT_DATA_DIR = Path("var")


class ConfigError(RuntimeError):
    """A setting is missing or malformed; the message names the ``KEFU_*`` variable."""


def normalise_database_url(url: str) -> str:
    """Map the URL forms people type to the async drivers we use.

    ``sqlite:///x.db`` → ``sqlite+aiosqlite:///x.db``; ``postgresql://`` / ``postgres://`` →
    ``postgresql+asyncpg://``; ``mysql://`` / ``mariadb://`` → ``mysql+aiomysql://`` with
    ``charset=utf8mb4`` (MySQL's ``utf8`` is 3-byte and loses emoji and rare CJK characters).
    Anything else is refused, because migrations are only tested on these engines.
    """
    url = url.strip()
    if url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://", "mysql+aiomysql://")):
        return url
    if url.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + url[len("sqlite://") :]
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    for prefix in ("mysql://", "mariadb://", "mysql+pymysql://", "mariadb+pymysql://"):
        if url.startswith(prefix):
            rest = url[len(prefix) :]
            if "charset=" not in rest:
                rest += ("&" if "?" in rest else "?") + "charset=utf8mb4"
            return "mysql+aiomysql://" + rest
    raise ValueError(
        "must start with sqlite:///, postgresql:// or mysql:// "
        f"(got {url.split(':', 1)[0] or 'an empty value'!r})"
    )


class CoreSettings(BaseSettings):
    """The platform's own settings; each channel adds its fields from its manifest (see
    ``Settings`` below), so adding a channel does not edit this file."""

    model_config = SettingsConfigDict(env_prefix="KEFU_", extra="forbid", validate_default=True)

    database_url: str = Field(
        default=f"sqlite:///{DEFAULT_DATA_DIR / 'kefu.db'}",
        description="Platform database: sqlite:///path, postgresql://user:pass@host/db or "
        "mysql://user:pass@host/db (MySQL 8 / MariaDB ≥ 10.6).",
    )
    database_replica_url: str = Field(
        default="",
        description="A PostgreSQL streaming replica of database_url for reads that tolerate "
        "lag (reports, dashboards, analytics, search, knowledge pages); empty: every read on "
        "the primary (docs/deploy.md).",
    )
    database_replica_max_lag: float = Field(
        default=10.0,
        gt=0,
        description="Seconds the replica may be behind before its reads go to the primary; "
        "also how long a browser that wrote reads the primary after.",
    )
    bank_adapter: Literal["synthetic", "http"] = Field(
        default="synthetic",
        description="How kefu reads the bank's systems of record: the synthetic bank or HTTP.",
    )
    bank_http_url: str | None = Field(
        default=None, description="Base URL of the bank's REST contract (bank_adapter=http)."
    )
    bank_http_token: str | None = Field(
        default=None, description="Bearer token sent to the bank's REST contract."
    )
    bank_http_timeout: float = Field(default=5.0, gt=0, le=120)
    secret_key: str = Field(
        default="",
        description="Signs session cookies. Empty: a random key per process (sessions end on "
        "restart). Set it for multi-process deployments.",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    default_locale: Literal["zh_CN", "en"] = "zh_CN"
    session_max_age: int = Field(default=8 * 3600, ge=60, description="Seconds.")
    login_max_failures: int = Field(default=5, ge=1, le=100)
    login_lockout_seconds: int = Field(default=15 * 60, ge=1)
    max_request_bytes: int = Field(default=1_048_576, ge=1024)
    # Security hardening (issue 21; docs/security.md).
    login_ip_max_failures: int = Field(
        default=20, ge=1, le=10_000,
        description="Failed logins from one address, over every account, before that address "
        "is refused for login_lockout_seconds.",
    )  # fmt: skip
    session_idle_seconds: int = Field(
        default=1800, ge=60, description="A staff session ends after this long without a request."
    )
    session_cookie_secure: bool = Field(
        default=False,
        description="Mark the session cookie Secure (sent over HTTPS only). Turn it on behind "
        "TLS; off only for the loopback demo.",
    )
    outbound_allow_hosts: list[str] = Field(
        default_factory=list,
        description="Hosts, addresses or CIDR ranges that webhooks and callbacks may reach even "
        "though they are private or loopback (tests, the demo). Empty: only public addresses.",
    )
    api_docs_public: bool = Field(
        default=False,
        description="Serve /docs, /redoc and /openapi.json to anyone; off: they answer 404.",
    )
    metrics_public: bool = Field(
        default=False,
        description="Serve /metrics to any address; off: only to loopback (a local scraper).",
    )
    totp_required_roles: list[str] = Field(
        default_factory=lambda: ["admin"],
        description="Roles that must sign in with an authenticator code (TOTP) too; a role "
        "not yet enrolled enrols right after its password. Anyone who enrolled is asked "
        "anyway. [] turns the requirement off (the demo does).",
    )
    oidc: OidcSettings | None = Field(
        default=None,
        description="Staff single sign-on through OpenID Connect (JSON in KEFU_OIDC, [oidc] in "
        "kefu.toml; docs/security.md). None: password sign-in only.",
    )
    sms_policy: SmsPolicySettings = Field(
        default_factory=SmsPolicySettings,
        description="Rules for outbound SMS: consent, quiet hours, caps, templates (JSON in "
        "KEFU_SMS_POLICY, [sms_policy] in kefu.toml).",
    )
    forwarded_allow_ips: list[str] = Field(
        default_factory=list,
        description="Proxies whose X-Forwarded-For is believed for the client address "
        "(partner IP allow-lists). Empty: the header is ignored.",
    )
    subscriptions_scheduler: bool = Field(
        default=True,
        description="Run the subscription (定制) scheduler inside kefu serve and kefu demo when a "
        "carrier link is configured; off: run `kefu run scheduler` as a process of its own.",
    )
    subscriptions_interval: int = Field(
        default=3600, ge=60, le=86_400, description="Seconds between scheduler runs."
    )
    subscriptions_hours: tuple[int, int] = Field(
        default=(8, 21),
        description="China-time hours [start, end) in which the scheduler queues notices.",
    )
    subscriptions_catch_up_days: int = Field(
        default=2, ge=0, le=7,
        description="Days back a run still sends a missed notice (a bill issued, a movement).",
    )  # fmt: skip
    timezone: str = Field(
        default="Asia/Shanghai", description="The bank's time zone: staff pages show times in it."
    )
    presence_heartbeat_seconds: int = Field(
        default=30, ge=5, le=600,
        description="Workspace pages confirm presence this often; an agent is offline after two missed.",
    )  # fmt: skip
    conversation_visibility: Literal["team", "own"] = Field(
        default="team",
        description="Which conversations an agent may read: team (their own, unassigned waiting "
        "ones and those in queues they have the skill for) or own (their own and unassigned "
        "waiting ones). Notes go only on their own or unassigned ones; supervisors see all.",
    )
    campaign_scheduler_interval: float = Field(
        default=30.0, ge=0, le=3600,
        description="Seconds between the campaign scheduler's looks for scheduled cross-selling "
        "campaigns whose time has come; 0 turns it off.",
    )  # fmt: skip
    routing_tick: float = Field(
        default=1.0, ge=0, le=60,
        description="Seconds between rounds of the routing ticker (lapsed offers, waiting "
        "conversations, SLA, webhooks, silent agents); 0 turns it off.",
    )  # fmt: skip
    crisis: CrisisSettings = Field(
        default_factory=CrisisSettings,
        description="The crisis desk: worker interval, who gets alerts (SMS, WeChat) and when "
        "they escalate (JSON in KEFU_CRISIS, [crisis] in kefu.toml; docs/social-crisis-desk.md).",
    )
    analytics: AnalyticsSettings = Field(
        default_factory=AnalyticsSettings,
        description="Behaviour analytics: event store file, sites, collector limits (JSON in "
        "KEFU_ANALYTICS, [analytics] in kefu.toml; docs/analytics.md).",
    )
    reports: ReportsSettings = Field(
        default_factory=ReportsSettings,
        description="Service-centre reports: rollup interval, cost figures for saved cost, row "
        "cap, SMTP for schedules (JSON in KEFU_REPORTS, [reports] in kefu.toml; docs/reports.md).",
    )
    quality: QualitySettings = Field(
        default_factory=QualitySettings,
        description="CSAT surveys and quality inspection: worker interval, surveyed channels, "
        "answer window, review sample, rules file (JSON in KEFU_QUALITY; docs/quality.md).",
    )
    retention: RetentionSettings = Field(
        default_factory=RetentionSettings,
        description="Days kept per data kind before `kefu retention purge` removes it (JSON in "
        "KEFU_RETENTION; docs/retention.md).",
    )
    branch: BranchSettings = Field(
        default_factory=BranchSettings,
        description="Smart branch: form encryption keys, form expiry, ID + ticket tries (JSON in "
        "KEFU_BRANCH, [branch] in kefu.toml; docs/branch.md).",
    )
    bus_url: str = Field(
        default="",
        description="Event bus between processes: empty for the in-process bus (one process), "
        "redis://host:6379/0 for Redis Streams (several web workers, gateways and consumers).",
    )
    role: Literal["all", "web", "workers"] = Field(
        default="all",
        description="What this process runs: all (HTTP and every background loop, one "
        "process), web (HTTP only: `kefu serve --workers N`), workers (the background loops: "
        "`kefu run workers`); docs/deploy.md.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    sql_echo: bool = False

    @field_validator("subscriptions_hours")
    @classmethod
    def _subscriptions_hours(cls, value: tuple[int, int]) -> tuple[int, int]:
        if not 0 <= value[0] < value[1] <= 24:
            raise ValueError("must be [start, end] hours with 0 <= start < end <= 24")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        return normalise_database_url(value)

    @field_validator("database_replica_url")
    @classmethod
    def _database_replica_url(cls, value: str) -> str:
        if value and not value.startswith(("postgresql://", "postgresql+asyncpg://")):
            raise ValueError("must be a postgresql:// URL (a streaming replica of the primary)")
        return normalise_database_url(value) if value else value

    @field_validator("bank_http_url")
    @classmethod
    def _bank_http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/") if value else value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = Path(os.environ.get("KEFU_CONFIG", "kefu.toml"))
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_path.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        return tuple(sources)

    def proxy_options(self) -> dict[str, object]:
        """uvicorn's X-Forwarded-For handling: on only for the configured proxies (left to
        itself, uvicorn believes the header from 127.0.0.1, so a local client could forge its
        address past a partner's allow-list)."""
        return {
            "proxy_headers": bool(self.forwarded_allow_ips),
            "forwarded_allow_ips": self.forwarded_allow_ips or None,
        }

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def session_secret(self) -> str:
        return self.secret_key or _process_secret()

    def sqlite_path(self) -> Path | None:
        if not self.is_sqlite:
            return None
        path = self.database_url.split(":///", 1)[1]
        return None if path in ("", ":memory:") else Path(path)


def _channel_fields() -> dict[str, Any]:
    """Every channel's settings fields, from the registry; a name used twice is refused."""
    fields: dict[str, Any] = {}
    for manifest in manifests():
        for name, spec in manifest.settings.items():
            if name in fields or name in CoreSettings.model_fields:
                raise RuntimeError(f"channel {manifest.name!r}: setting {name!r} is taken")
            fields[name] = spec
    return fields


# The settings object: the platform's fields plus each registered channel's (KEFU_SMS_LINKS,
# KEFU_WECHAT_ACCOUNTS, KEFU_WEBCHAT_SITES, …).
Settings = create_model(  # type: ignore[call-overload]
    "Settings", __base__=CoreSettings, __module__=__name__, **_channel_fields()
)


@lru_cache(maxsize=1)
def _process_secret() -> str:
    return secrets.token_urlsafe(32)


def load_settings(**overrides: object) -> Settings:
    """Build the settings, turning a validation failure into one readable ``ConfigError``."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"]) or "settings"
            problems.append(f"KEFU_{field.upper()}: {err['msg']}")
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
