"""SMS templates: named texts with ``{variable}`` placeholders, approved by a second person.

A template moves draft → pending → approved | rejected; only approved ones send. The approver
is never the author nor the last editor (maker-checker), and every change is audited. An
approved template is never edited: a new text is a new template, so what was approved is
exactly what goes out.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.audit.service import record
from kefu.auth.cache import MISSING, ReadCache
from kefu.db.base import utcnow
from kefu.outbound.models import SmsTemplate

KINDS = ("notification", "marketing", "otp")
STATUSES = ("draft", "pending", "approved", "rejected")
NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
MAX_BODY = 500
# "{{" and "}}" are literal braces; any other brace outside a placeholder is an error.
_TOKEN = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]{0,31})\}|[{}]")


class TemplateError(ValueError):
    """A template request that cannot be honoured: ``field`` names what is wrong."""

    def __init__(self, field: str, message: str, status: int = 422) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.status = status


def _has_control(text: str, allow_newline: bool = False) -> bool:
    return any(
        unicodedata.category(ch).startswith("C") and not (allow_newline and ch == "\n")
        for ch in text
    )


def placeholders(body: str) -> list[str]:
    """The variable names of ``body`` in first-use order; raises on a stray brace."""
    names: list[str] = []
    for match in _TOKEN.finditer(body):
        token = match.group(0)
        if token in ("{{", "}}"):
            continue
        if match.group(1) is None:
            raise TemplateError(
                "body", f"stray {token!r} at {match.start()}; write {{{{ or }}}} for a brace"
            )
        if match.group(1) not in names:
            names.append(match.group(1))
    return names


def check_body(body: str) -> str:
    body = body.strip()
    if not body:
        raise TemplateError("body", "empty")
    if len(body) > MAX_BODY:
        raise TemplateError("body", f"at most {MAX_BODY} characters")
    if _has_control(body, allow_newline=True) or "\r" in body:
        raise TemplateError("body", "control characters other than a line break")
    if "【" in body or "】" in body:
        raise TemplateError("body", "the platform adds the 【signature】; leave it out")
    placeholders(body)
    return body


def render(body: str, variables: Mapping[str, Any], *, max_length: int = 64) -> str:
    """The text with every placeholder filled. Every variable must be given, no other one,
    each a short single line: a value cannot add lines, a signature or control characters."""
    wanted = placeholders(body)
    missing = [n for n in wanted if n not in variables]
    if missing:
        raise TemplateError("variables", f"missing {', '.join(missing)}")
    extra = sorted(set(variables) - set(wanted))
    if extra:
        raise TemplateError("variables", f"not in the template: {', '.join(extra)}")
    values: dict[str, str] = {}
    for name in wanted:
        value = variables[name]
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise TemplateError(f"variables.{name}", "must be a string or a number")
        text = str(value)
        if not text.strip():
            raise TemplateError(f"variables.{name}", "empty")
        if len(text) > max_length:
            raise TemplateError(f"variables.{name}", f"longer than {max_length} characters")
        if _has_control(text):
            raise TemplateError(f"variables.{name}", "line breaks and control characters")
        if "【" in text or "】" in text:
            raise TemplateError(f"variables.{name}", "【 and 】 are reserved for the signature")
        values[name] = text

    def fill(match: re.Match[str]) -> str:
        token = match.group(0)
        return {"{{": "{", "}}": "}"}.get(token) or values[match.group(1)]

    return _TOKEN.sub(fill, body)


async def by_name(db: AsyncSession, name: str) -> SmsTemplate | None:
    return await db.scalar(select(SmsTemplate).where(SmsTemplate.name == name))


# Templates by name for the send API, 2 s; any write to sms_templates in this process empties
# it (an approval, a rejection, a new template), another process's is seen within the 2 s.
_by_name: ReadCache[str, SmsTemplate | None] = ReadCache(SmsTemplate)


async def cached_by_name(db: AsyncSession, name: str) -> SmsTemplate | None:
    """``by_name`` for read-only use: the template comes detached from any session (shared
    by the requests of the next 2 s), so it must not be changed."""
    template = _by_name.get(name)
    if template is not MISSING:
        return template
    generation = _by_name.generation
    template = await by_name(db, name)
    if template is not None:
        db.expunge(template)  # loaded whole; read by other requests' sessions from now on
    _by_name.put(name, template, generation)
    return template


async def create(
    db: AsyncSession,
    *,
    name: str,
    kind: str,
    body: str,
    actor: str,
    partner_id: int | None = None,
) -> SmsTemplate:
    name = name.strip()
    if not NAME.match(name):
        raise TemplateError("name", "1-64 of a-z 0-9 _ . - (starting with a letter or digit)")
    if kind not in KINDS:
        raise TemplateError("kind", f"one of {', '.join(KINDS)}")
    body = check_body(body)
    taken = TemplateError("name", f"a template called {name!r} already exists", 409)
    if await by_name(db, name) is not None:
        raise taken
    template = SmsTemplate(name=name, kind=kind, body=body, partner_id=partner_id,
                           status="draft", created_by=actor, updated_by=actor)  # fmt: skip
    try:
        # Two requests creating one name at once both pass the check above; the unique key
        # decides, and the loser gets the same 409 (a savepoint keeps the caller's work).
        async with db.begin_nested():
            db.add(template)
    except IntegrityError:
        raise taken from None
    await _audit(db, template, actor, "sms_template.create", body=body, kind=kind)
    return template


async def edit(
    db: AsyncSession, template: SmsTemplate, *, actor: str, body: str, kind: str | None = None
) -> SmsTemplate:
    if template.status not in ("draft", "rejected"):
        raise TemplateError(
            "status", f"a {template.status} template is not edited; create a new one", 409
        )
    if kind is not None and kind not in KINDS:
        raise TemplateError("kind", f"one of {', '.join(KINDS)}")
    template.body = check_body(body)
    template.kind = kind or template.kind
    template.status = "draft"
    template.updated_by = actor
    await _audit(db, template, actor, "sms_template.edit", body=template.body, kind=template.kind)
    return template


async def submit(db: AsyncSession, template: SmsTemplate, *, actor: str) -> SmsTemplate:
    if template.status not in ("draft", "rejected"):
        raise TemplateError("status", f"only a draft is submitted (this one is {template.status})",
                            409)  # fmt: skip
    template.status = "pending"
    template.submitted_at = utcnow()
    template.reviewed_by = template.review_note = template.reviewed_at = None
    await _audit(db, template, actor, "sms_template.submit")
    return template


async def review(
    db: AsyncSession, template: SmsTemplate, *, actor: str, approve: bool, note: str = ""
) -> SmsTemplate:
    """Approve or reject a pending template; never by its author or last editor."""
    if template.status != "pending":
        raise TemplateError("status", f"only a pending template is reviewed (this one is "
                                      f"{template.status})", 409)  # fmt: skip
    if actor in (template.created_by, template.updated_by):
        raise TemplateError(
            "reviewer", "the author or last editor may not review their own template", 403
        )
    note = note.strip()
    if not approve and not note:
        raise TemplateError("note", "say why the template is rejected")
    if len(note) > 500:
        raise TemplateError("note", "at most 500 characters")
    template.status = "approved" if approve else "rejected"
    template.reviewed_by = actor
    template.review_note = note or None
    template.reviewed_at = utcnow()
    action = "sms_template.approve" if approve else "sms_template.reject"
    await _audit(db, template, actor, action, note=note)
    return template


async def _audit(
    db: AsyncSession, template: SmsTemplate, actor: str, action: str, **details: Any
) -> None:
    await record(db, actor=actor[:80], action=action, target=f"sms_template:{template.id}",
                 details={"name": template.name, "status": template.status,
                          "partner_id": template.partner_id, **details})  # fmt: skip
