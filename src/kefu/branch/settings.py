"""The smart branch's configuration (``KEFU_BRANCH`` as JSON, ``[branch]`` in kefu.toml).

Pure pydantic, so ``kefu.config`` can import it without pulling in the branch package."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

VIDEO_FIELDS = {"branch": "B001", "counter": 51, "ticket": "A012", "conversation": 1}


class BranchSettings(BaseModel):
    model_config = {"extra": "forbid"}

    form_keys: list[str] = Field(
        default_factory=list,
        description="Fernet keys for the forms' personal data, newest first: the first "
        "encrypts, every one decrypts (rotation: put a new key first, run `kefu branch "
        "rotate-form-keys`, then drop the old one). Empty: derived from KEFU_SECRET_KEY, or "
        "a key file var/branch-forms.key made on first use when that is empty too.",
    )
    form_ttl_hours: int = Field(
        default=72, ge=1, le=24 * 30, description="A filled form expires after this many hours."
    )
    form_max_tries: int = Field(
        default=5, ge=1, le=20,
        description="Failed ID number + ticket matches allowed per ticket before it is locked.",
    )  # fmt: skip
    appointment_slot_capacity: int = Field(
        default=2, ge=1, le=100, description="Bookings per half-hour slot of a branch's service."
    )
    vtm_video_url: str = Field(
        default="", max_length=500,
        description="The video hook of VTM and hybrid counters: a URL template the remote "
        "agent's session page links to (fields {branch}, {counter}, {ticket}, {conversation}), "
        "e.g. https://video.bank.example/rooms/{branch}-{counter}. Empty: no video link.",
    )  # fmt: skip

    @field_validator("vtm_video_url")
    @classmethod
    def _video_template(cls, value: str) -> str:
        if value:
            try:
                formatted = value.format(**VIDEO_FIELDS)
            except (KeyError, IndexError, ValueError) as exc:
                raise ValueError(f"vtm_video_url: unknown field or bad braces ({exc})") from None
            if not formatted.startswith(("https://", "http://")):
                raise ValueError("vtm_video_url must start with https:// or http://")
        return value
