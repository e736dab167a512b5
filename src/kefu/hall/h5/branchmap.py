"""A branch map as a small inline SVG: each branch city a dot placed by its coordinates.

The project's ECharts bundle has no map of China, and a 1 MB script is a poor trade on a
phone for a few dozen dots, so the page draws them server-side (equirectangular projection
over the branches' own bounding box)."""

from __future__ import annotations

from dataclasses import dataclass

from kefu.bank.models import Branch

WIDTH, HEIGHT, MARGIN = 320, 240, 14


@dataclass(frozen=True)
class Dot:
    city: str
    x: float
    y: float
    highlighted: bool


@dataclass(frozen=True)
class BranchMap:
    width: int
    height: int
    dots: list[Dot]


def branch_map(branches: list[Branch], *, highlight: str = "") -> BranchMap:
    cities: dict[str, Branch] = {}
    for b in branches:
        cities.setdefault(b.city, b)
    if not cities:
        return BranchMap(WIDTH, HEIGHT, [])
    lngs = [b.longitude for b in cities.values()]
    lats = [b.latitude for b in cities.values()]
    span_x = max(max(lngs) - min(lngs), 1e-6)
    span_y = max(max(lats) - min(lats), 1e-6)
    scale = min((WIDTH - 2 * MARGIN) / span_x, (HEIGHT - 2 * MARGIN) / span_y)
    dots = [
        Dot(
            city,
            round(MARGIN + (b.longitude - min(lngs)) * scale, 1),
            # North is up: larger latitudes get smaller y.
            round(MARGIN + (max(lats) - b.latitude) * scale, 1),
            city == highlight,
        )
        for city, b in cities.items()
    ]
    return BranchMap(WIDTH, HEIGHT, dots)
