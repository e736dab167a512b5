"""Web chat sites as configuration data (``KEFU_WEBCHAT_SITES``, ``[[webchat_sites]]``).

One entry per web site or app that embeds the widget. A site lists the origins allowed to
call the API (the browser's ``Origin`` header), and the key that verifies the customer tokens
the bank's own site issues when a customer is signed in there.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, field_validator, model_validator

from kefu.channels.manifest import unique_names

TokenAlgorithm = Literal["HS256", "RS256", "ES256"]


class WebchatSite(BaseModel):
    """``name`` is the slug in the API's URLs (``/channels/webchat/{name}/…``)."""

    name: str = Field(min_length=1, max_length=32, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    display_name: str = Field(default="", max_length=64)
    # Origins (scheme://host[:port]) whose pages may use the API; "*" allows any (not for
    # production: any page could then chat in the bank's name).
    origins: list[str] = Field(default_factory=list)
    # Verifies the bank's customer tokens: the shared secret (HS256) or the public key in PEM
    # (RS256/ES256). Empty: signed-in chat is off, visitors chat anonymously.
    customer_token_key: str = Field(default="", max_length=8192)
    customer_token_algorithm: TokenAlgorithm = "HS256"
    customer_token_issuer: str = Field(default="", max_length=256)  # "iss" required when set
    customer_token_audience: str = Field(default="kefu-webchat", max_length=256)
    session_hours: float = Field(default=12.0, gt=0, le=24 * 7)
    # Messages a visitor may send per minute; past it the API answers 429.
    messages_per_minute: int = Field(default=20, ge=1, le=600)
    # Sessions one client address may open per minute (a proxy in front: set
    # forwarded_allow_ips so the address is the visitor's, not the proxy's).
    sessions_per_minute: int = Field(default=30, ge=1, le=100_000)
    greeting: str = Field(
        default="您好，我是在线客服。可以直接问我，例如“我要查3月的账单”“附近网点排队”；"
        "需要人工服务请发“转人工”。",
        max_length=500,
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if value == "static":  # /channels/webchat/static/ serves the widget
            raise ValueError("'static' is reserved")
        return value

    @field_validator("origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        cleaned = []
        for origin in value:
            origin = origin.strip().rstrip("/")
            if origin != "*" and not origin.startswith(("http://", "https://")):
                raise ValueError(f"{origin!r}: an origin is scheme://host[:port] or *")
            if origin != "*" and "/" in origin.split("://", 1)[1]:
                raise ValueError(f"{origin!r}: an origin has no path")
            cleaned.append(origin)
        return cleaned

    @model_validator(mode="after")
    def _key_for_algorithm(self) -> WebchatSite:
        key = self.customer_token_key
        if key and self.customer_token_algorithm == "HS256" and len(key) < 32:
            raise ValueError("customer_token_key: at least 32 characters for HS256")
        if key and self.customer_token_algorithm != "HS256" and "PUBLIC KEY" not in key:
            raise ValueError("customer_token_key: a PEM public key for RS256/ES256")
        return self

    def allows(self, origin: str | None) -> bool:
        """Whether a request with this ``Origin`` header may use the site. A request with no
        Origin (a server, curl) is allowed: the origin check protects browsers' users; tokens
        protect the API."""
        if origin is None:
            return True
        return "*" in self.origins or origin.rstrip("/") in self.origins


WebchatSites = Annotated[list[WebchatSite], AfterValidator(unique_names("site"))]
