"""JSON API of the knowledge base: answers for the assistant, suggestions for agents,
entries and workflow for editors, gaps. Errors are problem+json (``/api/`` paths)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.auth.permissions import Permission
from kefu.knowledge import answering, gaps, service
from kefu.knowledge.answering import Answer, HandOver, QuestionError, Suggestions
from kefu.knowledge.content import CHANNEL_VARIANT, EntryContent
from kefu.knowledge.live import mark_stale
from kefu.knowledge.models import KnowledgeEntry
from kefu.web.deps import DB_SESSION, Principal, require

router = APIRouter(prefix="/api/v1/knowledge", tags=["knowledge"])
can_read = require(Permission.KNOWLEDGE_READ)
can_edit = require(Permission.KNOWLEDGE_EDIT)
can_publish = require(Permission.KNOWLEDGE_PUBLISH)

ChannelName = Literal["sms", "wechat", "webchat", "weibo", "agent"]
assert set(ChannelName.__args__) == set(CHANNEL_VARIANT)  # type: ignore[attr-defined]


def _ip(request: Request) -> str | None:
    return request.client.host if request.client else None


class QuestionIn(BaseModel):
    question: str = Field(min_length=1, max_length=answering.MAX_QUESTION_CHARS)
    channel: ChannelName
    region: str | None = Field(default=None, max_length=32)


class ChoiceOut(BaseModel):
    number: int
    entry_id: int
    question: str
    score: float


class AnswerOut(BaseModel):
    type: Literal["answer", "suggestions", "handover"]
    entry_id: int | None = None
    version: int | None = None
    question: str | None = None
    text: str | None = None  # the answer, or the numbered prompt for suggestions
    score: float | None = None
    choices: list[ChoiceOut] = []
    reason: str | None = None


def _answer_out(result: Answer | Suggestions | HandOver) -> AnswerOut:
    if isinstance(result, Answer):
        return AnswerOut(type="answer", entry_id=result.entry_id, version=result.version,
                         question=result.question, text=result.text, score=result.score)  # fmt: skip
    if isinstance(result, Suggestions):
        return AnswerOut(type="suggestions", text=result.prompt,
                         choices=[ChoiceOut(**c.__dict__) for c in result.choices])  # fmt: skip
    return AnswerOut(type="handover", reason=result.reason, score=result.best_score)


@router.post("/answer", summary="Answer a customer's question for a channel")
async def answer(
    body: QuestionIn,
    _: Principal = Depends(can_read),
    db: AsyncSession = DB_SESSION,
) -> AnswerOut:
    try:
        result = await answering.answer(db, question=body.question, channel=body.channel,
                                        region=body.region)  # fmt: skip
    except QuestionError as exc:
        raise HTTPException(422, str(exc)) from None
    return _answer_out(result)


class SuggestionOut(BaseModel):
    entry_id: int
    question: str
    matched: str
    score: float
    answer: str
    long_form: str
    internal_note: str


@router.get("/suggestions", summary="Top entries for an agent beside a conversation")
async def suggestions(
    text: Annotated[str, Query(min_length=1, max_length=answering.MAX_QUESTION_CHARS)],
    channel: ChannelName = "agent",
    k: Annotated[int, Query(ge=1, le=20)] = 5,
    _: Principal = Depends(can_read),
    db: AsyncSession = DB_SESSION,
) -> list[SuggestionOut]:
    try:
        found = await answering.suggest(db, text=text, channel=channel, k=k)
    except QuestionError as exc:
        raise HTTPException(422, str(exc)) from None
    return [SuggestionOut(**s.__dict__) for s in found]


class FeedbackIn(BaseModel):
    entry_id: int = Field(ge=1)
    question: str = Field(min_length=1, max_length=answering.MAX_QUESTION_CHARS)
    channel: ChannelName
    helpful: bool


@router.post("/feedback", status_code=204, summary="A customer's rating of an answer")
async def feedback(
    body: FeedbackIn,
    _: Principal = Depends(can_read),
    db: AsyncSession = DB_SESSION,
) -> None:
    await answering.rate_answer(db, entry_id=body.entry_id, question=body.question,
                                channel=body.channel, helpful=body.helpful)  # fmt: skip


class EntryOut(BaseModel):
    id: int
    kind: str
    status: str
    title: str
    category: str
    latest_version: int
    published_version: int | None
    updated_at: datetime
    content: dict[str, Any] | None = None


async def _entry_out(db: AsyncSession, entry: KnowledgeEntry, with_content: bool) -> EntryOut:
    content = None
    if with_content:
        version = await service.get_version(db, entry_id=entry.id, number=entry.latest_version)
        content = service.content_of(version, entry.kind).model_dump(mode="json")
    return EntryOut(id=entry.id, kind=entry.kind, status=entry.status, title=entry.title,
                    category=entry.category, latest_version=entry.latest_version,
                    published_version=entry.published_version, updated_at=entry.updated_at,
                    content=content)  # fmt: skip


@router.get("/entries", summary="Entries, newest change first")
async def list_entries(
    status: Annotated[str | None, Query(pattern="^(draft|review|published|retired)$")] = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
    _: Principal = Depends(can_read),
    db: AsyncSession = DB_SESSION,
) -> list[EntryOut]:
    rows, _total = await service.list_entries(db, status=status, text=q, limit=limit, offset=offset)
    return [await _entry_out(db, e, False) for e in rows]


@router.get("/entries/{entry_id}", summary="One entry with its latest version's content")
async def get_entry(
    entry_id: int,
    _: Principal = Depends(can_read),
    db: AsyncSession = DB_SESSION,
) -> EntryOut:
    try:
        return await _entry_out(db, await service.get_entry(db, entry_id=entry_id), True)
    except service.NotFound as exc:
        raise HTTPException(404, str(exc)) from None


@router.post("/entries", status_code=201, summary="Create a draft")
async def create_entry(
    body: EntryContent,
    request: Request,
    principal: Principal = Depends(can_edit),
    db: AsyncSession = DB_SESSION,
) -> EntryOut:
    entry = await service.create_entry(db, actor=principal.name, content=body, ip=_ip(request))
    return await _entry_out(db, entry, True)


@router.put("/entries/{entry_id}", summary="Save a new draft version")
async def update_entry(
    entry_id: int,
    body: EntryContent,
    request: Request,
    principal: Principal = Depends(can_edit),
    db: AsyncSession = DB_SESSION,
) -> EntryOut:
    try:
        await service.update_entry(db, actor=principal.name, entry_id=entry_id, content=body,
                                   ip=_ip(request))  # fmt: skip
        return await _entry_out(db, await service.get_entry(db, entry_id=entry_id), True)
    except service.NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except service.KnowledgeError as exc:
        raise HTTPException(409, str(exc)) from None


class CommentIn(BaseModel):
    comment: str = Field(default="", max_length=500)


async def _act(db: AsyncSession, action: str, entry_id: int, principal: Principal,
               comment: str, ip: str | None) -> KnowledgeEntry:  # fmt: skip
    try:
        if action == "submit":
            entry = await service.submit_for_review(
                db, actor=principal.name, entry_id=entry_id, ip=ip
            )
        elif action == "approve":
            entry = await service.approve(db, actor=principal.name, entry_id=entry_id,
                                          comment=comment, ip=ip)  # fmt: skip
        elif action == "reject":
            entry = await service.reject(db, actor=principal.name, entry_id=entry_id,
                                         comment=comment, ip=ip)  # fmt: skip
        else:
            entry = await service.retire(db, actor=principal.name, entry_id=entry_id,
                                         comment=comment, ip=ip)  # fmt: skip
    except service.NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except service.KnowledgeError as exc:
        raise HTTPException(409, str(exc)) from None
    mark_stale(db)
    return entry


@router.post("/entries/{entry_id}/submit", summary="Send the draft for review")
async def submit(
    entry_id: int, request: Request, principal: Principal = Depends(can_edit),
    db: AsyncSession = DB_SESSION,
) -> EntryOut:  # fmt: skip
    return await _entry_out(
        db, await _act(db, "submit", entry_id, principal, "", _ip(request)), False
    )


@router.post("/entries/{entry_id}/{action}", summary="Approve, reject or retire (publishers)")
async def decide(
    entry_id: int,
    action: Literal["approve", "reject", "retire"],
    request: Request,
    body: CommentIn | None = None,
    principal: Principal = Depends(can_publish),
    db: AsyncSession = DB_SESSION,
) -> EntryOut:
    comment = body.comment if body else ""
    entry = await _act(db, action, entry_id, principal, comment, _ip(request))
    return await _entry_out(db, entry, False)


class DiffOut(BaseModel):
    field: str
    lines: list[str]


@router.get("/entries/{entry_id}/diff", summary="Differences between two versions")
async def diff(
    entry_id: int,
    old: Annotated[int, Query(ge=1)],
    new: Annotated[int, Query(ge=1)],
    _: Principal = Depends(can_read),
    db: AsyncSession = DB_SESSION,
) -> list[DiffOut]:
    try:
        found = await service.diff_versions(db, entry_id=entry_id, old=old, new=new)
    except service.NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    return [DiffOut(field=d.field, lines=d.lines) for d in found]


class GapTopicOut(BaseModel):
    label: str
    count: int
    kinds: dict[str, int]
    examples: list[str]
    gap_ids: list[int]


@router.get("/gaps", summary="Unanswered and unhelpful questions grouped by topic")
async def gap_topics(
    _: Principal = Depends(can_edit), db: AsyncSession = DB_SESSION
) -> list[GapTopicOut]:
    return [
        GapTopicOut(
            label=t.label,
            count=t.count,
            kinds=t.kinds,
            examples=list(t.examples),
            gap_ids=list(t.gap_ids),
        )  # fmt: skip
        for t in await gaps.gap_topics(db)
    ]
