""" "Customers like you": item-to-item co-occurrence of holdings (implicit feedback — a holding
is a yes, nothing is a no). For a customer, a product scores the highest share of holders of
one of their products who also hold it; the reason names that product."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass
class CoOccurrence:
    item_counts: dict[str, int] = field(default_factory=dict)
    pair_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    customers: int = 0
    min_support: int = 20  # fewer shared holders than this: too few to say "customers like you"

    def fit(self, baskets: Iterable[frozenset[str]]) -> CoOccurrence:
        for basket in baskets:
            self.customers += 1
            for item in basket:
                self.item_counts[item] = self.item_counts.get(item, 0) + 1
                row = self.pair_counts.setdefault(item, {})
                for other in basket:
                    if other != item:
                        row[other] = row.get(other, 0) + 1
        return self

    def popularity(self, product: str) -> float:
        return self.item_counts.get(product, 0) / max(self.customers, 1)

    def score(self, held: frozenset[str], product: str) -> tuple[float, str | None]:
        """(share of holders of the best of ``held`` who also hold ``product``, that product)."""
        best, because = 0.0, None
        for item in held:
            holders = self.item_counts.get(item, 0)
            together = self.pair_counts.get(item, {}).get(product, 0)
            if holders and together >= self.min_support and together / holders > best:
                best, because = together / holders, item
        return best, because
