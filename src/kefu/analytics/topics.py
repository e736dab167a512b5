"""Topics (专题): analyses the analyst saves over a set of pages and events — e.g. "信用卡"
over ``/demo/bank/cards/*`` — each with its own sources and behaviour views, which are the
standard analyses over the sessions that touched the topic (:meth:`Period.within`)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.analytics.models import Topic
from kefu.web.i18n import gettext_ as _

MAX_ITEMS = 50


class TopicError(ValueError):
    """What is wrong with a topic, in words for the analyst."""


@dataclass(frozen=True)
class TopicIn:
    site: str
    name: str
    description: str
    pages: tuple[str, ...]
    events: tuple[str, ...]


def _lines(text: str) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for part in text.replace(",", "\n").splitlines():
        if part.strip():
            seen[part.strip()] = None
    return tuple(seen)


def parse(site: str, name: str, description: str, pages: str, events: str) -> TopicIn:
    """A topic from the form's text (one page or event per line, or comma-separated)."""
    name, description = name.strip(), description.strip()
    if not 1 <= len(name) <= 80:
        raise TopicError(_("The name must be 1 to 80 characters."))
    if len(description) > 500:
        raise TopicError(_("The description must be at most 500 characters."))
    page_list, event_list = _lines(pages), _lines(events)
    if not page_list and not event_list:
        raise TopicError(_("Give at least one page or event."))
    if len(page_list) > MAX_ITEMS or len(event_list) > MAX_ITEMS:
        raise TopicError(_("At most %(n)s pages and %(n)s events.") % {"n": MAX_ITEMS})
    for page in page_list:
        if not (page.startswith("/") or "://" in page) or len(page) > 500 or "*" in page[:-1]:
            raise TopicError(
                _("A page is a path starting with / (a trailing * makes it a prefix): %(page)s")
                % {"page": page[:60]}
            )
    for event in event_list:
        if len(event) > 200:
            raise TopicError(_("An event name must be at most 200 characters."))
    return TopicIn(site, name, description, page_list, event_list)


async def create(db: AsyncSession, topic: TopicIn, by: str) -> Topic:
    row = Topic(site=topic.site, name=topic.name, description=topic.description,
                pages=list(topic.pages), events=list(topic.events), created_by=by)  # fmt: skip
    db.add(row)
    try:
        await db.commit()
    except IntegrityError:
        await db.rollback()
        raise TopicError(
            _("A topic named %(name)s exists already.") % {"name": topic.name}
        ) from None
    return row


async def listed(db: AsyncSession) -> list[Topic]:
    return list((await db.scalars(select(Topic).order_by(Topic.name))).all())


async def get(db: AsyncSession, topic_id: int) -> Topic | None:
    return await db.get(Topic, topic_id)


async def remove(db: AsyncSession, topic_id: int) -> bool:
    result = await db.execute(delete(Topic).where(Topic.id == topic_id))
    await db.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]
