"""Weibo accounts as configuration data (``KEFU_WEIBO_ACCOUNTS``, ``[[weibo_accounts]]``).

One entry per official Weibo account (官方微博) the bank runs, with the App Key and App Secret
of the bank's application on open.weibo.com. The access token is not configuration: an admin
authorises the application (OAuth2) and kefu keeps the token in ``weibo_tokens``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, SecretStr, field_validator

from kefu.channels.manifest import unique_names

# How an agent's reply leaves when the agent did not choose: ``origin`` — as the conversation
# began (a public post or comment → a public comment reply; a 私信 → a 私信); or always one.
ReplyModeRule = Literal["origin", "comment", "dm"]


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError("must be an http:// or https:// URL")
    return value.rstrip("/")


HttpBaseUrl = Annotated[str, AfterValidator(_http_url)]


class WeiboAccount(BaseModel):
    """One official account. ``name`` is the slug in the 私信 callback URL
    (``/weibo/{name}/push``) and on the admin page."""

    name: str = Field(min_length=1, max_length=32, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    uid: str = Field(pattern=r"^[0-9]{1,20}$", description="The official account's user id.")
    screen_name: str = Field(min_length=1, max_length=64)
    app_key: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")
    # A SecretStr: never printed by repr() or in a log line; also signs the 私信 pushes.
    app_secret: SecretStr
    api_base: HttpBaseUrl = "https://api.weibo.com"
    dm_api_base: HttpBaseUrl = "https://m.api.weibo.com"
    search_api_base: HttpBaseUrl = "https://c.api.weibo.com"
    poll_interval: float = Field(default=60.0, ge=0.05, le=3600)
    page_size: int = Field(default=100, ge=2, le=200)
    # Listening (舆情监测, listening.py): at least this many seconds between search rounds, and
    # at most this many search calls an hour — the share of the token's hourly read quota
    # (shared with polling) that listening may use; more terms stretch the rounds instead.
    search_interval: float = Field(default=300.0, ge=0.05, le=86400)
    search_reads_per_hour: int = Field(default=50, ge=1, le=100000)
    reply_mode_default: ReplyModeRule = "origin"
    # Where Weibo sends the admin back with the OAuth2 code; empty: this kefu's
    # ``/admin/weibo/{name}/oauth`` as the admin's browser reached it.
    redirect_uri: str = ""

    @field_validator("app_secret")
    @classmethod
    def _secret(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value():
            raise ValueError("must not be empty")
        return value

    @property
    def secret(self) -> str:
        return self.app_secret.get_secret_value()


WeiboAccounts = Annotated[list[WeiboAccount], AfterValidator(unique_names("account"))]
