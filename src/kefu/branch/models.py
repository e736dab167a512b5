"""Branch queue tables: counters with their teller's work profile, tickets, and each branch's
queue settings (the wait a manager is alerted at).

Branches themselves live in the bank's systems (``BankPort.list_branches``); rows here name
them by ``branch_code`` only, so a branch renamed at the bank needs no migration here.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kefu.db.base import Base, UTCDateTime, utcnow

COUNTER_STATES = ("closed", "open", "paused")
# teller: a person at the counter calls tickets; vtm (video teller machine) and hybrid: served
# by a remote agent through routing (kefu.branch.remote).
REMOTE_KINDS = ("vtm", "hybrid")
COUNTER_KINDS = ("teller", *REMOTE_KINDS)
# waiting → called → done | no_show | parked (→ waiting again); transfer: waiting, new service.
TICKET_STATES = ("waiting", "called", "done", "no_show", "parked", "cancelled")


class BranchCounter(Base):
    __tablename__ = "branch_counters"
    __table_args__ = (UniqueConstraint("branch_code", "number", name="uq_branch_counters_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    branch_code: Mapped[str] = mapped_column(String(16), index=True)
    number: Mapped[int] = mapped_column(Integer)
    # The work profile: service codes in the order this counter takes them (first = first).
    services: Mapped[list[str]] = mapped_column(JSON, default=list)
    kind: Mapped[str] = mapped_column(String(16), default="teller")  # teller | vtm | hybrid
    state: Mapped[str] = mapped_column(String(16), default="closed")
    teller: Mapped[str | None] = mapped_column(String(80))
    current_ticket_id: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class BranchTicket(Base):
    __tablename__ = "branch_tickets"
    __table_args__ = (
        UniqueConstraint("branch_code", "day", "label", name="uq_branch_tickets_label"),
        # queue reads: the waiting tickets of one branch, by service
        Index("ix_branch_tickets_queue", "branch_code", "state", "service"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    branch_code: Mapped[str] = mapped_column(String(16))
    day: Mapped[str] = mapped_column(String(10))  # the branch's business day, YYYY-MM-DD
    service: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(8))  # A012
    priority: Mapped[int] = mapped_column(Integer, default=0)
    priority_kind: Mapped[str] = mapped_column(String(16), default="normal")
    source: Mapped[str] = mapped_column(String(16), default="kiosk")
    # A remote ticket's customer (a phone number, a channel identity): one open ticket each.
    customer_key: Mapped[str | None] = mapped_column(String(80), index=True)
    notify_ahead: Mapped[int | None] = mapped_column(Integer)  # "tell me when 3 ahead"
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(16), default="waiting")
    counter_id: Mapped[int | None] = mapped_column(Integer)
    parked_by: Mapped[int | None] = mapped_column(Integer)  # the counter that set it aside
    recalls: Mapped[int] = mapped_column(Integer, default=0)
    predicted_wait: Mapped[float | None] = mapped_column(
        Float
    )  # seconds, when the ticket was taken
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    called_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Served at a VTM or hybrid counter: the routed conversation of the remote agent's session.
    conversation_id: Mapped[int | None] = mapped_column(Integer, index=True)


class BranchQueueSetting(Base):
    __tablename__ = "branch_queue_settings"

    branch_code: Mapped[str] = mapped_column(String(16), primary_key=True)
    alert_wait_seconds: Mapped[int] = mapped_column(Integer, default=1200)
    # Appointment places per half-hour slot here; None = appointment_slot_capacity (setting).
    slot_capacity: Mapped[int | None] = mapped_column(Integer)


# Paperless forms: filled → retrieved (a teller matched ID + ticket) → completed (signed, sent
# to the bank). Personal values and the signature are Fernet tokens (kefu.branch.forms.crypto).
FORM_STATES = ("filled", "retrieved", "completed")


class BranchForm(Base):
    __tablename__ = "branch_forms"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(16), unique=True)  # shown to the customer
    kind: Mapped[str] = mapped_column(String(32))
    branch_code: Mapped[str] = mapped_column(String(16))
    ticket_id: Mapped[int | None] = mapped_column(Integer, index=True)
    state: Mapped[str] = mapped_column(String(16), default="filled")
    payload: Mapped[str] = mapped_column(Text)  # encrypted JSON of every field's value
    signature: Mapped[str | None] = mapped_column(Text)  # encrypted PNG data URL
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    retrieved_by: Mapped[str | None] = mapped_column(String(80))
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    bank_reference: Mapped[str | None] = mapped_column(String(40))


class BranchFormTry(Base):
    """Failed ID + ticket matches per ticket (``branch/day/label``): the guard against a
    counter trying ID numbers until one fits. Incremented by one guarded UPDATE so parallel
    requests cannot overshoot the limit."""

    __tablename__ = "branch_form_tries"

    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# Call next: the head of one service's queue in call order (priority first, then arrival), so
# the next ticket is the first index entry instead of a sort of every waiting ticket.
Index(
    "ix_branch_tickets_next",
    BranchTicket.branch_code,
    BranchTicket.day,
    BranchTicket.service,
    BranchTicket.state,
    BranchTicket.priority.desc(),
    BranchTicket.issued_at,
    BranchTicket.id,
)


class BranchSlot(Base):
    """One appointment slot of a branch's service on a day: its capacity and how many are
    booked, raised by one guarded UPDATE (``booked < capacity``) so two customers racing for
    the last place cannot both get it."""

    __tablename__ = "branch_slots"
    __table_args__ = (
        UniqueConstraint("branch_code", "service", "day", "start", name="uq_branch_slots_slot"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    branch_code: Mapped[str] = mapped_column(String(16))
    service: Mapped[str] = mapped_column(String(16))
    day: Mapped[str] = mapped_column(String(10))  # local business day
    start: Mapped[str] = mapped_column(String(5))  # local HH:MM
    capacity: Mapped[int] = mapped_column(Integer)
    booked: Mapped[int] = mapped_column(Integer, default=0)


class BranchAppointment(Base):
    __tablename__ = "branch_appointments"
    __table_args__ = (
        # One live booking per phone a day: NULL once cancelled (NULLs never collide).
        UniqueConstraint("day", "active_key", name="uq_branch_appointments_active"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(8), unique=True)  # told to the customer
    slot_id: Mapped[int] = mapped_column(Integer, index=True)
    branch_code: Mapped[str] = mapped_column(String(16))
    service: Mapped[str] = mapped_column(String(16))
    day: Mapped[str] = mapped_column(String(10))
    start: Mapped[str] = mapped_column(String(5))
    customer_key: Mapped[str] = mapped_column(String(80))  # phone:138…
    active_key: Mapped[str | None] = mapped_column(String(80))
    source: Mapped[str] = mapped_column(String(16), default="web")
    state: Mapped[str] = mapped_column(String(16), default="booked")  # booked|cancelled|checked_in
    ticket_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
