"""Social webhook sources as configuration data (``KEFU_SOCIAL_SOURCES``, ``[[social_sources]]``
in kefu.toml): one entry per platform account or review feed that posts to
``/social/hooks/{name}``."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field, field_validator

from kefu.channels.manifest import unique_names
from kefu.channels.social.mapping import EXAMPLES, MappingError, load_mapping


class SocialSource(BaseModel):
    """``name`` is the slug in the hook's URL; ``mapping`` a mapping file's path, or the name of
    a bundled example (douyin, xiaohongshu, forum, appstore)."""

    name: str = Field(min_length=1, max_length=32, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    platform: str = Field(default="", max_length=32, pattern=r"^[a-z0-9_-]*$")  # "": mapping's
    account: str = Field(default="", max_length=64)  # the bank's account on it, as staff know it
    # Shared with the sender; it signs "<timestamp>.<raw body>" with HMAC-SHA256.
    secret: str = Field(min_length=16, max_length=256)
    mapping: str = Field(min_length=1, max_length=500)
    max_body_bytes: int = Field(default=262_144, ge=1024, le=1_048_576)
    max_skew_seconds: int = Field(default=300, ge=10, le=3600)  # older: a replay, refused

    @field_validator("mapping")
    @classmethod
    def _mapping(cls, value: str) -> str:
        path = (
            str(EXAMPLES / f"{value}.json")
            if "/" not in value and not value.endswith(".json")
            else value
        )
        try:
            load_mapping(path)  # a wrong file fails at start-up, not at the first post
        except MappingError as exc:
            raise ValueError(str(exc)) from None
        return path


SocialSources = Annotated[list[SocialSource], AfterValidator(unique_names("social source"))]
