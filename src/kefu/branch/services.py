"""The services a branch offers: each has a ticket letter, a Chinese name and a typical
service time (the prior for wait estimates before a branch has served any of it today)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Service:
    code: str
    letter: str  # the ticket's prefix: A012
    label: str
    mean_seconds: float  # a prior: replaced by the day's own service times once there are some


SERVICES: dict[str, Service] = {
    s.code: s
    for s in (
        Service("cash", "A", "现金业务", 240.0),
        Service("card", "B", "银行卡业务", 360.0),
        Service("account", "C", "开户", 600.0),
        Service("wealth", "D", "理财业务", 720.0),
        Service("business", "E", "对公业务", 900.0),
    )
}

# Customer priority: a higher number is called first within a service.
PRIORITIES: dict[str, int] = {"normal": 0, "elderly": 1, "disabled": 1, "appointment": 2, "vip": 3}
PRIORITY_LABELS = {"normal": "普通", "elderly": "老年客户", "disabled": "残障客户",
                   "appointment": "预约", "vip": "贵宾"}  # fmt: skip
SOURCES = ("kiosk", "web", "h5", "sms", "chat", "counter")


def kind(code: str) -> int:
    """The service as the wait model's ``QueueState.kind`` (its place in SERVICES)."""
    return list(SERVICES).index(code)


def service(code: str) -> Service:
    try:
        return SERVICES[code]
    except KeyError:
        raise ValueError(f"unknown service {code!r}; one of {', '.join(SERVICES)}") from None
