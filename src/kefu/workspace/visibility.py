"""Which conversations a member of staff may read and write to (issue 21, finding 14).

Setting ``conversation_visibility``:

- ``team`` (the default): an agent reads their own conversations (assigned or offered to
  them), unassigned ones still waiting, and any in a queue they have the skill for (the
  queue it entered or the one it waits in now) — a colleague's conversation can be followed
  and taken over, as contact centres usually allow;
- ``own``: an agent reads only their own and unassigned waiting ones.

Whatever the setting, an agent writes (notes, the reply preview; replies and tags already
need the conversation to be theirs) only to their own or unassigned ones: writing into a
colleague's conversation is not something a bank lets an agent do. Supervisors read and
write everywhere. An API key that is not a supervisor's is nobody's agent: it sees only
unassigned waiting conversations.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from fastapi import HTTPException, Request
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.auth.permissions import Permission
from kefu.conversations.models import Conversation
from kefu.routing import service as routing
from kefu.routing.engine import Router
from kefu.routing.models import RoutingTask, TaskState
from kefu.vocabulary import ConversationStatus
from kefu.web.deps import Principal
from kefu.web.i18n import N_, gettext_

Mode = Literal["team", "own"]
NOT_VISIBLE = N_("This conversation belongs to another agent; you may not open it.")
NOT_WRITABLE = N_("This conversation belongs to another agent; you may not add to it.")


def mode_of(request: Request) -> Mode:
    settings = getattr(request.app.state, "settings", None)
    value = getattr(settings, "conversation_visibility", "team")
    return "own" if value == "own" else "team"


@dataclass(frozen=True)
class Visibility:
    """One caller's view, built once per request (their queues need the workflow)."""

    principal: Principal
    mode: Mode
    queues: frozenset[str]  # queues whose expression the caller's attributes satisfy
    router: Router | None

    @property
    def everything(self) -> bool:
        return self.principal.can(Permission.QUEUES_SUPERVISE)

    def _own(self, conversation: Conversation, task: RoutingTask | None) -> bool:
        if self.principal.kind != "user":
            return False  # an API key's id is not an agent's
        me = self.principal.id
        offered = task is not None and task.agent_id == me and task.state in TaskState.ACTIVE
        return conversation.assigned_agent_id == me or offered

    @staticmethod
    def _unassigned(conversation: Conversation, task: RoutingTask | None) -> bool:
        return (
            conversation.status != ConversationStatus.CLOSED.value
            and conversation.assigned_agent_id is None
            and (task is None or (task.state == TaskState.WAITING and task.agent_id is None))
        )

    def _in_my_queues(self, task: RoutingTask | None) -> bool:
        if task is None or not self.queues:
            return False
        if task.queue in self.queues:
            return True
        if self.router is None:
            return False
        now = datetime.now(UTC).timestamp()
        return self.router.target(routing.as_task(task), now).queue in self.queues

    def may_read(self, conversation: Conversation, task: RoutingTask | None) -> bool:
        if self.everything or self._own(conversation, task):
            return True
        if self._unassigned(conversation, task):
            return True
        return self.mode == "team" and self._in_my_queues(task)

    def may_write(self, conversation: Conversation, task: RoutingTask | None) -> bool:
        return (
            self.everything or self._own(conversation, task) or self._unassigned(conversation, task)
        )


async def for_principal(db: AsyncSession, principal: Principal, mode: Mode) -> Visibility:
    if principal.can(Permission.QUEUES_SUPERVISE) or principal.kind != "user":
        return Visibility(principal, mode, frozenset(), None)
    _, router_ = await routing.router_for(db)
    found = await routing.load_workers(db, router_.workflow, only=[principal.id])
    queues = frozenset(
        name
        for name, queue in router_.workflow.queues.items()
        if found and queue.expression(found[0].attributes)
    )
    return Visibility(principal, mode, queues, router_)


async def of_request(db: AsyncSession, request: Request, principal: Principal) -> Visibility:
    return await for_principal(db, principal, mode_of(request))


async def _loaded(
    db: AsyncSession, request: Request, principal: Principal, conversation_id: int
) -> tuple[Conversation, RoutingTask | None, Visibility]:
    conversation = await db.get(Conversation, conversation_id)
    if conversation is None:
        raise HTTPException(404, f"no conversation {conversation_id}")
    task = await db.get(RoutingTask, conversation_id)
    return conversation, task, await of_request(db, request, principal)


async def readable(
    db: AsyncSession, request: Request, principal: Principal, conversation_id: int
) -> tuple[Conversation, Visibility]:
    """The conversation and the caller's view (for what the page shows besides it), or 404
    (none) / 403 (not the caller's to read)."""
    conversation, task, view = await _loaded(db, request, principal, conversation_id)
    if not view.may_read(conversation, task):
        raise HTTPException(403, gettext_(NOT_VISIBLE))
    return conversation, view


async def writable(
    db: AsyncSession, request: Request, principal: Principal, conversation_id: int
) -> Conversation:
    """The conversation, or 404 (none) / 403 (not the caller's to write to)."""
    conversation, task, view = await _loaded(db, request, principal, conversation_id)
    if not view.may_write(conversation, task):
        raise HTTPException(403, gettext_(NOT_WRITABLE))
    return conversation
