"""A campaign's report: conversion in each arm, uplift (treated minus hold-out) with its
confidence interval, cost and return on investment."""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy.stats import norm


@dataclass(frozen=True)
class Uplift:
    treated_n: int
    treated_converted: int
    holdout_n: int
    holdout_converted: int
    uplift: float  # difference of proportions
    low: float
    high: float
    confidence: float

    @property
    def treated_rate(self) -> float:
        return self.treated_converted / self.treated_n if self.treated_n else 0.0

    @property
    def holdout_rate(self) -> float:
        return self.holdout_converted / self.holdout_n if self.holdout_n else 0.0


def uplift(
    treated_n: int, treated_converted: int, holdout_n: int, holdout_converted: int,
    confidence: float = 0.95,
) -> Uplift | None:  # fmt: skip
    """Newcombe's hybrid score interval (method 10) for the difference of two independent
    proportions: unlike the Wald interval it stays inside [-1, 1] and keeps its coverage at
    the small rates campaigns see (1-5 %). None when an arm is empty."""
    if treated_n == 0 or holdout_n == 0:
        return None
    z = float(norm.ppf(0.5 + confidence / 2))
    p1, p0 = treated_converted / treated_n, holdout_converted / holdout_n
    l1, u1 = _wilson(treated_converted, treated_n, z)
    l0, u0 = _wilson(holdout_converted, holdout_n, z)
    d = p1 - p0
    low = d - math.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2)
    return Uplift(treated_n, treated_converted, holdout_n, holdout_converted, d, low, high,
                  confidence)  # fmt: skip


def _wilson(k: int, n: int, z: float) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


@dataclass(frozen=True)
class Money:
    messages: int
    cost: float  # yuan
    incremental: float  # conversions the campaign caused (uplift × treated)
    value: float  # yuan: incremental × value per conversion
    roi: float | None  # (value − cost) / cost; None without cost


def money(result: Uplift | None, messages: int, cost_per_message: float,
          value_per_conversion: float) -> Money:  # fmt: skip
    cost = messages * cost_per_message
    incremental = result.uplift * result.treated_n if result else 0.0
    value = incremental * value_per_conversion
    return Money(messages, cost, incremental, value, (value - cost) / cost if cost else None)
