"""What an editor may write: the validated content of one entry version.

The same model validates the editor's form, the JSON API and every imported row, so the
limits below hold whichever way content arrives.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints, field_validator, model_validator

# Two concatenated SMS segments of UCS-2 text carry 2 × 67 characters.
SMS_MAX_CHARS = 134
MAX_PARAPHRASES = 50

Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
Question = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=300)]


class EntryKind(StrEnum):
    FAQ = "faq"
    ARTICLE = "article"


class EntryStatus(StrEnum):
    DRAFT = "draft"
    REVIEW = "review"
    PUBLISHED = "published"
    RETIRED = "retired"


# Customer channels (kefu.vocabulary.Channel values) → the written variant of an answer they
# get: "sms" (short text), "wechat" (rich text with links and images; also web chat and Weibo)
# or "agent" (the long form shown to agents beside the conversation).
CHANNEL_VARIANT = {"sms": "sms", "wechat": "wechat", "webchat": "wechat", "weibo": "wechat",
                   "agent": "agent"}  # fmt: skip


class Attachment(BaseModel):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
    url: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500,
                                          pattern=r"^(https?://|/)[^\s<>\"']+$")]  # fmt: skip


class EntryContent(BaseModel):
    kind: EntryKind = EntryKind.FAQ
    question: Question
    paraphrases: list[Question] = Field(default_factory=list, max_length=MAX_PARAPHRASES)
    answer_sms: str = Field(default="", max_length=SMS_MAX_CHARS)
    answer_wechat: str = Field(default="", max_length=4000)
    answer_agent: str = Field(default="", max_length=8000)
    internal_note: str = Field(default="", max_length=4000)
    body: str = Field(default="", max_length=50_000)
    attachments: list[Attachment] = Field(default_factory=list, max_length=20)
    category: str = Field(default="", max_length=64)
    tags: list[Short] = Field(default_factory=list, max_length=20)
    products: list[Short] = Field(default_factory=list, max_length=20)
    regions: list[Short] = Field(default_factory=list, max_length=50)
    effective_from: datetime | None = None
    expires_at: datetime | None = None

    @field_validator("answer_sms", "answer_wechat", "answer_agent", "internal_note", "body",
                     "category")  # fmt: skip
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()

    @field_validator("paraphrases", "tags", "products", "regions")
    @classmethod
    def _dedupe(cls, values: list[str]) -> list[str]:
        return list(dict.fromkeys(values))

    @field_validator("effective_from", "expires_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        # A date without a zone is read as UTC rather than refused: spreadsheets have no zones.
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value

    @model_validator(mode="after")
    def _complete(self) -> EntryContent:
        if self.kind is EntryKind.FAQ and not (self.answer_sms or self.answer_wechat
                                               or self.answer_agent):  # fmt: skip
            raise ValueError("an FAQ needs at least one answer variant (sms, wechat or agent)")
        if self.kind is EntryKind.ARTICLE and not self.body:
            raise ValueError("an article needs a body")
        if self.effective_from and self.expires_at and self.expires_at <= self.effective_from:
            raise ValueError("expires_at must be after effective_from")
        self.paraphrases = [p for p in self.paraphrases if p != self.question]
        return self

    def answer_for(self, variant: str) -> str:
        return str(getattr(self, f"answer_{variant}", ""))


VERSION_FIELDS = (
    "question", "paraphrases", "answer_sms", "answer_wechat", "answer_agent", "internal_note",
    "body", "attachments", "category", "tags", "products", "regions", "effective_from",
    "expires_at",
)  # fmt: skip
