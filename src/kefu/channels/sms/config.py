"""Carrier links and business routes, as configuration data (``KEFU_SMS_LINKS``, kefu.toml)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, field_validator, model_validator

from kefu.channels.manifest import unique_names

Protocol = Literal["smpp", "cmpp2", "cmpp3", "sgip", "smgp"]


class SmsLink(BaseModel):
    """One carrier link. ``username``/``password`` are SMPP system_id/password, CMPP
    Source_Addr/shared secret, SGIP login name/password or SMGP ClientID/secret."""

    name: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")
    protocol: Protocol
    host: str = "127.0.0.1"
    port: int = Field(ge=1, le=65535)
    username: str = Field(min_length=1, max_length=32)
    password: str = Field(max_length=64)
    service_number: str = Field(default="95511", pattern=r"^\d{3,21}$")
    window: int | None = Field(default=None, ge=1, le=1024)
    max_tps: float | None = Field(default=None, gt=0)
    listen_port: int | None = Field(
        default=None, ge=0, le=65535, description="SGIP: where the SMG connects to deliver MO."
    )

    @model_validator(mode="after")
    def _protocol_limits(self) -> SmsLink:
        # The protocols' own field widths: caught here at start-up rather than at bind time.
        limits = {"smpp": (15, 8), "cmpp2": (6, 64), "cmpp3": (6, 64), "sgip": (16, 16),
                  "smgp": (8, 64)}  # fmt: skip
        user_max, password_max = limits[self.protocol]
        if len(self.username) > user_max:
            raise ValueError(f"username: at most {user_max} characters for {self.protocol}")
        if len(self.password) > password_max:
            raise ValueError(f"password: at most {password_max} characters for {self.protocol}")
        return self


class SmsRoute(BaseModel):
    """Business routing: a sub-code dialled after the service number picks a service."""

    sub_code: str = Field(pattern=r"^\d{1,8}$")
    service: Literal["hall", "agents"]
    label: str = ""

    @field_validator("label")
    @classmethod
    def _label(cls, value: str) -> str:
        return value[:64]


SmsLinks = Annotated[list[SmsLink], AfterValidator(unique_names("link"))]
