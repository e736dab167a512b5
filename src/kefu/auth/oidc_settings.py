"""Settings of staff single sign-on through OpenID Connect (``KEFU_OIDC`` as JSON, ``[oidc]``
in kefu.toml). Kept apart from ``kefu.auth.oidc`` so that ``kefu.config`` imports only this."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from kefu.vocabulary import Role


class OidcSettings(BaseModel):
    """One OpenID provider (Keycloak, ADFS, Azure AD / Entra ID, Dex, Authing, …)."""

    model_config = ConfigDict(extra="forbid")

    issuer: str = Field(
        description="The provider's issuer URL, exactly as its ID tokens say it; the discovery "
        "document is read from ISSUER/.well-known/openid-configuration."
    )
    client_id: str = Field(min_length=1, max_length=200)
    # SecretStr: shown as '**********' in reprs, logs and error messages.
    client_secret: SecretStr = Field(description="Sent to the token endpoint only.")
    scopes: list[str] = Field(default_factory=lambda: ["openid", "profile", "email"])
    roles_claim: str = Field(
        default="groups",
        description="The ID-token claim holding the user's groups or roles (a list or a string).",
    )
    role_map: dict[str, Role] = Field(
        description='Claim value → kefu role, e.g. {"kefu-agents": "agent"}. The first '
        "entry (in this order) that the user has decides their role; none: refused."
    )
    username_claim: str = Field(default="preferred_username")
    create_users: bool = Field(
        default=True, description="Create a kefu user at the first sign-in of someone mapped."
    )
    link_existing_users: bool = Field(
        default=False,
        description="Let a first sign-in take over a local (password) user of the same name. "
        "Off: such a sign-in is refused, so a directory account cannot become a local admin.",
    )
    password_login: bool = Field(
        default=True, description="Keep the username/password form; off: single sign-on only."
    )
    redirect_url: str | None = Field(
        default=None,
        description="The callback URL registered at the provider (https://kefu.bank/login/sso/"
        "callback); default: derived from the request (set it behind a proxy).",
    )
    timeout: float = Field(default=10.0, gt=0, le=60)

    @field_validator("issuer", "redirect_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/") if value else value

    @field_validator("scopes")
    @classmethod
    def _openid_scope(cls, value: list[str]) -> list[str]:
        if "openid" not in value:
            raise ValueError("must include 'openid'")
        return value

    @field_validator("role_map")
    @classmethod
    def _staff_roles(cls, value: dict[str, Role]) -> dict[str, Role]:
        if not value:
            raise ValueError("map at least one claim value to a role")
        if Role.PARTNER in value.values():
            raise ValueError("partner is for partners' API keys, not staff sign-in")
        return value
