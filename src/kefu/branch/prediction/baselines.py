"""Queueing baselines. The rule: with n customers ahead, c servers and mean service time
E[S], the newcomer waits about (n+1)·E[S]/c (each server frees up every E[S]/c on average and
the n ahead, then the newcomer's own turn, must pass). Erlang C: the mean wait of an M/M/c
queue at arrival rate λ — it knows the load but not the queue in front of this customer."""

from __future__ import annotations

import math


def rule_wait(ahead: int, servers: int, mean_service: float) -> float:
    return (ahead + 1) * mean_service / max(servers, 1)


def erlang_c(servers: int, offered_load: float) -> float:
    """Probability an arrival waits (Erlang C), by the stable Erlang B recursion."""
    if servers <= 0:
        return 1.0
    if offered_load >= servers:
        return 1.0
    b = 1.0
    for k in range(1, servers + 1):
        b = offered_load * b / (k + offered_load * b)
    return servers * b / (servers - offered_load * (1 - b))


def erlang_c_wait(servers: int, arrivals_per_second: float, mean_service: float) -> float:
    """Mean wait in queue of an M/M/c queue; an overloaded queue is capped at one hour."""
    servers = max(servers, 1)
    load = arrivals_per_second * mean_service
    if load >= servers:
        return 3600.0
    return min(3600.0, erlang_c(servers, load) * mean_service / (servers - load))


def band(wait_seconds: float) -> str:
    """The map's colour: green under 10 minutes, yellow under 20, red beyond."""
    if wait_seconds < 600:
        return "green"
    return "yellow" if wait_seconds < 1200 else "red"


assert math.isclose(erlang_c(1, 0.5), 0.5)  # M/M/1: P(wait) = ρ
