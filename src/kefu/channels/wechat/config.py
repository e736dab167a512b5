"""Official accounts as configuration data (``KEFU_WECHAT_ACCOUNTS``, ``[[wechat_accounts]]``).

One entry per official account (公众号) the bank runs: each has its own AppID, AppSecret,
server token and EncodingAESKey, as set on the WeChat admin console (mp.weixin.qq.com →
设置与开发 → 基本配置).
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, field_validator, model_validator

from kefu.channels.manifest import unique_names

# plain: 明文模式; compatible: 兼容模式 (both plaintext and encrypted in one body, replies in
# plaintext); safe: 安全模式 (encrypted only, replies encrypted).
Mode = Literal["plain", "compatible", "safe"]
# What a message outside WeChat's 48-hour service window (errcode 45015) falls back to.
WindowFallback = Literal["template", "sms", "none"]


class WechatAccount(BaseModel):
    """One official account. ``name`` is the slug in the callback URL
    (``/channels/wechat/{name}``) and the H5 pages (``/h5/{name}/...``)."""

    name: str = Field(min_length=1, max_length=32, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    app_id: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")
    app_secret: str = Field(min_length=1, max_length=64)
    # The server token (令牌): 3-32 letters and digits, as the console allows.
    token: str = Field(pattern=r"^[A-Za-z0-9-]{3,32}$")
    encoding_aes_key: str = Field(default="", description="43 characters; empty in plain mode.")
    mode: Mode = "safe"
    # In plain mode WeChat sends plaintext; kefu also accepts encrypted bodies in the demo
    # (``accept_plaintext`` keeps plaintext allowed when the mode is safe, for the demo phone).
    accept_plaintext: bool = False
    display_name: str = Field(default="", max_length=64)
    # Template ids: kind (bill_ready, repayment_reminder, card_transaction, service_reply
    # for a reply that can no longer go as a customer-service message, and marketing for
    # cross-selling campaigns) → the template id the account's template library gave it.
    templates: dict[str, str] = Field(default_factory=dict)
    window_fallback: WindowFallback = "template"

    @field_validator("encoding_aes_key")
    @classmethod
    def _aes_key(cls, value: str) -> str:
        if value == "":
            return value
        if len(value) != 43:
            raise ValueError(f"must be 43 characters (got {len(value)})")
        try:
            key = base64.b64decode(value + "=", validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("must be base64 (letters, digits, + and /)") from None
        if len(key) != 32:
            raise ValueError("must decode to a 32-byte AES key")
        return value

    @field_validator("templates")
    @classmethod
    def _templates(cls, value: dict[str, str]) -> dict[str, str]:
        known = {"bill_ready", "repayment_reminder", "card_transaction", "service_reply",
                 "marketing"}  # fmt: skip
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(f"unknown template kinds {unknown} (known: {sorted(known)})")
        return value

    @model_validator(mode="after")
    def _key_for_mode(self) -> WechatAccount:
        if self.mode != "plain" and not self.encoding_aes_key:
            raise ValueError(f"encoding_aes_key: required in {self.mode} mode")
        return self

    @property
    def encrypts(self) -> bool:
        return self.mode != "plain"


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError("must be an http:// or https:// URL")
    return value.rstrip("/")


WechatAccounts = Annotated[list[WechatAccount], AfterValidator(unique_names("account"))]
HttpBaseUrl = Annotated[str, AfterValidator(_http_url)]
