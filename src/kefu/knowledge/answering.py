"""What the assistant and the agents ask of the knowledge base.

``answer`` decides with two thresholds of the matcher's probability (tuned on real bank
question pairs, see :mod:`kefu.knowledge.training`): above the upper one the customer gets the
answer written for their channel; between the two they are offered numbered choices
("您是不是想问：1) … 2) …") and reply with a number; below, the question goes to a person and is
kept as a gap so the next FAQ is written from real demand.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from kefu.db.base import utcnow
from kefu.knowledge.content import CHANNEL_VARIANT, SMS_MAX_CHARS
from kefu.knowledge.index import Hit, IndexedEntry
from kefu.knowledge.live import live_index
from kefu.knowledge.models import KnowledgeGap

MAX_QUESTION_CHARS = 500
MAX_CHOICES = 3
_CN_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5}


class QuestionError(ValueError):
    pass


@dataclass(frozen=True)
class Answer:
    entry_id: int
    version: int
    question: str  # the FAQ's standard question
    text: str  # the variant for the channel
    score: float


@dataclass(frozen=True)
class Choice:
    number: int
    entry_id: int
    question: str
    score: float


@dataclass(frozen=True)
class Suggestions:
    prompt: str
    choices: tuple[Choice, ...]

    def pick(self, reply: str) -> Choice | None:
        """The choice a reply names: "2", "２", "2)", "第二个", "二"; None when it names none."""
        text = unicodedata.normalize("NFKC", reply).strip()
        match = re.fullmatch(r"(?:第)?\s*(\d+|[一二两三四五])\s*(?:个|条|项)?\s*[).、.。]?", text)
        if not match:
            return None
        token = match.group(1)
        number = int(token) if token.isdigit() else _CN_DIGITS[token]
        return next((c for c in self.choices if c.number == number), None)


@dataclass(frozen=True)
class HandOver:
    reason: str  # "no_match" | "no_variant"
    best_score: float | None


def _validate(question: str, channel: str) -> str:
    question = question.strip()
    if not question:
        raise QuestionError("question is empty")
    if len(question) > MAX_QUESTION_CHARS:
        raise QuestionError(f"question longer than {MAX_QUESTION_CHARS} characters")
    if channel not in CHANNEL_VARIANT:
        raise QuestionError(f"unknown channel {channel!r}; one of {sorted(CHANNEL_VARIANT)}")
    return question


def variant_text(entry: IndexedEntry, channel: str) -> str | None:
    """The answer written for the channel; a shorter variant stands in only where it fits."""
    variant = CHANNEL_VARIANT[channel]
    order = {"sms": ("sms", "wechat"), "wechat": ("wechat", "sms", "agent"),
             "agent": ("agent", "wechat", "sms")}[variant]  # fmt: skip
    for name in order:
        text = entry.answers.get(name, "")
        if text and (variant != "sms" or len(text) <= SMS_MAX_CHARS):
            return text
    return None


def prompt_for(choices: tuple[Choice, ...]) -> str:
    lines = [f"{c.number}) {c.question}" for c in choices]
    return "您是不是想问：\n" + "\n".join(lines) + "\n请回复序号。"


async def answer(
    session: AsyncSession,
    *,
    question: str,
    channel: str,
    region: str | None = None,
    now: datetime | None = None,
    record_gap: bool = True,
) -> Answer | Suggestions | HandOver:
    question = _validate(question, channel)
    index = await live_index(session)
    matcher = index.matcher
    hits = index.search(question, k=MAX_CHOICES, now=now or utcnow(), region=region)
    best = hits[0].score if hits else None
    if hits and hits[0].score >= matcher.answer_threshold:
        text = variant_text(hits[0].entry, channel)
        if text is not None:
            return _answer(hits[0], text)
        reason = "no_variant"
    else:
        choices = tuple(
            Choice(i, h.entry.entry_id, h.entry.question, h.score)
            for i, h in enumerate((h for h in hits if h.score >= matcher.suggest_threshold), 1)
        )
        if choices:
            return Suggestions(prompt_for(choices), choices)
        reason = "no_match"
    if record_gap:
        await record_gap_entry(session, kind="unanswered", question=question, channel=channel,
                               score=best, entry_id=None)  # fmt: skip
    return HandOver(reason, best)


def _answer(hit: Hit, text: str) -> Answer:
    e = hit.entry
    return Answer(e.entry_id, e.version, e.question, text, hit.score)


async def answer_choice(
    session: AsyncSession, *, entry_id: int, channel: str, now: datetime | None = None
) -> Answer | HandOver:
    """The answer for a picked choice, if that entry is still live."""
    _validate("-", channel)
    entry = (await live_index(session)).get(entry_id)
    if entry is None or not entry.live(now or utcnow()):
        return HandOver("no_match", None)
    text = variant_text(entry, channel)
    if text is None:
        return HandOver("no_variant", None)
    return Answer(entry.entry_id, entry.version, entry.question, text, 1.0)


@dataclass(frozen=True)
class AgentSuggestion:
    entry_id: int
    question: str
    matched: str
    score: float
    answer: str  # what the agent inserts for the conversation's channel
    long_form: str
    internal_note: str


async def suggest(
    session: AsyncSession,
    *,
    text: str,
    channel: str = "agent",
    k: int = 5,
    region: str | None = None,
) -> list[AgentSuggestion]:
    """Top entries beside a conversation, best first, whatever their score: the agent
    judges."""
    text = _validate(text, channel)
    index = await live_index(session)
    hits = index.search(text, k=k, now=utcnow(), region=region, kinds=("faq", "article"))
    return [
        AgentSuggestion(
            h.entry.entry_id,
            h.entry.question,
            h.matched,
            h.score,
            variant_text(h.entry, channel) or "",
            h.entry.answers.get("agent", ""),
            h.entry.internal_note,
        )  # fmt: skip
        for h in hits
    ]


async def record_gap_entry(
    session: AsyncSession,
    *,
    kind: str,
    question: str,
    channel: str,
    score: float | None,
    entry_id: int | None,
) -> KnowledgeGap:
    gap = KnowledgeGap(kind=kind, question=question[:500], channel=channel[:16],
                       score=score, entry_id=entry_id)  # fmt: skip
    session.add(gap)
    await session.flush()
    return gap


async def rate_answer(
    session: AsyncSession, *, entry_id: int, question: str, channel: str, helpful: bool
) -> KnowledgeGap | None:
    """A customer's verdict on an answer; unhelpful ones become gaps for the editors."""
    question = _validate(question, channel)
    if helpful:
        return None
    return await record_gap_entry(session, kind="unhelpful", question=question,
                                  channel=channel, score=None, entry_id=entry_id)  # fmt: skip
