"""The editors' pages: list and search, edit with per-channel preview, review queue, diffs,
gaps, import and export. Agents may browse; editing and publishing are role-checked."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.auth.permissions import Permission
from kefu.knowledge import gaps, importexport, service
from kefu.knowledge.api import router as api_router
from kefu.knowledge.content import SMS_MAX_CHARS, EntryContent, EntryKind, EntryStatus
from kefu.knowledge.live import mark_stale
from kefu.knowledge.richtext import plain_text, sanitize
from kefu.web.deps import DB_SESSION, Principal, check_csrf, csrf_token, require
from kefu.web.i18n import N_

# Fixed paths come before /knowledge/{entry_id}: routes match in order of registration.
router = APIRouter(include_in_schema=False)
router.include_router(api_router, include_in_schema=True)
can_read = require(Permission.KNOWLEDGE_READ)
can_edit = require(Permission.KNOWLEDGE_EDIT)
can_publish = require(Permission.KNOWLEDGE_PUBLISH)
PAGE_SIZE = 30
MAX_UPLOAD_BYTES = 5 * 1024 * 1024


def _render(request: Request, name: str, principal: Principal, **context: Any) -> Response:
    from kefu.web.templating import templates

    status = context.pop("status_code", 200)
    return templates.TemplateResponse(
        request, f"knowledge/{name}",
        {"principal": principal, "csrf": csrf_token(request), **context}, status_code=status,
    )  # fmt: skip


def _ip(request: Request) -> str | None:
    return request.client.host if request.client else None


STAFF_CHANNELS = ("agent", "sms", "wechat", "webchat", "weibo")
# The variant labels the search page renders through _("variant:" ~ channel).
# The field names of a version diff, rendered through _("field:" ~ name).
FIELD_LABELS = [N_("field:question"), N_("field:paraphrases"), N_("field:answer_sms"), N_("field:answer_wechat"),
                N_("field:answer_agent"), N_("field:internal_note"), N_("field:body"), N_("field:attachments"),
                N_("field:category"), N_("field:tags"), N_("field:products"), N_("field:regions"),
                N_("field:effective_from"), N_("field:expires_at")]  # fmt: skip
VARIANT_LABELS = [N_("variant:agent"), N_("variant:sms"), N_("variant:wechat"), N_("variant:webchat"),
                  N_("variant:weibo")]  # fmt: skip


async def staff_search(
    db: AsyncSession, text: str, *, channel: str = "agent", k: int = 10
) -> list[Any]:
    """The bot's own retrieval (BM25 candidates scored by the trained matcher, published and
    live entries only) for staff: best score first, with the answer written for ``channel``."""
    from kefu.knowledge.answering import suggest

    if not text.strip():
        return []
    found = await suggest(db, text=text, channel=channel, k=k)
    return sorted(found, key=lambda s: (-s.score, s.entry_id))


@router.get("/knowledge")
async def list_page(
    request: Request,
    q: Annotated[str, Query(max_length=100)] = "",
    channel: Annotated[str, Query(pattern="^(agent|sms|wechat|webchat|weibo)$")] = "agent",
    status: Annotated[str, Query(pattern="^(|draft|review|published|retired)$")] = "",
    category: Annotated[str, Query(max_length=64)] = "",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    principal: Principal = Depends(can_read),
    db: AsyncSession = DB_SESSION,
) -> Response:
    entries, total = await service.list_entries(db, status=status or None, text=q or None,
                                                category=category or None, limit=PAGE_SIZE,
                                                offset=(page - 1) * PAGE_SIZE)  # fmt: skip
    hits = await staff_search(db, q, channel=channel) if q.strip() else []
    return _render(request, "list.html", principal, entries=entries, total=total, q=q, hits=hits,
                   channel=channel, channels=STAFF_CHANNELS,
                   status=status, category=category, page=page,
                   pages=max(1, math.ceil(total / PAGE_SIZE)),
                   categories=await service.categories(db),
                   statuses=[s.value for s in EntryStatus])  # fmt: skip


@router.get("/knowledge/review")
async def review_page(
    request: Request, principal: Principal = Depends(can_publish),
    db: AsyncSession = DB_SESSION,
) -> Response:  # fmt: skip
    entries, total = await service.list_entries(db, status=EntryStatus.REVIEW.value, limit=200)
    return _render(request, "review.html", principal, entries=entries, total=total)


@router.get("/knowledge/gaps")
async def gaps_page(
    request: Request,
    principal: Principal = Depends(can_edit),
    db: AsyncSession = DB_SESSION,
) -> Response:
    return _render(request, "gaps.html", principal, topics=await gaps.gap_topics(db))


@router.post("/knowledge/gaps/resolve")
async def resolve_gaps(
    request: Request,
    ids: str = Form(..., max_length=20_000),
    csrf: str = Form(""),
    principal: Principal = Depends(can_edit),
    db: AsyncSession = DB_SESSION,
) -> Response:
    check_csrf(request, csrf)
    try:
        gap_ids = [int(i) for i in ids.split(",") if i.strip()]
    except ValueError:
        raise HTTPException(422, "ids must be comma-separated numbers") from None
    await gaps.resolve_gaps(db, gap_ids=gap_ids, actor=principal.name, ip=_ip(request))
    return RedirectResponse("/knowledge/gaps", status_code=303)


# --- agent suggestions -----------------------------------------------------------------------
@router.get("/knowledge/assist")
async def assist_page(
    request: Request,
    text: Annotated[str, Query(max_length=500)] = "",
    principal: Principal = Depends(can_read),
) -> Response:
    """Try the suggestions an agent sees beside a conversation (the workspace embeds the
    fragment below)."""
    return _render(request, "assist.html", principal, text=text)


@router.get("/knowledge/fragments/suggestions")
async def suggestions_fragment(
    request: Request,
    text: Annotated[str, Query(max_length=500)] = "",
    channel: Annotated[str, Query(pattern="^(sms|wechat|webchat|weibo|agent)$")] = "agent",
    target: Annotated[str, Query(pattern=r"^[#.][A-Za-z][\w-]{0,40}$")] = "#reply",
    principal: Principal = Depends(can_read),
    db: AsyncSession = DB_SESSION,
) -> Response:
    """Top five entries as an htmx fragment; Alt+1…5 inserts that answer into ``target``."""
    from kefu.knowledge.answering import suggest

    found = await suggest(db, text=text, channel=channel, k=5) if text.strip() else []
    # Best score first: the percentage the agent reads is the order they get (the index
    # orders by a blended rank, which could put 79 % below 75 %).
    found = sorted(found, key=lambda s: (-s.score, s.entry_id))
    return _render(request, "suggestions.html", principal, suggestions=found, target=target)


# --- editing ---------------------------------------------------------------------------------
def _split(text: str, *, lines: bool = False) -> list[str]:
    parts = text.splitlines() if lines else text.replace("，", ",").replace("|", ",").split(",")
    return [p.strip() for p in parts if p.strip()]


def _when(value: str) -> datetime | None:
    if not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise HTTPException(422, f"not a date and time: {value[:40]!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _attachments(text: str) -> list[dict[str, str]]:
    """One attachment per line, "name | url"; a bare URL names itself."""
    out = []
    for line in _split(text, lines=True):
        name, sep, url = line.rpartition("|")
        out.append({"name": name.strip() if sep else url.strip(), "url": url.strip()})
    return out


def _form_values(form: dict[str, str]) -> dict[str, Any]:
    return {
        "kind": form.get("kind") or "faq",
        "question": form.get("question", ""),
        "paraphrases": _split(form.get("paraphrases", ""), lines=True),
        "answer_sms": form.get("answer_sms", ""),
        "answer_wechat": form.get("answer_wechat", ""),
        "answer_agent": form.get("answer_agent", ""),
        "internal_note": form.get("internal_note", ""),
        "body": form.get("body", ""),
        "attachments": _attachments(form.get("attachments", "")),
        "category": form.get("category", ""),
        "tags": _split(form.get("tags", "")),
        "products": _split(form.get("products", "")),
        "regions": _split(form.get("regions", "")),
        "effective_from": _when(form.get("effective_from", "")),
        "expires_at": _when(form.get("expires_at", "")),
    }


def _form_of(content: EntryContent | None, question: str = "") -> dict[str, str]:
    if content is None:
        return {"kind": "faq", "question": question}
    return {
        "kind": content.kind.value, "question": content.question,
        "paraphrases": "\n".join(content.paraphrases), "answer_sms": content.answer_sms,
        "answer_wechat": content.answer_wechat, "answer_agent": content.answer_agent,
        "internal_note": content.internal_note, "body": content.body,
        "attachments": "\n".join(f"{a.name} | {a.url}" for a in content.attachments),
        "category": content.category, "tags": ", ".join(content.tags),
        "products": ", ".join(content.products), "regions": ", ".join(content.regions),
        "effective_from": content.effective_from.strftime("%Y-%m-%dT%H:%M") if content.effective_from else "",
        "expires_at": content.expires_at.strftime("%Y-%m-%dT%H:%M") if content.expires_at else "",
    }  # fmt: skip


async def _read_form(request: Request) -> dict[str, str]:
    form = await request.form()
    out = {}
    for key, value in form.items():
        if isinstance(value, str):
            if len(value) > 60_000:
                raise HTTPException(413, f"field {key} is too long")
            out[key] = value
    return out


def _errors(exc: ValidationError) -> list[str]:
    return [f"{'.'.join(str(p) for p in e['loc']) or '-'}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()]  # fmt: skip


@router.get("/knowledge/new")
async def new_page(
    request: Request,
    question: Annotated[str, Query(max_length=300)] = "",
    principal: Principal = Depends(can_edit),
) -> Response:
    return _render(request, "edit.html", principal, entry=None, form=_form_of(None, question),
                   errors=[], kinds=[k.value for k in EntryKind])  # fmt: skip


@router.post("/knowledge/new")
async def new_submit(
    request: Request,
    principal: Principal = Depends(can_edit),
    db: AsyncSession = DB_SESSION,
) -> Response:
    form = await _read_form(request)
    check_csrf(request, form.get("csrf"))
    try:
        content = EntryContent.model_validate(_form_values(form))
    except ValidationError as exc:
        return _render(request, "edit.html", principal, entry=None, form=form, errors=_errors(exc),
                       kinds=[k.value for k in EntryKind], status_code=422)  # fmt: skip
    entry = await service.create_entry(db, actor=principal.name, content=content, ip=_ip(request))
    return RedirectResponse(f"/knowledge/{entry.id}", status_code=303)


async def _entry_or_404(db: AsyncSession, entry_id: int):  # type: ignore[no-untyped-def]
    try:
        return await service.get_entry(db, entry_id=entry_id)
    except service.NotFound as exc:
        raise HTTPException(404, str(exc)) from None


@router.get("/knowledge/{entry_id}/edit")
async def edit_page(
    request: Request, entry_id: int, principal: Principal = Depends(can_edit),
    db: AsyncSession = DB_SESSION,
) -> Response:  # fmt: skip
    entry = await _entry_or_404(db, entry_id)
    version = await service.get_version(db, entry_id=entry_id, number=entry.latest_version)
    return _render(request, "edit.html", principal, entry=entry, errors=[],
                   form=_form_of(service.content_of(version, entry.kind)),
                   kinds=[entry.kind])  # fmt: skip


@router.post("/knowledge/{entry_id}/edit")
async def edit_submit(
    request: Request, entry_id: int, principal: Principal = Depends(can_edit),
    db: AsyncSession = DB_SESSION,
) -> Response:  # fmt: skip
    entry = await _entry_or_404(db, entry_id)
    form = await _read_form(request)
    check_csrf(request, form.get("csrf"))
    form["kind"] = entry.kind
    try:
        content = EntryContent.model_validate(_form_values(form))
    except ValidationError as exc:
        return _render(request, "edit.html", principal, entry=entry, form=form, errors=_errors(exc),
                       kinds=[entry.kind], status_code=422)  # fmt: skip
    await service.update_entry(db, actor=principal.name, entry_id=entry_id, content=content,
                               ip=_ip(request))  # fmt: skip
    return RedirectResponse(f"/knowledge/{entry_id}", status_code=303)


@router.get("/knowledge/{entry_id}")
async def entry_page(
    request: Request,
    entry_id: int,
    version: Annotated[int | None, Query(ge=1)] = None,
    principal: Principal = Depends(can_read),
    db: AsyncSession = DB_SESSION,
) -> Response:
    entry = await _entry_or_404(db, entry_id)
    versions = await service.list_versions(db, entry_id=entry_id)
    shown = next((v for v in versions if v.number == (version or entry.latest_version)), None)
    if shown is None:
        raise HTTPException(404, f"entry {entry_id} has no version {version}")
    diff = []
    if shown.number > 1:
        diff = await service.diff_versions(db, entry_id=entry_id, old=shown.number - 1,
                                           new=shown.number)  # fmt: skip
    sms = shown.answer_sms or plain_text(shown.answer_wechat)
    return _render(request, "entry.html", principal, entry=entry, v=shown, versions=versions,
                   diff=diff, wechat_html=sanitize(shown.answer_wechat),
                   body_html=sanitize(shown.body), sms_preview=sms, sms_chars=len(sms),
                   sms_segments=_segments(sms), sms_max=SMS_MAX_CHARS,
                   can_edit=principal.can(Permission.KNOWLEDGE_EDIT),
                   can_publish=principal.can(Permission.KNOWLEDGE_PUBLISH))  # fmt: skip


def _segments(text: str) -> int:
    """SMS segments for UCS-2 text: 70 characters fit one, 67 per part once concatenated."""
    if not text:
        return 0
    return 1 if len(text) <= 70 else math.ceil(len(text) / 67)


@router.post("/knowledge/{entry_id}/submit")
async def submit_form(
    request: Request, entry_id: int, csrf: str = Form(""),
    principal: Principal = Depends(can_edit), db: AsyncSession = DB_SESSION,
) -> Response:  # fmt: skip
    check_csrf(request, csrf)
    await _workflow(db, "submit", entry_id, principal, "", _ip(request))
    return RedirectResponse(f"/knowledge/{entry_id}", status_code=303)


@router.post("/knowledge/{entry_id}/decide")
async def decide_form(
    request: Request,
    entry_id: int,
    action: str = Form(..., pattern="^(approve|reject|retire)$"),
    comment: str = Form("", max_length=500),
    csrf: str = Form(""),
    principal: Principal = Depends(can_publish),
    db: AsyncSession = DB_SESSION,
) -> Response:
    check_csrf(request, csrf)
    await _workflow(db, action, entry_id, principal, comment, _ip(request))
    return RedirectResponse(f"/knowledge/{entry_id}", status_code=303)


async def _workflow(db: AsyncSession, action: str, entry_id: int, principal: Principal,
                    comment: str, ip: str | None) -> None:  # fmt: skip
    from kefu.knowledge.api import _act

    await _act(db, action, entry_id, principal, comment, ip)
    mark_stale(db)


# --- import / export -------------------------------------------------------------------------
@router.get("/knowledge/io/import")
async def import_page(request: Request, principal: Principal = Depends(can_edit)) -> Response:
    return _render(request, "import.html", principal, report=None, error=None,
                   columns=importexport.COLUMNS)  # fmt: skip


@router.post("/knowledge/io/import")
async def import_submit(
    request: Request,
    file: UploadFile = File(...),
    csrf: str = Form(""),
    publish: bool = Form(False),
    principal: Principal = Depends(can_edit),
    db: AsyncSession = DB_SESSION,
) -> Response:
    check_csrf(request, csrf)
    data = await file.read(MAX_UPLOAD_BYTES + 1)
    name = (file.filename or "").lower()
    context: dict[str, Any] = {"columns": importexport.COLUMNS, "report": None, "error": None}
    if len(data) > MAX_UPLOAD_BYTES:
        context["error"] = f"file larger than {MAX_UPLOAD_BYTES // 1024 // 1024} MB"
    elif not name.endswith((".csv", ".xlsx")):
        context["error"] = "choose a .csv or .xlsx file"
    else:
        reader = importexport.read_xlsx if name.endswith(".xlsx") else importexport.read_csv
        # Publishing on import is for publishers only; anyone else gets drafts.
        publish = publish and principal.can(Permission.KNOWLEDGE_PUBLISH)
        try:
            context["report"] = await importexport.import_rows(
                db, rows=reader(data), actor=principal.name, publish=publish, ip=_ip(request)
            )
        except importexport.ImportFormatError as exc:
            context["error"] = str(exc)
        if context["report"] is not None and context["report"].ok:
            mark_stale(db)
    failed = context["error"] or (context["report"] and not context["report"].ok)
    return _render(request, "import.html", principal, status_code=422 if failed else 200, **context)


@router.get("/knowledge/io/export.{fmt}")
async def export(
    fmt: str,
    status: Annotated[str, Query(pattern="^(|draft|review|published|retired)$")] = "",
    principal: Principal = Depends(can_edit),
    db: AsyncSession = DB_SESSION,
) -> Response:
    if fmt not in {"csv", "xlsx"}:
        raise HTTPException(404, "export as .csv or .xlsx")
    rows = await importexport.export_rows(db, status=status or None)
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    if fmt == "csv":
        body, media = importexport.write_csv(rows), "text/csv; charset=utf-8"
    else:
        body = importexport.write_xlsx(rows)
        media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(body, media_type=media, headers={
        "Content-Disposition": f'attachment; filename="kefu-faq-{stamp}.{fmt}"'})  # fmt: skip
