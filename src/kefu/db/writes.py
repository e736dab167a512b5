"""Which tables a session wrote, told to whoever listens when it commits.

Two parts of kefu react to writes: the read caches (``kefu.auth.cache``: empty themselves) and the
event bus's change signals (``kefu.bus.signals``: tell open live pages that something moved). Both
need the same facts — the tables an ORM flush inserted into, changed or deleted from, and the
tables an ``insert()``/``update()``/``delete()`` statement wrote — so they are gathered once here.

Listeners get the table names; ``on_write`` ones as soon as the write is flushed (a cache must
not serve the old row even before the commit), ``on_commit`` ones after the commit (a live page
must not re-read before the row is visible). A rollback forgets the pending tables.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

Listener = Callable[[set[str]], None]

_PENDING = "kefu_written_tables"
_on_write: list[Listener] = []
_on_commit: list[Listener] = []


def on_write(listener: Listener) -> Listener:
    _on_write.append(listener)
    return listener


def on_commit(listener: Listener) -> Listener:
    _on_commit.append(listener)
    return listener


def remove(listener: Listener) -> None:
    for listeners in (_on_write, _on_commit):
        if listener in listeners:
            listeners.remove(listener)


def _written(session: Session, tables: set[str]) -> None:
    session.info.setdefault(_PENDING, set()).update(tables)
    for listener in list(_on_write):
        listener(tables)


@event.listens_for(Session, "after_flush")
def _flushed(session: Session, flush_context: UOWTransaction) -> None:
    tables = {
        obj.__table__.name
        for obj in (*session.new, *session.dirty, *session.deleted)
        if hasattr(obj, "__table__")
    }
    if tables:
        _written(session, tables)


@event.listens_for(Session, "do_orm_execute")
def _statement(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete or state.is_insert):
        return
    name = getattr(getattr(state.statement, "table", None), "name", None)
    if name:
        _written(state.session, {name})


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    tables = session.info.pop(_PENDING, None)
    if tables:
        for listener in list(_on_commit):
            listener(tables)


@event.listens_for(Session, "after_soft_rollback")
def _rolled_back(session: Session, previous_transaction: Any) -> None:
    session.info.pop(_PENDING, None)
